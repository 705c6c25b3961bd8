#!/usr/bin/env bats
# Browser terminals: one-time stream tickets (POST .../exec or .../console
# with "ticket": true) redeemed by a GET WebSocket handshake on
# /v1/streams/{id}, over the unix socket, with python3-websockets as the
# client (its own GET request line, as a browser makes it).

load helpers

setup_file() {
	vsd_setup_file
	ct_create_started tk1
}
teardown_file() { vsd_teardown_file; }
teardown() { vsd_teardown_test; }

ws_client() { "$PY" "$BATS_TEST_DIRNAME/ws-client.py" "$VSD_SOCKET" "$@"; }

# ticket CT KIND BODY [curl args]: make a ticket; its JSON into $TICKET.
ticket() {
	local ct=$1 kind=$2 body=$3 out
	shift 3
	out=$(api POST "/v1/containers/$ct/$kind" -d "$body" "$@") || return 1
	[[ "$(tail -n1 <<<"$out")" == "HTTP 201" ]] || {
		echo "ticket for $ct: $out" >&2
		return 1
	}
	TICKET=$(head -n1 <<<"$out")
}
t_url() { json_get url <<<"$TICKET"; }
t_secret() { json_get secret <<<"$TICKET"; }

# redeem [ws-client args]: GET the ticket's stream with ?secret=.
redeem() { ws_client "$(t_url)?secret=$(t_secret)" - --get "$@"; }

# Every secret handed out, to look for in the logs at the end.
keep_secret() { t_secret >>"$VSD_TMP/ticket-secrets"; }

@test "ticket: exec through a GET WebSocket: output, exit message; a second use is 401" {
	ticket tk1 exec '{"command": ["sh", "-c", "echo out-$((6*7)); echo err >&2; exit 5"], "ticket": true}'
	keep_secret
	local id
	id=$(json_get id <<<"$TICKET")
	[[ "$id" =~ ^[0-9a-f]{32}$ ]] || fail "id: $id"
	assert_eq "$(t_url)" "/v1/streams/$id" url
	[[ "$(t_secret)" =~ ^[0-9a-f]{64}$ ]] || fail "secret: $(t_secret)"
	local exp now
	exp=$(json_get expires_at <<<"$TICKET")
	now=$(date +%s)
	((exp >= now + 28 && exp <= now + 31)) || fail "expires_at $exp, now $now"
	run redeem
	assert_success
	assert_eq "$(json_get subprotocol <<<"$output")" vsd.exec.v1 subprotocol
	assert_eq "$(json_get stdout <<<"$output")" out-42 stdout
	assert_eq "$(json_get stderr <<<"$output")" err stderr
	assert_eq "$(json_get exit.code <<<"$output")" 5 "exit code"
	assert_eq "$(json_get close_code <<<"$output")" 1000 "close code"
	# Single use.
	run redeem
	assert_status 2
	assert_contains "$output" "401"
}

@test "ticket: stdin, a tty and the secret as a subprotocol; the console" {
	ticket tk1 exec '{"command": ["cat"], "ticket": true}'
	keep_secret
	run redeem --stdin from-browser
	assert_success
	assert_eq "$(json_get stdout <<<"$output")" from-browser
	assert_eq "$(json_get exit.code <<<"$output")" 0
	# The secret offered as a subprotocol, not in the URL; the server
	# answers vsd.exec.v1, never the secret.
	ticket tk1 exec '{"command": ["sh", "-c", "tty; stty size"], "tty": true, "rows": 20, "cols": 70, "ticket": true}'
	keep_secret
	run ws_client "$(t_url)" - --get --protocols "vsd.exec.v1,vsd.ticket.$(t_secret)"
	assert_success
	assert_eq "$(json_get subprotocol <<<"$output")" vsd.exec.v1 subprotocol
	assert_contains "$(json_get stdout <<<"$output")" "/dev/pts/"
	assert_contains "$(json_get stdout <<<"$output")" "20 70"
	# The console.
	ticket tk1 console '{"ticket": true}'
	keep_secret
	run redeem --stdin $'echo con-$((6*7))\r' --close-after con-42
	assert_success
	assert_contains "$(json_get stdout <<<"$output")" con-42
	assert_eq "$(json_get close_code <<<"$output")" 1000 "console close code"
}

@test "ticket: a wrong or missing secret is 401, audited, starts nothing, and does not spend the ticket" {
	ticket tk1 exec '{"command": ["touch", "/tmp/ticket-ran"], "ticket": true}'
	keep_secret
	local wrong=0000000000000000000000000000000000000000000000000000000000000000
	run ws_client "$(t_url)?secret=$wrong" - --get
	assert_status 2
	assert_contains "$output" "401"
	run ws_client "$(t_url)" - --get
	assert_status 2
	assert_contains "$output" "401"
	run ws_client "/v1/streams/0123456789abcdef0123456789abcdef?secret=$(t_secret)" - --get
	assert_status 2
	assert_contains "$output" "401"
	run in_ct tk1 ls /tmp/ticket-ran
	assert_failure
	# The JSON error of a plain GET (no upgrade) is 400 and spends nothing.
	run api GET "$(t_url)?secret=$wrong"
	assert_contains "$output" "HTTP 400"
	run api GET "$(t_url)?secret=$wrong" -H 'Connection: Upgrade' -H 'Upgrade: websocket' \
		-H 'Sec-WebSocket-Version: 13' -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=='
	assert_contains "$output" "HTTP 401"
	assert_contains "$output" '"code":"unauthorized"'
	assert_contains "$output" "wrong secret for stream ticket"
	"$PY" - "$VSD_ROOT/audit.log" <<'PYEOF'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
assert any(r.get("path", "").startswith("/v1/streams/") and r.get("status") == 401
           for r in recs), recs[-5:]
PYEOF
	# Still good with the right secret.
	run redeem
	assert_success
	assert_eq "$(json_get exit.code <<<"$output")" 0
	run in_ct tk1 ls /tmp/ticket-ran
	assert_success
}

@test "ticket: bad requests are refused as for a stream, and nothing is made" {
	run api POST /v1/containers/tk1/exec -d '{"command": ["true"], "ticket": "yes"}'
	assert_contains "$output" "HTTP 400"
	assert_contains "$output" "ticket: expected true or false"
	run api POST /v1/containers/tk1/exec -d '{"command": ["true"], "tty": 3, "ticket": true}'
	assert_contains "$output" "HTTP 400"
	assert_contains "$output" "tty: expected true or false"
	run api POST /v1/containers/tk1/exec -d '{"command": ["true"]}'
	assert_contains "$output" "HTTP 400"
	assert_contains "$output" "Upgrade"
	run api POST /v1/containers/tk1/exec -d '{"command": ["true"], "ticket": true}' \
		-H 'Connection: Upgrade' -H 'Upgrade: vsd-stream'
	assert_contains "$output" "HTTP 400"
	assert_contains "$output" "ticket: a ticket is asked for without 'Upgrade' headers"
	run api POST /v1/containers/tk1/console -d '{"ticket": true, "x": 1}'
	assert_contains "$output" "HTTP 400"
	assert_contains "$output" "x: unknown field"
	run api POST /v1/containers/nosuch/exec -d '{"ticket": true}'
	assert_contains "$output" "HTTP 404"
	vsctl create tk-stopped --template busybox >/dev/null
	run api POST /v1/containers/tk-stopped/exec -d '{"ticket": true}'
	assert_contains "$output" "HTTP 409"
	assert_contains "$output" "not running"
	vsctl destroy tk-stopped
}

@test "ticket: scopes and owners: read is 403, another owner's container 404, the owner's own works" {
	api POST /v1/containers -d '{"name": "tk-acme", "template": "busybox", "owner": "acme"}' >/dev/null
	vsctl start tk-acme
	wait_for 10 ct_is_state tk-acme running
	local out
	for t in read:t-read operate:t-other operate:t-acme; do
		local scope=${t%%:*} name=${t#*:} owner=""
		[[ $name == t-other ]] && owner=', "owner": "other"'
		[[ $name == t-acme ]] && owner=', "owner": "acme"'
		out=$(api POST /v1/tokens -d "{\"name\": \"$name\", \"scope\": \"$scope\"$owner}")
		head -n1 <<<"$out" | json_get secret >"$VSD_TMP/sec-$name"
		cat "$VSD_TMP/sec-$name" >>"$VSD_TMP/ticket-secrets"
	done
	auth() { echo "Authorization: Bearer $(cat "$VSD_TMP/sec-$1")"; }
	assert_eq "$(api_code POST /v1/containers/tk-acme/exec -d '{"ticket": true}' -H "$(auth t-read)")" 403
	assert_eq "$(api_code POST /v1/containers/tk-acme/exec -d '{"ticket": true}' -H "$(auth t-other)")" 404
	assert_eq "$(api_code POST /v1/containers/tk-acme/console -d '{"ticket": true}' -H "$(auth t-other)")" 404
	ticket tk-acme exec '{"command": ["echo", "acme-ok"], "ticket": true}' -H "$(auth t-acme)"
	keep_secret
	run redeem
	assert_success
	assert_eq "$(json_get stdout <<<"$output")" acme-ok
	# The stream ran as the token that made the ticket.
	"$PY" - "$VSD_ROOT/audit.log" <<'PYEOF'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
assert any(r.get("who") == "token:t-acme" and r.get("path", "").startswith("/v1/streams/")
           and r.get("status") == 101 for r in recs), recs[-5:]
PYEOF
	# A ticket whose container changed owner before it was redeemed: 404.
	ticket tk-acme exec '{"command": ["echo", "late"], "ticket": true}' -H "$(auth t-acme)"
	keep_secret
	vsctl destroy --force tk-acme
	api POST /v1/containers -d '{"name": "tk-acme", "template": "busybox", "owner": "other"}' >/dev/null
	vsctl start tk-acme
	wait_for 10 ct_is_state tk-acme running
	run redeem
	assert_status 2
	assert_contains "$output" "404"
	vsctl destroy --force tk-acme
}

@test "ticket: vsctl exec --ticket and console --ticket print the ticket; nothing runs until it is redeemed" {
	run vsctl exec --ticket tk1 -- touch /tmp/vsctl-ticket
	assert_success
	TICKET=$output
	keep_secret
	[[ "$(t_url)" =~ ^/v1/streams/[0-9a-f]{32}$ ]] || fail "url: $(t_url)"
	run in_ct tk1 ls /tmp/vsctl-ticket
	assert_failure
	run redeem
	assert_success
	assert_eq "$(json_get exit.code <<<"$output")" 0
	run in_ct tk1 ls /tmp/vsctl-ticket
	assert_success
	run vsctl console --ticket tk1
	assert_success
	TICKET=$output
	keep_secret
	run redeem --stdin $'echo vc-$((6*7))\r' --close-after vc-42
	assert_success
	assert_contains "$(json_get stdout <<<"$output")" vc-42
	run vsctl enter --ticket tk1
	assert_status 2
	run vsctl exec --ticket nosuch -- true
	assert_status 1
	assert_contains "$output" "container 'nosuch' does not exist"
}

@test "ticket: no secret in vsd's log or the audit log" {
	[[ -s "$VSD_TMP/ticket-secrets" ]] || fail "no secrets were kept by the tests before"
	local s n=0
	while read -r s; do
		[[ -n "$s" ]] || continue
		run grep -c "$s" "$VSD_TMP/vsd.log" "$VSD_ROOT/audit.log"
		assert_not_contains "$output" ":1"
		n=$((n + 1))
	done <"$VSD_TMP/ticket-secrets"
	((n >= 5)) || fail "only $n secrets"
}

# Last: it restarts this file's daemon with a short ticket lifetime.
@test "ticket: an expired ticket is 401 and starts nothing" {
	vsd_stop_daemon TERM
	VSD_TEST_TICKET_TTL_MS=300 vsd_start_daemon || fail "restart"
	ticket tk1 exec '{"command": ["touch", "/tmp/expired-ran"], "ticket": true}'
	sleep 0.6
	run redeem
	assert_status 2
	assert_contains "$output" "401"
	run in_ct tk1 ls /tmp/expired-ran
	assert_failure
	grep -q '"stream ticket expired"\|stream ticket expired' "$VSD_ROOT/audit.log" ||
		fail "no audit record of the expired ticket"
}
