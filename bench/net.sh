#!/bin/bash
# Container networking figures (never pass/fail): TCP throughput (iperf3,
# one stream, SECS seconds) and latency (mean ping round trip of COUNT pings
# 10 ms apart), each as a ratio to the same measure between two plain
# network namespaces joined by a veth pair (no vsd, no firewall, no qdisc):
#   ns-ns      the baseline: plain veth between two namespaces
#   ct-ct      two routed containers on one node (through the node's routes)
#   client-ct  a client namespace to a routed container through the node's
#              uplink (proxy ARP), one veth hop more than ct-ct
#   shaped     client-ct to a container with a 20gbit egress and ingress
#              rate (TBF and policing that do not bind: the cost of the qdisc and the policing chain)
#   no-fw      client-ct after deleting vsd's anti-spoofing table in the node
#              (last, as it leaves the containers unprotected): the cost of
#              the rules is client-ct against this
# Everything runs in namespaces this script makes (net-helpers.bash): no
# packet leaves the machine. The endpoints are the host's iperf3 and busybox
# ping entered into the containers' network namespaces (nsenter --net), which
# is the same veth path a program inside would use.
# Run as root under the heavy lock: flock /tmp/vsd-heavy.lock bench/net.sh
# Environment: SECS (default 5), COUNT (default 200).
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${SECS:-5}
COUNT=${COUNT:-200}
command -v iperf3 >/dev/null || { echo "bench: iperf3 missing (scripts/install-deps.sh)" >&2; exit 1; }
((EUID == 0)) || { echo "bench: run me as root" >&2; exit 1; }
. bench/bats-env.sh

net_setup_file
trap net_teardown_file EXIT
# The baseline pair, recorded for the teardown like the node and client.
BA="vsdt-a-${NODE#vsdt-n-}" BB="vsdt-b-${NODE#vsdt-n-}"
echo "$BA $BB" >>"$NET_TMP/netns"
ip netns add "$BA"
ip netns add "$BB"
ip -n "$BA" link set lo up
ip -n "$BB" link set lo up
ip -n "$BA" link add va type veth peer name vb netns "$BB"
ip -n "$BA" addr add 198.51.100.1/24 dev va
ip -n "$BB" addr add 198.51.100.2/24 dev vb
ip -n "$BA" link set va up
ip -n "$BB" link set vb up

ct_create_started b1 --ip 192.0.2.81
ct_create_started b2 --ip 192.0.2.82
ct_create_started b3 --ip 192.0.2.83 --egress-rate 20gbit --ingress-rate 20gbit
for a in 192.0.2.81 192.0.2.82 192.0.2.83; do wait_for 10 client_reaches "$a"; done

# in_ns SPEC CMD...: SPEC is "ns:NAME" (a namespace of ours) or "ct:NAME".
in_ns() {
	local spec=$1
	shift
	case $spec in
	ns:*) ip netns exec "${spec#ns:}" "$@" ;;
	ct:*) in_ct_net "${spec#ct:}" "$@" ;;
	esac
}

# tput_mbit FROM TO ADDR: iperf3 from FROM to a server in TO at ADDR.
tput_mbit() {
	local port=$((5201 + RANDOM % 1000))
	net_bg "$NET_TMP/iperf-s.log" in_ns "$2" iperf3 -s -1 -p "$port" >/dev/null
	sleep 0.5
	in_ns "$1" iperf3 -c "$3" -p "$port" -t "$SECS" -J >"$NET_TMP/iperf.json"
	net_kill_bg
	json_get end.sum_received.bits_per_second <"$NET_TMP/iperf.json" |
		awk '{ printf "%.0f", $1 / 1e6 }'
}

# rtt_us FROM ADDR: mean round trip in microseconds.
rtt_us() {
	in_ns "$1" busybox ping -c "$COUNT" -i 0.01 -q "$2" |
		awk -F'[/ ]+' '/round-trip/ { printf "%.0f", $(NF - 2) * 1000 }'
}

declare -A T L
measure() {
	local key=$1 from=$2 to=$3 addr=$4
	in_ns "$from" busybox ping -c 3 -i 0.1 -q "$addr" >/dev/null
	T[$key]=$(tput_mbit "$from" "$to" "$addr")
	L[$key]=$(rtt_us "$from" "$addr")
}

measure ns-ns "ns:$BA" "ns:$BB" 198.51.100.2
measure ct-ct ct:b1 ct:b2 192.0.2.82
measure client-ct "ns:$CLIENT" ct:b1 192.0.2.81
measure shaped "ns:$CLIENT" ct:b3 192.0.2.83
fw=$(in_node nft list tables | awk '$2 == "netdev" && $3 ~ /^vsd_/ { print $3; exit }')
if [[ -n "$fw" ]]; then
	in_node nft delete table netdev "$fw"
	measure no-fw "ns:$CLIENT" ct:b1 192.0.2.81
fi

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
printf 'veth networking, %s s iperf3 (1 TCP stream), %s pings; ratios to ns-ns\n' "$SECS" "$COUNT"
printf '  %-10s %10s %7s %10s %7s\n' path Mbit/s ratio 'rtt us' ratio
for k in ns-ns ct-ct client-ct shaped no-fw; do
	[[ -n "${T[$k]:-}" ]] || continue
	printf '  %-10s %10s %7s %10s %7s\n' "$k" "${T[$k]}" "$(ratio "${T[$k]}" "${T[ns-ns]}")" \
		"${L[$k]}" "$(ratio "${L[$k]}" "${L[ns-ns]}")"
done
printf '  shaping (20gbit, not binding): throughput x%s, rtt x%s of client-ct\n' \
	"$(ratio "${T[shaped]}" "${T[client-ct]}")" "$(ratio "${L[shaped]}" "${L[client-ct]}")"
if [[ -n "${T[no-fw]:-}" ]]; then
	printf '  anti-spoofing rules: throughput x%s, rtt x%s of the same path without them\n' \
		"$(ratio "${T[client-ct]}" "${T[no-fw]}")" "$(ratio "${L[client-ct]}" "${L[no-fw]}")"
else
	echo "  anti-spoofing rules: no netdev vsd_* table found in the node"
fi
