#!/usr/bin/env bats
# A hosting panel's provisioning cycle over the API: create with a plan
# and start, lock (suspension for non-payment) and unlock, change the plan
# live, terminate. Every call goes through panel_api, so the lead can
# switch the file to HTTPS with a token in one place.

load helpers

setup_file() { vsd_setup_file; }
teardown_file() { vsd_teardown_file; }
teardown() {
	vsd_teardown_test
	vsd_answers || vsd_start_daemon || true
}

# panel_api METHOD PATH [BODY]: one API call as a panel makes it. Prints
# the body, then a last line "HTTP <code>".
panel_api() {
	local method=$1 path=$2 body=${3:-}
	if [[ -n "$body" ]]; then
		api "$method" "$path" -H 'Content-Type: application/json' --data-binary "$body"
	else
		api "$method" "$path"
	fi
}

# The body of panel_api's output (all but the "HTTP" line) and its code.
body_of() { sed '$d' <<<"$1"; }
code_of() { tail -n 1 <<<"$1" | sed 's/^HTTP //'; }

# status NAME FIELD: one field of GET /v1/containers/NAME.
field() {
	local out
	out=$(panel_api GET "/v1/containers/$1") || return 1
	body_of "$out" | json_get "$2"
}

@test "create a VPS with a plan and a hostname, and start it" {
	run panel_api POST /v1/containers \
		'{"name": "pn1", "template": "busybox", "hostname": "vps1.example",
		  "limits": {"memory": "64M", "cpus": "0.5", "pids": 128}}'
	assert_eq "$(code_of "$output")" 201 "create: $output"
	run panel_api PUT /v1/containers/pn1/state '{"action": "start"}'
	assert_eq "$(code_of "$output")" 200 "start: $output"
	wait_for 10 ct_is_state pn1 running || fail "not running"
	assert_eq "$(field pn1 hostname)" vps1.example hostname
	assert_eq "$(field pn1 limits.pids)" 128 pids
	run field pn1 locked
	assert_failure
}

@test "lock: the VPS stops, says why, and every start is refused" {
	run panel_api POST /v1/containers/pn1/lock '{"reason": "invoice 42 unpaid"}'
	assert_eq "$(code_of "$output")" 200 "lock: $output"
	assert_eq "$(body_of "$output" | json_get state)" stopped state
	assert_eq "$(body_of "$output" | json_get locked.reason)" "invoice 42 unpaid" reason
	local at
	at=$(body_of "$output" | json_get locked.at)
	[[ "$at" =~ ^[0-9]+$ ]] && ((at > 0)) || fail "locked.at: $at"
	grep -q '"locked"' "$VSD_ROOT/containers/pn1/config.json" || fail "not in config.json"

	run panel_api PUT /v1/containers/pn1/state '{"action": "start"}'
	assert_eq "$(code_of "$output")" 409 "start: $output"
	assert_contains "$output" "container 'pn1' is locked: invoice 42 unpaid"
	run panel_api PUT /v1/containers/pn1/state '{"action": "restart"}'
	assert_eq "$(code_of "$output")" 409 "restart: $output"
	assert_eq "$(ct_state pn1)" stopped "state after refused starts"
	run vsctl exec pn1 -- true
	assert_failure
	assert_contains "$output" "is locked: invoice 42 unpaid"
	run vsctl start pn1
	assert_failure
	assert_contains "$output" "is locked"
}

@test "lock: bad bodies change nothing" {
	run panel_api POST /v1/containers/pn1/lock '{"reason": 5}'
	assert_eq "$(code_of "$output")" 400 "$output"
	assert_contains "$output" "reason"
	run panel_api POST /v1/containers/pn1/lock '{"reason": "a\nb"}'
	assert_eq "$(code_of "$output")" 400 "$output"
	run panel_api POST /v1/containers/pn1/lock '{"why": "x"}'
	assert_eq "$(code_of "$output")" 400 "$output"
	run panel_api POST /v1/containers/pn1/unlock '{"start": "yes"}'
	assert_eq "$(code_of "$output")" 400 "$output"
	assert_contains "$output" "start"
	run panel_api POST /v1/containers/nosuch/lock '{}'
	assert_eq "$(code_of "$output")" 404 "$output"
	assert_eq "$(field pn1 locked.reason)" "invoice 42 unpaid" "reason kept"
}

@test "lock survives a vsd restart and a crash" {
	vsd_stop_daemon TERM
	vsd_start_daemon || fail "restart"
	assert_eq "$(field pn1 locked.reason)" "invoice 42 unpaid" "after restart"
	assert_eq "$(ct_state pn1)" stopped
	vsd_kill_daemon
	vsd_start_daemon || fail "restart after kill"
	assert_eq "$(ct_state pn1)" stopped "recovery started it"
	run panel_api PUT /v1/containers/pn1/state '{"action": "start"}'
	assert_eq "$(code_of "$output")" 409 "$output"
}

@test "unlock with start: running again, no lock left" {
	run panel_api POST /v1/containers/pn1/unlock '{"start": true}'
	assert_eq "$(code_of "$output")" 200 "unlock: $output"
	wait_for 10 ct_is_state pn1 running || fail "not running"
	run field pn1 locked
	assert_failure
	grep -q '"locked"' "$VSD_ROOT/containers/pn1/config.json" && fail "still in config.json"
	run in_ct pn1 hostname
	assert_success
	assert_eq "$output" vps1.example
}

@test "vsctl lock and unlock" {
	run vsctl lock pn1 --reason "abuse report"
	assert_success
	assert_eq "$(ct_state pn1)" stopped
	run vsctl status pn1
	assert_contains "$output" "abuse report"
	run vsctl unlock pn1
	assert_success
	assert_eq "$(ct_state pn1)" stopped "unlock without --start"
	run vsctl unlock pn1 --start
	assert_success
	wait_for 10 ct_is_state pn1 running || fail "not running"
	run vsctl lock
	assert_status 2
}

@test "change the plan live" {
	run panel_api PATCH /v1/containers/pn1 '{"limits": {"memory": "96M", "pids": 200}}'
	assert_eq "$(code_of "$output")" 200 "patch: $output"
	assert_eq "$(field pn1 limits.pids)" 200 pids
	assert_eq "$(field pn1 state)" running
}

@test "terminate" {
	run panel_api DELETE '/v1/containers/pn1?force=1'
	assert_eq "$(code_of "$output")" 200 "delete: $output"
	[[ ! -e "$VSD_ROOT/containers/pn1" ]] || fail "directory left"
}
