#!/bin/sh
# tests/vm guest: vsd's resource limits on a pure cgroup v2 host.
#
# Runs inside the VM (busybox sh, no bats), started by init.sh once the
# mounts are up. Prints TAP on the serial console: one "ok N - ..." or
# "not ok N - ..." line per check, diagnostics as "# ..." lines, the plan
# "1..N" last. "Bail out!" when the daemon cannot be reached at all.
#
# One vsd instance (root on the image's ext4, so the template and the
# containers' overlay layers sit on a real disk file system as in
# production), one busybox template, one container with
# --memory 64M --pids 20 --cpus 0.5. The checks read the container's cgroup
# from the host side at /sys/fs/cgroup/$PARENT/$CT, and the guest's view
# through vsctl exec.

export PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C
ROOT=/var/lib/vsd
RUN=/run/vsd
PARENT=vsd-vm
CT=vmct
TPL=bb
CG=/sys/fs/cgroup
CGDIR=$CG/$PARENT/$CT
LOG=/tmp/vsd.log
CGROUP2_MAGIC=63677270
export VSD_SOCKET=$RUN/vsd.sock

n=0
nfail=0

# ------------------------------------------------------------------ TAP

# diag TEXT...: every line of TEXT as a "# " line.
diag() {
	printf '%s\n' "$@" | sed 's/^/#   /'
}
pass() {
	n=$((n + 1))
	echo "ok $n - $1"
}
# fail DESC [DETAIL...]
fail() {
	n=$((n + 1))
	nfail=$((nfail + 1))
	echo "not ok $n - $1"
	shift
	[ $# -eq 0 ] || diag "$@"
}
# check DESC CMD...: ok when CMD succeeds; its output is shown otherwise.
check() {
	_desc=$1
	shift
	if _out=$("$@" 2>&1); then
		pass "$_desc"
	else
		fail "$_desc" "command failed (status $?): $*" "$_out"
	fi
}
# check_eq DESC ACTUAL EXPECTED
check_eq() {
	if [ "$2" = "$3" ]; then
		pass "$1"
	else
		fail "$1" "expected '$3', got '$2'"
	fi
}

# -------------------------------------------------------------- helpers

# vc ARGS...: vsctl with a deadline (a hung call must not eat the whole
# VM budget) and no console input.
vc() {
	timeout 120 vsctl "$@" </dev/null
}
# in_ct CMD...: run CMD in the container.
in_ct() {
	vc exec "$CT" -- "$@"
}
# json_num FIELD / json_str FIELD: a top-level number / string of the
# container's status JSON (busybox has no JSON parser; these fields are
# unique in the status object).
json_num() {
	vc status "$CT" --json | grep -o "\"$1\": *[0-9]*" | head -n1 | grep -o '[0-9]*$'
}
json_str() {
	vc status "$CT" --json | grep -o "\"$1\": *\"[^\"]*\"" | head -n1 | sed 's/.*"\([^"]*\)"$/\1/'
}
ct_state() { json_str state; }
# wait_for SECONDS CMD...: poll CMD every 0.2 s.
wait_for() {
	_deadline=$(($(date +%s) + $1))
	shift
	until "$@" >/dev/null 2>&1; do
		[ "$(date +%s)" -lt "$_deadline" ] || return 1
		sleep 0.2
	done
}
is_running() { [ "$(ct_state)" = running ]; }
no_dir() { [ ! -d "$1" ]; }
# kv FILE KEY: the value of "KEY value" in a flat-keyed cgroup file.
kv() {
	awk -v k="$2" '$1 == k { print $2 }' "$1" 2>/dev/null
}
# procs_in_tree DIR: every pid in DIR's cgroup and below.
procs_in_tree() {
	find "$1" -name cgroup.procs -exec cat {} + 2>/dev/null
}
# count_comm DIR COMM: how many tasks of DIR's tree run COMM.
count_comm() {
	_c=0
	for _p in $(procs_in_tree "$1"); do
		[ "$(cat "/proc/$_p/comm" 2>/dev/null)" = "$2" ] && _c=$((_c + 1))
	done
	echo "$_c"
}
no_sleeps() { [ "$(count_comm "$CGDIR" sleep)" = 0 ]; }
kill_comm() {
	for _p in $(procs_in_tree "$1"); do
		[ "$(cat "/proc/$_p/comm" 2>/dev/null)" = "$2" ] && kill -KILL "$_p" 2>/dev/null
	done
	return 0
}

# dd_cs CT FILE: hundredths of a second that a 16 MB buffered write (no
# O_DIRECT) of FILE with fsync at the end takes inside CT, timed inside the
# container around dd alone (the exec's own cost is not counted); -1 when
# dd fails. (/proc/uptime may be the container's view: only its rate counts.)
dd_cs() {
	vc exec "$1" -- sh -c 'read a _ </proc/uptime; dd if=/dev/zero of='"$2"' bs=1M count=16 conv=fsync 2>/dev/null || exit 1; read b _ </proc/uptime; echo "$a $b"' 2>/dev/null |
		awk 'NF == 2 { printf "%d\n", ($2 - $1) * 100; ok = 1 } END { if (!ok) print -1 }'
}
# io_wbytes DIR DEV: bytes written to DEV charged to the cgroup DIR (io.stat).
io_wbytes() {
	awk -v d="$2" '$1 == d { for (i = 2; i <= NF; i++) if ($i ~ /^wbytes=/) { sub(/^wbytes=/, "", $i); print $i } }' \
		"$1/io.stat" 2>/dev/null
}
# cs_fmt CS: hundredths of a second as seconds ("412" -> "4.12").
cs_fmt() { awk -v c="$1" 'BEGIN { printf "%.2f", c / 100 }'; }

finish() {
	if [ "$nfail" -gt 0 ] && [ -s "$LOG" ]; then
		echo "# --- last lines of vsd's log ---"
		tail -n 40 "$LOG" | sed 's/^/#   /'
	fi
	echo "1..$n"
	exit $((nfail > 0))
}

# A repeated-migration stress run instead of the lane (run.sh's --stress,
# on the kernel command line): see stress.sh.
case " $(cat /proc/cmdline) " in
*" vsd.stress="*)
	. /vsd-vm/stress.sh
	finish
	;;
esac

# ---------------------------------------------------------- the machine

controllers=$(cat "$CG/cgroup.controllers")
# (busybox stat knows no name for cgroup2's magic: compare the number.
# /proc/cgroups: a controller bound to a v1 hierarchy has a non-zero id.)
if [ "$(stat -f -c %t "$CG")" = "$CGROUP2_MAGIC" ] && ! grep -q ' cgroup ' /proc/mounts &&
	! grep -qE '^(cpu|memory|pids)[[:space:]]+[1-9]' /proc/cgroups; then
	pass "pure cgroup v2 host: cgroup2 at $CG, no v1 hierarchy (controllers: $controllers)"
else
	fail "pure cgroup v2 host" "$(grep cgroup /proc/mounts)" "$(cat /proc/cgroups)"
fi
for c in cpu memory pids; do
	case " $controllers " in
	*" $c "*) ;;
	*) fail "the root cgroup offers $c" "cgroup.controllers: $controllers" ;;
	esac
done

check "overlay module loads" modprobe overlay

# ------------------------------------------------------------ the daemon

mkdir -p "$ROOT" "$RUN" /var/lib/vsd-idmaps
# --idle-reclaim-interval 1: the idle-reclaim checks below see a container
# reclaimed from within seconds (3 quiet samples in a row) instead of 40 s.
setsid vsd --root "$ROOT" --run-dir "$RUN" --socket "$VSD_SOCKET" --cgroup-parent "$PARENT" \
	--idmap-registry /var/lib/vsd-idmaps --idle-reclaim-interval 1 </dev/null >"$LOG" 2>&1 &
vsd_pid=$!
if ! wait_for 60 vc node info; then
	echo "Bail out! vsd did not answer on $VSD_SOCKET within 60 s"
	tail -n 40 "$LOG" | sed 's/^/#   /'
	echo "1..$n"
	exit 1
fi
node=$(vc node info --json)
case "$node" in
*'"cgroup_mode": "unified"'* | *'"cgroup_mode":"unified"'*)
	pass "vsd runs and detects a unified cgroup host" ;;
*) fail "vsd runs and detects a unified cgroup host" "$node" ;;
esac

t0=$(date +%s)
check "template build $TPL --from busybox" vc template build "$TPL" --from busybox
echo "# template build took $(($(date +%s) - t0)) s"

check "create $CT --memory 64M --pids 20 --cpus 0.5" \
	vc create "$CT" --template "$TPL" --memory 64M --pids 20 --cpus 0.5
t0=$(date +%s)
if vc start "$CT" && wait_for 30 is_running; then
	pass "start $CT: running"
else
	fail "start $CT: running" "state: $(ct_state)"
fi
echo "# start took $(($(date +%s) - t0)) s"

# ------------------------------------------------- the container's cgroup

pid=$(json_num init_pid)
cgline=$(cat "/proc/${pid:-0}/cgroup" 2>/dev/null)
check_eq "init (pid ${pid:-?}) is in the container's cgroup /$PARENT/$CT" "$cgline" "0::/$PARENT/$CT"
if [ -n "$pid" ] && grep -qx "$pid" "$CGDIR/cgroup.procs" 2>/dev/null; then
	pass "$CGDIR/cgroup.procs holds init"
else
	fail "$CGDIR/cgroup.procs holds init" "init pid: ${pid:-none}" \
		"cgroup.procs: $(cat "$CGDIR/cgroup.procs" 2>&1 | tr '\n' ' ')"
fi
check_eq "cpu, memory and pids are enabled for the container (parent's subtree_control)" \
	"$(tr ' ' '\n' <"$CG/$PARENT/cgroup.subtree_control" 2>&1 | grep -xE 'cpu|memory|pids' | sort | tr '\n' ' ')" \
	"cpu memory pids "
check_eq "--memory 64M: memory.max" "$(cat "$CGDIR/memory.max" 2>&1)" 67108864
check_eq "--pids 20: pids.max" "$(cat "$CGDIR/pids.max" 2>&1)" 20
check_eq "--cpus 0.5: cpu.max" "$(cat "$CGDIR/cpu.max" 2>&1)" "50000 100000"
check_eq "status reports limits.memory" "$(json_num memory)" 67108864
check_eq "--cpus 0.5 on 2 CPUs: an automatic cpuset of one CPU (cpuset.cpus)" \
	"$(grep -cxE '[0-9]+' "$CGDIR/cpuset.cpus" 2>&1)" 1
check_eq "--cpus 0.5: nproc inside says 1" "$(in_ct nproc 2>&1)" 1
check_eq "no --memory-high/--memory-min: memory.high max, memory.min 0" \
	"$(cat "$CGDIR/memory.high" "$CGDIR/memory.min" 2>&1 | tr '\n' ' ')" "max 0 "


# --------------------------------------------------------- the guest's view

check_eq "exec works: echo" "$(in_ct echo hello 2>&1)" hello
in_ct sh -c 'exit 7' >/dev/null 2>&1
check_eq "exec returns the command's exit status" "$?" 7
check_eq "guest: init and exec'd commands are at the root of the guest's cgroup namespace" \
	"$(in_ct cat /proc/1/cgroup /proc/self/cgroup 2>&1 | tr '\n' ' ')" "0::/ 0::/ "
check_eq "guest: /sys/fs/cgroup is cgroup2" "$(in_ct stat -f -c %t /sys/fs/cgroup 2>&1)" "$CGROUP2_MAGIC"
# The host's root cgroup has no memory.max: seeing 64M there proves the
# guest's cgroup2 is rooted at its own cgroup.
check_eq "guest: /sys/fs/cgroup is rooted at its own cgroup (memory.max, pids.max)" \
	"$(in_ct cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max 2>&1 | tr '\n' ' ')" "67108864 20 "
if in_ct sh -c 'echo max > /sys/fs/cgroup/memory.max' >/dev/null 2>&1; then
	fail "guest: cannot raise its own memory.max" "the write succeeded; memory.max: $(cat "$CGDIR/memory.max")"
else
	check_eq "guest: cannot raise its own memory.max" "$(cat "$CGDIR/memory.max")" 67108864
fi

# ------------------------------------------------------------- enforcement

# Fork storm: 50 background sleeps; the shell gives up when fork fails.
before=$(kv "$CGDIR/pids.events" max)
in_ct sh -c 'i=0; while [ $i -lt 50 ]; do sleep 300 </dev/null >/dev/null 2>&1 & i=$((i+1)); done' \
	>/dev/null 2>&1
sleeps=$(count_comm "$CGDIR" sleep)
total=$(procs_in_tree "$CGDIR" | wc -l)
after=$(kv "$CGDIR/pids.events" max)
if [ "$sleeps" -gt 0 ] && [ "$sleeps" -lt 20 ] && [ "$total" -le 20 ] &&
	[ "${after:-0}" -gt "${before:-0}" ]; then
	pass "--pids 20: a fork storm stops at the limit ($sleeps sleeps, $total tasks, pids.events max $after)"
else
	fail "--pids 20: a fork storm stops at the limit" \
		"sleeps: $sleeps, tasks: $total, pids.events max: ${before:-?} -> ${after:-?}"
fi
kill_comm "$CGDIR" sleep
wait_for 10 no_sleeps
# Killed sleeps stay charged to pids.current until the guest's init reaps
# them (busybox init polls about once a second; slower under TCG).
pids_low() { [ "$(cat "$CGDIR/pids.current")" -le 4 ]; }
wait_for 30 pids_low || true
wait_for 20 in_ct true || true

# CPU: two busy loops for 4 s would use ~8 s of CPU on 2 CPUs; at 0.5 CPU
# they get ~2 s and the kernel records throttled periods.
# One retry: under TCG a busy host can starve the guest, and the loops'
# own start can fail transiently; the message keeps both attempts.
cpu_try() {
	u0=$(kv "$CGDIR/cpu.stat" usage_usec)
	th0=$(kv "$CGDIR/cpu.stat" nr_throttled)
	cpu_out=$(in_ct sh -c 'timeout 4 sh -c "while :; do :; done" & timeout 4 sh -c "while :; do :; done"; wait' 2>&1)
	cpu_st=$?
	u1=$(kv "$CGDIR/cpu.stat" usage_usec)
	th1=$(kv "$CGDIR/cpu.stat" nr_throttled)
	used_ms=$(((${u1:-0} - ${u0:-0}) / 1000))
	[ "${th1:-0}" -gt "${th0:-0}" ] && [ "$used_ms" -gt 500 ] && [ "$used_ms" -lt 3500 ]
}
if ! cpu_try; then
	first="first try: ${used_ms} ms, throttled ${th0:-?} -> ${th1:-?}, exec status $cpu_st ${cpu_out}; pids.current $(cat "$CGDIR/pids.current"); tasks: $(for _p in $(procs_in_tree "$CGDIR"); do printf '%s:%s ' "$_p" "$(cat /proc/$_p/comm 2>/dev/null)"; done); zombies: $(grep -l '^State:.*Z' /proc/[0-9]*/status 2>/dev/null | while read -r _f; do awk '/^(Name|PPid):/{printf "%s ", $2}' "$_f"; done); "
	cpu_try
fi
if [ "${th1:-0}" -gt "${th0:-0}" ] && [ "$used_ms" -gt 500 ] && [ "$used_ms" -lt 3500 ]; then
	pass "--cpus 0.5: two busy loops for 4 s are throttled (${used_ms} ms of CPU, nr_throttled ${th0} -> ${th1})"
else
	fail "--cpus 0.5: two busy loops for 4 s are throttled" \
		"${first:-}CPU used: ${used_ms} ms (expected 500..3500), nr_throttled: ${th0:-?} -> ${th1:-?}, exec status $cpu_st ${cpu_out}"
fi

# Anonymous memory: busybox dd allocates its 200 MB block.
oom0=$(kv "$CGDIR/memory.events" oom_kill)
in_ct dd if=/dev/zero of=/dev/null bs=200M count=1 >/dev/null 2>&1
st=$?
oom1=$(kv "$CGDIR/memory.events" oom_kill)
if [ "$st" = 137 ] && [ "${oom1:-0}" -gt "${oom0:-0}" ]; then
	pass "--memory 64M: a process allocating 200 MB is OOM-killed (status 137, oom_kill ${oom0} -> ${oom1})"
else
	fail "--memory 64M: a process allocating 200 MB is OOM-killed" \
		"exec status: $st (expected 137), memory.events oom_kill: ${oom0:-?} -> ${oom1:-?}"
fi
if [ -n "$pid" ] && [ -d "/proc/$pid" ] && is_running; then
	pass "init survives the OOM kill"
else
	fail "init survives the OOM kill" "state: $(ct_state)"
fi
check "--memory 64M: a 16 MB allocation fits" in_ct dd if=/dev/zero of=/dev/null bs=16M count=1

# tmpfs pages are charged to the writer's cgroup: /dev/shm cannot hold 200 MB.
in_ct sh -c 'dd if=/dev/zero of=/dev/shm/big bs=1M count=200 2>/dev/null; s=$?; rm -f /dev/shm/big; exit $s' \
	>/dev/null 2>&1
st=$?
peak=$(kv "$CGDIR/memory.events" max)
if [ "$st" != 0 ] && [ "$(cat "$CGDIR/memory.current" 2>/dev/null || echo 0)" -le 67108864 ]; then
	pass "--memory 64M: 200 MB written to /dev/shm fail (status $st, memory.events max $peak)"
else
	fail "--memory 64M: 200 MB written to /dev/shm fail" "exec status $st, memory.current $(cat "$CGDIR/memory.current")"
fi
# The OOM killer may have taken init with it; the checks below need a
# container in a known state either way.
wait_for 20 is_running || vc start "$CT" >/dev/null 2>&1

# ------------------------------------------------------------- lifecycle

if vc stop "$CT" --timeout 20 >/dev/null && [ "$(ct_state)" = stopped ]; then
	pass "stop $CT"
else
	fail "stop $CT" "state: $(ct_state)"
fi
if wait_for 10 no_dir "$CGDIR"; then
	pass "stop removes $CGDIR"
else
	fail "stop removes $CGDIR" "still there; cgroup.procs: $(cat "$CGDIR/cgroup.procs" 2>&1 | tr '\n' ' ')"
fi
if vc start "$CT" >/dev/null && wait_for 30 is_running; then
	check_eq "start again: the cgroup comes back with its limits" \
		"$(cat "$CGDIR/memory.max" "$CGDIR/pids.max" "$CGDIR/cpu.max" 2>&1 | tr '\n' ' ')" \
		"67108864 20 50000 100000 "
else
	fail "start again: the cgroup comes back with its limits" "state: $(ct_state)"
fi
check "destroy --force $CT (running)" vc destroy --force "$CT"
if wait_for 10 no_dir "$CGDIR"; then
	pass "destroy removes $CGDIR"
else
	fail "destroy removes $CGDIR" "still there; cgroup.procs: $(cat "$CGDIR/cgroup.procs" 2>&1 | tr '\n' ' ')"
fi
if vc status "$CT" >/dev/null 2>&1; then
	fail "destroy: the container is gone" "vsctl status $CT still answers"
else
	pass "destroy: the container is gone"
fi
check_eq "no task is left below $CG/$PARENT" "$(procs_in_tree "$CG/$PARENT" | wc -l)" 0

# --------------------------------------------------------- pools on cgroup v2
# A pool is the cgroup $PARENT/NAME.pool with the pool's limits, and the
# controllers enabled for its members. (Containers are placed in pools by
# the create flag the lead adds; here the pool level itself.)
PL="$CG/$PARENT/vmpool.pool"
if vc pool create vmpool --memory 32M --cpus 0.5 --weight 50% --pids 40 >/dev/null 2>&1; then
	check_eq "pool on cgroup v2: memory.max, cpu.max, cpu.weight (50% -> 5000), pids.max" \
		"$(cat "$PL/memory.max" "$PL/cpu.max" "$PL/cpu.weight" "$PL/pids.max" 2>&1 | tr '\n' ' ')" \
		"33554432 50000 100000 5000 40 "
	check_eq "pool on cgroup v2: io.weight (50% -> 5000) where io.weight exists" \
		"$( [ -f "$PL/io.weight" ] && cat "$PL/io.weight" | head -n1 || echo 'default 5000')" "default 5000"
	check_eq "pool on cgroup v2: memory.min and memory.high stay at their defaults" \
		"$(cat "$PL/memory.min" "$PL/memory.high" 2>&1 | tr '\n' ' ')" "0 max "
	check_eq "pool on cgroup v2: cpu, io, memory and pids enabled for its members" \
		"$(tr ' ' '\n' <"$PL/cgroup.subtree_control" 2>&1 | grep -xE 'cpu|io|memory|pids' | sort | tr '\n' ' ')" \
		"cpu io memory pids "
	vc pool set vmpool --memory 48M >/dev/null 2>&1
	check_eq "pool set on cgroup v2: memory.max changes live" "$(cat "$PL/memory.max" 2>&1)" 50331648
	check "pool remove (no members)" vc pool remove vmpool
	if wait_for 5 no_dir "$PL"; then
		pass "pool remove removes $PL"
	else
		fail "pool remove removes $PL" "still there"
	fi
else
	fail "pool create on cgroup v2" "$(tail -n 5 "$LOG")"
fi

# ------------------- a pool member with a disk quota: live set, stats (v2)
# One container, created with --pool and --disk, then changed while it
# runs: the disk grows online (vsd has CAP_SYS_RESOURCE here, unlike on the
# development hosts), memory.high/min and io.max follow `vsctl set` (same
# init pid); it leaves its pool with --pool none once stopped.
RCT=vmres
RP=vmres
RPL="$CG/$PARENT/$RP.pool"
# st_num NAME FIELD: the first number FIELD in NAME's status JSON.
st_num() {
	vc status "$1" --json | grep -o "\"$2\": *[0-9]*" | head -n1 | grep -o '[0-9]*$'
}
st_str() {
	vc status "$1" --json | grep -o "\"$2\": *\"[^\"]*\"" | head -n1 | sed 's/.*"\([^"]*\)"$/\1/'
}
is_running_r() { [ "$(st_str "$RCT" state)" = running ]; }
ct_running() { [ "$(st_str "$1" state)" = running ]; }
# obj_num JSON OBJECT FIELD: FIELD of a flat nested object ("memory": {...}).
obj_num() {
	printf '%s' "$1" | tr -d '\n' | grep -o "\"$2\": *{[^}]*}" | grep -o "\"$3\": *[0-9]*" |
		head -n1 | grep -o '[0-9]*$'
}
# df_k: the 1K-blocks total of / inside the container.
df_k() { vc exec "$RCT" -- df -P / 2>/dev/null | awk 'NR == 2 { print $2 }'; }
# between VALUE LOW HIGH
between() { [ -n "$1" ] && [ "$1" -ge "$2" ] && [ "$1" -le "$3" ]; }

check "loop module loads (disk quotas)" modprobe loop
check "pool create $RP --memory 96M" vc pool create "$RP" --memory 96M
if vc create "$RCT" --template "$TPL" --pool "$RP" --disk 64M --memory 64M >/dev/null 2>&1 &&
	vc start "$RCT" >/dev/null 2>&1 && wait_for 30 is_running_r; then
	pass "create --pool $RP --disk 64M --memory 64M, start: running"
else
	fail "create --pool $RP --disk 64M --memory 64M, start: running" "$(tail -n 8 "$LOG")"
fi
rpid=$(st_num "$RCT" init_pid)
check_eq "--pool: init (pid ${rpid:-?}) is in the pool's cgroup" \
	"$(cat "/proc/${rpid:-0}/cgroup" 2>&1)" "0::/$PARENT/$RP.pool/$RCT"
check_eq "--pool: the pool's memory limit is its memory.max, the member's own below it" \
	"$(cat "$RPL/memory.max" "$RPL/$RCT/memory.max" 2>&1 | tr '\n' ' ')" "100663296 67108864 "

# Disk: df inside shows about 64M (ext4's journal and tables take up to 6%),
# then 128M after a live grow, and 80M more fit.
d0=$(df_k)
if between "$d0" $((58 * 1024)) 65536; then
	pass "--disk 64M: df inside shows ${d0}K"
else
	fail "--disk 64M: df inside shows about 64M" "df total: ${d0:-?}K" "$(vc exec "$RCT" -- df -P / 2>&1)"
fi
if out=$(vc set "$RCT" --disk 128M 2>&1); then
	pass "set --disk 128M on the running container"
else
	fail "set --disk 128M on the running container" "$out" "$(tail -n 5 "$LOG")"
fi
d1=$(df_k)
if between "$d1" $((120 * 1024)) 131072; then
	pass "live grow: df inside shows ${d1}K"
else
	fail "live grow: df inside shows about 128M" "df total: ${d1:-?}K (before: ${d0:-?}K)"
fi
check "live grow: 80 MB fit now" vc exec "$RCT" -- sh -c 'dd if=/dev/zero of=/big bs=1M count=80 2>&1 && rm /big'
check_eq "live grow: the same init pid" "$(st_num "$RCT" init_pid)" "$rpid"
check_eq "live grow: status limits.disk" "$(st_num "$RCT" disk)" 134217728

# memory.high, memory.min and io.max, live. io.max names the disk that
# holds the container's data: the root disk (nvme), also for the disk
# quota's loop device, whose I/O lands there (limiting the loop device too
# would throttle the same bytes twice).
nvme=$(cat /sys/block/nvme0n1/dev 2>/dev/null)
if out=$(vc set "$RCT" --memory-high 48M --memory-min 16M --io-write-bps 10M 2>&1); then
	pass "set --memory-high 48M --memory-min 16M --io-write-bps 10M"
else
	fail "set --memory-high 48M --memory-min 16M --io-write-bps 10M" "$out"
fi
check_eq "set --memory-high/--memory-min: memory.high, memory.min" \
	"$(cat "$RPL/$RCT/memory.high" "$RPL/$RCT/memory.min" 2>&1 | tr '\n' ' ')" "50331648 16777216 "
iomax=$(cat "$RPL/$RCT/io.max" 2>&1)
if printf '%s\n' "$iomax" | grep -q "^$nvme .*wbps=10485760" &&
	! printf '%s\n' "$iomax" | grep -q '^7:'; then
	pass "set --io-write-bps 10M: io.max on the root disk ($nvme) only, not on the disk's loop device"
else
	fail "set --io-write-bps 10M: io.max on the root disk ($nvme) only" "io.max: $iomax"
fi
check_eq "live set: the same init pid" "$(st_num "$RCT" init_pid)" "$rpid"

# Buffered writes through the disk quota: the upper layer is an ext4 on a
# loop device whose image file sits on the root NVMe disk, where io.max
# applies. The loop driver (direct I/O on its image) issues its writes in
# the writer's cgroup, so the limit applies once. 16 MB at 4 MB/s take
# 4 s; 3 to 6 s passes (blk-throttle lets up to a slice through at once;
# above 6 s the bytes would have been throttled twice).
vc set "$RCT" --io-write-bps 4M >/dev/null 2>&1
nw0=$(io_wbytes "$RPL/$RCT" "$nvme")
cs=$(dd_cs "$RCT" /f)
nw1=$(io_wbytes "$RPL/$RCT" "$nvme")
echo "# disk quota: 16 MB buffered in $(cs_fmt "$cs") s; charged to the container on nvme $nvme: wbytes ${nw0:-0} -> ${nw1:-0}"
if [ "$cs" -ge 300 ] && [ "$cs" -le 600 ]; then
	pass "--io-write-bps 4M, upper layer on the disk quota's loop device: 16 MB buffered + fsync take $(cs_fmt "$cs") s (3 to 6 s)"
else
	fail "--io-write-bps 4M, upper layer on the disk quota's loop device: 16 MB buffered + fsync take 3 to 6 s" \
		"took $(cs_fmt "$cs") s" "io.max: $(cat "$RPL/$RCT/io.max" 2>&1)" "io.stat: $(cat "$RPL/$RCT/io.stat" 2>&1)"
fi
vc set "$RCT" --io-write-bps none >/dev/null 2>&1
vc exec "$RCT" -- rm -f /f >/dev/null 2>&1
cs2=$(dd_cs "$RCT" /f)
if [ "$cs2" -ge 0 ] && [ $((cs2 * 2)) -lt "$cs" ]; then
	pass "set --io-write-bps none (loop disk): the same write takes $(cs_fmt "$cs2") s (under half)"
else
	fail "set --io-write-bps none (loop disk): the same write takes under half as long" \
		"$(cs_fmt "$cs2") s vs $(cs_fmt "$cs") s" "io.max: $(cat "$RPL/$RCT/io.max" 2>&1)"
fi
vc exec "$RCT" -- rm -f /f >/dev/null 2>&1

# Stats: memory in use and CPU time used (the exec'd commands above ran
# in the container's cgroup).
stats=$(vc stats "$RCT" --json 2>&1)
mcur=$(obj_num "$stats" memory current)
cpuu=$(obj_num "$stats" cpu usage_usec)
dtot=$(obj_num "$stats" disk total)
if [ "${mcur:-0}" -gt 0 ] && [ "${cpuu:-0}" -gt 0 ] && [ "${dtot:-0}" -eq $((d1 * 1024)) ]; then
	pass "stats --json: memory.current $mcur, cpu.usage_usec $cpuu, disk.total $dtot"
else
	fail "stats --json: memory.current > 0, cpu.usage_usec > 0, disk.total = df" \
		"memory.current ${mcur:-?}, cpu.usage_usec ${cpuu:-?}, disk.total ${dtot:-?} (df ${d1:-?}K)" "$stats"
fi

# Out of the pool. On cgroup v2 the kernel cannot move a cgroup tree (the
# container's own delegated cgroups), so a running container's pool change
# is refused with what to do, and nothing changes; stopped, it works.
out=$(vc set "$RCT" --pool none 2>&1)
st=$?
if [ "$st" = 1 ] && printf '%s' "$out" | grep -q 'stop the container to change its pool'; then
	pass "set --pool none while running on cgroup v2: refused, saying to stop it"
else
	fail "set --pool none while running on cgroup v2: refused, saying to stop it" "status $st: $out"
fi
check_eq "refused pool change: the same init pid, still in the pool's cgroup, status pool" \
	"$(st_num "$RCT" init_pid) $(cat "/proc/${rpid:-0}/cgroup" 2>&1) $(st_str "$RCT" pool)" \
	"$rpid 0::/$PARENT/$RP.pool/$RCT $RP"
if vc stop "$RCT" --timeout 20 >/dev/null 2>&1 && out=$(vc set "$RCT" --pool none 2>&1) &&
	vc start "$RCT" >/dev/null 2>&1 && wait_for 30 is_running_r; then
	pass "stopped: set --pool none, start"
else
	fail "stopped: set --pool none, start" "$out" "$(tail -n 5 "$LOG")"
fi
rpid=$(st_num "$RCT" init_pid)
check_eq "--pool none: init is in $PARENT/$RCT" "$(cat "/proc/${rpid:-0}/cgroup" 2>&1)" "0::/$PARENT/$RCT"
check_eq "--pool none: its limits came along (memory.max, memory.high, memory.min)" \
	"$(cat "$CG/$PARENT/$RCT/memory.max" "$CG/$PARENT/$RCT/memory.high" "$CG/$PARENT/$RCT/memory.min" 2>&1 | tr '\n' ' ')" \
	"67108864 50331648 16777216 "
check "pool remove $RP (no members left)" vc pool remove "$RP"
check "destroy --force $RCT" vc destroy --force "$RCT"
loops=$(cat /sys/block/loop*/loop/backing_file 2>/dev/null | grep "^$ROOT/" || true)
check_eq "destroy: no loop device backed by an image under $ROOT" "$loops" ""

# ------------------------ io.max throttles buffered writes (cgroup v2 only)
# The thing v1 cannot do: on v2, writeback is charged to the cgroup that
# dirtied the pages (memory and io both enabled, ext4 supports it), so
# io.max holds a plain buffered write too. No disk quota here: the upper
# layer is on the root NVMe disk, the one io.max must name.
IOC=vmio
IODIR=$CG/$PARENT/$IOC
if vc create "$IOC" --template "$TPL" --io-write-bps 4M >/dev/null 2>&1 &&
	vc start "$IOC" >/dev/null 2>&1 && wait_for 30 ct_running "$IOC"; then
	pass "create $IOC --io-write-bps 4M (upper layer on the root disk), start"
else
	fail "create $IOC --io-write-bps 4M, start" "$(tail -n 5 "$LOG")"
fi
check_eq "--io-write-bps 4M: io.max on the root disk ($nvme) only" \
	"$(cat "$IODIR/io.max" 2>&1)" "$nvme rbps=max wbps=4194304 riops=max wiops=max"
w0=$(io_wbytes "$IODIR" "$nvme")
cs=$(dd_cs "$IOC" /f)
w1=$(io_wbytes "$IODIR" "$nvme")
echo "# root disk: 16 MB buffered in $(cs_fmt "$cs") s; charged to the container: nvme wbytes ${w0:-0} -> ${w1:-0}"
# 16 MB at 4 MB/s: 4 s; >= 3 s passes (see above). The writeback is
# charged to the container, not to the root cgroup: io.stat counts it.
if [ "$cs" -ge 300 ] && [ $((${w1:-0} - ${w0:-0})) -ge $((16 * 1048576)) ]; then
	pass "--io-write-bps 4M holds a buffered write: 16 MB + fsync take $(cs_fmt "$cs") s (>= 3 s), io.stat charges $(((${w1:-0} - ${w0:-0}) / 1048576)) MB to the container"
else
	fail "--io-write-bps 4M holds a buffered write: 16 MB + fsync take >= 3 s, charged to the container" \
		"took $(cs_fmt "$cs") s; io.stat wbytes ${w0:-?} -> ${w1:-?}" "io.max: $(cat "$IODIR/io.max" 2>&1)"
fi
vc exec "$IOC" -- rm -f /f >/dev/null 2>&1
if out=$(vc set "$IOC" --io-write-bps none 2>&1); then
	cs2=$(dd_cs "$IOC" /f)
	if [ "$cs2" -ge 0 ] && [ $((cs2 * 2)) -lt "$cs" ]; then
		pass "set --io-write-bps none: the same write takes $(cs_fmt "$cs2") s (under half)"
	else
		fail "set --io-write-bps none: the same write takes under half as long" \
			"$(cs_fmt "$cs2") s vs $(cs_fmt "$cs") s" "io.max: $(cat "$IODIR/io.max" 2>&1)"
	fi
else
	fail "set $IOC --io-write-bps none" "$out"
fi
check "destroy --force $IOC" vc destroy --force "$IOC"

# ---------------------------- idle reclaim through memory.reclaim, OOM record
# vsd samples every second here (--idle-reclaim-interval 1): a container
# whose last 3 intervals were all quiet (CPU < 2% of a CPU, < 100 page
# faults/s) loses 5% of its usage per step, steps under 1 MiB skipped. One
# idle container with 64 MB of clean page cache is reclaimed from; a busy
# one next to it (a busy loop, 24 MB of page cache: usage >= 20 MiB, so
# its 5% step would be worth taking were it idle) never is.
ICT=vmidle
BCT=vmbusy
# busy_pid: the host pid of the busy loop in $BCT.
busy_pid() {
	for _p in $(procs_in_tree "$CG/$PARENT/$BCT"); do
		tr '\0' ' ' <"/proc/$_p/cmdline" 2>/dev/null | grep -q 'while :; do :; done' && echo "$_p"
	done | head -n1
}
if vc create "$ICT" --template "$TPL" >/dev/null 2>&1 && vc start "$ICT" >/dev/null 2>&1 &&
	vc create "$BCT" --template "$TPL" --memory 32M --cpus 0.5 >/dev/null 2>&1 &&
	vc start "$BCT" >/dev/null 2>&1 && wait_for 30 ct_running "$ICT" && wait_for 30 ct_running "$BCT"; then
	pass "create and start $ICT, and $BCT --memory 32M --cpus 0.5"
else
	fail "create and start $ICT, and $BCT --memory 32M --cpus 0.5" "$(tail -n 5 "$LOG")"
fi
vc exec "$BCT" -- sh -c 'setsid sh -c "while :; do :; done" </dev/null >/dev/null 2>&1 &' >/dev/null 2>&1
wait_for 10 busy_pid || true
bpid=$(busy_pid)

# OOM on v2: the kernel logs the oom-kill line (task=dd) to /dev/kmsg, as
# on the development hosts; the busy loop beside dd survives.
vc exec "$BCT" -- dd if=/dev/zero of=/dev/null bs=100M count=1 >/dev/null 2>&1
check_eq "--memory 32M: dd of a 100 MB block is OOM-killed (status 137)" "$?" 137
oom_named() { vc stats "$BCT" --json 2>/dev/null | tr -d '\n' | grep -q '"last_command": *"dd"'; }
wait_for 10 oom_named || true
stats=$(vc stats "$BCT" --json 2>&1)
kills=$(obj_num "$stats" oom kills)
ocmd=$(printf '%s' "$stats" | tr -d '\n' | grep -o '"oom": *{[^}]*}' | grep -o '"last_command": *"[^"]*"' |
	sed 's/.*"\([^"]*\)"$/\1/')
if [ "${kills:-0}" -ge 1 ] && [ "$ocmd" = dd ]; then
	pass "stats --json after the OOM kill: oom.kills $kills, oom.last_command dd"
else
	fail "stats --json after the OOM kill: oom.kills >= 1, oom.last_command dd" \
		"kills ${kills:-?}, last_command '${ocmd}'" "$stats" "kmsg: $(dmesg 2>/dev/null | grep -i oom-kill | tail -n 2)"
fi
if [ -n "$bpid" ] && [ -d "/proc/$bpid" ] && ct_running "$BCT"; then
	pass "the OOM kill took dd only: the busy loop (pid $bpid) and the container run on"
else
	fail "the OOM kill took dd only: the busy loop and the container run on" \
		"busy loop pid '${bpid}', state $(st_str "$BCT" state)"
fi

vc exec "$BCT" -- dd if=/dev/zero of=/fill bs=1M count=24 conv=fsync >/dev/null 2>&1
bmem=$(cat "$CG/$PARENT/$BCT/memory.current" 2>/dev/null)
check "$ICT: 64 MB of page cache (dd conv=fsync to its upper layer)" \
	vc exec "$ICT" -- dd if=/dev/zero of=/fill bs=1M count=64 conv=fsync
m0=$(cat "$CG/$PARENT/$ICT/memory.current" 2>/dev/null)
t0=$(date +%s)
# reclaimed_from CT: the bytes idle reclaim took from CT (stats --json).
reclaimed_from() { obj_num "$(vc stats "$1" --json 2>/dev/null)" memory reclaimed; }
idle_reclaimed() {
	_r=$(reclaimed_from "$ICT")
	_m=$(cat "$CG/$PARENT/$ICT/memory.current" 2>/dev/null)
	[ "${_r:-0}" -ge 1048576 ] && [ "${_m:-0}" -le $((${m0:-0} - 1048576)) ]
}
# Bounded: 3 quiet samples (~4 s) then a step a second; 60 s under TCG.
if wait_for 60 idle_reclaimed; then
	pass "idle $ICT: memory.reclaim took $(reclaimed_from "$ICT") bytes within $(($(date +%s) - t0)) s; memory.current $m0 -> $(cat "$CG/$PARENT/$ICT/memory.current")"
else
	fail "idle $ICT: reclaimed > 0 and memory.current dropped within 60 s" \
		"reclaimed $(reclaimed_from "$ICT"), memory.current $m0 -> $(cat "$CG/$PARENT/$ICT/memory.current")" \
		"$(grep -i reclaim "$LOG" | tail -n 5)"
fi
# The busy container was filled before the idle one, so it had at least
# as many samples in which it would have been reclaimed from, were it idle.
br=$(reclaimed_from "$BCT")
if [ "${br:--1}" = 0 ] && [ "${bmem:-0}" -ge $((20 * 1048576)) ] && [ -d "/proc/${bpid:-0}" ]; then
	pass "busy $BCT (busy loop, memory.current $bmem) is never reclaimed from (reclaimed 0)"
else
	fail "busy $BCT (busy loop, memory.current >= 20 MiB) is never reclaimed from" \
		"reclaimed ${br:-?}, memory.current after its fill ${bmem:-?}, busy loop pid '${bpid}'"
fi
stats=$(vc stats "$ICT" --json 2>&1)
mpeak=$(obj_num "$stats" memory peak)
manon=$(obj_num "$stats" memory anon)
mfile=$(obj_num "$stats" memory file)
mcur=$(obj_num "$stats" memory current)
if [ -n "$mpeak" ] && [ -n "$manon" ] && [ "${mfile:-0}" -gt 0 ] && [ "${mpeak:-0}" -ge "${mcur:-1}" ] &&
	[ "$mpeak" -ge "${m0:-1}" ]; then
	pass "stats --json on v2: memory.peak $mpeak (>= current $mcur and the fill's $m0), anon $manon, file $mfile"
else
	fail "stats --json on v2: memory.peak, anon and file present" "$stats"
fi
check "destroy --force $ICT" vc destroy --force "$ICT"
check "destroy --force $BCT" vc destroy --force "$BCT"

# ------------------------------------------ privileged: devices on cgroup v2
# Root of a privileged container has CAP_MKNOD for real; on cgroup v2 a BPF
# device program on its cgroup keeps it to the usual nodes.
PCT=vmpriv
if vc create "$PCT" --template "$TPL" --privileged >/dev/null 2>&1 && vc start "$PCT" >/dev/null 2>&1; then
	disk=$(stat -c '%t %T' /dev/nvme0n1 2>/dev/null)
	maj=$((0x${disk% *}))
	min=$((0x${disk#* }))
	out=$(vc exec "$PCT" -- sh -c "mknod /tmp/disk b $maj $min && head -c 16 /tmp/disk | wc -c" 2>&1)
	st=$?
	if [ "$st" != 0 ] && ! echo "$out" | grep -qx 16; then
		pass "--privileged on cgroup v2: the host's disk ($maj:$min) cannot be read"
	else
		fail "--privileged on cgroup v2: the host's disk ($maj:$min) cannot be read" "status $st: $out"
	fi
	check_eq "--privileged on cgroup v2: /dev/null and /dev/urandom work" \
		"$(vc exec "$PCT" -- sh -c 'echo x >/dev/null && head -c 4 /dev/urandom | wc -c' 2>&1)" 4
	check "--privileged: destroy" vc destroy --force "$PCT"
else
	fail "create and start a privileged container" "$(tail -n 5 "$LOG")"
fi

kill -TERM "$vsd_pid" 2>/dev/null

# ------------------------------------- routed VPSes and the neighbour table
. /vsd-vm/neigh.sh

# ------------------------------------- two nodes: a precopy live migration
. /vsd-vm/migrate.sh

finish
