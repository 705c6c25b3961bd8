#!/bin/bash
# Density and the daemon at scale: figures and ratios, never pass/fail.
#
# A "node" (a network namespace this script makes, no route off the
# machine: tests/integration/net-helpers.bash) runs a private vsd, which
# starts N idle busybox VPSes, each with one routed veth and an address from
# a pool, and limits (--memory 256M --cpus 1 --pids 256). Measured:
#   - host memory per VPS: the /proc/meminfo delta between before and after
#     (Slab + KernelStack + PageTables + AnonPages + Shmem, and
#     MemTotal - MemAvailable) over N; the monitors' share (sum of their Pss,
#     /proc/PID/smaps_rollup) over N; the daemon's RSS;
#   - the start rate: create alone, start alone and create+start per VPS
#     (wall time of N sequential vsctl calls over N);
#   - what the kernel's share is made of: the growth of each meminfo field
#     and of the largest slab caches, per VPS (for LXC too);
#   - the daemon at scale, while the N run: `vsctl list` (and the same
#     GET through curl, the daemon's part) and `GET /metrics` latency
#     (median and p90 of 20), vsd's CPU at idle over IDLE_S seconds
#     (schedstat of its threads; the monitors' and lxcfs's from
#     /proc/PID/stat), its RSS, threads and descriptors, and a restart
#     (SIGKILL, start again): the time until it answers and until `vsctl
#     list` shows all N running;
#   - then stop and destroy rates (of the first DENSITY_STOP_N, default 50:
#     the rest go with the node's teardown).
# Then the same N for LXC in the same run, inside the same node namespace:
# `lxc-start -d` of privileged containers on a copy of the same busybox
# rootfs (an overlay per container, like vsd's), each with a veth on a
# bridge made in the node and an address, the same memory/cpu/pids limits
# (v1 cgroups under a parent of this run's own name); memory per container
# including its "[lxc monitor]" process, measured the same way; ratios
# vsd/LXC.
# Everything made (containers, cgroups under this run's names, namespaces,
# mounts, temp dirs) is removed on exit, also after a failure or Ctrl-C.
#
# Run as root under the heavy lock: flock /tmp/vsd-heavy.lock bench/density.sh
# Environment: DENSITY_N (default 1000), IDLE_S (default 30; the first
# idle window, right after the latency runs), SETTLE_S (seconds to let the
# started containers settle before measuring memory, default 10),
# DENSITY_LXC=0 to skip LXC, and for the daemon at idle:
#   IDLE_SETTLED_S (default 60): the settled idle window, taken once every
#     running container's usage ledger holds a reading of its current run
#     (containers/NAME/usage.json's run_started_at is state.json's
#     started_at: the first readings, one write each, are spread over
#     minutes by the sampler's token bucket) and at most LEDGER_QUIET_MAX
#     (default N/50) were rewritten in the last LEDGER_QUIET_S (default 70);
#     the time waited is printed, and how many were rewritten during each
#     window; 0 skips it. SETTLED_MAX_S (default 1200) bounds the wait.
#   DENSITY_IDLE_ONLY=1: only create, start, the memory figures and the
#     idle windows (no latency, ping, restart, stop/destroy or LXC parts).
#   DENSITY_ALT_BIN="PATH...": after the settled window, restart the daemon
#     on the same containers with each of these vsd binaries, then with the
#     one under test, DENSITY_ALT_ROUNDS times (default 1), and take a
#     settled window with each (ALT_SETTLE_S, default 20, after all are
#     listed running).
#   DENSITY_PERF=DIR: profiles of vsd (creates, list and metrics, and
#     PERF_IDLE_S seconds, default 30, of the settled idle) into DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${DENSITY_N:-1000}
IDLE_S=${IDLE_S:-30}
SETTLE_S=${SETTLE_S:-10}
want_lxc=${DENSITY_LXC:-1}
IDLE_SETTLED_S=${IDLE_SETTLED_S:-60}
SETTLED_MAX_S=${SETTLED_MAX_S:-1200}
idle_only=${DENSITY_IDLE_ONLY:-0}
((idle_only)) && want_lxc=0
((EUID == 0)) || { echo "bench: run me as root" >&2; exit 1; }
((N >= 1 && N <= 4000)) || { echo "bench: DENSITY_N between 1 and 4000" >&2; exit 1; }

. bench/lib.sh # bench_median_p90
. bench/bats-env.sh
vsctl() { "$VSCTL_BIN" "$@"; }

# ------------------------------------------------------------------ cleanup

lxc_cg=""
lxc_path=""
node_net=""
cleanup() {
	local rc=$? d pid m
	trap - EXIT INT TERM
	set +e
	exec 1>&8 2>&9
	echo "bench: cleaning up" >&2
	if [[ -n "$lxc_path" && -d "$lxc_path" ]]; then
		for d in "$lxc_path"/*/; do
			# shellcheck disable=SC2086 # a command prefix
			[[ -d "$d" ]] && timeout 20 $node_net lxc-stop -k -P "$lxc_path" -n "$(basename "$d")" >/dev/null 2>&1
		done
		# Whatever LXC left in its cgroups (only ours: named after this
		# run), and its monitors, which name our lxcpath on their command
		# line (helpers.bash's teardown pieces).
		for _ in 1 2 3 4 5; do
			_vsd_cgroups_empty "$lxc_cg" && break
			_vsd_kill_cgroup_tasks "$lxc_cg"
			sleep 0.2
		done
		for pid in $(pids_matching "$lxc_path"); do kill -KILL "$pid" 2>/dev/null; done
	fi
	if [[ -n "$lxc_cg" ]]; then
		for d in $(_vsd_cgroup_roots "$lxc_cg"); do
			find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
		done
	fi
	if [[ -n "${NET_TMP:-}" ]]; then
		awk -v p="$NET_TMP/" 'index($5, p) == 1 { print length($5) " " $5 }' /proc/self/mountinfo |
			sort -rn | cut -d' ' -f2- | while read -r m; do umount -l "$m"; done
	fi
	net_teardown_file
	exit "$rc"
}
exec 8>&1 9>&2 # see cleanup
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ------------------------------------------------------------------ measures

now_us() { echo "${EPOCHREALTIME/./}"; }
# meminfo_kb: "K U": K = Slab + KernelStack + PageTables + AnonPages + Shmem,
# U = MemTotal - MemAvailable (KiB).
meminfo_kb() {
	awk '/^(Slab|KernelStack|PageTables|AnonPages|Shmem):/ { k += $2 }
		/^MemTotal:/ { t = $2 } /^MemAvailable:/ { a = $2 }
		END { print k, t - a }' /proc/meminfo
}
# pss_kb PID...: the sum of their Pss.
pss_kb() {
	local p s=0 v
	for p in "$@"; do
		v=$(awk '/^Pss:/ { print $2 }' "/proc/$p/smaps_rollup" 2>/dev/null) || v=0
		s=$((s + ${v:-0}))
	done
	echo "$s"
}
# pids_matching WORD...: pids whose command line holds every WORD.
pids_matching() {
	local f pid c w ok
	for f in /proc/[0-9]*/cmdline; do
		pid=${f#/proc/}
		pid=${pid%/cmdline}
		c=$({ tr '\0' ' ' <"$f"; } 2>/dev/null) || continue
		ok=1
		for w in "$@"; do [[ "$c" == *"$w"* ]] || ok=0; done
		((ok)) && echo "$pid"
	done
	return 0
}
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
# anon_kb PID: its anonymous memory (heap, malloc arenas, stacks), KiB.
anon_kb() { awk '/^Anonymous:/ { print $2 }' "/proc/$1/smaps_rollup"; }
# cpu_ticks PID...: utime + stime (+ the reaped children's), in clock ticks.
cpu_ticks() {
	local p s=0 v
	for p in "$@"; do
		# Field 2 (comm) may hold blanks: count from after its ')'.
		v=$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | awk '{ print $12 + $13 + $14 + $15 }') || v=0
		s=$((s + ${v:-0}))
	done
	echo "$s"
}
# cpu_ns PID: CPU time of every thread of PID in nanoseconds (schedstat:
# exact, where the clock ticks of /proc/PID/stat come in 10 ms steps).
# (%.0f: mawk's %d stops at 2^31)
cpu_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ s += $1 } END { printf "%.0f\n", s }'; }
# stats FILE: "median p90" of the numbers in FILE (microseconds) in ms.
stats() { bench_median_p90 "$1" 1; }
div() { awk -v a="$1" -v b="$2" -v f="${3:-%.1f}" 'BEGIN { if (b != 0) printf f, a / b; else print "-" }'; }
running_count() { vsctl list --json | grep -o '"state": *"running"' | wc -l; }
progress() { ((($1) % 100 == 0)) && printf ' %d' "$1" >&2; return 0; }

# restart_daemon BIN: SIGKILL vsd, start BIN on the same root (a new pid in
# $vpid); times until it answers, until all are listed running and until
# GET /v1/node answers, in restart_{answer,all,node}_ms.
restart_daemon() {
	local bin=$1 a b c e f
	local -a launch dargs
	a=$(now_us)
	vsd_kill_daemon
	read -ra launch <<<"$VSD_LAUNCH"
	read -ra dargs <<<"$VSD_DAEMON_ARGS"
	(
		setsid "${launch[@]}" "$bin" --root "$VSD_ROOT" --run-dir "$VSD_RUN" --socket "$VSD_SOCKET" \
			--cgroup-parent "$VSD_CG_PARENT" --idmap-registry "$VSD_TMP/idmaps" \
			"${dargs[@]}" </dev/null >>"$VSD_TMP/vsd.log" 2>&1 &
		echo $! >"$VSD_TMP/vsd.pid"
	)
	vpid=$(vsd_pid)
	b=$(now_us)
	until [[ "$(api_code GET /v1/templates)" == 200 ]]; do
		pid_alive "$vpid" || { echo "bench: vsd died at restart:" >&2; tail -n 20 "$VSD_TMP/vsd.log" >&2; exit 1; }
		(($(now_us) - b < 600000000)) || { echo "bench: vsd did not answer in 600 s" >&2; exit 1; }
		sleep 0.02
	done
	c=$(now_us)
	until (($(running_count) >= started)); do
		(($(now_us) - b < 600000000)) || { echo "bench: not all running after 600 s" >&2; break; }
		sleep 0.02
	done
	e=$(now_us)
	until vsd_answers; do
		(($(now_us) - b < 600000000)) || { echo "bench: GET /v1/node did not answer in 600 s" >&2; break; }
		sleep 0.02
	done
	f=$(now_us)
	restart_answer_ms=$(div $((c - b)) 1000 %.0f)
	restart_all_ms=$(div $((e - b)) 1000 %.0f)
	restart_node_ms=$(div $((f - b)) 1000 %.0f)
}

# ------------------------------------------------------------------ the node

# Addresses: a routed pool of 2^k hosts at least N + 2 (10.64.0.0/k).
bits=32
while (((1 << (32 - bits)) < N + 2)); do bits=$((bits - 1)); done
pool4=10.64.0.0/$bits
# 256M each: allow the limits to add up to N x 256M over the node's RAM.
ram_mb=$(awk '/^MemTotal:/ { print int($2 / 1024) }' /proc/meminfo)
overcommit=$(awk -v n="$N" -v r="$ram_mb" 'BEGIN { x = n * 256 / r; printf "%d", (x < 1 ? 1 : x + 1) }')

net_make_namespaces
# LXC's tools run with only the node's network namespace (nsenter, like
# vsd): `ip netns exec` would also mount a fresh /sys, hiding the cgroup
# hierarchies from LXC ("Failed to setup cgroup limits"), and LXC's command
# sockets are abstract, so lxc-stop and lxc-ls must be in the node too.
node_net="nsenter --net=/run/netns/$NODE"
export VSD_LAUNCH="nsenter --net=/run/netns/$NODE"
VSD_DAEMON_ARGS="--uplink $NET_UPLINK --ip-pool routed=$pool4 --memory-overcommit $overcommit"
export VSD_DAEMON_ARGS
vsd_setup_file
vpid=$(vsd_pid)
echo "bench: node $NODE, private vsd $vpid in $VSD_TMP (cgroup parent $VSD_CG_PARENT), N=$N"

# Limits of the machine that bite before N (printed with the figures).
limits_line="fs.inotify.max_user_instances $(cat /proc/sys/fs/inotify/max_user_instances)"
limits_line+=", kernel.pid_max $(cat /proc/sys/kernel/pid_max)"
limits_line+=", kernel.keys.root_maxkeys $(cat /proc/sys/kernel/keys/root_maxkeys)"
limits_line+=", vsd RLIMIT_NOFILE $(awk '/^Max open files/ { print $4 }' "/proc/$vpid/limits")"

# kparts FILE: what the kernel's share is made of, "key KiB" a line: the
# meminfo fields (mem:) and every slab cache (slab:, its slabs' pages;
# caches of one object size may be merged under one name by SLUB).
kparts() {
	{
		awk '/^(Slab|SUnreclaim|KernelStack|PageTables|AnonPages|Shmem|Percpu|VmallocUsed):/ {
			sub(":", "", $1); print "mem:" $1, $2 }' /proc/meminfo
		awk 'NR > 2 { print "slab:" $1, $15 * $6 * 4 }' /proc/slabinfo
	} >"$1"
}
# kdelta BEFORE AFTER N: "key KiB-per-VPS" of every part that grew.
kdelta() {
	awk -v n="$3" 'NR == FNR { b[$1] = $2; next }
		{ d = ($2 - b[$1]) / n; if (d > 0) printf "%s %.1f\n", $1, d }' "$1" "$2"
}
# ------------------------------------------------------------------ vsd

sync
sleep 2
read -r k0 u0 < <(meminfo_kb)
kparts "$NET_TMP/k.vsd0"
fail_at=""
# DENSITY_PERF=DIR (development): a profile of vsd during the creates too.
perf_pid=""
if [[ -n "${DENSITY_PERF:-}" ]]; then
	mkdir -p "$DENSITY_PERF"
	perf record -q -g -p "$vpid" -o "$DENSITY_PERF/create.data" >/dev/null 2>&1 &
	perf_pid=$!
fi
t0=$(now_us)
for i in $(seq "$N"); do
	if ! vsctl create "d$i" --template busybox --memory 256M --cpus 1 --pids 256 \
		--net routed >/dev/null 2>"$NET_TMP/err"; then
		fail_at="create of d$i: $(cat "$NET_TMP/err")"
		break
	fi
	progress "$i"
done
t1=$(now_us)
if [[ -n "$perf_pid" ]]; then
	kill -INT "$perf_pid"
	wait "$perf_pid" || true
fi
created=$N
[[ -z "$fail_at" ]] || created=$((i - 1))
echo " created $created" >&2
started=0
for i in $(seq "$created"); do
	if ! vsctl start "d$i" >/dev/null 2>"$NET_TMP/err"; then
		fail_at="start of d$i: $(cat "$NET_TMP/err")"
		break
	fi
	started=$i
	progress "$i"
done
t2=$(now_us)
echo " started $started" >&2
[[ -z "$fail_at" ]] || echo "bench: vsd failed at $fail_at" >&2
((started > 0)) || exit 1
# From here on a measurement that fails is reported (blank or "-"), not
# fatal: the figures so far are worth printing.
set +e
create_ms=$(div $((t1 - t0)) $((created * 1000)))
start_ms=$(div $((t2 - t1)) $((started * 1000)))
sleep "$SETTLE_S"
read -r k1 u1 < <(meminfo_kb)
kparts "$NET_TMP/k.vsd1"
kdelta "$NET_TMP/k.vsd0" "$NET_TMP/k.vsd1" "$started" >"$NET_TMP/kd.vsd"
mapfile -t mons < <(pids_matching __monitor "$VSD_TMP/")
mon_pss=$(pss_kb "${mons[@]}")
vsd_rss=$(rss_kb "$vpid")
vsd_anon=$(anon_kb "$vpid")
vsd_thr=$(find "/proc/$vpid/task" -mindepth 1 -maxdepth 1 | wc -l)
vsd_fds=$(find "/proc/$vpid/fd" -mindepth 1 -maxdepth 1 | wc -l)
vsd_k=$(div $((k1 - k0)) "$started" %.0f)
vsd_u=$(div $((u1 - u0)) "$started" %.0f)
vsd_mon=$(div "$mon_pss" "$started" %.0f)
echo "bench: vsd raw: kernel+anon $k0 -> $k1 KiB, used $u0 -> $u1 KiB, ${#mons[@]} monitors Pss $mon_pss KiB" >&2

# The daemon at scale.
: >"$NET_TMP/list.us"
: >"$NET_TMP/list-api.us"
: >"$NET_TMP/metrics.us"
# 20 of each, or fewer (at least 1) when they take over LAT_BUDGET_S; a
# metrics scrape that does not answer in METRICS_MAX_S ends the loop.
METRICS_MAX_S=${METRICS_MAX_S:-180}
metrics_failed=""
lat_end=$(($(now_us) + ${LAT_BUDGET_S:-120} * 1000000))
lat_n=20
((idle_only)) && lat_n=0
for k in $(seq "$lat_n"); do
	((k == 1 || $(now_us) < lat_end)) || break
	a=$(now_us)
	vsctl list >/dev/null || echo "bench: vsctl list failed" >&2
	b=$(now_us)
	echo $((b - a)) >>"$NET_TMP/list.us"
	# The same list without the client: the daemon's part (curl's own
	# clock, from connect to the last byte: not curl's start) and the bytes.
	curl -s --unix-socket "$VSD_SOCKET" -o "$NET_TMP/list.json" -w '%{time_total}\n' \
		http://vsd/v1/containers | awk '{ printf "%.0f\n", $1 * 1000000 }' >>"$NET_TMP/list-api.us" || true
	a=$(now_us)
	if ! curl -s --max-time "$METRICS_MAX_S" --unix-socket "$VSD_SOCKET" -o "$NET_TMP/metrics.txt" \
		http://vsd/metrics; then
		metrics_failed="no answer within $METRICS_MAX_S s"
		break
	fi
	b=$(now_us)
	echo $((b - a)) >>"$NET_TMP/metrics.us"
done
metrics_lines=$({ wc -l <"$NET_TMP/metrics.txt"; } 2>/dev/null || echo 0)
# DENSITY_PERF=DIR (development): profiles of vsd serving list and metrics
# (and at settled idle, below) into DIR.
if [[ -n "${DENSITY_PERF:-}" ]] && ((!idle_only)); then
	mkdir -p "$DENSITY_PERF"
	perf record -q -g -p "$vpid" -o "$DENSITY_PERF/busy.data" -- sh -c \
		"for i in 1 2 3; do $VSCTL_BIN list >/dev/null; curl -s --unix-socket $VSD_SOCKET -o /dev/null http://vsd/metrics; done" \
		>/dev/null 2>&1 || true
fi
lxcfs_pid=$(cat "$VSD_RUN/lxcfs.pid" 2>/dev/null || true)
c0=$(cpu_ns "$vpid")
m0=$(cpu_ticks "${mons[@]}")
l0=$(cpu_ticks ${lxcfs_pid:+"$lxcfs_pid"})
sleep "$IDLE_S"
c1=$(cpu_ns "$vpid")
m1=$(cpu_ticks "${mons[@]}")
l1=$(cpu_ticks ${lxcfs_pid:+"$lxcfs_pid"})
hz=$(getconf CLK_TCK)
idle_ms=$(div $((c1 - c0)) 1000000 %.0f)
idle_mon_ms=$(div $(((m1 - m0) * 1000)) "$hz" %.0f)
idle_lxcfs_ms=$(div $(((l1 - l0) * 1000)) "$hz" %.0f)

# The settled idle window. The first window above still holds each new
# run's first usage-ledger reading (a write of usage.json with two fsyncs),
# which the sampler's token bucket spreads over minutes; a daemon at idle is
# measured once every running container's ledger holds a reading of its
# current run: usage.json's run_started_at is state.json's started_at.
# ledger_pending: how many running containers' ledgers have none yet.
ledger_pending() {
	python3 - "$VSD_ROOT/containers" <<'PY'
import json, os, sys
root, n = sys.argv[1], 0
for name in os.listdir(root):
    try:
        with open(os.path.join(root, name, "state.json")) as f:
            st = json.load(f)
    except (OSError, ValueError):
        continue
    if st.get("state") != "running":
        continue
    try:
        with open(os.path.join(root, name, "usage.json")) as f:
            at = json.load(f).get("run_started_at")
    except (OSError, ValueError):
        at = None
    n += at != st.get("started_at")
print(n)
PY
}
# thread_ns PID: "TID NS" of each of its threads (schedstat).
thread_ns() {
	local t
	for t in /proc/"$1"/task/*; do
		echo "${t##*/} $(awk '{ print $1 }' "$t/schedstat" 2>/dev/null || echo 0)"
	done
}
# settled_window PID SECONDS LABEL: vsd's CPU over the window (ms), the
# busiest threads and how many usage.json files were rewritten in it, into
# settled.LABEL; echoes the ms.
settled_window() {
	local pid=$1 secs=$2 label=$3 a b w
	touch "$NET_TMP/window.mark"
	thread_ns "$pid" >"$NET_TMP/thr0"
	a=$(cpu_ns "$pid")
	sleep "$secs"
	b=$(cpu_ns "$pid")
	thread_ns "$pid" >"$NET_TMP/thr1"
	w=$(find "$VSD_ROOT/containers" -mindepth 2 -maxdepth 2 -name usage.json -newer "$NET_TMP/window.mark" | wc -l)
	{
		awk 'NR == FNR { t[$1] = $2; next } { d = $2 - t[$1]; if (d > 0) printf "%s %.1f\n", $1, d / 1e6 }' \
			"$NET_TMP/thr0" "$NET_TMP/thr1" | sort -k2 -rn | head -n 3 |
			awk '{ printf "%stid %s %s ms", (NR > 1 ? ", " : ""), $1, $2 }'
		echo "; usage.json rewritten: $w"
	} >"$NET_TMP/settled.$label"
	div $((b - a)) 1000000 %.0f
}
settled_ms="" settled_wait_s="" settled_pending=""
restart_answer_ms=- restart_all_ms=- restart_node_ms=- vsd_rss2=- vsd_anon2=-
declare -a alt_rows=()
if ((IDLE_SETTLED_S > 0)); then
	a=$(now_us)
	# ... and few were rewritten in the last LEDGER_QUIET_S: a reading
	# is taken again a minute after the first, which the boot had often
	# changed since, and a container's kernel sends router solicitations
	# (backing off from 4 s to an hour) and MLD reports for a while: traffic
	# the ledger bills, written once a minute at most.
	quiet_s=${LEDGER_QUIET_S:-70}
	quiet_max=${LEDGER_QUIET_MAX:-$((started / 50))}
	while :; do
		settled_pending=$(ledger_pending)
		if ((settled_pending == 0)); then
			recent=$(find "$VSD_ROOT/containers" -mindepth 2 -maxdepth 2 -name usage.json \
				-newermt "-$quiet_s seconds" | wc -l)
			((recent <= quiet_max)) && break
		fi
		(($(now_us) - a < SETTLED_MAX_S * 1000000)) || break
		sleep 5
	done
	b=$(now_us)
	settled_wait_s=$(div $((b - a)) 1000000 %.0f)
	echo "bench: ledgers settled after ${settled_wait_s} s ($settled_pending pending)" >&2
	settled_ms=$(settled_window "$vpid" "$IDLE_SETTLED_S" main)
	if [[ -n "${DENSITY_PERF:-}" ]]; then
		mkdir -p "$DENSITY_PERF"
		perf record -q --call-graph dwarf -p "$vpid" -o "$DENSITY_PERF/idle.data" -- sleep "${PERF_IDLE_S:-30}" \
			>/dev/null 2>&1 || true
	fi
	# The same containers served by another build, then this one again.
	if [[ -n "${DENSITY_ALT_BIN:-}" ]]; then
		for r in $(seq "${DENSITY_ALT_ROUNDS:-1}"); do
			# shellcheck disable=SC2086 # a list of paths
			for bin in $DENSITY_ALT_BIN "$VSD_BIN"; do
				restart_daemon "$bin"
				sleep "${ALT_SETTLE_S:-20}"
				tag=alt$r-$([[ "$bin" == "$VSD_BIN" ]] && echo this || echo other)
				ms=$(settled_window "$vpid" "$IDLE_SETTLED_S" "$tag")
				alt_rows+=("round $r, $([[ "$bin" == "$VSD_BIN" ]] && echo "this build " || echo "$bin"): $ms ms ($(cat "$NET_TMP/settled.$tag"))")
				echo "bench: ${alt_rows[-1]}" >&2
			done
		done
	fi
fi

# Reach: one ping from the node to every VPS (50 at a time), after the
# idle measurement (the usage ledger records the traffic it makes). The
# neighbour table is machine-wide (net.ipv4.neigh.default.gc_thresh3 exists
# only in the machine's own namespace); vsd makes a routed VPS's two
# entries (the node's for its address, its own for its gateway)
# permanent, which the limit does not count.
{ vsctl list --json || echo '[]'; } | python3 -c '
import json, sys
d = json.load(sys.stdin)
for c in d if isinstance(d, list) else d.get("containers", []):
    for i in c.get("net", {}).get("interfaces", []):
        for a in i.get("addresses", [])[:1]:
            print(a.split("/")[0])
' >"$NET_TMP/addrs"
# "entries TABLE_FULLS": the table's size (the same on every CPU's line)
# and how often it was full (per CPU: summed).
# (hex by hand: mawk, Debian's default awk, has no strtonum)
arp_entries() {
	awk 'function hex(s,  i, n) { n = 0; s = tolower(s); for (i = 1; i <= length(s); i++) n = n * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1; return n }
	     NR == 2 { e = hex($1) } NR > 1 { f += hex($13) } END { print e, f }' /proc/net/stat/arp_cache
}
read -r arp0 full0 < <(arp_entries)
reach_ok=-
((idle_only)) && : >"$NET_TMP/addrs"
# (xargs fails when any ping did: count the answers, not its status)
# shellcheck disable=SC2016 # expanded by the inner sh
((idle_only)) || reach_ok=$({ xargs -P 50 -n 1 sh -c 'ip netns exec "$0" busybox ping -c 1 -W 1 "$1" >/dev/null 2>&1 && echo ok' \
	"$NODE" <"$NET_TMP/addrs" || true; } | wc -l)
read -r arp1 full1 < <(arp_entries)
node_neigh=$(in_node ip -4 neigh show | wc -l) || node_neigh=-

# Crash recovery: SIGKILL, start again (a new pid), until it answers (GET
# /v1/templates: it waits for nothing), until the list shows every
# container running, and until GET /v1/node answers: that one waits for
# the CRIU probe (a handful of `criu check` runs started with the daemon,
# about 0.6 s on an idle machine), so it is not the daemon's recovery.
if ((!idle_only)); then
	restart_daemon "$VSD_BIN"
	vsd_rss2=$(rss_kb "$vpid")
	vsd_anon2=$(anon_kb "$vpid")
fi

# Stop and destroy the first STOP_N (each costs more with more running);
# the rest go with the node: vsd is killed and the teardown kills what runs
# in its cgroups, unmounts and deletes the namespace with every link.
stop_n=${DENSITY_STOP_N:-50}
((idle_only)) && stop_n=0
((stop_n <= started)) || stop_n=$started
a=$(now_us)
for i in $(seq "$stop_n"); do vsctl stop --force "d$i" >/dev/null || true; done
b=$(now_us)
for i in $(seq "$stop_n"); do vsctl destroy "d$i" >/dev/null || true; done
c=$(now_us)
stop_ms=$(div $((b - a)) $((stop_n * 1000)))
destroy_ms=$(div $((c - b)) $((stop_n * 1000)))
((stop_n > 0)) || stop_ms=- destroy_ms=-
# LXC's copy of the rootfs, before vsd's root goes.
if ((want_lxc)); then
	lower=$NET_TMP/lxc-rootfs
	cp -a "$VSD_ROOT/templates/busybox/rootfs" "$lower"
fi
vsd_kill_daemon
a=$(now_us)
# (quiet: cgroups vanish under its loops as their tasks die)
vsd_teardown_file 2>>"$NET_TMP/teardown.log"
b=$(now_us)
teardown_s=$(div $((b - a)) 1000000)

# ------------------------------------------------------------------ LXC

have_lxc=0
if ((want_lxc)) && command -v lxc-start >/dev/null; then
	have_lxc=1
fi
lxc_ran=0
if ((have_lxc)); then
	lxc_cg=vsd-density-$(rand_hex | cut -c1-8)-lxc
	lxc_path=$NET_TMP/lxc
	mkdir -p "$lxc_path" "$NET_TMP/lxc-ovl"
	in_node ip link add dlxbr0 type bridge
	in_node ip addr add 10.96.0.1/16 dev dlxbr0
	in_node ip link set dlxbr0 up
	# lxc-start needs the node's sysfs (it looks links up in /sys/class/net)
	# and the cgroup hierarchies below it: a private mount namespace with a
	# fresh sysfs and the hierarchies bound back (the host's mounts are not
	# touched; the namespace ends with the LXC monitors).
	mkdir -p "$NET_TMP/cgbind"
	node_lxc() {
		# shellcheck disable=SC2016 # expanded by the inner sh
		$node_net unshare -m --propagation private sh -c \
			'mount --rbind /sys/fs/cgroup "$0" && mount -t sysfs sysfs /sys &&
			mount --rbind "$0" /sys/fs/cgroup && umount -l "$0" && exec "$@"' \
			"$NET_TMP/cgbind" "$@"
	}
	lxc_conf() {
		local i=$1
		mkdir -p "$NET_TMP/lxc-ovl/c$i"
		cat <<CONF
lxc.rootfs.path = overlay:$lower:$NET_TMP/lxc-ovl/c$i/upper
lxc.uts.name = c$i
lxc.net.0.type = veth
lxc.net.0.link = dlxbr0
lxc.net.0.flags = up
lxc.net.0.ipv4.address = 10.96.$((i / 250)).$((i % 250 + 2))/16
lxc.mount.auto = proc:mixed sys:ro
lxc.autodev = 1
lxc.tty.max = 0
lxc.pty.max = 16
lxc.apparmor.profile = unconfined
lxc.cgroup.dir.container = $lxc_cg/c$i
lxc.cgroup.dir.monitor = $lxc_cg/m$i
lxc.cgroup.memory.limit_in_bytes = 256M
lxc.cgroup.cpu.cfs_period_us = 100000
lxc.cgroup.cpu.cfs_quota_us = 100000
lxc.cgroup.pids.max = 256
lxc.log.level = ERROR
lxc.log.file = $NET_TMP/lxc-ovl/c$i.log
CONF
	}
	for i in $(seq "$N"); do lxc_conf "$i" >"$NET_TMP/lxc-ovl/c$i.conf"; done
	sync
	sleep 2
	read -r lk0 lu0 < <(meminfo_kb)
	kparts "$NET_TMP/k.lxc0"
	lxc_fail=""
	lxc_started=0
	t0=$(now_us)
	for i in $(seq "$N"); do
		if ! node_lxc lxc-start -d -n "c$i" -P "$lxc_path" -f "$NET_TMP/lxc-ovl/c$i.conf" \
			>/dev/null 2>"$NET_TMP/err"; then
			lxc_fail="lxc-start of c$i: $(cat "$NET_TMP/err") $(tail -n 3 "$NET_TMP/lxc-ovl/c$i.log" 2>/dev/null)"
			break
		fi
		lxc_started=$i
		progress "$i"
	done
	t1=$(now_us)
	echo " lxc started $lxc_started" >&2
	[[ -z "$lxc_fail" ]] || echo "bench: LXC failed at $lxc_fail" >&2
	if ((lxc_started > 0)); then
		lxc_ran=1
		lxc_start_ms=$(div $((t1 - t0)) $((lxc_started * 1000)))
		sleep "$SETTLE_S"
		read -r lk1 lu1 < <(meminfo_kb)
		kparts "$NET_TMP/k.lxc1"
		kdelta "$NET_TMP/k.lxc0" "$NET_TMP/k.lxc1" "$lxc_started" >"$NET_TMP/kd.lxc"
		mapfile -t lmons < <(pids_matching "[lxc monitor]" "$lxc_path")
		lmon_pss=$(pss_kb "${lmons[@]}")
		lm0=$(cpu_ticks "${lmons[@]}")
		sleep 5
		lm1=$(cpu_ticks "${lmons[@]}")
		lxc_k=$(div $((lk1 - lk0)) "$lxc_started" %.0f)
		lxc_u=$(div $((lu1 - lu0)) "$lxc_started" %.0f)
		lxc_mon=$(div "$lmon_pss" "$lxc_started" %.0f)
		echo "bench: lxc raw: kernel+anon $lk0 -> $lk1 KiB, used $lu0 -> $lu1 KiB, ${#lmons[@]} monitors Pss $lmon_pss KiB" >&2
		lxc_idle_mon_ms=$(div $(((lm1 - lm0) * 1000 * IDLE_S / 5)) "$hz" %.0f)
		running_lxc=$($node_net lxc-ls -P "$lxc_path" --running | wc -w)
		a=$(now_us)
		for i in $(seq "$lxc_started"); do
			$node_net lxc-stop -k -P "$lxc_path" -n "c$i" >/dev/null 2>&1 || true
			progress "$i"
		done
		b=$(now_us)
		echo >&2
		lxc_stop_ms=$(div $((b - a)) $((lxc_started * 1000)))
	fi
fi

# ------------------------------------------------------------------ report

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
read -r list_med list_p90 < <(stats "$NET_TMP/list.us")
read -r lapi_med lapi_p90 < <(stats "$NET_TMP/list-api.us")
read -r met_med met_p90 < <(stats "$NET_TMP/metrics.us")
mem_gib=$(awk '/^MemTotal:/ { printf "%.1f", $2 / 1048576 }' /proc/meminfo)
echo
echo "density: $N idle busybox VPSes, each one veth + address, --memory 256M --cpus 1 --pids 256"
echo "machine: $(uname -r), $(nproc) CPUs, $mem_gib GiB RAM; $(date -u +%Y-%m-%d)"
echo "limits seen: $limits_line"
[[ -z "$fail_at" ]] || echo "vsd stopped early at $fail_at"
printf '\n%-52s %10s %10s %7s\n' "" vsd LXC vsd/LXC
row() { printf '%-52s %10s %10s %7s\n' "$1" "$2" "${3:--}" "${4:-}"; }
row "containers running" "$started" "${running_lxc:--}"
row "host memory per VPS, kernel+anon+shmem (KiB)" "$vsd_k" "${lxc_k:-}" "$(ratio "$vsd_k" "${lxc_k:-0}")"
row "host memory per VPS, MemTotal-MemAvailable (KiB)" "$vsd_u" "${lxc_u:-}" "$(ratio "$vsd_u" "${lxc_u:-0}")"
row "  of which the monitor's Pss (KiB)" "$vsd_mon" "${lxc_mon:-}" "$(ratio "$vsd_mon" "${lxc_mon:-0}")"
row "create per VPS (ms)" "$create_ms" "" ""
row "start per VPS (ms)" "$start_ms" "" ""
row "create+start per VPS (ms; LXC: lxc-start -d)" \
	"$(awk -v a="$create_ms" -v b="$start_ms" 'BEGIN { printf "%.1f", a + b }')" "${lxc_start_ms:-}" \
	"$(ratio "$(awk -v a="$create_ms" -v b="$start_ms" 'BEGIN { print a + b }')" "${lxc_start_ms:-0}")"
row "start alone per VPS (ms)" "$start_ms" "${lxc_start_ms:-}" "$(ratio "$start_ms" "${lxc_start_ms:-0}")"
row "stop --force per VPS (ms; first $stop_n; LXC: all)" "$stop_ms" "${lxc_stop_ms:-}" "$(ratio "$stop_ms" "${lxc_stop_ms:-0}")"
row "destroy per VPS (ms; first $stop_n)" "$destroy_ms" "" ""
row "monitors' CPU over ${IDLE_S} s idle, all (ms)" "$idle_mon_ms" "${lxc_idle_mon_ms:-}" ""
# The kernel's share by part: the meminfo fields, then the slab caches
# that grew most for either.
echo
echo "the kernel's share per VPS, by part (KiB; meminfo fields, then the largest slab caches):"
touch "$NET_TMP/kd.lxc"
{
	for f in Slab SUnreclaim KernelStack PageTables AnonPages Shmem Percpu VmallocUsed; do echo "mem:$f"; done
	awk '$1 ~ /^slab:/' "$NET_TMP/kd.vsd" "$NET_TMP/kd.lxc" | sort -k2 -rn | awk '!seen[$1]++ { print $1 }' | head -n 14
} | while read -r key; do
	v=$(awk -v k="$key" '$1 == k { print $2 }' "$NET_TMP/kd.vsd")
	l=$(awk -v k="$key" '$1 == k { print $2 }' "$NET_TMP/kd.lxc")
	printf '  %-50s %10s %10s\n' "${key#*:}" "${v:-0}" "$( ((have_lxc && lxc_ran)) && echo "${l:-0}" || echo -)"
done
echo
echo "the daemon with $started running:"
printf '  vsctl list          median %s ms, p90 %s ms (%s runs)\n' "$list_med" "$list_p90" "$(wc -l <"$NET_TMP/list.us")"
printf '  GET /v1/containers  median %s ms, p90 %s ms (curl'"'"'s time_total: the daemon and transfer; %s KiB)\n' \
	"$lapi_med" "$lapi_p90" $(($(stat -c %s "$NET_TMP/list.json" 2>/dev/null || echo 0) / 1024))
printf '  GET /metrics        median %s ms, p90 %s ms (%s runs, %s lines)%s\n' "$met_med" "$met_p90" \
	"$(wc -l <"$NET_TMP/metrics.us")" "$metrics_lines" "${metrics_failed:+; then $metrics_failed}"
printf '  idle CPU over %s s, first window (after the latency runs; first ledger readings pending): vsd %s ms, lxcfs %s ms\n' \
	"$IDLE_S" "$idle_ms" "$idle_lxcfs_ms"
if [[ -n "$settled_ms" ]]; then
	printf '  idle CPU over %s s, settled (every ledger holds its run, at most %s written in the last %s s, after waiting %s s; %s pending): vsd %s ms (%s)\n' \
		"$IDLE_SETTLED_S" "$quiet_max" "$quiet_s" "$settled_wait_s" "$settled_pending" "$settled_ms" "$(cat "$NET_TMP/settled.main")"
fi
for r in "${alt_rows[@]}"; do printf '  idle CPU over %s s, settled, %s\n' "$IDLE_SETTLED_S" "$r"; done
printf '  vsd RSS %s KiB, of it anonymous (heap, arenas, stacks) %s KiB; after the restart and a list %s / %s KiB; %s threads, %s descriptors\n' \
	"$vsd_rss" "$vsd_anon" "$vsd_rss2" "$vsd_anon2" "$vsd_thr" "$vsd_fds"
printf '  one ping from the node to each: %s of %s answered\n' "$reach_ok" "$(wc -l <"$NET_TMP/addrs")"
printf '  IPv4 neighbour entries %s -> %s machine-wide (gc_thresh3 %s; table full %s times), %s in the node\n' \
	"$arp0" "$arp1" "$(cat /proc/sys/net/ipv4/neigh/default/gc_thresh3)" $((full1 - full0)) "$node_neigh"
printf '  the other %s killed with the node (SIGKILL, unmount, cgroups removed) in %s s\n' \
	$((started - stop_n)) "$teardown_s"
printf '  restart after SIGKILL: answers in %s ms, all %s listed running in %s ms, GET /v1/node (the CRIU probe) in %s ms\n' \
	"$restart_answer_ms" "$started" "$restart_all_ms" "$restart_node_ms"
if ((have_lxc && !lxc_ran)); then
	echo "LXC: no container started (${lxc_fail:-})"
elif ((have_lxc)) && [[ -n "$lxc_fail" ]]; then
	echo "LXC stopped early at $lxc_fail"
elif ((!have_lxc)); then
	echo "LXC: not measured (lxc-start missing or DENSITY_LXC=0)"
fi
