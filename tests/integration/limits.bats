#!/usr/bin/env bats
# Each limit bites on the real kernel: CPU cap, CPU weight, cpuset (explicit
# and automatic), pids, direct-I/O write bandwidth, and pools. Containers are
# created through the REST API (the create flags for the new limits belong
# to vsctl create). Works on hybrid (v1 controllers) and pure cgroup v2.

load helpers

setup_file() { vsd_setup_file || return 1; }
teardown_file() { vsd_teardown_file; }
teardown() { vsd_teardown_test; }

unified_only() { [[ ! -d /sys/fs/cgroup/memory ]]; }

# ct_api_create NAME LIMITS-JSON [EXTRA-JSON-MEMBERS]: create and start.
ct_api_create() {
	local body="{\"name\":\"$1\",\"template\":\"busybox\",\"limits\":$2${3:+,$3}}"
	run api POST /v1/containers -H 'Content-Type: application/json' -d "$body"
	assert_contains "$output" "HTTP 201"
	vsctl start "$1" || return 1
	wait_for 10 ct_is_state "$1" running
}

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
	ct_api_create cap '{"cpus":"0.5"}'
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
	ct_api_create heavy '{"cpu_weight":1000,"cpuset":"0"}'
	ct_api_create light '{"cpu_weight":100,"cpuset":"0"}'
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
	ct_api_create pinned '{"cpuset":"1"}'
	assert_eq "$(init_cpus pinned)" 1 Cpus_allowed_list
	vsctl destroy --force pinned
}

@test "--cpus 1 on a larger node: an automatic cpuset of one CPU, nproc says 1" {
	(($(nproc --all) >= 2)) || skip "one CPU"
	ct_api_create auto '{"cpus":"1"}'
	local l
	l=$(init_cpus auto)
	[[ "$l" =~ ^[0-9]+$ ]] || fail "Cpus_allowed_list '$l' is not one CPU"
	run in_ct auto nproc
	assert_success
	assert_eq "$output" 1 nproc
	vsctl destroy --force auto
}

@test "--pids 20: a fork bomb stops at the limit, the host is unaffected" {
	ct_api_create bomb '{"pids":20}'
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
	ct_api_create iolim '{"io_write_bps":"5M"}'
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
	ct_api_create pa '{}' '"pool":"shared"'
	ct_api_create pb '{}' '"pool":"shared"'
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

@test "unknown pool at create: 400 naming the field" {
	run api POST /v1/containers -H 'Content-Type: application/json' \
		-d '{"name":"lost","template":"busybox","pool":"nope"}'
	assert_contains "$output" "HTTP 400"
	assert_contains "$output" "pool"
}
