#!/usr/bin/env bats
# Resource limits land in the container's cgroup and are enforced:
# memory, pids and cpu. The container's cgroup is found from the host
# through /proc/INITPID/cgroup. Works on hybrid (v1 controllers) and pure
# cgroup v2 hosts.

load helpers

setup_file() {
	vsd_setup_file || return 1
	ct_create_started cgl --memory 64M --pids 20 --cpus 0.5 || return 1
}
teardown_file() { vsd_teardown_file; }
teardown() { vsd_teardown_test; }

unified_only() { [[ ! -d /sys/fs/cgroup/memory ]]; }

@test "the container's cgroups are below this instance's parent" {
	local pid
	pid=$(ct_init_pid cgl)
	run cat "/proc/$pid/cgroup"
	assert_success
	local line n=0
	while read -r line; do
		case "$line" in
		*:memory:* | *:pids:* | *:cpu,* | *:cpu:*)
			assert_contains "$line" "/$VSD_CG_PARENT/cgl"
			n=$((n + 1))
			;;
		0::*)
			if unified_only; then
				assert_contains "$line" "/$VSD_CG_PARENT/cgl"
				n=$((n + 1))
			fi
			;;
		esac
	done <<<"$output"
	((n >= 1)) || fail "no controller line in: $output"
	assert_eq "$(ct_field cgl limits.memory)" 67108864 "status limits.memory"
}

@test "--memory 64M: limit written to the cgroup" {
	local dir
	if unified_only; then
		dir=$(ct_cgroup_dir cgl "") || fail "no cgroup"
		assert_eq "$(cat "$dir/memory.max")" 67108864 memory.max
	else
		dir=$(ct_cgroup_dir cgl memory) || fail "no memory cgroup"
		assert_eq "$(cat "$dir/memory.limit_in_bytes")" 67108864 memory.limit_in_bytes
	fi
}

@test "--memory 64M: a process allocating 200 MB is killed, init survives" {
	local pid
	pid=$(ct_init_pid cgl)
	# busybox dd allocates its block (bs) and fills it from /dev/zero: 200
	# MB of anonymous memory charged to the container's cgroup.
	run in_ct cgl dd if=/dev/zero of=/dev/null bs=200M count=1
	[[ "$status" != 0 ]] || fail "dd of 200 MB succeeded under a 64 MB limit"
	assert_eq "$status" 137 "dd killed by SIGKILL (OOM)"
	pid_alive "$pid" || fail "init died"
	assert_eq "$(ct_state cgl)" running
	local dir
	if unified_only; then
		dir=$(ct_cgroup_dir cgl "")
		run grep oom_kill "$dir/memory.events"
		(($(awk '/^oom_kill / { print $2 }' "$dir/memory.events") >= 1)) || fail "memory.events: $output"
	else
		dir=$(ct_cgroup_dir cgl memory)
		# The OOM killer acted in this cgroup (memory.failcnt counts only
		# the memory counter; without swap the memory+swap one fails first).
		(($(awk '/^oom_kill / { print $2 }' "$dir/memory.oom_control") >= 1)) ||
			fail "memory.oom_control: $(cat "$dir/memory.oom_control")"
	fi
	# A smaller allocation fits.
	run in_ct cgl dd if=/dev/zero of=/dev/null bs=16M count=1
	assert_success
}

@test "--memory 64M: tmpfs in the container is charged too" {
	# /dev/shm pages belong to the cgroup: filling it past the limit must
	# not succeed (the writer, or the write, fails).
	run in_ct cgl sh -c 'dd if=/dev/zero of=/dev/shm/big bs=1M count=200 2>/dev/null; s=$?; rm -f /dev/shm/big; exit $s'
	[[ "$status" != 0 ]] || fail "wrote 200 MB to /dev/shm under a 64 MB limit"
	wait_for 20 ct_is_state cgl running || true
	if ! ct_is_state cgl running; then
		# The OOM killer may take init with it; start again for the rest.
		vsctl start cgl
	fi
}

@test "--pids 20: forks beyond the limit fail" {
	local dir
	if unified_only; then
		dir=$(ct_cgroup_dir cgl "")
	else
		dir=$(ct_cgroup_dir cgl pids)
	fi
	assert_eq "$(cat "$dir/pids.max")" 20 pids.max
	# Try 50 background sleeps; the shell gives up when fork fails.
	in_ct cgl sh -c 'i=0; while [ $i -lt 50 ]; do sleep 300 & i=$((i+1)); done' >/dev/null 2>&1 || true
	local n=0 p comm
	for p in $(cat "$dir/cgroup.procs"); do
		comm=$(cat "/proc/$p/comm" 2>/dev/null) || continue
		[[ "$comm" == sleep ]] && n=$((n + 1))
	done
	echo "sleeps started: $n"
	((n > 0)) || fail "no sleep started at all"
	((n < 21)) || fail "$n sleeps in a pids=20 container"
	(($(wc -l <"$dir/cgroup.procs") <= 20)) || fail "more than 20 tasks"
	# Clean up the sleeps (our own processes) from the host.
	for p in $(cat "$dir/cgroup.procs"); do
		[[ "$(cat "/proc/$p/comm" 2>/dev/null)" == sleep ]] && kill -KILL "$p" 2>/dev/null
	done
	wait_for 10 in_ct cgl true
}

@test "--cpus 0.5: quota 50000 per 100000 us" {
	local dir
	if unified_only; then
		dir=$(ct_cgroup_dir cgl "")
		assert_eq "$(cat "$dir/cpu.max")" "50000 100000" cpu.max
	else
		dir=$(ct_cgroup_dir cgl cpu)
		assert_eq "$(cat "$dir/cpu.cfs_quota_us")" 50000 cpu.cfs_quota_us
		assert_eq "$(cat "$dir/cpu.cfs_period_us")" 100000 cpu.cfs_period_us
	fi
}

@test "a container without limits gets no limits" {
	ct_create_started cgfree
	local dir
	if unified_only; then
		dir=$(ct_cgroup_dir cgfree "")
		assert_eq "$(cat "$dir/memory.max")" max memory.max
		assert_eq "$(cat "$dir/pids.max")" max pids.max
	else
		dir=$(ct_cgroup_dir cgfree memory)
		(($(cat "$dir/memory.limit_in_bytes") > 1 << 40)) || fail "memory limited"
		dir=$(ct_cgroup_dir cgfree cpu)
		assert_eq "$(cat "$dir/cpu.cfs_quota_us")" -1 cpu.cfs_quota_us
	fi
}

@test "stop removes the container's cgroups" {
	local dirs=() c
	if unified_only; then
		dirs+=("$(ct_cgroup_dir cgl "")")
	else
		for c in memory pids cpu; do dirs+=("$(ct_cgroup_dir cgl "$c")"); done
	fi
	run vsctl stop cgl
	assert_success
	local d
	for d in "${dirs[@]}"; do
		[[ -n "$d" ]] || fail "empty cgroup path"
		wait_for 5 bash -c "! test -d '$d'" || fail "$d remains after stop"
	done
}
