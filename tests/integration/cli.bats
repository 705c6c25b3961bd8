#!/usr/bin/env bats
# vsctl's contract at the edges: usage errors exit 2 with a "vsctl: " line,
# a missing daemon exits 1 with a message, --help works. Needs no daemon.

load helpers

setup() {
	[[ -x "$VSCTL_BIN" ]] || fail "$VSCTL_BIN missing (run make)"
	# A socket path that certainly has no daemon behind it.
	export VSD_SOCKET="$BATS_TEST_TMPDIR/no-daemon.sock"
}

@test "no command: usage error, exit 2" {
	run --separate-stderr "$VSCTL_BIN"
	assert_status 2
	assert_contains "$stderr" "vsctl: "
}

@test "unknown command: exit 2 naming it" {
	run --separate-stderr "$VSCTL_BIN" frobnicate
	assert_status 2
	assert_contains "$stderr" "vsctl: "
	assert_contains "$stderr" "frobnicate"
}

@test "unknown option: exit 2" {
	run --separate-stderr "$VSCTL_BIN" list --no-such-option
	assert_status 2
	assert_contains "$stderr" "vsctl: "
	assert_contains "$stderr" "no-such-option"
}

@test "missing arguments: exit 2" {
	local args
	for args in "start" "stop" "destroy" "status" "create" "exec" "template build" "template import x"; do
		# shellcheck disable=SC2086 # word splitting intended
		run --separate-stderr "$VSCTL_BIN" $args
		[[ "$status" == 2 ]] || fail "vsctl $args: expected exit 2, got $status ($stderr)"
		[[ "$stderr" == *"vsctl: "* ]] || fail "vsctl $args: no 'vsctl: ' line in: $stderr"
	done
}

@test "option missing its value: exit 2" {
	run --separate-stderr "$VSCTL_BIN" create c1 --template
	assert_status 2
	assert_contains "$stderr" "vsctl: "
}

@test "malformed numbers are refused before any request" {
	# The socket has no daemon: had vsctl sent anything, it would fail
	# with exit 1 and a connection error instead.
	run --separate-stderr "$VSCTL_BIN" stop c1 --timeout notanumber
	assert_status 2
	assert_contains "$stderr" "timeout"
	run --separate-stderr "$VSCTL_BIN" create c1 --template busybox --pids many
	assert_status 2
	assert_contains "$stderr" "pids"
}

@test "no daemon: exit 1 with a message naming the socket" {
	run --separate-stderr "$VSCTL_BIN" list
	assert_status 1
	assert_contains "$stderr" "vsctl: "
	assert_contains "$stderr" "$VSD_SOCKET"
	# exactly one line
	assert_eq "$(printf '%s\n' "$stderr" | wc -l)" 1 "stderr lines"
}

@test "--socket overrides VSD_SOCKET" {
	run --separate-stderr "$VSCTL_BIN" --socket "$BATS_TEST_TMPDIR/other.sock" list
	assert_status 1
	assert_contains "$stderr" "other.sock"
}

@test "--help prints usage and exits 0" {
	run "$VSCTL_BIN" --help
	assert_success
	local c
	for c in create start stop restart destroy list status exec enter console template; do
		assert_contains "$output" "$c"
	done
}

@test "help for a command" {
	run "$VSCTL_BIN" create --help
	assert_success
	assert_contains "$output" "--template"
	assert_contains "$output" "--memory"
}
