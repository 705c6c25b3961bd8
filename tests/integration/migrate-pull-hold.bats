#!/usr/bin/env bats
# A failed post-copy pull (docs/migration.md, "A failed pull"): from the
# failure to the settlement the source's container is held by the pull
# thread, so nothing but the settlement can start, restart, resume or
# destroy the frozen copy while the target's may still run. The state is
# made on one node: a source record "failed" whose target cannot be
# asked (nothing listens at its address), found by vsd at its start.

load helpers

setup_file() { vsd_setup_file; }
teardown_file() { vsd_teardown_file; }

REC_ID=0123456789abcdef0123456789abcdef

# source_record NAME MODE PULL: a source's record of a committed move of
# NAME (done) to a target nobody listens at, its pull word PULL.
source_record() {
	mkdir -p "$VSD_ROOT/migrations"
	cat >"$VSD_ROOT/migrations/$REC_ID.json" <<JSON
{"id": "$REC_ID", "name": "$1", "role": "source", "state": "done", "mode": "$2",
 "peer_url": "https://127.0.0.1:1", "peer_fingerprint": "$(printf '%064d' 0)",
 "idmap_base": 0, "src_idmap_base": 0, "was_running": true, "error": "test",
 "sync_error": "", "pull": "$3", "updated_at": $(date +%s)}
JSON
}

# The record goes with the daemon down (its thread holds the name until
# it does), then the container.
teardown() {
	if [[ -f "$VSD_ROOT/migrations/$REC_ID.json" ]]; then
		vsd_stop_daemon
		rm -f "$VSD_ROOT/migrations/$REC_ID.json"
		vsd_start_daemon
	fi
	rm -f "$VSD_TMP/drop-block"
	vsctl destroy ph1 --force >/dev/null 2>&1 || true
	vsctl destroy ph2 --force >/dev/null 2>&1 || true
	vsctl destroy ph3 --force >/dev/null 2>&1 || true
	vsd_teardown_test
}

@test "a failed pull's container: start, restart and destroy are refused (409, naming --recover) until it is settled" {
	vsctl create ph1 --template busybox
	vsd_stop_daemon
	source_record ph1 postcopy failed
	vsd_start_daemon
	wait_for 10 grep -q "migration $REC_ID: the target cannot be asked" "$VSD_TMP/vsd.log" ||
		fail "the pull thread did not look: $(grep "$REC_ID" "$VSD_TMP/vsd.log")"
	local op
	for op in start restart destroy; do
		run vsctl "$op" ph1
		assert_failure
		assert_contains "$output" "container 'ph1' is held until its failed post-copy pull is settled"
		assert_contains "$output" "vsctl migrate ph1 --recover [--force]"
	done
	# --recover is an operation (one look at the target): the target
	# cannot be asked, so the operation fails with that refusal.
	run vsctl migrate ph1 --recover
	assert_failure
	assert_contains "$output" "the target cannot be asked"
	run api POST /v1/containers/ph1/migrate -H 'Content-Type: application/json' \
		-d '{"recover": true}'
	assert_contains "$output" "HTTP 202"
	assert_contains "$output" '"kind":"container-migrate-recover"'
	local id
	id=$(head -n -1 <<<"$output" | json_get id)
	run api GET "/v1/operations/$id?wait=30"
	assert_contains "$output" '"status":"failure"'
	assert_contains "$output" "the target cannot be asked"
	# A container with no failed pull is refused at once (409), no
	# operation made.
	vsctl create ph2 --template busybox
	run api POST /v1/containers/ph2/migrate -H 'Content-Type: application/json' \
		-d '{"recover": true}'
	vsctl destroy ph2 --force >/dev/null
	assert_contains "$output" "HTTP 409"
	assert_contains "$output" "container 'ph2' has no failed post-copy pull and no copy left to remove: no move of it from here is recorded (--recover acts on a move whose post-copy pull failed after the target resumed the container, or on a copy a move of any mode left here"
	run api GET /v1/operations
	assert_not_contains "$output" '"target":"ph2"'
	assert_eq "$(ct_state ph1)" stopped "ph1 after the refusals"
	[[ -d "$VSD_ROOT/containers/ph1" ]] || fail "ph1 was removed"
	grep -q '"pull": *"failed"' "$VSD_ROOT/migrations/$REC_ID.json" || fail "the record changed"
}

# A copy left behind (docs/migration.md): a move's record says its copy
# here is still to be removed ("removing", any mode). vsd holds the name
# from its start, its removal failing while $VSD_TEST_MIG_DROP_BLOCK's file
# exists; destroy --force is the operator's way to remove it by hand.
@test "a moved container's copy left to remove: held from vsd's start (409 naming the target and the migration); destroy --force removes it once it can" {
	local block="$VSD_TMP/drop-block" out
	vsctl create ph3 --template busybox
	vsd_stop_daemon
	source_record ph3 live removing
	touch "$block"
	VSD_TEST_MIG_DROP_BLOCK=$block vsd_start_daemon
	wait_for 10 grep -q "migration $REC_ID: 'ph3' runs on https://127.0.0.1:1 since migration $REC_ID, but its copy here could not be removed" "$VSD_TMP/vsd.log" ||
		fail "the removal was not tried: $(grep "$REC_ID" "$VSD_TMP/vsd.log")"
	out="container 'ph3' runs on https://127.0.0.1:1 since migration $REC_ID; its copy here is being removed"
	for op in start destroy; do
		run vsctl "$op" ph3
		assert_failure
		assert_contains "$output" "$out"
	done
	# Forced while the removal still fails: its error, and still held.
	run vsctl destroy ph3 --force
	assert_failure
	assert_contains "$output" "could not be removed: test hook: $block exists"
	# --recover acts on such a copy of any mode too: one try of the
	# removal, its failure the operation's error.
	run vsctl migrate ph3 --recover
	assert_failure
	assert_contains "$output" "recover 'ph3': 'ph3' runs on https://127.0.0.1:1 since migration $REC_ID, but its copy here could not be removed: test hook: $block exists"
	run vsctl start ph3
	assert_contains "$output" "$out"
	[[ -d "$VSD_ROOT/containers/ph3" ]] || fail "ph3 was removed"
	rm -f "$block"
	vsctl destroy ph3 --force
	[[ ! -e "$VSD_ROOT/containers/ph3" ]] || fail "ph3 is still there"
	grep -q '"pull": *"removed"' "$VSD_ROOT/migrations/$REC_ID.json" ||
		fail "the record: $(cat "$VSD_ROOT/migrations/$REC_ID.json")"
	# The holding thread lets the name go: it is free for a new container.
	wait_for 10 eval 'vsctl create ph3 --template busybox >/dev/null 2>&1' ||
		fail "the name ph3 stays held: $(vsctl create ph3 --template busybox 2>&1)"
	# --recover on it now: refused, naming the settled move it found.
	run vsctl migrate ph3 --recover
	assert_failure
	assert_contains "$output" "container 'ph3' has no failed post-copy pull and no copy left to remove: its newest move from here, migration $REC_ID, is done (pull word 'removed')"
}
