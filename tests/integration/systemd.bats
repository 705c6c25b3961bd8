#!/usr/bin/env bats
# A Debian 12 guest with systemd as init, unprivileged.
#
# The template is built once with debootstrap (several minutes) and cached
# as a tarball for later runs: $VSD_TEST_DEBIAN_TARBALL if set, else
# /var/cache/vsd-test/debian-bookworm.tar.zst. When no cache exists and
# the build fails (e.g. no mirror), every test skips with the build error.

load helpers

setup_file() {
	vsd_setup_file --no-busybox || return 1
	deb12_template || return 0
	"$VSCTL_BIN" create sd1 --template deb12 >>"$VSD_TMP/deb12.log" 2>&1 || return 1
}
teardown_file() { vsd_teardown_file; }

setup() {
	if [[ -s "$VSD_TMP/skip-reason" ]]; then
		skip "$(cat "$VSD_TMP/skip-reason")"
	fi
}
teardown() { vsd_teardown_test; }

@test "debian template: systemd detected as init" {
	run vsctl template list --json
	assert_success
	local info
	info=$("$PY" -c '
import json, sys
for t in json.load(sys.stdin)["templates"]:
    if t["name"] == "deb12":
        print(t["init_system"], t["stop_signal"])
' <<<"$output")
	assert_eq "$info" "systemd SIGRTMIN+3"
}

@test "start unprivileged: systemd reaches running or degraded within 90 s" {
	run vsctl start sd1
	assert_success
	local pid
	pid=$(ct_init_pid sd1)
	[[ "$(awk '/^Uid:/ { print $2 }' "/proc/$pid/status")" != 0 ]] || fail "init runs as host root"
	# Until systemd's private bus socket exists, systemctl cannot ask
	# ("Failed to connect to bus"): retry until it answers, then --wait
	# blocks until the boot is over.
	local deadline=$((SECONDS + 90)) state=""
	while ((SECONDS < deadline)); do
		state=$(timeout $((deadline - SECONDS + 1)) "$VSCTL_BIN" exec sd1 -- \
			systemctl is-system-running --wait 2>&1) || true
		[[ "$state" == *bus* || -z "$state" ]] || break
		sleep 0.5
	done
	echo "is-system-running: $state (after $((SECONDS - deadline + 90)) s)"
	[[ "$state" == running || "$state" == degraded ]] || fail "system state: $state"
}

@test "hostname is the container's: systemd does not reset it" {
	run in_ct sd1 hostname
	assert_success
	assert_eq "$output" sd1 hostname
}

@test "systemd built its own cgroup tree in the delegated cgroup" {
	run in_ct sd1 sh -c 'ls /sys/fs/cgroup'
	assert_success
	assert_contains "$output" system.slice
	assert_contains "$output" init.scope
	run in_ct sd1 systemctl is-active systemd-journald.service
	assert_eq "$output" active
}

@test "no core unit failed" {
	run in_ct sd1 systemctl --failed --no-legend --plain
	echo "failed units: $output"
	local core="systemd-journald.service systemd-tmpfiles-setup.service systemd-user-sessions.service
		systemd-logind.service console-getty.service systemd-journal-flush.service dbus.service
		systemd-update-utmp.service"
	local u bad=""
	for u in $core; do
		[[ "$output" == *"$u"* ]] && bad="$bad $u"
	done
	[[ -z "$bad" ]] || fail "core units failed:$bad"
}

@test "journald works" {
	run in_ct sd1 sh -c 'echo vsd-test-marker | systemd-cat -t vsdtest; sleep 1; journalctl -n 5 --no-pager'
	assert_success
	(($(wc -l <<<"$output") >= 1)) || fail "journalctl printed nothing"
	run in_ct sd1 journalctl -t vsdtest --no-pager
	assert_contains "$output" vsd-test-marker
}

@test "exec and an interactive enter session" {
	run in_ct sd1 true
	assert_success
	run bash -c "printf 'echo ok-\$((40+2))\nexit\n' | timeout 30 script -qec '$VSCTL_BIN enter sd1' /dev/null"
	echo "$output"
	assert_contains "$output" "ok-42"
}

@test "stop returns well inside the default timeout and the container is stopped" {
	local pid t0 t1
	pid=$(ct_init_pid sd1)
	t0=$(now_ms)
	run vsctl stop sd1
	t1=$(now_ms)
	assert_success
	echo "stop took $((t1 - t0)) ms"
	((t1 - t0 < 30000)) || fail "stop took $((t1 - t0)) ms"
	assert_eq "$(ct_state sd1)" stopped
	wait_for 5 bash -c "! test -d /proc/$pid" || fail "init $pid alive"
	# systemd shut down by itself: it exited, or its final reboot(HALT)
	# made the kernel end the pid namespace with SIGINT; SIGKILL would
	# mean the stop timeout had to kill it.
	run ct_field sd1 last_exit.signal
	[[ "$output" == 0 || "$output" == 2 ]] || fail "last_exit.signal $output"
}
