#!/bin/bash
# Idle reclaim must never slow a busy container (LXD PR #13192 made
# containers "terribly slow" by pressing memory.high). Measures a busy
# container's throughput (MB/s of a memory-touching dd, 64 MiB blocks
# allocated and filled again and again) next to an idle neighbour that
# holds 100 MB of page cache, with idle reclaim on (sampling every second,
# so reclaim runs all through the run) and off. Prints figures and the
# on/off ratio; never a pass/fail. Root, after `make`.
#
# Environment: BENCH_ROUNDS (default 3 per mode), BENCH_SECONDS (default 8).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
rounds=${BENCH_ROUNDS:-3}
secs=${BENCH_SECONDS:-8}
vsd_bin=$repo/build/vsd
vsctl_bin=$repo/build/vsctl
((EUID == 0)) || { echo "bench: run me as root" >&2; exit 1; }

tmp=$(mktemp -d /tmp/vsd-bench-reclaim-XXXXXX)
chmod 0755 "$tmp"
export VSD_SOCKET=$tmp/run/vsd.sock
parent="vsd-bench-$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')"
pid=

start_vsd() {
	setsid "$vsd_bin" --root "$tmp/root" --run-dir "$tmp/run" --cgroup-parent "$parent" \
		--idmap-registry "$tmp/idmaps" --idle-reclaim-interval 1 "$@" \
		</dev/null >>"$tmp/vsd.log" 2>&1 &
	pid=$!
	for _ in $(seq 100); do
		"$vsctl_bin" node info >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "bench: vsd did not start" >&2
	return 1
}
stop_vsd() {
	[[ -n "$pid" ]] && kill "$pid" 2>/dev/null && while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
	pid=
}
cleanup() {
	"$vsctl_bin" destroy --force busy >/dev/null 2>&1 || true
	"$vsctl_bin" destroy --force idle >/dev/null 2>&1 || true
	stop_vsd
	for c in /sys/fs/cgroup/*/"$parent" /sys/fs/cgroup/"$parent"; do
		[[ -d "$c" ]] && rmdir "$c" 2>/dev/null || true
	done
	rm -rf "$tmp"
}
trap cleanup EXIT

# MB/s of the busy container over $secs seconds.
throughput() {
	local n
	n=$("$vsctl_bin" exec busy -- sh -c "
		end=\$((\$(date +%s) + $secs)); n=0
		while [ \$(date +%s) -lt \$end ]; do
			dd if=/dev/zero of=/dev/null bs=64M count=1 2>/dev/null; n=\$((n + 1))
		done; echo \$n")
	echo $((n * 64 / secs))
}

start_vsd
"$vsctl_bin" template build busybox --from busybox >/dev/null 2>&1
for c in busy idle; do
	"$vsctl_bin" create "$c" --template busybox --memory 512M >/dev/null
	"$vsctl_bin" start "$c"
done

declare -A total=([on]=0 [off]=0)
for ((r = 1; r <= rounds; r++)); do
	for mode in on off; do
		stop_vsd
		start_vsd --idle-reclaim "$mode"
		"$vsctl_bin" exec idle -- dd if=/dev/zero of=/fill bs=1M count=100 2>/dev/null
		sleep 4 # the idle neighbour becomes idle: reclaim starts (when on)
		t=$(throughput)
		rec=$("$vsctl_bin" stats idle --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["memory"]["reclaimed"])')
		busyrec=$("$vsctl_bin" stats busy --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["memory"]["reclaimed"])')
		printf 'round %d reclaim %-3s: busy %5d MB/s  reclaimed from idle %6d KiB, from busy %d\n' \
			"$r" "$mode" "$t" $((rec / 1024)) "$busyrec"
		total[$mode]=$((total[$mode] + t))
		"$vsctl_bin" exec idle -- rm -f /fill
	done
done
on=$((total[on] / rounds))
off=$((total[off] / rounds))
echo "busy container throughput: reclaim on ${on} MB/s, off ${off} MB/s, on/off $(awk -v a="$on" -v b="$off" 'BEGIN { printf "%.3f", b ? a / b : 0 }')"
