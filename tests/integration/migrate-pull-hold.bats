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

# The record goes with the daemon down (its thread holds the name until
# it does), then the container.
teardown() {
	if [[ -f "$VSD_ROOT/migrations/$REC_ID.json" ]]; then
		vsd_stop_daemon
		rm -f "$VSD_ROOT/migrations/$REC_ID.json"
		vsd_start_daemon
	fi
	vsctl destroy ph1 --force >/dev/null 2>&1 || true
	vsctl destroy ph2 --force >/dev/null 2>&1 || true
	vsd_teardown_test
}

@test "a failed pull's container: start, restart and destroy are refused (409, naming --recover) until it is settled" {
	vsctl create ph1 --template busybox
	vsd_stop_daemon
	mkdir -p "$VSD_ROOT/migrations"
	cat >"$VSD_ROOT/migrations/$REC_ID.json" <<JSON
{"id": "$REC_ID", "name": "ph1", "role": "source", "state": "done", "mode": "postcopy",
 "peer_url": "https://127.0.0.1:1", "peer_fingerprint": "$(printf '%064d' 0)",
 "idmap_base": 0, "src_idmap_base": 0, "was_running": true, "error": "test",
 "sync_error": "", "pull": "failed", "updated_at": $(date +%s)}
JSON
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
	assert_contains "$output" "has no failed post-copy pull"
	run api GET /v1/operations
	assert_not_contains "$output" '"target":"ph2"'
	assert_eq "$(ct_state ph1)" stopped "ph1 after the refusals"
	[[ -d "$VSD_ROOT/containers/ph1" ]] || fail "ph1 was removed"
	grep -q '"pull": *"failed"' "$VSD_ROOT/migrations/$REC_ID.json" || fail "the record changed"
}
