#!/bin/bash
# The cost of limits: a CPU-bound and a syscall-heavy workload inside a
# container whose limits are set but not binding (--cpus 2 --memory 1G
# --pids 1000 --io-weight 100) against the same busybox binary on the
# host, as ratios; and the latency of a live `vsctl set` (one request
# changing memory, CPU and pids on a running container). Figures only,
# never pass/fail. Run as root after `make`.
#
# Each workload run inside is timed from the host around `vsctl exec`; the
# median of `vsctl exec true` is subtracted, so the ratio is the
# workload's own. Environment: BENCH_RUNS (default 7), BENCH_SETS (50).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
runs=${BENCH_RUNS:-7}
sets=${BENCH_SETS:-50}
vsd_bin=$repo/build/vsd
vsctl_bin=$repo/build/vsctl
bb=$(command -v busybox) || {
	echo "bench: busybox missing (busybox-static)" >&2
	exit 1
}
((EUID == 0)) || {
	echo "bench: run me as root" >&2
	exit 1
}
[[ -x "$vsd_bin" && -x "$vsctl_bin" ]] || {
	echo "bench: run make first" >&2
	exit 1
}

tmp=$(mktemp -d /tmp/vsd-bench-limits-XXXXXX)
chmod 0755 "$tmp"
rand=$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
export VSD_SOCKET=$tmp/run/vsd.sock
vsd_pid=""
vsctl() { "$vsctl_bin" "$@"; }

cleanup() {
	trap - EXIT INT TERM
	set +e
	if [[ -n "$vsd_pid" ]]; then
		timeout 30 "$vsctl_bin" destroy --force bl1 >/dev/null 2>&1
		kill "$vsd_pid" 2>/dev/null
		for _ in $(seq 50); do kill -0 "$vsd_pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$vsd_pid" 2>/dev/null
	fi
	umount -R "$tmp/root/containers/"*/rootfs 2>/dev/null
	rm -rf "$tmp"
	local d
	for d in /sys/fs/cgroup/*/vsd-bench-$rand /sys/fs/cgroup/vsd-bench-$rand; do
		[[ -d "$d" ]] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
	done
}
trap cleanup EXIT INT TERM

mkdir -p "$tmp/root" "$tmp/run" "$tmp/idmaps"
setsid "$vsd_bin" --root "$tmp/root" --run-dir "$tmp/run" --socket "$VSD_SOCKET" \
	--cgroup-parent "vsd-bench-$rand" --idmap-registry "$tmp/idmaps" \
	</dev/null >"$tmp/vsd.log" 2>&1 &
vsd_pid=$!
for _ in $(seq 200); do vsctl node info >/dev/null 2>&1 && break; sleep 0.05; done
vsctl template build busybox --from busybox >/dev/null 2>&1
vsctl create bl1 --template busybox --cpus 2 --memory 1G --pids 1000 --io-weight 100 >/dev/null
vsctl start bl1

now_ns() { date +%s%N; }
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

# time_ms CMD...: wall milliseconds of one run.
time_ms() {
	local t0 t1
	t0=$(now_ns)
	"$@" >/dev/null 2>&1
	t1=$(now_ns)
	echo $(((t1 - t0) / 1000000))
}

cpu_work='i=0; s=0; while [ $i -lt 300000 ]; do s=$((s + i)); i=$((i + 1)); done'
sys_work='dd if=/dev/zero of=/dev/null bs=1 count=300000'

exec_base=$(for _ in $(seq "$runs"); do time_ms vsctl exec bl1 -- true; done | median)
printf '%-34s %10s %10s %8s\n' workload "host ms" "vsd ms" ratio
for w in cpu sys; do
	script=$cpu_work
	[[ $w == sys ]] && script=$sys_work
	host=() inside=()
	for _ in $(seq "$runs"); do
		host+=("$(time_ms "$bb" sh -c "$script")")
		inside+=("$(time_ms vsctl exec bl1 -- sh -c "$script")")
	done
	h=$(printf '%s\n' "${host[@]}" | median)
	c=$(printf '%s\n' "${inside[@]}" | median)
	c=$((c - exec_base))
	label="CPU-bound (shell arithmetic loop)"
	[[ $w == sys ]] && label="syscall-heavy (dd bs=1, 600k calls)"
	printf '%-34s %10d %10d %8s\n' "$label" "$h" "$c" "$(awk -v a="$c" -v b="$h" 'BEGIN { printf "%.2f", a / b }')"
done
echo "(vsd ms: the median run minus the median exec of true, $exec_base ms)"

lat=()
for i in $(seq "$sets"); do
	if ((i % 2)); then
		lat+=("$(time_ms vsctl set bl1 --memory 768M --cpus 1.5 --pids 800)")
	else
		lat+=("$(time_ms vsctl set bl1 --memory 1G --cpus 2 --pids 1000)")
	fi
done
printf 'live set (memory+cpus+pids, %d runs): median %s ms, p90 %s ms\n' "$sets" \
	"$(printf '%s\n' "${lat[@]}" | median)" \
	"$(printf '%s\n' "${lat[@]}" | sort -n | awk '{ a[NR] = $1 } END { print a[int(NR * 0.9)] }')"
