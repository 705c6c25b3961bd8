#!/usr/bin/env bats
# Container networking (issue 7) against real kernels, isolated from the real
# network: vsd runs in a node namespace of this file, the client in another
# (net-helpers.bash draws the picture). Addresses:
#   routed    192.0.2.64/26, 2001:db8:ff::100/120 (the uplink's subnets)
#   vtbr0     vsd's own bridge, isolated ports, 10.77.0.0/24, fd00:77::/64
#   vtpriv0   the operator's private bridge, 10.78.0.0/24, fd00:78::/64
# Each test makes the containers it needs (ensure_ct), so a broken model
# fails its own tests only.

load helpers
load net-helpers
load cr-helpers

setup_file() { net_setup_file; }
teardown_file() { net_teardown_file; }
teardown() {
	# A test that gave the daemon a failing criu puts the real one back.
	if [[ -f "$VSD_TMP/criu-current" ]]; then
		rm -f "$VSD_TMP/criu-current"
		vsd_stop_daemon TERM
		vsd_start_daemon
	fi
	net_teardown_test
}

# ensure_ct NAME CREATE-ARGS...: NAME created and running (made once per file).
ensure_ct() {
	local name=$1
	shift
	if vsctl status "$name" >/dev/null 2>&1; then
		ct_is_state "$name" running || vsctl start "$name" >/dev/null
		wait_for 10 ct_is_state "$name" running
		return
	fi
	ct_create_started "$name" "$@"
}

# ct_links NAME: the link names inside NAME, sorted, on one line.
ct_links() {
	in_ct "$1" ip -o link | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }' | sort | tr '\n' ' '
}

# assert_within PCT ACTUAL EXPECTED WHAT
assert_within() {
	local pct=$1 a=$2 e=$3
	local lo=$((e * (100 - pct) / 100)) hi=$((e * (100 + pct) / 100))
	((a >= lo && a <= hi)) || fail "$4: $a not within $pct % of $e ($lo..$hi)"
}

# rate_bps PREFIX... -- IFACE KEY SECONDS: bits per second of counter KEY
# of IFACE over SECONDS.
rate_bps() {
	local pre=()
	while [[ "$1" != -- ]]; do
		pre+=("$1")
		shift
	done
	local b0 b1 t0 t1
	b0=$(link_stat "${pre[@]}" -- "$2" "$3") && t0=$(date +%s%N) || return 1
	sleep "$4"
	b1=$(link_stat "${pre[@]}" -- "$2" "$3") && t1=$(date +%s%N) || return 1
	echo $(((b1 - b0) * 8 * 1000000000 / (t1 - t0)))
}

@test "the node namespace has no route off the machine, with vsd running in it" {
	assert_eq "$(readlink "/proc/$(vsd_pid)/ns/net")" "$(in_node readlink /proc/self/ns/net)" \
		"vsd's network namespace"
	run ip -n "$NODE" route show default
	assert_eq "$output" "" "IPv4 default route in the node"
	run ip -n "$NODE" -6 route show default
	assert_eq "$output" "" "IPv6 default route in the node"
	# vsd made its own bridge and put the pools' gateways on it.
	run ip -n "$NODE" addr show dev "$NET_BRIDGE"
	assert_success
	assert_contains "$output" "10.77.0.1/24"
	assert_contains "$output" "fd00:77::1/64"
}

@test "routed: two containers reach each other and the node (IPv4, IPv6)" {
	ensure_ct r1 --ip 192.0.2.70 --ip 2001:db8:ff::170
	ensure_ct r2 --ip 192.0.2.71 --ip 2001:db8:ff::171
	run in_ct r1 ip addr show dev eth0
	assert_contains "$output" "192.0.2.70/32"
	assert_contains "$output" "2001:db8:ff::170/128"
	run in_ct r1 ip route
	assert_contains "$output" "default via 169.254.0.1"
	run in_ct r1 ip -6 route
	assert_contains "$output" "default via fe80::1"
	assert_reach ct r1 192.0.2.71
	assert_reach ct r1 2001:db8:ff::171
	assert_reach ct r2 192.0.2.70
	assert_reach ct r2 2001:db8:ff::170
	assert_reach ct r1 192.0.2.1
	assert_reach ct r1 2001:db8:ff::1
	assert_reach node 192.0.2.70
	assert_reach node 2001:db8:ff::170
	# The node holds host routes to the node-side link.
	local hif
	hif=$(ct_hostif r1)
	run node_routes_for 192.0.2.70
	assert_contains "$output" "dev $hif"
	run node_routes_for 2001:db8:ff::170
	assert_contains "$output" "dev $hif"
	assert_static_neigh r1
}

@test "routed: the client reaches a container on-link through proxy ARP and proxy NDP" {
	ensure_ct r1 --ip 192.0.2.70 --ip 2001:db8:ff::170
	# The client has no route but its connected subnets: the container's
	# addresses are on the uplink's link, answered for by the node.
	run ip -n "$CLIENT" route
	assert_eq "$(squash "$output")" "192.0.2.0/24 dev cl0 proto kernel scope link src 192.0.2.2"
	run ip -n "$CLIENT" -6 route show default
	assert_eq "$output" ""
	assert_reach client 192.0.2.70
	assert_reach client 2001:db8:ff::170
	assert_reach ct r1 192.0.2.2
	assert_reach ct r1 2001:db8:ff::2
	# ...and the MAC the client learnt for them is the node's uplink.
	local upmac
	upmac=$(ip -n "$NODE" -j link show dev "$NET_UPLINK" | json_get 0.address)
	run ip -n "$CLIENT" neigh show 192.0.2.70
	assert_contains "$output" "$upmac"
	run ip -n "$CLIENT" -6 neigh show 2001:db8:ff::170
	assert_contains "$output" "$upmac"
	run node_proxies
	assert_contains "$output" "192.0.2.70 dev $NET_UPLINK"
	assert_contains "$output" "2001:db8:ff::170 dev $NET_UPLINK"
}

@test "routed: --net routed without --ip gets addresses from the pools" {
	ensure_ct ra --net routed
	local a4
	a4=$(ct_json ra | json_get net.interfaces.0.addresses | "$PY" -c '
import ipaddress, json, sys
for a in json.load(sys.stdin):
    i = ipaddress.ip_interface(a)
    if i.version == 4:
        assert i.ip in ipaddress.ip_network("192.0.2.64/26"), a
        print(i.ip)
')
	[[ -n "$a4" ]] || fail "no IPv4 address from the pool: $(ct_net ra interfaces)"
	assert_reach client "$a4"
}

@test "routed: concurrent creates from the pools get distinct addresses, MACs and links" {
	local i out
	for i in 1 2 3 4 5 6; do
		vsctl create "cc$i" --template busybox --net routed >/dev/null 2>"$BATS_TEST_TMPDIR/cc$i.err" &
	done
	wait
	out=$(vsctl list --json | "$PY" -c '
import json, sys
rows = [c for c in json.load(sys.stdin)["containers"] if c["name"].startswith("cc")]
ifs = [i for c in rows for i in c["net"]["interfaces"]]
addrs = [a for i in ifs for a in i["addresses"]]
print(len(rows), len(addrs), len(set(addrs)), len(set(i["mac"] for i in ifs)),
      len(set(i["host_ifname"] for i in ifs)))
')
	for i in 1 2 3 4 5 6; do vsctl destroy "cc$i" >/dev/null 2>&1 || true; done
	assert_eq "$out" "6 12 12 6 6" "containers, addresses, distinct addresses, MACs, links"
}

@test "bridged, private network: two containers reach each other and the node (IPv4, IPv6)" {
	ensure_ct p1 --net "bridged:$NET_PRIV" --ip 10.78.0.11/24 --ip fd00:78::11/64 --gateway 10.78.0.1
	ensure_ct p2 --net "bridged:$NET_PRIV" --ip 10.78.0.12/24 --ip fd00:78::12/64 --gateway 10.78.0.1
	run in_ct p1 ip addr show dev eth0
	assert_contains "$output" "10.78.0.11/24"
	run in_ct p1 ip route
	assert_contains "$output" "default via 10.78.0.1"
	assert_reach ct p1 10.78.0.12
	assert_reach ct p1 fd00:78::12
	assert_reach ct p2 10.78.0.11
	assert_reach ct p1 10.78.0.1
	assert_reach ct p1 fd00:78::1
	assert_reach node 10.78.0.12
	assert_reach node fd00:78::12
	# The node side is a port of the bridge.
	run ip -n "$NODE" -j link show dev "$(ct_hostif p1)"
	assert_contains "$output" "\"master\":\"$NET_PRIV\""
}

@test "bridged, vsd's own bridge: pool addresses, gateway reachable, neighbours isolated at layer 2" {
	ensure_ct i1 --net bridged
	ensure_ct i2 --net bridged
	local a1 a2
	a1=$(ct_ip i1) a2=$(ct_ip i2)
	[[ "$a1" == 10.77.0.* && "$a2" == 10.77.0.* && "$a1" != "$a2" ]] || fail "addresses $a1 $a2"
	run ip -n "$NODE" -j link show dev "$(ct_hostif i1)"
	assert_contains "$output" "\"master\":\"$NET_BRIDGE\""
	assert_reach ct i1 10.77.0.1
	assert_reach node "$a2"
	# Broadcast ARP from i1 reaches the bridge (the node), not i2.
	sniff_start atbr in_node -- "$NET_BRIDGE" 4 --arp-target 10.77.0.222
	sniff_start ati2 in_ct_net i2 -- eth0 4 --arp-target 10.77.0.222
	in_ct i1 arping -b -c 5 -w 2 -I eth0 10.77.0.222 || true
	local nbr ni2
	nbr=$(sniff_count atbr) && ni2=$(sniff_count ati2) || return 1
	((nbr >= 1)) || fail "the bridge saw no ARP from i1 (the test proves nothing)"
	assert_eq "$ni2" 0 "ARP frames of i1 seen by i2"
	# Whatever i1 reaches of i2's address, it is not i2's MAC (layer 2).
	in_ct i1 ping -c 1 -W 1 "$a2" >/dev/null 2>&1 || true
	run in_ct i1 ip neigh show "$a2"
	assert_not_contains "$output" "$(ct_mac i2)"
}

@test "outbound NAT: a private range is masqueraded by the uplink, others are not" {
	ensure_ct i1 --net bridged
	ensure_ct p1 --net "bridged:$NET_PRIV" --ip 10.78.0.11/24 --ip fd00:78::11/64 --gateway 10.78.0.1
	# The client has no route to 10.77.0.0/24: only masquerading (to the
	# uplink's 192.0.2.1) gets an answer back to i1.
	sniff_start nat in_client -- cl0 3 --src-ip 192.0.2.1 || return 1
	assert_reach ct i1 192.0.2.2
	local n
	n=$(sniff_count nat) || return 1
	((n >= 1)) || fail "no packet from the uplink's address at the client"
	# 10.78.0.0/24 is not a --nat range: it stays unanswered.
	assert_no_reach ct p1 192.0.2.2
	run in_node nft list table ip "vsd_$(ct_hostif i1 | cut -c3-6)_nat"
	assert_contains "$output" "ip saddr 10.77.0.0/24 oifname \"$NET_UPLINK\" masquerade"
}

@test "a container sees only its own interfaces" {
	ensure_ct m1 --net routed --ip 192.0.2.72 --net "bridged:$NET_PRIV" --ip 10.78.0.21/24
	assert_eq "$(ct_links m1)" "eth0 eth1 lo " "links in m1"
	ensure_ct r1 --ip 192.0.2.70 --ip 2001:db8:ff::170
	assert_eq "$(ct_links r1)" "eth0 lo " "links in r1"
	run in_ct m1 ip addr show dev eth1
	assert_contains "$output" "10.78.0.21/24"
	assert_reach ct m1 192.0.2.2
	assert_reach ct m1 10.78.0.1
}

# spoof_check NAME ADDR: pings from NAME to the client with source ADDR;
# print how many reached the client.
spoof_seen() {
	sniff_start "sp$2" in_client -- cl0 4 --src-ip "$2" || return 1
	in_ct "$1" ping -c 5 -i 0.2 -W 1 -I "$2" "$3" >/dev/null 2>&1
	sniff_count "sp$2"
}

@test "anti-spoofing: a source address that is not the container's does not leave its veth (IPv4, IPv6)" {
	ensure_ct sp1 --ip 192.0.2.74 --ip 2001:db8:ff::174
	assert_reach client 192.0.2.74
	# The container's own addresses get through (the sniffer works).
	run spoof_seen sp1 192.0.2.74 192.0.2.2
	assert_success
	((output >= 3)) || fail "only $output pings from 192.0.2.74 seen"
	in_ct sp1 ip addr add 192.0.2.99/32 dev eth0
	in_ct sp1 ip -6 addr add 2001:db8:ff::199/128 dev eth0
	wait_for 5 eval '! in_ct sp1 ip -6 addr show dev eth0 | grep -q tentative'
	run spoof_seen sp1 2001:db8:ff::174 2001:db8:ff::2
	((output >= 3)) || fail "only $output pings from 2001:db8:ff::174 seen"
	run spoof_seen sp1 192.0.2.99 192.0.2.2
	assert_eq "$output" 0 "spoofed IPv4 packets at the client"
	run spoof_seen sp1 2001:db8:ff::199 2001:db8:ff::2
	assert_eq "$output" 0 "spoofed IPv6 packets at the client"
	# The same with an egress rate: shaping must not route the container's
	# packets around the anti-spoofing chain (an ifb redirect would).
	vsctl set sp1 --egress-rate 100mbit
	run spoof_seen sp1 192.0.2.74 192.0.2.2
	((output >= 3)) || fail "shaped: only $output pings from 192.0.2.74 seen"
	run spoof_seen sp1 192.0.2.99 192.0.2.2
	assert_eq "$output" 0 "spoofed IPv4 packets at the client with an egress rate"
	run spoof_seen sp1 2001:db8:ff::199 2001:db8:ff::2
	assert_eq "$output" 0 "spoofed IPv6 packets at the client with an egress rate"
	vsctl set sp1 --egress-rate none
	in_ct sp1 ip addr del 192.0.2.99/32 dev eth0
	in_ct sp1 ip -6 addr del 2001:db8:ff::199/128 dev eth0
}

@test "anti-spoofing: a MAC that is not the container's does not leave its veth (routed and bridged)" {
	ensure_ct sp2 --ip 192.0.2.75
	ensure_ct p1 --net "bridged:$NET_PRIV" --ip 10.78.0.11/24 --ip fd00:78::11/64 --gateway 10.78.0.1
	ensure_ct p2 --net "bridged:$NET_PRIV" --ip 10.78.0.12/24 --ip fd00:78::12/64 --gateway 10.78.0.1
	local mac hmac p1mac p2mac
	# Routed: with a spoofed MAC and a static neighbour for the gateway,
	# the packets are sent; none reaches the client.
	mac=$(ct_mac sp2)
	hmac=$(ip -n "$NODE" -j link show dev "$(ct_hostif sp2)" | json_get 0.address)
	assert_reach client 192.0.2.75
	in_ct sp2 sh -c "ip link set eth0 address 02:00:5e:00:99:01 ||
		{ ip link set eth0 down && ip link set eth0 address 02:00:5e:00:99:01 && ip link set eth0 up &&
		  ip route add default via 169.254.0.1 dev eth0 onlink; }"
	in_ct sp2 arp -i eth0 -s 169.254.0.1 "$hmac"
	run spoof_seen sp2 192.0.2.75 192.0.2.2
	assert_eq "$output" 0 "packets from a spoofed MAC at the client"
	in_ct sp2 sh -c "ip link set eth0 address $mac ||
		{ ip link set eth0 down && ip link set eth0 address $mac && ip link set eth0 up &&
		  ip route add default via 169.254.0.1 dev eth0 onlink; }"
	in_ct sp2 arp -i eth0 -d 169.254.0.1 || true
	assert_reach client 192.0.2.75
	# Bridged (private network, where p2 sees p1's frames): the same.
	assert_reach ct p1 10.78.0.12
	p1mac=$(ct_mac p1) p2mac=$(ct_mac p2)
	sniff_start okp2 in_ct_net p2 -- eth0 3 --src-mac "$p1mac"
	in_ct p1 ping -c 3 -i 0.2 -W 1 10.78.0.12 >/dev/null
	run sniff_count okp2
	((output >= 3)) || fail "p2 saw only $output frames of p1 (the test proves nothing)"
	in_ct p1 sh -c "ip link set eth0 address 02:00:5e:00:99:02 ||
		{ ip link set eth0 down && ip link set eth0 address 02:00:5e:00:99:02 && ip link set eth0 up; }"
	in_ct p1 arp -i eth0 -s 10.78.0.12 "$p2mac"
	sniff_start spp2 in_ct_net p2 -- eth0 4 --src-mac 02:00:5e:00:99:02
	in_ct p1 ping -c 5 -i 0.2 -W 1 10.78.0.12 >/dev/null 2>&1 || true
	run sniff_count spp2
	assert_eq "$output" 0 "frames from p1's spoofed MAC seen by p2"
	in_ct p1 sh -c "ip link set eth0 address $p1mac ||
		{ ip link set eth0 down && ip link set eth0 address $p1mac && ip link set eth0 up &&
		  ip route add default via 10.78.0.1 dev eth0; }"
	in_ct p1 arp -i eth0 -d 10.78.0.12 || true
}

@test "shaping holds a bulk transfer to the configured rate within 15 %, both directions, changed live" {
	ensure_ct sh1 --ip 192.0.2.80 --egress-rate 8mbit --ingress-rate 8mbit
	assert_reach client 192.0.2.80
	# Egress (the container sends): busybox nc from /dev/zero to a sink in
	# the client; measured by what the client's link receives.
	net_bg "$NET_TMP/sink.log" in_client "$PY" "$NET_TOOL" sink 5001 "$NET_TMP/sink.ready" >/dev/null
	wait_for 10 test -e "$NET_TMP/sink.ready"
	in_ct sh1 sh -c 'setsid nc 192.0.2.2 5001 </dev/zero >/dev/null 2>&1 &'
	sleep 2
	local r
	r=$(rate_bps in_client -- cl0 rx.bytes 5)
	assert_within 15 "$r" 8000000 "egress at 8mbit (bit/s)"
	vsctl set sh1 --egress-rate 4mbit
	sleep 2
	r=$(rate_bps in_client -- cl0 rx.bytes 5)
	assert_within 15 "$r" 4000000 "egress at 4mbit after vsctl set (bit/s)"
	net_kill_bg
	# Ingress (the container receives): a busybox nc listener inside, a
	# sender in the client; measured by what the container's eth0 receives.
	in_ct sh1 sh -c 'setsid nc -l -p 5002 </dev/null >/dev/null 2>&1 &'
	wait_for 10 eval 'in_ct sh1 netstat -ltn | grep -q ":5002 "'
	net_bg "$NET_TMP/source.log" in_client "$PY" "$NET_TOOL" source 192.0.2.80 5002 >/dev/null
	sleep 2
	r=$(rate_bps in_ct_net sh1 -- eth0 rx.bytes 5)
	assert_within 15 "$r" 8000000 "ingress at 8mbit (bit/s)"
	net_kill_bg
	# Stats show the traffic per direction.
	run vsctl stats sh1 --json
	assert_success
	local eb ib stats=$output
	eb=$(json_get net.0.egress_bytes <<<"$output") ib=$(json_get net.0.ingress_bytes <<<"$output")
	((eb > 4000000 && ib > 4000000)) || fail "stats: egress $eb ingress $ib bytes: $output"
	# The same counters in the metrics endpoint, per container and interface.
	run curl -sS --unix-socket "$VSD_SOCKET" http://vsd/metrics
	assert_success
	assert_contains "$output" 'vsd_net_egress_bytes_total{container="sh1",interface="eth0"}'
	assert_contains "$output" 'vsd_net_ingress_drops_total{container="sh1",interface="eth0"}'
	local mb
	mb=$(grep '^vsd_net_ingress_bytes_total{container="sh1"' <<<"$output" | awk '{print $2}')
	((mb >= ib)) || fail "metrics: ingress bytes $mb below the stats' $ib"
	# Drops too: the metrics read every interface's in one dump per kind
	# (links, qdiscs, firewall counters), the stats per interface. The
	# policer dropped what sh1 sent above its rate.
	local ed md iq mq
	ed=$(json_get net.0.egress_drops <<<"$stats") iq=$(json_get net.0.ingress_drops <<<"$stats")
	md=$(grep '^vsd_net_egress_drops_total{container="sh1"' <<<"$output" | awk '{print $2}')
	mq=$(grep '^vsd_net_ingress_drops_total{container="sh1"' <<<"$output" | awk '{print $2}')
	((ed > 0 && md >= ed)) || fail "metrics: egress drops $md, the stats' $ed"
	((mq >= iq)) || fail "metrics: ingress drops $mq below the stats' $iq"
	# Removing a rate removes its qdisc.
	vsctl set sh1 --egress-rate none --ingress-rate none
	run tc -n "$NODE" qdisc show dev "$(ct_hostif sh1)"
	assert_not_contains "$output" tbf
	run ct_police sh1
	assert_not_contains "$output" "limit rate"
}

@test "live --ip-add and --ip-del (IPv4, IPv6)" {
	ensure_ct la1 --ip 192.0.2.90
	assert_reach client 192.0.2.90
	vsctl set la1 --ip-add 192.0.2.91 --ip-add 2001:db8:ff::191
	assert_reach client 192.0.2.91
	assert_reach client 2001:db8:ff::191
	run in_ct la1 ip addr show dev eth0
	assert_contains "$output" "192.0.2.91/32"
	assert_contains "$output" "2001:db8:ff::191/128"
	run ct_net la1 interfaces.0.addresses
	assert_contains "$output" "192.0.2.91"
	vsctl set la1 --ip-del 192.0.2.91 --ip-del 2001:db8:ff::191
	# (shown when the test fails)
	echo "after --ip-del: inside: $(in_ct la1 ip addr show dev eth0)"
	echo "node routes: $(node_routes_for 192.0.2.91) proxies: $(node_proxies)"
	assert_no_reach client 192.0.2.91
	assert_no_reach client 2001:db8:ff::191
	assert_reach client 192.0.2.90
	run in_ct la1 ip addr show dev eth0
	assert_not_contains "$output" "192.0.2.91"
	assert_not_contains "$output" "2001:db8:ff::191"
	run node_routes_for 192.0.2.91
	assert_eq "$output" "" "node routes for a removed address"
	run node_proxies
	assert_not_contains "$output" "192.0.2.91 "
	assert_not_contains "$output" "2001:db8:ff::191 "
	run ct_net la1 interfaces.0.addresses
	assert_not_contains "$output" "192.0.2.91"
	# The container's monitor acts on the changes too: a checkpoint that
	# leaves it running takes its network down and up again, and must
	# bring back the addresses it has now, not those it started with.
	vsctl set la1 --ip-add 192.0.2.92
	vsctl checkpoint la1 --dir "$NET_TMP/la1.img" --leave-running
	assert_reach client 192.0.2.92
	assert_reach client 192.0.2.90
	run node_routes_for 192.0.2.91
	assert_eq "$output" "" "node routes for a removed address after a checkpoint"
	run node_proxies
	assert_not_contains "$output" "192.0.2.91 "
	vsctl stop la1
	run node_proxies
	assert_not_contains "$output" "192.0.2.92 "
	run node_routes_for 192.0.2.92
	assert_eq "$output" "" "node routes for a live-added address after stop"
}

# converse_start NAME ADDR [PEER]: an echo server in NAME (busybox nc -e
# cat) and a conversation with it from PEER (in_client, or in_node), after
# its first echo.
converse_start() {
	local peer=${3:-in_client}
	in_ct "$1" sh -c 'setsid nc -l -p 7000 -e cat </dev/null >/dev/null 2>&1 &'
	wait_for 10 eval "in_ct $1 netstat -ltn | grep -q ':7000 '" || return 1
	rm -rf "$NET_TMP/conv" && mkdir "$NET_TMP/conv"
	net_bg "$NET_TMP/conv.log" "$peer" "$PY" "$NET_TOOL" converse "$2" 7000 "$NET_TMP/conv" >/dev/null
	wait_for 15 test -e "$NET_TMP/conv/step1" || fail "no first echo: $(cat "$NET_TMP/conv.log" "$NET_TMP/conv/result" 2>&1)"
}
converse_finish() {
	touch "$NET_TMP/conv/go"
	wait_for 60 test -e "$NET_TMP/conv/result" || return 1
	assert_eq "$(cat "$NET_TMP/conv/result")" ok "the client's conversation"
}

@test "a TCP connection from the client survives suspend/resume" {
	ensure_ct su1 --ip 192.0.2.95 --egress-rate 50mbit
	assert_reach client 192.0.2.95
	converse_start su1 192.0.2.95
	vsctl suspend su1
	# While suspended nothing else answers for its address and nothing for
	# it leaves by another route: the node keeps an unreachable route.
	run node_routes_for 192.0.2.95
	assert_contains "$output" unreachable
	vsctl resume su1
	wait_for 10 ct_is_state su1 running
	converse_finish
	assert_reach client 192.0.2.95
	run ct_police su1
	assert_contains "$output" "limit rate over"
}

@test "bridged: a TCP connection from the node survives suspend/resume; the port is back in its bridge" {
	ensure_ct sb1 --net bridged
	local a
	a=$(ct_ip sb1)
	assert_reach node "$a"
	converse_start sb1 "$a" in_node
	vsctl suspend sb1
	vsctl resume sb1
	wait_for 10 ct_is_state sb1 running
	converse_finish
	run ip -n "$NODE" -j link show dev "$(ct_hostif sb1)"
	assert_contains "$output" "\"master\":\"$NET_BRIDGE\""
	run in_node bridge -d link show dev "$(ct_hostif sb1)"
	assert_contains "$output" "isolated on"
	assert_contains "$output" "state forwarding"
}

# assert_static_neigh NAME: both ends of NAME's routed link hold permanent
# neighbour entries (which the machine-wide table's limit, gc_thresh3,
# does not count): the node's for each address at the container's MAC,
# the container's for its gateways at the node side's MAC.
assert_static_neigh() {
	local hif mac hmac a line gws=169.254.0.1
	hif=$(ct_hostif "$1") mac=$(ct_mac "$1")
	hmac=$(in_node cat "/sys/class/net/$hif/address")
	for a in $(ct_net "$1" interfaces.0.addresses | tr -d '[]",' | sed 's|/[0-9]*||g'); do
		line=$(in_node ip neigh show "$a" dev "$hif")
		assert_contains "$line" "lladdr $mac"
		assert_contains "$line" PERMANENT
		[[ $a != *:* ]] || gws="169.254.0.1 fe80::1"
	done
	for a in $gws; do
		line=$(in_ct "$1" ip neigh show "$a" dev eth0)
		assert_contains "$line" "lladdr $hmac"
		assert_contains "$line" PERMANENT
	done
	[[ $gws != *fe80* ]] || assert_contains "$(in_ct "$1" ip neigh show fe80::1 dev eth0)" router
}

# neigh_mac WHERE ADDR DEV: the MAC of the neighbour entry of ADDR on DEV
# (WHERE in_client or in_node; "" when none).
neigh_mac() { "$1" ip -j neigh show "$2" dev "$3" | json_get 0.lladdr 2>/dev/null || true; }

@test "routed: a resumed container's addresses are announced on the uplink; the client's neighbour cache learns at once" {
	ensure_ct an1 --ip 192.0.2.97 --ip 2001:db8:ff::1a7
	assert_reach client 192.0.2.97
	assert_reach client 2001:db8:ff::1a7
	local upmac n
	upmac=$(ip -n "$NODE" -j link show dev "$NET_UPLINK" | json_get 0.address)
	vsctl suspend an1
	# Stale entries with a wrong MAC, as a client has after a move: only
	# an announcement corrects them before the client sends again
	# (Linux updates an existing entry from a gratuitous ARP and from an
	# unsolicited advertisement with the override flag).
	in_client ip neigh replace 192.0.2.97 lladdr 02:00:5e:00:99:97 dev cl0 nud stale
	in_client ip -6 neigh replace 2001:db8:ff::1a7 lladdr 02:00:5e:00:99:97 dev cl0 nud stale
	sniff_start garp in_client -- cl0 6 --arp-target 192.0.2.97 --src-mac "$upmac"
	vsctl resume an1
	n=$(sniff_count garp)
	((n >= 2)) || fail "$n gratuitous ARP for 192.0.2.97 from $upmac, expected two"
	assert_eq "$(neigh_mac in_client 192.0.2.97 cl0)" "$upmac" "the client's ARP entry"
	assert_eq "$(neigh_mac in_client 2001:db8:ff::1a7 cl0)" "$upmac" \
		"the client's neighbour entry (the advertisement's checksum, hop limit and flags were accepted)"
	assert_reach client 192.0.2.97
}

@test "bridged: a resumed container's addresses are announced through its own port with its MAC" {
	ensure_ct ab1 --net bridged
	local a mac n
	a=$(ct_ip ab1)
	mac=$(ct_mac ab1)
	assert_reach node "$a"
	# vsd's bridge has a MAC of its own (02:..., locally administered):
	# one taken from its ports would change as containers come and go, and
	# the kernel would flush the node's neighbour entries with it (CI met
	# this entry gone, '' instead of the MAC, before vsd set one).
	local brmac
	brmac=$(in_node ip -j link show dev "$NET_BRIDGE" | json_get 0.address)
	[[ "$brmac" == 02:* ]] || fail "the bridge's MAC $brmac is not vsd's own"
	vsctl suspend ab1
	in_node ip neigh replace "$a" lladdr 02:00:5e:00:99:98 dev "$NET_BRIDGE" nud stale
	sniff_start gbr in_node -- "$NET_BRIDGE" 6 --arp-target "$a" --src-mac "$mac"
	vsctl resume ab1
	n=$(sniff_count gbr)
	((n >= 2)) || fail "$n gratuitous ARP for $a from $mac on $NET_BRIDGE, expected two"
	assert_eq "$(neigh_mac in_node "$a" "$NET_BRIDGE")" "$mac" "the node's ARP entry"
	assert_eq "$(in_node ip -j link show dev "$NET_BRIDGE" | json_get 0.address)" "$brmac" \
		"the bridge's MAC after the resume"
	# The bridge learnt the container's MAC on its port.
	run in_node bridge fdb show br "$NET_BRIDGE" dev "$(ct_hostif ab1)"
	assert_contains "$output" "$mac"
}

@test "suspend: no FIN or RST of the dumped container reaches the client; after resume the conversation goes on" {
	ensure_ct qs1 --ip 192.0.2.98
	assert_reach client 192.0.2.98
	converse_start qs1 192.0.2.98
	# From the freeze to the kill the node side passes nothing of the
	# container's: the kill closes its socket (FIN), and nothing may tell
	# the client (the image holds the connection open).
	sniff_start finrst in_client -- cl0 8 --src-ip 192.0.2.98 --tcp-flags FR
	vsctl suspend qs1
	local n
	n=$(sniff_count finrst)
	assert_eq "$n" 0 "FIN/RST segments from 192.0.2.98 seen by the client while it was suspended"
	vsctl resume qs1
	wait_for 10 ct_is_state qs1 running
	converse_finish
}

@test "a dump the container survives gives its network back: checkpoint --leave-running, and a dump that fails" {
	ensure_ct lr1 --ip 192.0.2.102
	assert_reach client 192.0.2.102
	converse_start lr1 192.0.2.102
	vsctl checkpoint lr1 --dir "$NET_TMP/lr1.img" --leave-running
	assert_eq "$(ct_state lr1)" running "lr1 after checkpoint --leave-running"
	converse_finish
	assert_reach client 192.0.2.102
	# A dump that fails after CRIU let go of the (frozen) tasks.
	cr_restart_daemon "$(cr_wrapper dump-late)"
	converse_start lr1 192.0.2.102
	run vsctl suspend lr1
	assert_failure 1
	assert_contains "$output" "injected dump failure"
	assert_eq "$(ct_state lr1)" running "lr1 after a failed suspend"
	converse_finish
	assert_reach client 192.0.2.102
}

@test "a failure after the node side went down at a dump's freeze gives the network back" {
	# VSD_TEST_DUMP_NET_FAIL: the monitor takes the node side down at the
	# freeze, then counts that step as failed. A container started by the
	# daemon given the hook (its monitor keeps that environment); the
	# teardown restarts the daemon without it.
	VSD_TEST_DUMP_NET_FAIL=1 cr_restart_daemon "$CR_CRIU"
	ensure_ct nq1 --ip 192.0.2.104
	assert_reach client 192.0.2.104
	converse_start nq1 192.0.2.104
	run vsctl suspend nq1
	assert_failure 1
	assert_contains "$output" "take the network down: injected failure (VSD_TEST_DUMP_NET_FAIL)"
	assert_eq "$(ct_state nq1)" running "nq1 after a failed suspend"
	# Thawed, and its node side up again: the conversation goes on, and
	# the client reaches it.
	converse_finish
	assert_reach client 192.0.2.104
}

# ct_eth_line NAME: "INDEX MAC" of eth0 inside NAME.
ct_eth_line() {
	in_ct "$1" ip -o link show eth0 | awk '{ sub(/:$/, "", $1); for (i = 1; i < NF; i++) if ($i == "link/ether") print $1, $(i + 1) }'
}

@test "a TCP connection from the client survives checkpoint/restore" {
	ensure_ct cr1 --ip 192.0.2.96
	assert_reach client 192.0.2.96
	# The peer is made in the container with an index CRIU can make again
	# (netns/net.c make_pair): one of vsd's range (2^30 and up), the same
	# as the node side's at start. A peer at index 2 fails the restore.
	local before idx hidx
	before=$(ct_eth_line cr1)
	idx=${before%% *}
	hidx=$(in_node cat "/sys/class/net/$(ct_hostif cr1)/ifindex")
	((idx >= 1073741824)) || fail "eth0 has index $idx, not one of vsd's range"
	assert_eq "$hidx" "$idx" "the node side's index"
	assert_eq "${before#* }" "$(ct_mac cr1)" "eth0's MAC"
	converse_start cr1 192.0.2.96
	vsctl checkpoint cr1 --dir "$NET_TMP/cr1.img"
	vsctl restore cr1 --dir "$NET_TMP/cr1.img"
	wait_for 10 ct_is_state cr1 running
	converse_finish
	assert_reach client 192.0.2.96
	assert_eq "$(ct_eth_line cr1)" "$before" "eth0's index and MAC after the restore"
	# CRIU made a new node side (a MAC of its own): the gateway's entry
	# inside follows it.
	assert_static_neigh cr1
	run in_ct cr1 ip -o addr show dev eth0
	assert_contains "$output" "192.0.2.96"
}

@test "stop removes the node-side links, routes, proxy entries, qdiscs and chains; start brings them back with the same MAC" {
	ensure_ct st1 --ip 192.0.2.105 --ip 2001:db8:ff::1a5 --egress-rate 50mbit --ingress-rate 50mbit
	ensure_ct st2 --net bridged
	local hif mac bif
	hif=$(ct_hostif st1) mac=$(ct_mac st1) bif=$(ct_hostif st2)
	node_has_link "$hif" || fail "no node-side link $hif"
	run ct_police st1
	assert_contains "$output" "limit rate over"
	run tc -n "$NODE" qdisc show dev "$hif"
	assert_contains "$output" tbf
	run node_routes_for 192.0.2.105
	assert_contains "$output" "$hif"
	run node_proxies
	assert_contains "$output" "192.0.2.105"
	assert_contains "$output" "2001:db8:ff::1a5"
	run node_fw
	assert_contains "$output" "$hif"
	assert_contains "$output" "$bif"
	vsctl stop st1
	vsctl stop st2
	! node_has_link "$hif" || fail "$hif left after stop"
	run node_fw
	assert_not_contains "$output" "eg_$hif"
	! node_has_link "$bif" || fail "$bif left after stop"
	run node_routes_for 192.0.2.105
	assert_eq "$output" "" "routes for a stopped container"
	run node_routes_for 2001:db8:ff::1a5
	assert_eq "$output" "" "routes for a stopped container"
	run node_proxies
	assert_not_contains "$output" "192.0.2.105"
	assert_not_contains "$output" "2001:db8:ff::1a5"
	run node_fw
	assert_not_contains "$output" "$hif"
	assert_not_contains "$output" "$bif"
	vsctl start st1
	wait_for 10 ct_is_state st1 running
	assert_reach client 192.0.2.105
	run in_ct st1 cat /sys/class/net/eth0/address
	assert_eq "$output" "$mac" "MAC after a restart"
}

@test "destroy releases addresses: a new container can take them" {
	vsctl create d1 --template busybox --ip 192.0.2.110 >/dev/null
	run vsctl create d2 --template busybox --ip 192.0.2.110
	assert_failure
	assert_contains "$output" "192.0.2.110"
	assert_contains "$output" "d1"
	vsctl destroy d1
	ensure_ct d2 --ip 192.0.2.110
	assert_reach client 192.0.2.110
}

@test "nameservers and the container's addresses in /etc/resolv.conf and /etc/hosts" {
	ensure_ct dn1 --ip 192.0.2.115 --nameserver 192.0.2.53 --nameserver 2001:db8:ff::53
	run in_ct dn1 cat /etc/resolv.conf
	assert_contains "$output" "nameserver 192.0.2.53"
	assert_contains "$output" "nameserver 2001:db8:ff::53"
	run in_ct dn1 cat /etc/hosts
	assert_contains "$output" "192.0.2.115"
}

@test "bad input names the field and changes nothing" {
	ensure_ct r1 --ip 192.0.2.70 --ip 2001:db8:ff::170
	ensure_ct r2 --ip 192.0.2.71 --ip 2001:db8:ff::171
	local links0 cts0 args
	links0=$(ip -n "$NODE" -o link | awk -F': ' '{ print $2 }' | sort)
	cts0=$(containers_listing)
	local -a cases=(
		"--ip 300.1.2.3|--ip|300.1.2.3"
		"--ip 192.0.2.120/33|--ip|33"
		"--ip 2001:db8:ff::zz|--ip|2001:db8:ff::zz"
		"--ip 192.0.2.70|192.0.2.70|r1"
		"--ip 192.0.2.1|192.0.2.1|an address of this node"
		"--net bridged:nosuchbr0|nosuchbr0|"
		"--net bridged:averyveryverylongbridgename|averyveryverylongbridgename|"
		"--ip 192.0.2.121 --egress-rate 10mb|--egress-rate|unit"
		"--ip 192.0.2.121 --ingress-burst 12X|--ingress-burst|12X"
		"--net routed --mac 02:zz:00:00:00:01|--mac|"
		"--net nosuchmodel|--net|nosuchmodel"
	)
	local c
	for c in "${cases[@]}"; do
		IFS='|' read -r args f1 f2 <<<"$c"
		# shellcheck disable=SC2086
		run vsctl create bad1 --template busybox $args
		[[ "$status" != 0 ]] || fail "create $args succeeded"
		assert_contains "$output" "$f1"
		[[ -z "$f2" ]] || assert_contains "$output" "$f2"
	done
	# Updates of a running container.
	run vsctl set r1 --ip-add 192.0.2.71
	assert_failure
	assert_contains "$output" "192.0.2.71"
	assert_contains "$output" "r2"
	run vsctl set r1 --ip-add 192.0.2.70
	assert_failure
	assert_contains "$output" "192.0.2.70"
	run vsctl set r1 --ip-add 999.1.1.1
	assert_failure
	assert_contains "$output" "999.1.1.1"
	run vsctl set r1 --ip-add 192.0.2.122@eth7
	assert_failure
	assert_contains "$output" "eth7"
	run vsctl set r1 --egress-rate 5xbit
	assert_failure
	assert_contains "$output" "--egress-rate"
	run vsctl set r1 --ip-del 192.0.2.123
	assert_failure
	assert_contains "$output" "192.0.2.123"
	# Nothing changed.
	assert_eq "$(containers_listing)" "$cts0" "containers"
	assert_eq "$(ip -n "$NODE" -o link | awk -F': ' '{ print $2 }' | sort)" "$links0" "node links"
	run ct_net r1 interfaces.0.addresses
	assert_eq "$(squash "$output")" '["192.0.2.70/32", "2001:db8:ff::170/128"]' "r1's addresses"
	run in_ct r1 ip -4 addr show dev eth0
	assert_not_contains "$output" "192.0.2.71"
	assert_reach client 192.0.2.70
}

@test "an unknown uplink at vsd start is an error naming it" {
	local d=$NET_TMP/vsd2 cg
	cg="vsd-bats-$(rand_hex)"
	mkdir -p "$d/root" "$d/run" "$d/idmaps"
	chmod 0755 "$d"
	run timeout 20 nsenter --net="/run/netns/$NODE" "$VSD_BIN" --root "$d/root" --run-dir "$d/run" \
		--cgroup-parent "$cg" --idmap-registry "$d/idmaps" --uplink nosuchup0 3>&-
	# Clean up whatever it made before it stopped (lxcfs, cgroups, mounts).
	(VSD_RUN=$d/run _vsd_stop_lxcfs)
	awk -v p="$d/" 'index($5, p) == 1 { print $5 }' /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l
	for r in $(_vsd_cgroup_roots "$cg"); do find "$r" -depth -type d -exec rmdir {} \; 2>/dev/null; done
	[[ "$status" != 0 && "$status" != 124 ]] || fail "vsd --uplink nosuchup0: status $status: $output"
	assert_contains "$output" "nosuchup0"
}

@test "after a SIGKILL of vsd, leftovers of dead containers are reconciled and running ones kept" {
	ensure_ct k1 --ip 192.0.2.100 --ip 2001:db8:ff::1a0
	ensure_ct k2 --ip 192.0.2.101 --ingress-rate 20mbit --egress-rate 20mbit
	local k1if k2if id pid
	k1if=$(ct_hostif k1) k2if=$(ct_hostif k2)
	id=${k1if:2:4}
	run ct_police k2
	assert_contains "$output" "limit rate over"
	pid=$(ct_init_pid k2)
	vsd_kill_daemon
	# Behind vsd's back: k2 dies; an old link of this instance lies about.
	kill -KILL "$pid"
	wait_for 10 eval "! pid_alive $pid"
	ip -n "$NODE" link add "vs${id}fffffe0" type veth peer name "vp${id}fffffe0"
	# (another instance's names are not ours to touch; no dummy links in
	# every kernel: veth)
	ip -n "$NODE" link add "vsfffffffffe0" type veth peer name "vsfffffffffe1"
	# A destroyed container's entries (marked as vsd's: protocol 86) whose
	# config is gone, and an operator's own proxy entry.
	ip -n "$NODE" route add unreachable 192.0.2.123 metric 4000 proto 86
	ip -n "$NODE" neigh add proxy 192.0.2.123 dev "$NET_UPLINK" protocol 86
	ip -n "$NODE" neigh add proxy 192.0.2.124 dev "$NET_UPLINK"
	vsd_start_daemon
	wait_for 20 eval "! node_has_link vs${id}fffffe0"
	wait_for 10 eval "! ct_is_state k2 running"
	! node_has_link "vp${id}fffffe0" || fail "leftover peer kept"
	node_has_link vsfffffffffe0 || fail "another instance's link removed"
	ip -n "$NODE" link del vsfffffffffe0
	! node_has_link "$k2if" || fail "k2's link kept"
	run node_fw
	assert_not_contains "$output" "$k2if"
	run node_routes_for 192.0.2.101
	assert_eq "$output" "" "routes of the dead k2"
	run node_proxies
	assert_not_contains "$output" "192.0.2.101"
	assert_contains "$output" "192.0.2.100"
	assert_contains "$output" "2001:db8:ff::1a0"
	assert_not_contains "$output" "192.0.2.123 "
	assert_contains "$output" "192.0.2.124 "
	ip -n "$NODE" neigh del proxy 192.0.2.124 dev "$NET_UPLINK"
	run node_routes_for 192.0.2.123
	assert_eq "$output" "" "a destroyed container's standby route"
	run node_fw
	assert_not_contains "$output" "$k2if"
	assert_contains "$output" "$k1if"
	node_has_link "$k1if" || fail "k1's link removed"
	assert_reach client 192.0.2.100
	assert_reach client 2001:db8:ff::1a0
	# k2 starts again cleanly.
	vsctl start k2
	wait_for 10 ct_is_state k2 running
	assert_reach client 192.0.2.101
}
