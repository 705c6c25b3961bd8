#!/usr/bin/env bats
# Containers outlive the daemon, and a daemon killed in the middle of an
# operation comes back telling the truth: no half-made containers, state
# that matches the processes.

load helpers

setup_file() { vsd_setup_file; }
teardown_file() { vsd_teardown_file; }
teardown() { vsd_teardown_test; }

# check_consistent: every container directory is complete, no staging
# leftovers, and the daemon's state matches the live processes.
check_consistent() {
	local e name state pid
	for e in $(containers_listing); do
		case "$e" in
		.*) fail "staging leftover containers/$e" || return 1 ;;
		esac
		[[ -f "$VSD_ROOT/containers/$e/config.json" ]] || fail "containers/$e has no config.json" || return 1
	done
	local listed
	listed=$(vsctl list --json | "$PY" -c '
import json, sys
for c in json.load(sys.stdin)["containers"]:
    print(c["name"], c["state"], c["init_pid"])
') || fail "list failed" || return 1
	# list and directories agree
	assert_eq "$(awk 'NF { print $1 }' <<<"$listed" | sort | tr '\n' ' ')" \
		"$(containers_listing | tr '\n' ' ')" "list vs containers/" || return 1
	while read -r name state pid; do
		[[ -n "$name" ]] || continue
		case "$state" in
		running)
			pid_alive "$pid" || fail "$name: running with dead init $pid" || return 1
			;;
		stopped)
			assert_eq "$pid" 0 "$name init_pid when stopped" || return 1
			;;
		*) fail "$name: state $state after recovery" || return 1 ;;
		esac
	done <<<"$listed"
	# id ranges: exactly one claim per container, each naming one of them
	local f claims=0 owner
	for f in "$VSD_TMP"/idmaps/*; do
		[[ -f "$f" ]] || continue
		owner=$(cat "$f")
		[[ "$owner" == "$VSD_ROOT "* ]] || continue
		[[ -d "$VSD_ROOT/containers/${owner#"$VSD_ROOT "}" ]] ||
			fail "id range $(basename "$f") claimed by missing ${owner#"$VSD_ROOT "}" || return 1
		claims=$((claims + 1))
	done
	assert_eq "$claims" "$(containers_listing | wc -l)" "id-map claims" || return 1
}

# settle NAME: wait until NAME is not in a transitional state.
settle() {
	wait_for 30 bash -c "s=\$('$VSCTL_BIN' status '$1' --json 2>/dev/null | '$PY' -c 'import json,sys; print(json.load(sys.stdin)[\"state\"])' 2>/dev/null); [ \"\$s\" != starting ] && [ \"\$s\" != stopping ]"
}

@test "containers keep running when vsd is SIGKILLed, and are found again" {
	ct_create_started d1
	ct_create_started d2
	local p1 p2
	p1=$(ct_init_pid d1)
	p2=$(ct_init_pid d2)
	vsd_kill_daemon
	sleep 0.5
	pid_alive "$p1" || fail "d1's init died with the daemon"
	pid_alive "$p2" || fail "d2's init died with the daemon"
	vsd_start_daemon
	assert_eq "$(ct_state d1)" running
	assert_eq "$(ct_init_pid d1)" "$p1" "d1 init pid"
	assert_eq "$(ct_init_pid d2)" "$p2" "d2 init pid"
	run in_ct d1 echo still-here
	assert_success
	assert_eq "$output" still-here
	run vsctl stop d1
	assert_success
	assert_eq "$(ct_state d1)" stopped
	wait_for 5 bash -c "! test -d /proc/$p1"
	check_consistent
}

@test "a graceful daemon stop (SIGTERM) leaves containers running too" {
	local p2
	p2=$(ct_init_pid d2)
	vsd_stop_daemon TERM
	pid_alive "$p2" || fail "d2's init died"
	vsd_start_daemon
	assert_eq "$(ct_init_pid d2)" "$p2"
	check_consistent
}

@test "a container stopped from inside while vsd is down is seen as stopped" {
	local p2
	p2=$(ct_init_pid d2)
	vsd_kill_daemon
	kill -KILL "$p2"
	wait_for 10 bash -c "! test -d /proc/$p2"
	vsd_start_daemon
	wait_for 10 ct_is_state d2 stopped || fail "d2 state $(ct_state d2)"
	check_consistent
	run vsctl start d2
	assert_success
	assert_eq "$(ct_state d2)" running
}

# kill_during DELAY CMD...: run vsctl CMD in the background, SIGKILL the
# daemon after DELAY seconds (0: at once), restart it.
kill_during() {
	local delay=$1 vpid cpid
	shift
	vpid=$(vsd_pid)
	"$VSCTL_BIN" "$@" >/dev/null 2>&1 &
	cpid=$!
	[[ "$delay" == 0 ]] || sleep "$delay"
	kill -KILL "$vpid"
	local n=0
	while pid_alive "$vpid" && ((n++ < 500)); do sleep 0.01; done
	wait "$cpid" || true
	vsd_start_daemon
}

@test "SIGKILL during create: the container is either complete or absent" {
	local d i=0
	for d in 0 0 0.001 0.002 0.003 0.005 0.01 0.02 0.05; do
		i=$((i + 1))
		kill_during "$d" create "kc$i" --template busybox
		check_consistent
		if [[ -d "$VSD_ROOT/containers/kc$i" ]]; then
			echo "create killed after ${d}s: present"
			assert_eq "$(ct_state "kc$i")" stopped
			run vsctl start "kc$i"
			assert_success
			run vsctl destroy --force "kc$i"
			assert_success
		else
			echo "create killed after ${d}s: absent"
			run --separate-stderr vsctl status "kc$i"
			assert_failure 1
			# the name is free again
			run vsctl create "kc$i" --template busybox
			assert_success
			run vsctl destroy "kc$i"
			assert_success
		fi
	done
	check_consistent
}

@test "SIGKILL during start: running iff init is alive" {
	local d i=0
	for d in 0 0.005 0.02 0.05 0.1 0.3; do
		i=$((i + 1))
		vsctl create "ks$i" --template busybox
		kill_during "$d" start "ks$i"
		settle "ks$i"
		echo "start killed after ${d}s: $(ct_state "ks$i")"
		check_consistent
		if ct_is_state "ks$i" stopped; then
			run vsctl start "ks$i"
			assert_success
		fi
		run in_ct "ks$i" true
		assert_success
		run vsctl destroy --force "ks$i"
		assert_success
	done
	check_consistent
}

@test "SIGKILL during stop: the stop still completes" {
	local d i=0 pid
	for d in 0 0.005 0.02 0.1 0.3; do
		i=$((i + 1))
		ct_create_started "kt$i"
		pid=$(ct_init_pid "kt$i")
		kill_during "$d" stop "kt$i" --timeout 5
		settle "kt$i"
		echo "stop killed after ${d}s: $(ct_state "kt$i")"
		check_consistent
		if ct_is_state "kt$i" running; then
			# The stop request may not have reached the daemon at all.
			run vsctl stop "kt$i"
			assert_success
		fi
		wait_for 10 bash -c "! test -d /proc/$pid" || fail "kt$i init $pid alive"
		assert_eq "$(ct_state "kt$i")" stopped
		run vsctl destroy "kt$i"
		assert_success
	done
	check_consistent
}

@test "SIGKILL during destroy: fully present or fully gone" {
	local d i=0
	for d in 0 0 0.001 0.002 0.005 0.01 0.02 0.05 0.1; do
		i=$((i + 1))
		ct_create_started "kd$i"
		kill_during "$d" destroy --force "kd$i"
		settle "kd$i" || true
		echo "destroy killed after ${d}s: $([[ -d "$VSD_ROOT/containers/kd$i" ]] && echo present || echo gone)"
		check_consistent
		if [[ -d "$VSD_ROOT/containers/kd$i" ]]; then
			run vsctl status "kd$i"
			assert_success
			run vsctl destroy --force "kd$i"
			assert_success
		fi
		[[ ! -e "$VSD_ROOT/containers/kd$i" ]] || fail "kd$i remains"
	done
	check_consistent
}

@test "after all that, the daemon works normally" {
	ct_create_started dlast
	run in_ct dlast echo ok
	assert_eq "$output" ok
	run vsctl destroy --force dlast
	assert_success
	check_consistent
}
