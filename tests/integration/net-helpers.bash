# Network test harness (load after helpers): no test packet leaves the machine.
#
# Per test file, net_setup_file makes two network namespaces of its own and
# runs the file's vsd in the first:
#   node   ($NODE, "vsdt-n-<hex>"): vsd and its containers' node-side links;
#          only lo, the uplink and what vsd makes; no default route, so there
#          is no way off the machine from in there.
#   client ($CLIENT, "vsdt-c-<hex>"): the outside world, on the far end of
#          the uplink veth.
#
#   node: up0 192.0.2.1/24 2001:db8:ff::1/64  <-veth->  client: cl0 192.0.2.2/24
#                                                                2001:db8:ff::2/64
# The client has NO routes beyond its connected /24 and /64: routed
# containers get addresses from the uplink's own subnets (the pools
# 192.0.2.64/26 and 2001:db8:ff::100/120), so the client reaches them
# on-link, through vsd's proxy ARP / proxy NDP entries on up0.
#
# Bridges in the node: vtbr0 is vsd's own (created by vsd, ports isolated,
# pools 10.77.0.0/24 and fd00:77::/64, gateways .1 / ::1 put on it by vsd);
# vtpriv0 is an operator's bridge made here and named --private-bridge
# (ports not isolated, 10.78.0.1/24 and fd00:78::1/64 on it).
#
# vsd runs as `nsenter --net=/run/netns/$NODE vsd ...` (VSD_LAUNCH): only its
# network namespace changes (not `ip netns exec`, which would also give it a
# private mount namespace and hide its mounts from the teardown).
#
# Background processes of the tests (listeners, sniffers, senders) are
# started with net_bg, which records their pids; net_teardown_file kills
# those pids, tears down vsd (vsd_teardown_file), deletes the namespaces
# (which removes every link in them) and its temp dir, even after a failure.

NET_TOOL="$BATS_TEST_DIRNAME/net-tool.py"
NET_UPLINK=up0
NET_BRIDGE=vtbr0
NET_PRIV=vtpriv0

# The vsd options every start of a network test file's daemon gets.
net_vsd_args() {
	echo "--uplink $NET_UPLINK --bridge $NET_BRIDGE" \
		"--ip-pool routed=192.0.2.64/26 --ip-pool routed=2001:db8:ff::100/120" \
		"--ip-pool $NET_BRIDGE=10.77.0.0/24 --ip-pool $NET_BRIDGE=fd00:77::/64" \
		"--private-bridge $NET_PRIV --nat 10.77.0.0/24" \
		"--ip-pool $NET_PRIV=10.78.0.0/24@10.78.0.1 --ip-pool $NET_PRIV=fd00:78::/64@fd00:78::1"
}

# net_make_namespaces: the node and client namespaces, the uplink and the
# private bridge (no vsd yet). Exports NODE, CLIENT, NET_TMP.
net_make_namespaces() {
	local id
	id=$(rand_hex | cut -c1-6)
	NET_TMP=$(mktemp -d /tmp/vsdt-net-XXXXXX) && chmod 0755 "$NET_TMP" || return 1
	export NET_TMP NODE="vsdt-n-$id" CLIENT="vsdt-c-$id"
	: >"$NET_TMP/pids"
	echo "$NODE $CLIENT" >"$NET_TMP/netns"
	ip netns add "$NODE" || return 1
	ip netns add "$CLIENT" || return 1
	ip -n "$NODE" link set lo up &&
		ip -n "$CLIENT" link set lo up &&
		ip -n "$NODE" link add "$NET_UPLINK" type veth peer name cl0 netns "$CLIENT" &&
		ip -n "$NODE" addr add 192.0.2.1/24 dev "$NET_UPLINK" &&
		ip -n "$NODE" addr add 2001:db8:ff::1/64 dev "$NET_UPLINK" nodad &&
		ip -n "$NODE" link set "$NET_UPLINK" up &&
		ip -n "$CLIENT" addr add 192.0.2.2/24 dev cl0 &&
		ip -n "$CLIENT" addr add 2001:db8:ff::2/64 dev cl0 nodad &&
		ip -n "$CLIENT" link set cl0 up &&
		ip -n "$NODE" link add "$NET_PRIV" type bridge &&
		ip -n "$NODE" addr add 10.78.0.1/24 dev "$NET_PRIV" &&
		ip -n "$NODE" addr add fd00:78::1/64 dev "$NET_PRIV" nodad &&
		ip -n "$NODE" link set "$NET_PRIV" up || return 1
	# No route off the machine: prove it before vsd runs in there.
	[[ -z "$(ip -n "$NODE" route show default)$(ip -n "$NODE" -6 route show default)" ]] ||
		fail "node namespace has a default route" || return 1
}

# net_setup_file [vsd_setup_file args]: namespaces, then this file's vsd in
# the node namespace with the network options.
net_setup_file() {
	net_make_namespaces || return 1
	export VSD_LAUNCH="nsenter --net=/run/netns/$NODE"
	VSD_DAEMON_ARGS="$(net_vsd_args) ${VSD_DAEMON_ARGS:-}"
	export VSD_DAEMON_ARGS
	vsd_setup_file "$@"
}

# _net_kill_tree PID: PID and its descendants (a sink forks per connection).
_net_kill_tree() {
	local c
	kill -STOP "$1" 2>/dev/null
	for c in $(pgrep -P "$1"); do _net_kill_tree "$c"; done
	kill -KILL "$1" 2>/dev/null
}

# net_kill_bg: kill what net_bg started, with its descendants.
net_kill_bg() {
	local pid
	[[ -f "${NET_TMP:-}/pids" ]] || return 0
	while read -r pid; do
		[[ -n "$pid" ]] && _net_kill_tree "$pid"
	done <"$NET_TMP/pids"
	: >"$NET_TMP/pids"
}

net_teardown_file() {
	set +e
	net_kill_bg
	vsd_teardown_file
	local ns
	if [[ -n "${NET_TMP:-}" && -f "$NET_TMP/netns" ]]; then
		for ns in $(<"$NET_TMP/netns"); do
			[[ "$ns" == vsdt-* ]] || continue
			ip netns pids "$ns" 2>/dev/null | while read -r p; do kill -KILL "$p" 2>/dev/null; done
			ip netns del "$ns" 2>/dev/null
		done
		rm -rf "$NET_TMP"
	fi
	return 0
}

net_teardown_test() {
	net_kill_bg
	vsd_teardown_test
}

# ------------------------------------------------------------- running things

in_node() { ip netns exec "$NODE" "$@"; }
in_client() { ip netns exec "$CLIENT" "$@"; }

# in_ct_net NAME CMD...: a HOST program in container NAME's network
# namespace only (to inspect its links and counters, or to run iperf3).
in_ct_net() {
	local pid
	pid=$(ct_init_pid "$1") || return 1
	shift
	nsenter --net="/proc/$pid/ns/net" "$@"
}

# net_bg LOG CMD...: run CMD in the background (its output to LOG), record
# its pid for net_kill_bg; prints the pid. fd 3 is closed (Bats waits for
# whoever holds it).
net_bg() {
	local log=$1
	shift
	"$@" </dev/null >"$log" 2>&1 3>&- &
	echo $! >>"$NET_TMP/pids"
	echo $!
}

nettool() { "$PY" "$NET_TOOL" "$@"; }

# sniff_start NAME NS-PREFIX... -- IFACE SECONDS FILTERS...: start a sniffer
# (net-tool.py sniff) in the background, wait until it listens. The count
# is read with sniff_count NAME once SECONDS are over.
sniff_start() {
	local name=$1
	shift
	local pre=()
	while [[ "$1" != -- ]]; do
		pre+=("$1")
		shift
	done
	shift
	rm -f "$NET_TMP/$name.ready" "$NET_TMP/$name.out"
	net_bg "$NET_TMP/$name.out" "${pre[@]}" "$PY" "$NET_TOOL" sniff "$1" "$2" "$NET_TMP/$name.ready" \
		"${@:3}" >"$NET_TMP/$name.pid"
	wait_for 10 test -e "$NET_TMP/$name.ready"
}

# sniff_count NAME: wait for the sniffer to end, print its count.
sniff_count() {
	local pid
	pid=$(cat "$NET_TMP/$1.pid")
	wait_for 60 eval "! pid_alive $pid" || return 1
	local n
	n=$(tail -n 1 "$NET_TMP/$1.out")
	[[ "$n" =~ ^[0-9]+$ ]] || fail "sniffer $1: $(cat "$NET_TMP/$1.out")" || return 1
	echo "$n"
}

# ------------------------------------------------------------ container data

# ct_net NAME PATH: a field under "net" of NAME's status (e.g.
# interfaces.0.host_ifname).
ct_net() { ct_json "$1" | json_get "net.$2"; }

# ct_ip NAME [IFACE [N]]: the Nth address of interface IFACE, no prefix.
ct_ip() {
	local a
	a=$(ct_net "$1" "interfaces.${2:-0}.addresses.${3:-0}") || return 1
	echo "${a%/*}"
}

# ct_hostif NAME [IFACE]: the node-side link of an interface.
ct_hostif() { ct_net "$1" "interfaces.${2:-0}.host_ifname"; }
# ct_police NAME: the egress policing chain of NAME's eth0 ("" when none).
# The interface's objects sit in its own table: vsd_NODEID_HOSTIF.
ct_police() {
	local x
	x=$(ct_hostif "$1")
	in_node nft list chain netdev "vsd_$(cut -c3-6 <<<"$x")_$x" "eg_$x" 2>/dev/null || true
}
ct_mac() { ct_net "$1" "interfaces.${2:-0}.mac"; }

# ct_reaches NAME ADDR: one ping from inside NAME answered (busybox ping).
ct_reaches() { in_ct "$1" ping -c 1 -W 2 "$2" >/dev/null 2>&1; }
node_reaches() { in_node busybox ping -c 1 -W 2 "$1" >/dev/null 2>&1; }
client_reaches() { in_client busybox ping -c 1 -W 2 "$1" >/dev/null 2>&1; }

# assert_reach WHO... ADDR: WHO (ct NAME | node | client) reaches ADDR
# within 10 s (neighbour resolution, DAD); assert_no_reach: three pings
# lost.
assert_reach() {
	local what=("$@")
	local addr=${what[-1]}
	unset 'what[-1]'
	case ${what[0]} in
	ct) wait_for 10 ct_reaches "${what[1]}" "$addr" || fail "container ${what[1]} does not reach $addr" ;;
	node) wait_for 10 node_reaches "$addr" || fail "node does not reach $addr" ;;
	client) wait_for 10 client_reaches "$addr" || fail "client does not reach $addr" ;;
	esac
}
assert_no_reach() {
	local what=("$@")
	local addr=${what[-1]} out rc
	unset 'what[-1]'
	# (`|| rc=$?`: a failing assignment would end the test under errexit)
	case ${what[0]} in
	ct) out=$(in_ct "${what[1]}" ping -c 3 -W 1 -i 0.3 "$addr" 2>&1) && rc=0 || rc=$? ;;
	node) out=$(in_node busybox ping -c 3 -W 1 -i 0.3 "$addr" 2>&1) && rc=0 || rc=$? ;;
	client) out=$(in_client busybox ping -c 3 -W 1 -i 0.3 "$addr" 2>&1) && rc=0 || rc=$? ;;
	esac
	((rc != 0)) || fail "${what[*]} still reaches $addr: $out"
}

# link_stat NS-PREFIX... -- IFACE KEY: a counter of IFACE (KEY rx.bytes,
# tx.packets, ...), read by `ip -s -j link` under the prefix (in_node,
# in_client, in_ct_net NAME).
link_stat() {
	local pre=()
	while [[ "$1" != -- ]]; do
		pre+=("$1")
		shift
	done
	"${pre[@]}" ip -s -j link show dev "$2" | json_get "0.stats64.$3"
}

# node_has_link IF / node_has_route ADDR / node_has_proxy ADDR: node state.
node_has_link() { ip -n "$NODE" link show dev "$1" >/dev/null 2>&1; }
node_routes_for() { ip -n "$NODE" route show table all to "$1" 2>/dev/null; ip -n "$NODE" -6 route show table all to "$1" 2>/dev/null; }
node_proxies() { ip -n "$NODE" neigh show proxy 2>/dev/null; ip -n "$NODE" -6 neigh show proxy 2>/dev/null; }
# node_fw: the instance's nftables ruleset in the node ("" when none).
node_fw() { in_node nft list ruleset 2>/dev/null; }
