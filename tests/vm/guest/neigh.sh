#!/bin/sh
# tests/vm guest: routed VPSes do not fill the machine's neighbour table.
#
# Sourced by checks.sh (its TAP helpers and numbering). The kernel's
# neighbour tables are one per machine: every namespace's resolved entries
# count against net.ipv4.neigh.default.gc_thresh3 (and IPv6's), which only
# the machine's own namespace can set, and a VPS that talks would take two
# (the node's for its address, its own for its gateway). vsd makes both
# permanent (netns/net.c), and the kernel does not count permanent entries
# against the limit. This is the lane's own machine, so the limit may be
# lowered here to a size a few VPSes overflow: 6 VPSes pinged from their
# node within a second or two need 6 resolved IPv4 entries against a
# limit of 4 (the kernel's forced collection frees only entries older than
# 5 s), and as many for their gateways inside.

NB_ROOT=/var/lib/vsd-n NB_RUN=/run/vsd-n NB_SOCK=$NB_RUN/vsd.sock NB_LOG=/tmp/vsd-n.log
NB_N=6
IP=/usr/sbin/ip

on_n() { VSD_SOCKET=$NB_SOCK timeout 120 vsctl "$@" </dev/null; }
# nb_node_pings: how many VPSes answer their node, pinged one after the
# other. nb_gw_pings: how many reach their gateway.
nb_node_pings() {
	_ok=0
	for _i in $(seq 1 "$NB_N"); do
		"$IP" netns exec vmnb ping -c 1 -W 2 "192.0.2.4$_i" >/dev/null 2>&1 && _ok=$((_ok + 1))
	done
	echo "$_ok"
}
nb_gw_pings() {
	_ok=0
	for _i in $(seq 1 "$NB_N"); do
		on_n exec "nb$_i" -- ping -c 1 -W 2 169.254.0.1 >/dev/null 2>&1 && _ok=$((_ok + 1))
	done
	echo "$_ok"
}

nb_checks() {
	for _f in ipv4 ipv6; do
		echo 1 >"/proc/sys/net/$_f/neigh/default/gc_thresh1" &&
			echo 2 >"/proc/sys/net/$_f/neigh/default/gc_thresh2" &&
			echo 4 >"/proc/sys/net/$_f/neigh/default/gc_thresh3" || {
			fail "neighbour table: gc_thresh3 lowered to 4 in the guest"
			return
		}
	done
	mkdir -p "$NB_ROOT" "$NB_RUN" "$NB_ROOT-idmaps"
	if ! "$IP" netns add vmnb || ! "$IP" -n vmnb link set lo up; then
		fail "neighbour table: the node's namespace"
		return
	fi
	nsenter --net=/run/netns/vmnb setsid vsd --root "$NB_ROOT" --run-dir "$NB_RUN" \
		--socket "$NB_SOCK" --cgroup-parent vsd-n --idmap-registry "$NB_ROOT-idmaps" \
		</dev/null >"$NB_LOG" 2>&1 &
	if ! wait_for 60 test -S "$NB_SOCK" || ! on_n template build bb --from busybox >/dev/null; then
		fail "neighbour table: a node with a template" "$(tail -n 5 "$NB_LOG")"
		return
	fi
	for _i in $(seq 1 "$NB_N"); do
		if ! on_n create "nb$_i" --template bb --ip "192.0.2.4$_i" >/dev/null ||
			! on_n start "nb$_i" >/dev/null; then
			fail "neighbour table: create and start nb$_i" "$(tail -n 5 "$NB_LOG")"
			return
		fi
	done
	check_eq "neighbour table (limit 4): $NB_N routed VPSes answer their node" \
		"$(nb_node_pings)" "$NB_N"
	check_eq "neighbour table (limit 4): $NB_N routed VPSes reach their gateway" \
		"$(nb_gw_pings)" "$NB_N"
	check_eq "neighbour table: the node's entries for its VPSes are permanent" \
		"$("$IP" -n vmnb neigh show | grep -c '^192\.0\.2\.4[0-9] .*PERMANENT')" "$NB_N"
}

nb_checks
for _i in $(seq 1 "$NB_N"); do on_n destroy --force "nb$_i" >/dev/null 2>&1; done
for _p in $(pidof vsd); do
	tr '\0' ' ' <"/proc/$_p/cmdline" | grep -q -- "--root $NB_ROOT " && kill -TERM "$_p"
done
for _f in ipv4 ipv6; do
	echo 128 >"/proc/sys/net/$_f/neigh/default/gc_thresh1"
	echo 512 >"/proc/sys/net/$_f/neigh/default/gc_thresh2"
	echo 1024 >"/proc/sys/net/$_f/neigh/default/gc_thresh3"
done
