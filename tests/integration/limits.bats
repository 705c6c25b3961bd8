#!/usr/bin/env bats
# Each limit bites on the real kernel: CPU cap, CPU weight, cpuset (explicit
# and automatic), pids, direct-I/O write bandwidth, and pools (shared caps,
# a live move between pools). Containers are made with `vsctl create` and
# its limit flags. Works on hybrid (v1 controllers) and pure cgroup v2.

load helpers

setup_file() { vsd_setup_file || return 1; }
teardown_file() { vsd_teardown_file; }
# Every test's containers and pools go, also when it failed (a leftover
# would make the next test's create or pool create fail).
teardown() {
	vsd_teardown_test
	local d p
	for d in "$VSD_ROOT"/containers/*/; do
		[[ -d "$d" ]] || continue
		timeout 60 "$VSCTL_BIN" destroy --force "$(basename "$d")" >/dev/null 2>&1 ||
			echo "teardown: destroy $(basename "$d") failed" >&2
	done
	for p in $("$VSCTL_BIN" pool list --json 2>/dev/null | "$PY" -c '
import json, sys
v = json.load(sys.stdin)
for p in (v.get("pools", []) if isinstance(v, dict) else v):
    print(p["name"])'); do
		"$VSCTL_BIN" pool remove "$p" >/dev/null 2>&1 || echo "teardown: pool remove $p failed" >&2
	done
}

unified_only() { [[ ! -d /sys/fs/cgroup/memory ]]; }

# CPU time used by NAME so far, in microseconds.
cpu_usec() {
	local dir
	if unified_only; then
		dir=$(ct_cgroup_dir "$1" "") || return 1
		awk '/^usage_usec / { print $2 }' "$dir/cpu.stat"
	else
		dir=$(ct_cgroup_dir "$1" cpuacct) || return 1
		echo $(($(cat "$dir/cpuacct.usage") / 1000))
	fi
}

busy() { in_ct "$1" sh -c 'setsid sh -c "while :; do :; done" >/dev/null 2>&1 &'; }

init_cpus() { awk '/^Cpus_allowed_list:/ { print $2 }' "/proc/$(ct_init_pid "$1")/status"; }

@test "--cpus 0.5 holds a busy loop near half a CPU over 5 s (tolerance 0.15)" {
	ct_create_started cap --cpus 0.5 || fail create
	busy cap
	sleep 1
	local u0 u1 t0 t1 ratio
	u0=$(cpu_usec cap)
	t0=$(now_ms)
	sleep 5
	u1=$(cpu_usec cap)
	t1=$(now_ms)
	# CPUs used = usage delta (us) / wall time (us), in thousandths.
	ratio=$(((u1 - u0) / (t1 - t0)))
	echo "used ${ratio}/1000 of a CPU"
	((ratio >= 350 && ratio <= 650)) || fail "a 0.5 CPU cap gave $ratio/1000"
	vsctl destroy --force cap
}

@test "--cpu-weight 1000 vs 100 on one contended CPU: more than 3:1 (expected ~10:1)" {
	ct_create_started heavy --cpu-weight 1000 --cpuset 0 || fail create
	ct_create_started light --cpu-weight 100 --cpuset 0 || fail create
	busy heavy
	busy light
	sleep 1
	local h0 l0 h1 l1
	h0=$(cpu_usec heavy)
	l0=$(cpu_usec light)
	sleep 4
	h1=$(cpu_usec heavy)
	l1=$(cpu_usec light)
	echo "heavy $((h1 - h0)) us, light $((l1 - l0)) us"
	(((h1 - h0) > 3 * (l1 - l0))) || fail "weights 1000:100 split $((h1 - h0)):$((l1 - l0))"
	vsctl destroy --force heavy
	vsctl destroy --force light
}

@test "--cpuset 1: init may run on CPU 1 only" {
	(($(nproc --all) >= 2)) || skip "one CPU"
	ct_create_started pinned --cpuset 1 || fail create
	assert_eq "$(init_cpus pinned)" 1 Cpus_allowed_list
	vsctl destroy --force pinned
}

@test "--cpus 1 on a larger node: an automatic cpuset of one CPU, nproc says 1" {
	(($(nproc --all) >= 2)) || skip "one CPU"
	ct_create_started auto --cpus 1 || fail create
	local l
	l=$(init_cpus auto)
	[[ "$l" =~ ^[0-9]+$ ]] || fail "Cpus_allowed_list '$l' is not one CPU"
	run in_ct auto nproc
	assert_success
	assert_eq "$output" 1 nproc
	vsctl destroy --force auto
}

@test "--pids 20: a fork bomb stops at the limit, the host is unaffected" {
	ct_create_started bomb --pids 20 || fail create
	local dir
	if unified_only; then dir=$(ct_cgroup_dir bomb ""); else dir=$(ct_cgroup_dir bomb pids); fi
	# A bounded bomb: each process forks two more and sleeps, for 5 s.
	in_ct bomb sh -c 'b() { b & b & sleep 5; }; b' >/dev/null 2>&1 &
	local runner=$!
	sleep 2
	local cur
	cur=$(cat "$dir/pids.current")
	echo "pids.current $cur"
	((cur <= 20)) || fail "pids.current $cur above 20"
	# The host still forks.
	run /bin/true
	assert_success
	kill "$runner" 2>/dev/null || true
	vsctl destroy --force bomb
	wait "$runner" 2>/dev/null || true
}

@test "--io-write-bps 5M: 20 MB of direct I/O takes at least 3 s" {
	ct_create_started iolim --io-write-bps 5M || fail create
	local dir
	if unified_only; then
		dir=$(ct_cgroup_dir iolim "")
		run cat "$dir/io.max"
		assert_contains "$output" "wbps=5242880"
	else
		dir=$(ct_cgroup_dir iolim blkio)
		run cat "$dir/blkio.throttle.write_bps_device"
		assert_contains "$output" " 5242880"
	fi
	local t0 t1
	t0=$(now_ms)
	run in_ct iolim dd if=/dev/zero of=/root/direct bs=1M count=20 oflag=direct
	t1=$(now_ms)
	assert_success
	echo "20 MB in $((t1 - t0)) ms"
	# 20 MB at 5 MB/s is 4 s; the throttle allows an initial burst.
	((t1 - t0 >= 3000)) || fail "20 MB of direct writes took $((t1 - t0)) ms"
	in_ct iolim rm -f /root/direct
	vsctl destroy --force iolim
}

@test "a pool caps its members together, and cannot go while it has members" {
	vsctl pool create shared --memory 64M
	run vsctl pool list --json
	assert_success
	assert_contains "$output" '"name":"shared"'
	ct_create_started pa --pool shared || fail "create pa"
	ct_create_started pb --pool shared || fail "create pb"
	assert_eq "$(ct_field pa pool)" shared "status pool"
	# 40 MB fits alone.
	run in_ct pb dd if=/dev/zero of=/dev/null bs=40M count=1
	assert_success
	# pa holds 40 MB of tmpfs (charged, not reclaimable without swap).
	run in_ct pa dd if=/dev/zero of=/dev/shm/hold bs=1M count=40
	assert_success
	run in_ct pb dd if=/dev/zero of=/dev/null bs=40M count=1
	[[ "$status" != 0 ]] || fail "40 MB fitted beside 40 MB in a 64 MB pool"
	run vsctl pool remove shared
	assert_failure
	assert_contains "$output" "pa"
	in_ct pa rm -f /dev/shm/hold || true
	vsctl destroy --force pa
	vsctl destroy --force pb
	vsctl pool remove shared
	run vsctl pool list --json
	assert_not_contains "$output" shared
}

# pool_members POOL: the members `vsctl pool list --json` gives, one a line.
pool_members() {
	vsctl pool list --json | "$PY" -c '
import json, sys
for p in json.load(sys.stdin)["pools"]:
    if p["name"] == sys.argv[1]:
        for m in p["members"]:
            print(m if isinstance(m, str) else m["name"])' "$1"
}

# mem_cg NAME: NAME's memory cgroup directory (v1 memory hierarchy, or the
# unified one).
mem_cg() { if unified_only; then ct_cgroup_dir "$1" ""; else ct_cgroup_dir "$1" memory; fi; }
# mem_max DIR: the memory limit of cgroup DIR in bytes.
mem_max() { if unified_only; then cat "$1/memory.max"; else cat "$1/memory.limit_in_bytes"; fi; }

@test "set --pool moves a running container between pools (same init pid, the new pool's cap bites); --pool none takes it out" {
	local M=$((1024 * 1024)) pid dir
	vsctl pool create p1 --memory 64M || fail "pool create p1"
	vsctl pool create p2 --memory 128M || fail "pool create p2"
	ct_create_started mover --pool p1 || fail create
	pid=$(ct_init_pid mover)
	dir=$(mem_cg mover) || fail "no memory cgroup"
	[[ "$dir" == */"$VSD_CG_PARENT"/p1.pool/mover ]] || fail "not in p1's cgroup: $dir"
	assert_eq "$(mem_max "$(dirname "$dir")")" $((64 * M)) "p1's limit"
	# 100 MB do not fit in p1's 64 MB (the allocating dd is OOM-killed).
	run in_ct mover dd if=/dev/zero of=/dev/null bs=100M count=1
	[[ "$status" != 0 ]] || fail "100 MB fitted in a 64 MB pool"
	wait_for 10 ct_is_state mover running || fail "init did not survive the OOM kill"

	run vsctl set mover --pool p2
	assert_success
	assert_eq "$(ct_init_pid mover)" "$pid" "init pid after the move"
	assert_eq "$(ct_field mover pool)" p2 "status pool"
	dir=$(mem_cg mover) || fail "no memory cgroup after the move"
	[[ "$dir" == */"$VSD_CG_PARENT"/p2.pool/mover ]] || fail "not in p2's cgroup: $dir"
	assert_eq "$(mem_max "$(dirname "$dir")")" $((128 * M)) "p2's limit"
	# Every task moved: none is left in p1.
	[[ -z "$(find "/sys/fs/cgroup/$(unified_only || echo memory/)$VSD_CG_PARENT/p1.pool" \
		-name cgroup.procs -exec cat {} + 2>/dev/null)" ]] || fail "tasks left in p1"
	assert_eq "$(pool_members p2)" mover "p2's members"
	assert_eq "$(pool_members p1)" "" "p1's members"
	# p2's 128 MB hold the 100 MB that p1 refused, and p2's cap still bites.
	run in_ct mover dd if=/dev/zero of=/dev/null bs=100M count=1
	assert_success
	run in_ct mover dd if=/dev/zero of=/dev/null bs=200M count=1
	[[ "$status" != 0 ]] || fail "200 MB fitted in a 128 MB pool"
	wait_for 10 ct_is_state mover running || fail "init did not survive the OOM kill"
	run vsctl pool remove p1
	assert_success

	run vsctl set mover --pool none
	assert_success
	assert_eq "$(ct_init_pid mover)" "$pid" "init pid after leaving the pool"
	dir=$(mem_cg mover) || fail "no memory cgroup after leaving the pool"
	[[ "$dir" == */"$VSD_CG_PARENT"/mover ]] || fail "still in a pool: $dir"
	assert_eq "$(pool_members p2)" "" "p2's members after --pool none"
	# Out of every pool: 200 MB fit (no container limit was set).
	run in_ct mover dd if=/dev/zero of=/dev/null bs=200M count=1
	assert_success
	run vsctl pool remove p2
	assert_success
}

@test "unknown pool: vsctl create and vsctl set refuse it naming the field, nothing changed" {
	run vsctl create lost --template busybox --pool nope
	assert_failure
	assert_contains "$output" "pool"
	assert_contains "$output" "nope"
	[[ ! -e "$VSD_ROOT/containers/lost" ]] || fail "created anyway"
	ct_create_started stay || fail create
	run vsctl set stay --pool nope
	assert_failure
	assert_contains "$output" "pool"
	assert_eq "$(ct_field stay pool 2>/dev/null)" "" "status pool"
}

@test "unknown pool at create: 400 naming the field" {
	run api POST /v1/containers -H 'Content-Type: application/json' \
		-d '{"name":"lost","template":"busybox","pool":"nope"}'
	assert_contains "$output" "HTTP 400"
	assert_contains "$output" "pool"
}
