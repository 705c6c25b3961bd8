#!/bin/bash
# Where a VPS's start -> exec -> stop goes, with everything an operator
# runs on (never pass/fail): an unprivileged busybox VPS on its id-mapped
# overlay, with cgroup limits, a disk quota, the in-container views (lxcfs,
# time namespace) and one routed veth with an address, driven through
# vsctl: `vsctl start`, `vsctl exec -- /bin/true`, `vsctl stop --force`.
# Against LXC's `lxc-execute -- /bin/true` on a copy of the same busybox
# tree (privileged, no network: the issue's yardstick), alternately, run by
# run, in the same node namespace.
#
# vsd runs with VSD_TRACE_FILE (lib/vs_trace.h): every process on the path
# (vsctl, the daemon, the monitor, the container's first process, the exec
# helper) marks the steps it finishes; each interval is charged to the step
# that ends it, and the table shows each step's median over the runs.
#
# Everything runs in namespaces this script makes (net-helpers.bash): no
# packet leaves the machine. Run as root under the heavy lock:
#   flock /tmp/vsd-heavy.lock bench/lifecycle.sh
# Environment: RUNS (default 30).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh # bench_lxc_conf
RUNS=${RUNS:-30}
((EUID == 0)) || { echo "bench: run me as root" >&2; exit 1; }
. bench/bats-env.sh

trace=$(mktemp /tmp/vsd-lifecycle-trace-XXXXXX)
cycles=$(mktemp /tmp/vsd-lifecycle-cycles-XXXXXX)
series=$(mktemp /tmp/vsd-lifecycle-series-XXXXXX)
lxc_dir=""
lxc_cg=vsd-bench-lxc-$$
export VSD_TRACE_FILE=$trace

cleanup() {
	set +e
	if [[ -n "$lxc_dir" ]]; then
		in_node lxc-stop -k -P "$lxc_dir/lxcpath" -n benchlxc >/dev/null 2>&1
		rm -rf --one-file-system "$lxc_dir"
		for d in /sys/fs/cgroup/*/"$lxc_cg" /sys/fs/cgroup/"$lxc_cg"; do
			[[ -d "$d" ]] && find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
		done
	fi
	net_teardown_file
	rm -f "$trace" "$cycles" "$series"
}
net_setup_file "$@"
trap cleanup EXIT

have_lxc=0
if command -v lxc-execute >/dev/null; then
	lxc_dir=$(mktemp -d /tmp/vsd-lifecycle-lxc-XXXXXX)
	cp -a "$VSD_ROOT/templates/busybox/rootfs" "$lxc_dir/rootfs"
	[[ -e "$lxc_dir/rootfs/bin/true" || -L "$lxc_dir/rootfs/bin/true" ]] ||
		ln -s busybox "$lxc_dir/rootfs/bin/true"
	mkdir -p "$lxc_dir/lxcpath"
	bench_lxc_conf "$lxc_dir/lxc.conf" "$lxc_dir/rootfs" "$lxc_cg"
	lxc_run() { in_node lxc-execute -n benchlxc -P "$lxc_dir/lxcpath" -f "$lxc_dir/lxc.conf" -- /bin/true; }
	if lxc_run >/dev/null 2>&1; then have_lxc=1; else echo "bench: lxc-execute does not work here; skipping LXC" >&2; fi
fi

vsctl create lc1 --template busybox --ip 192.0.2.81 --memory 256M --cpus 1 --pids 256 \
	--disk 1G >/dev/null
# A first cycle warms the caches (and starts vsd's zygote).
vsctl start lc1 >/dev/null && vsctl exec lc1 -- /bin/true && vsctl stop --force lc1 >/dev/null

# The clock is read without a subshell (a fork would land between one
# vsctl and the next). shell_mark (a builtin echo, no fork) marks the
# moment the shell is about to fork the next vsctl: it splits the time
# between one vsctl's answer and the next one's main() into the end of
# the first (its exit, the shell's wait) and the start of the second
# (fork, exec, dynamic loading).
shell_mark() { echo "${EPOCHREALTIME} $$ shell.fork" >>"$trace"; }
echo "bench: $RUNS runs, alternating vsd and LXC" >&2
for _ in $(seq "$RUNS"); do
	: >"$trace"
	t0=${EPOCHREALTIME/./}
	"$VSCTL_BIN" start lc1 >/dev/null
	t1=${EPOCHREALTIME/./}
	shell_mark
	"$VSCTL_BIN" exec lc1 -- /bin/true
	t2=${EPOCHREALTIME/./}
	shell_mark
	"$VSCTL_BIN" stop --force lc1 >/dev/null
	t3=${EPOCHREALTIME/./}
	{
		echo "vsd.start $((t1 - t0))"
		echo "vsd.exec $((t2 - t1))"
		echo "vsd.stop $((t3 - t2))"
		echo "vsd.cycle $((t3 - t0))"
	} >>"$series"
	{
		echo CYCLE
		cat "$trace"
	} >>"$cycles"
	if ((have_lxc)); then
		t0=${EPOCHREALTIME/./}
		lxc_run >/dev/null 2>&1
		t1=${EPOCHREALTIME/./}
		echo "lxc.execute $((t1 - t0))" >>"$series"
	fi
	printf '.' >&2
done
echo >&2
vsctl destroy lc1 >/dev/null

python3 - "$cycles" "$series" <<'PY'
import statistics, sys

def med(v):
    return statistics.median(v) if v else float("nan")

def p90(v):
    v = sorted(v)
    return v[min(len(v) - 1, int(len(v) * 0.9 + 0.999999) - 1)] if v else float("nan")

cycles, cur = [], None
for line in open(sys.argv[1]):
    f = line.split()
    if not f:
        continue
    if f[0] == "CYCLE":
        cur = []
        cycles.append(cur)
    elif cur is not None and len(f) == 3:
        cur.append((float(f[0]), f[2]))
order, vals = [], {}
for c in cycles:
    c.sort()
    acc = {}
    for (t0, _), (t1, step) in zip(c, c[1:]):
        acc[step] = acc.get(step, 0.0) + (t1 - t0) * 1000
        if step not in order:
            order.append(step)
    for k, v in acc.items():
        vals.setdefault(k, []).append(v)
series = {}
for line in open(sys.argv[2]):
    k, v = line.split()
    series.setdefault(k, []).append(int(v) / 1000)

print("where the time goes: each step's median over %d runs (ms), charged to the" % len(cycles))
print("step that ends the interval; shell.fork = from a vsctl's end to the shell")
print("forking the next (its exit, the shell's wait), vsctl.main = from there to")
print("the next vsctl's main() (fork, exec, dynamic loading; two of each per run),")
print("vsctl.reply = from the daemon's answer to vsctl's end")
total = 0.0
for k in order:
    m = med(vals[k])
    total += m
    print("  %-28s %8.2f" % (k, m))
print("  %-28s %8.2f" % ("sum of the medians", total))
print()
print("wall times (ms)            median      p90")
for k in ("vsd.start", "vsd.exec", "vsd.stop", "vsd.cycle", "lxc.execute"):
    if k in series:
        print("  %-22s %10.2f %8.2f" % (k, med(series[k]), p90(series[k])))
if "lxc.execute" in series:
    print()
    print("vsd start+exec+stop / lxc-execute (medians): %.2fx" %
          (med(series["vsd.cycle"]) / med(series["lxc.execute"])))
PY
echo "($(uname -r), $(nproc) CPUs, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo))"
