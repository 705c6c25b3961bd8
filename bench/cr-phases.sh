#!/bin/bash
# Where the fixed cost of a checkpoint goes (issue 10, item 7): an empty
# busybox VPS (unprivileged, no network) suspended and resumed RUNS times
# (default 5) by a private vsd whose root is on a tmpfs; prints the median
# frozen time of both (the operations' own frozen_ms) and where CRIU's time
# went, phase by phase, from the timestamps of its -v4 dump and restore
# logs (bench/cr-phases.py). Figures, never a pass/fail. Run as root after
# `make`, under the heavy lock: flock /tmp/vsd-heavy.lock bench/cr-phases.sh
# Environment: RUNS (default 5), VSD_CRIU (default /opt/vsd/criu/bin/criu).
set -euo pipefail
runs=${RUNS:-5}
criu=${VSD_CRIU:-/opt/vsd/criu/bin/criu}
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || { echo "bench: RUNS: expected a positive number, got '$runs'" >&2; exit 1; }
. "$(dirname "$0")/lib.sh"
bench_setup crphases
# bench_cleanup, after whatever vsd's destroy left: the container's tasks,
# its monitor and this instance's lxcfs (which outlives vsd on purpose).
crp_cleanup() {
	local pid
	set +e
	[[ -n "$vsd_pid" ]] && vsctl destroy --force c1 >/dev/null 2>&1
	for pid in $(cat /sys/fs/cgroup/*/"$cg_parent"/c1/cgroup.procs 2>/dev/null | sort -u) \
		$(pgrep -f "__monitor $tmp/") $(cat "$tmp/run/lxcfs.pid" 2>/dev/null); do
		grep -qF "$tmp/" "/proc/$pid/cmdline" 2>/dev/null ||
			grep -qs "$cg_parent" "/proc/$pid/cgroup" || continue
		kill -KILL "$pid" 2>/dev/null
	done
	sleep 0.2
	bench_cleanup
}
trap crp_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
mkdir -p "$tmp/root" "$tmp/logs"
# Images on memory, as in bench/cr.sh; 0755: the mapped root must reach
# its layers.
mount -t tmpfs -o mode=0755,size=2g vsd-crphases "$tmp/root"
bench_vsd_start --criu "$criu"
vsctl create c1 --template busybox >/dev/null
vsctl start c1 >/dev/null
sleep 1
ck=$tmp/root/containers/c1/checkpoint
num() { "$PY" -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
PY=/usr/bin/python3
for i in $(seq "$runs"); do
	vsctl suspend c1 --json 2>/dev/null | num frozen_ms >>"$tmp/logs/suspend"
	cp "$ck/dump.log" "$tmp/logs/dump-$i.log"
	# The monitor removes the image (and the log) once the restore is
	# over: a hard link keeps CRIU's log.
	(
		for _ in $(seq 400); do
			ln "$ck/restore.log" "$tmp/root/restore-$i.log" 2>/dev/null && exit 0
			sleep 0.01
		done
		exit 0
	) &
	linker=$!
	vsctl resume c1 --json 2>/dev/null | num frozen_ms >>"$tmp/logs/resume"
	wait "$linker" || true
	mv "$tmp/root/restore-$i.log" "$tmp/logs/" 2>/dev/null || true
	sleep 0.3
done
med() { sort -n "$1" | awk '{ v[NR] = $1 } END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; print m }'; }
echo "Empty busybox VPS, $runs suspend/resume runs; kernel $(uname -r), criu" \
	"$("$criu" --version | awk '/Version/ { print $2 }'), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "suspend frozen_ms median $(med "$tmp/logs/suspend") (runs: $(tr '\n' ' ' <"$tmp/logs/suspend"))"
echo "resume  frozen_ms median $(med "$tmp/logs/resume") (runs: $(tr '\n' ' ' <"$tmp/logs/resume"))"
echo
echo "criu dump, median ms per phase"
"$PY" "$repo/bench/cr-phases.py" dump "$tmp"/logs/dump-*.log
if compgen -G "$tmp/logs/restore-*.log" >/dev/null; then
	echo
	echo "criu restore, median ms per phase"
	"$PY" "$repo/bench/cr-phases.py" restore "$tmp"/logs/restore-*.log
fi
if [[ -n "${KEEP_LOGS:-}" ]]; then
	mkdir -p "$KEEP_LOGS" && cp "$tmp"/logs/* "$KEEP_LOGS/"
fi
