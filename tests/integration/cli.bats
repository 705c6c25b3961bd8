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
	for c in create set start stop restart destroy list status stats top exec enter console \
		suspend resume checkpoint restore "template build" "template import" "template list" \
		"template remove" "pool create" "pool set" "pool list" "pool remove" "node info" \
		lock unlock passwd "ssh-key add" reinstall usage; do
		grep -qE "^  $c +[A-Z]" <<<"$output" || fail "command list lacks '$c': $output"
	done
	# The list is one line per command, each "  WORDS  Summary": a summary
	# that wraps shows its tail as if it were a command.
	local list
	list=$(sed -n '/^Commands:/,/^$/p' <<<"$output" | sed '1d;$d')
	assert_eq "$(grep -cvE '^  [a-z][a-z-]*( [a-z]+)? +[A-Z]' <<<"$list")" 0 \
		"lines of the command list that are no command: $(grep -vE '^  [a-z][a-z-]*( [a-z]+)? +[A-Z]' <<<"$list")"
}

@test "help for a command" {
	run "$VSCTL_BIN" create --help
	assert_success
	assert_contains "$output" "--template"
	assert_contains "$output" "--memory"
	local f
	for f in --memory-high --memory-min --swap --cpus --cpu-weight --cpuset --pids --io-weight \
		--io-read-bps --io-write-bps --io-read-iops --io-write-iops --disk --inodes --pool \
		--idle-reclaim; do
		assert_contains "$output" "$f"
	done
	run "$VSCTL_BIN" set --help
	assert_success
	assert_contains "$output" "Usage: vsctl set NAME"
	assert_contains "$output" "none"
	for f in --memory --disk --pool --idle-reclaim; do
		assert_contains "$output" "$f"
	done
	run "$VSCTL_BIN" pool create --help
	assert_success
	assert_contains "$output" "--weight"
}

@test "set, stats and pool: missing arguments and malformed values exit 2 before any request" {
	local args
	# (Sizes and CPU counts are parsed by the daemon, which names the
	# field; integers and on/off are checked here.)
	for args in "set" "set c1" "stats" "pool create" "pool set" "pool remove" \
		"set c1 --idle-reclaim maybe" "set c1 --pids many" "set c1 --inodes x" \
		"create c1 --template busybox --idle-reclaim 2" "create c1 --template busybox --cpu-weight x"; do
		# shellcheck disable=SC2086 # word splitting intended
		run --separate-stderr "$VSCTL_BIN" $args
		[[ "$status" == 2 ]] || fail "vsctl $args: expected exit 2, got $status ($stderr)"
		[[ "$stderr" == *"vsctl: "* ]] || fail "vsctl $args: no 'vsctl: ' line in: $stderr"
	done
}
