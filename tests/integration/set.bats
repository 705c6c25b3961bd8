#!/usr/bin/env bats
# Live limit changes (vsctl set, PATCH /v1/containers/NAME): several at
# once, applied to the running container without a restart, persisted, and
# all-or-nothing; limits beyond what the node has are refused naming the
# field. Works on hybrid (v1) and unified hosts.

load helpers
load cr-helpers

setup_file() {
	vsd_setup_file || return 1
	ct_create_started st1 --memory 128M --pids 64 --cpus 1 || return 1
}
teardown_file() { vsd_teardown_file; }
teardown() { vsd_teardown_test; }

unified_only() { [[ ! -d /sys/fs/cgroup/memory ]]; }

# mem_limit NAME: the memory limit in force, in bytes ("max" unlimited).
mem_limit() {
	local dir
	if unified_only; then
		dir=$(ct_cgroup_dir "$1" "") && cat "$dir/memory.max"
	else
		dir=$(ct_cgroup_dir "$1" memory) && cat "$dir/memory.limit_in_bytes"
	fi
}
pids_limit() {
	local dir
	if unified_only; then
		dir=$(ct_cgroup_dir "$1" "")
	else
		dir=$(ct_cgroup_dir "$1" pids)
	fi
	cat "$dir/pids.max"
}
# cpu_quota NAME: microseconds per 100 ms period ("max" or -1 unlimited).
cpu_quota() {
	local dir
	if unified_only; then
		dir=$(ct_cgroup_dir "$1" "") && cut -d' ' -f1 "$dir/cpu.max"
	else
		dir=$(ct_cgroup_dir "$1" cpu) && cat "$dir/cpu.cfs_quota_us"
	fi
}
stored() { json_get "$2" <"$VSD_ROOT/containers/$1/config.json"; }

@test "set: several limits at once, live, same init, persisted" {
	local pid
	pid=$(ct_init_pid st1)
	assert_eq "$(mem_limit st1)" 134217728 "memory before"
	run vsctl set st1 --memory 256M --pids 100 --cpus 0.5
	assert_success
	assert_eq "$(ct_init_pid st1)" "$pid" "init pid (no restart)"
	assert_eq "$(ct_state st1)" running
	assert_eq "$(mem_limit st1)" 268435456 "memory in force"
	assert_eq "$(pids_limit st1)" 100 "pids in force"
	assert_eq "$(cpu_quota st1)" 50000 "cpu quota in force"
	assert_eq "$(ct_field st1 limits.memory)" 268435456 "status limits.memory"
	assert_eq "$(ct_field st1 limits.cpus)" 0.5 "status limits.cpus"
	assert_eq "$(stored st1 limits.memory)" 268435456 "config.json memory"
	assert_eq "$(stored st1 limits.pids)" 100 "config.json pids"
}

@test "set: the limits survive a daemon restart and a container restart" {
	vsd_stop_daemon
	vsd_start_daemon
	assert_eq "$(ct_field st1 limits.memory)" 268435456 "after vsd restart"
	run vsctl restart st1 --timeout 5
	assert_success
	assert_eq "$(mem_limit st1)" 268435456 "memory after container restart"
	assert_eq "$(pids_limit st1)" 100 "pids after container restart"
}

@test "set: a limit removed with none is lifted live" {
	run vsctl set st1 --pids none
	assert_success
	assert_eq "$(pids_limit st1)" max "pids.max"
	run vsctl status st1 --json
	assert_success
	[[ "$(json_get limits.pids <<<"$output" 2>/dev/null)" == "" ]] || fail "pids still in status: $output"
	run vsctl set st1 --pids 100
	assert_success
	assert_eq "$(pids_limit st1)" 100 "pids.max back"
}

@test "set: the live view inside follows (a fork beyond the new pids limit fails)" {
	run vsctl set st1 --pids 3
	assert_success
	# init, the exec'd shell and one more: a fourth process cannot start.
	run in_ct st1 sh -c 'sleep 5 & sleep 5 & sleep 5 & wait'
	assert_failure
	run vsctl set st1 --pids 100
	assert_success
	run in_ct st1 sh -c 'sleep 0.1 & sleep 0.1 & sleep 0.1 & wait'
	assert_success
}

@test "set: one bad value changes nothing (all or nothing)" {
	run vsctl set st1 --memory 64M --cpuset 0-63
	assert_failure
	assert_contains "$output" "limits.cpuset"
	assert_eq "$(mem_limit st1)" 268435456 "memory unchanged"
	assert_eq "$(stored st1 limits.memory)" 268435456 "config unchanged"
	run vsctl set st1 --memory 64M --memory-min 100M
	assert_failure
	assert_contains "$output" "limits.memory_min"
	assert_eq "$(mem_limit st1)" 268435456 "memory unchanged"
	run vsctl set st1 --pids 50 --memory-high 512M
	assert_failure
	assert_contains "$output" "limits.memory_high"
	assert_eq "$(pids_limit st1)" 100 "pids unchanged"
}

@test "set: a limit the kernel refuses live leaves the old limits in force" {
	# 40 MB in the container's tmpfs is charged to it and, without swap,
	# cannot be reclaimed: v1 refuses a memory limit below it (EBUSY). (v2
	# would OOM-kill instead of refusing, so only v1 is tested this way.)
	unified_only && skip "v1 behaviour (cgroup v2 OOM-kills instead of refusing)"
	run in_ct st1 dd if=/dev/zero of=/dev/shm/hold bs=1M count=40
	assert_success
	run vsctl set st1 --memory 16M --pids 77
	in_ct st1 rm -f /dev/shm/hold
	assert_failure
	assert_contains "$output" "nothing changed"
	assert_eq "$(mem_limit st1)" 268435456 "memory limit unchanged"
	assert_eq "$(pids_limit st1)" 100 "pids unchanged"
	assert_eq "$(stored st1 limits.memory)" 268435456 "config unchanged"
}

@test "set: limits beyond the node are refused, naming the field" {
	run vsctl set st1 --cpus 99
	assert_failure
	assert_contains "$output" "limits.cpus"
	run vsctl set st1 --memory 100T
	assert_failure
	assert_contains "$output" "limits.memory"
	run vsctl set st1 --memory lots
	assert_failure
	assert_contains "$output" "limits.memory"
	run vsctl set st1 --cpu-weight 0
	assert_failure
	assert_contains "$output" "limits.cpu_weight"
	run vsctl set st1 --pids many
	assert_status 2
	run vsctl set st1
	assert_status 2
	run vsctl set nosuch --memory 64M
	assert_failure
	assert_contains "$output" "nosuch"
	assert_eq "$(mem_limit st1)" 268435456 "memory unchanged"
}

@test "create: limits beyond the node are refused and nothing is created" {
	run vsctl create big1 --template busybox --cpus 64
	assert_failure
	assert_contains "$output" "limits.cpus"
	run vsctl create big2 --template busybox --memory 100T
	assert_failure
	assert_contains "$output" "limits.memory"
	run vsctl create big3 --template busybox --cpuset 5-9
	assert_failure
	assert_contains "$output" "limits.cpuset"
	[[ ! -e "$VSD_ROOT/containers/big1" && ! -e "$VSD_ROOT/containers/big2" &&
		! -e "$VSD_ROOT/containers/big3" ]] || fail "a refused create left a directory"
}

@test "set on a stopped container: stored, applied at the next start" {
	run vsctl create st2 --template busybox --memory 64M
	assert_success
	run vsctl set st2 --memory 96M --pids 30
	assert_success
	assert_eq "$(stored st2 limits.memory)" 100663296 "config.json"
	run vsctl start st2
	assert_success
	assert_eq "$(mem_limit st2)" 100663296 "memory at start"
	assert_eq "$(pids_limit st2)" 30 "pids at start"
	run vsctl destroy --force st2
	assert_success
}

@test "PATCH over the API: JSON body, reply is the new status" {
	run curl -s --unix-socket "$VSD_SOCKET" -X PATCH -H 'Content-Type: application/json' \
		-d '{"limits": {"pids": 90, "memory": "200M"}}' http://vsd/v1/containers/st1
	assert_success
	assert_eq "$(json_get limits.pids <<<"$output")" 90 "reply limits.pids"
	assert_eq "$(json_get limits.memory <<<"$output")" 209715200 "reply limits.memory"
	json_get limits_unenforced <<<"$output" >/dev/null || fail "no limits_unenforced: $output"
	assert_eq "$(pids_limit st1)" 90 "pids in force"
	assert_eq "$(api_code PATCH /v1/containers/st1 -d '{"limits": {"nope": 1}}')" 400 "unknown field"
	assert_eq "$(api_code PATCH /v1/containers/st1 -d '{}')" 400 "empty body"
	assert_eq "$(api_code PATCH /v1/containers/none1 -d '{"limits": {"pids": 5}}')" 404 "unknown container"
}

@test "overcommit: the sum of memory limits is bounded by --memory-overcommit" {
	local half
	half=$(($(awk '/^MemTotal/ { print $2 }' /proc/meminfo) * 1024 / 2))
	run vsctl create oc1 --template busybox --memory "$((half + 4096))"
	assert_success
	run vsctl create oc2 --template busybox --memory "$((half + 4096))"
	assert_failure
	assert_contains "$output" "overcommit"
	[[ ! -e "$VSD_ROOT/containers/oc2" ]] || fail "oc2 created"
	vsd_stop_daemon
	vsd_start_daemon --memory-overcommit 1.5
	run vsctl create oc2 --template busybox --memory "$((half + 4096))"
	assert_success
	# The promised sum is kept in memory (daemon/index.c's claims): it
	# counts what was there at the start, follows a live update and a
	# destroy, and a killed daemon rebuilds it.
	run vsctl create oc3 --template busybox --memory "$((half + 4096))"
	assert_failure
	assert_contains "$output" "overcommit"
	vsctl set oc1 --memory 64M >/dev/null
	run vsctl create oc3 --template busybox --memory "$((half + 4096))"
	assert_success
	vsctl destroy oc3 >/dev/null
	vsctl set oc1 --memory "$((half + 4096))" >/dev/null
	vsd_kill_daemon
	vsd_start_daemon --memory-overcommit 1.5
	run vsctl create oc3 --template busybox --memory "$((half + 4096))"
	assert_failure
	assert_contains "$output" "overcommit"
	vsctl destroy oc2 >/dev/null
	run vsctl create oc3 --template busybox --memory "$((half + 4096))"
	assert_success
	vsctl destroy oc1 >/dev/null
	vsctl destroy oc3 >/dev/null
}

# cpuset_of NAME: the CPUs of NAME's cpuset cgroup.
cpuset_of() {
	local dir
	if unified_only; then
		dir=$(ct_cgroup_dir "$1" "") && cat "$dir/cpuset.cpus"
	else
		dir=$(ct_cgroup_dir "$1" cpuset) && cat "$dir/cpuset.cpus"
	fi
}

@test "suspend/resume: every limit is in force again, and a live set works after" {
	local why
	if why=$(cr_criu_unusable); then
		skip "checkpoint/restore unavailable: $why"
	fi
	run vsctl create sr1 --template busybox --memory 96M --pids 40 --cpus 0.5 --cpuset 1
	assert_success
	run vsctl start sr1
	assert_success
	run vsctl suspend sr1
	assert_success
	run vsctl resume sr1
	assert_success
	assert_eq "$(mem_limit sr1)" 100663296 "memory after resume"
	assert_eq "$(pids_limit sr1)" 40 "pids after resume"
	assert_eq "$(cpu_quota sr1)" 50000 "cpu quota after resume"
	assert_eq "$(cpuset_of sr1)" 1 "cpuset after resume"
	run vsctl set sr1 --memory 128M --pids 50
	assert_success
	assert_eq "$(mem_limit sr1)" 134217728 "memory after a live set"
	assert_eq "$(pids_limit sr1)" 50 "pids after a live set"
	run vsctl destroy --force sr1
	assert_success
}
