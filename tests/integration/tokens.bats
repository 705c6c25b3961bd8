#!/usr/bin/env bats
# API tokens, scopes, owners and the audit log over the unix socket with
# Authorization: Bearer (issue 8, item 2; item 5's owner filter). Secrets go
# to curl through header files (-H @FILE), never on a command line.

load helpers

setup_file() {
	vsd_setup_file || return 1
}
teardown_file() { vsd_teardown_file; }

teardown() {
	vsd_stop_readers
	vsd_teardown_test
}

# mktoken NAME [JSON members]: create token NAME as the local admin and
# keep "Authorization: Bearer SECRET" in $VSD_TMP/tok-NAME (0600).
mktoken() {
	local name=$1 extra=${2:-} out
	out=$(api POST /v1/tokens -d "{\"name\": \"$name\"${extra:+, $extra}}") || return 1
	[[ "$(tail -n1 <<<"$out")" == "HTTP 201" ]] || {
		echo "token $name: $out" >&2
		return 1
	}
	(
		umask 077
		printf 'Authorization: Bearer %s\n' \
			"$(head -n1 <<<"$out" | json_get secret)" >"$VSD_TMP/tok-$name"
	)
}

secret_of() { sed 's/^Authorization: Bearer //' "$VSD_TMP/tok-$1"; }

# tapi NAME METHOD PATH [curl args]: api with token NAME.
tapi() {
	local name=$1
	shift
	api "$@" -H "@$VSD_TMP/tok-$name"
}
tcode() {
	local name=$1 method=$2 path=$3
	shift 3
	api_code "$method" "$path" -H "@$VSD_TMP/tok-$name" "$@"
}

mkct() { api POST /v1/containers -d "{\"name\": \"$1\", \"template\": \"busybox\"${2:+, $2}}" >/dev/null; }

@test "a token's secret is shown once and only its hash is stored" {
	run api POST /v1/tokens -d '{"name": "t-once", "scope": "read"}'
	assert_contains "$output" "HTTP 201"
	secret=$(head -n1 <<<"$output" | json_get secret)
	[[ "$secret" =~ ^vsd_[0-9a-f]{64}$ ]] || fail "secret: $secret"
	run api GET /v1/tokens
	assert_contains "$output" '"name":"t-once"'
	assert_not_contains "$output" "$secret"
	assert_not_contains "$output" '"hash"'
	assert_eq "$(stat -c %a "$VSD_ROOT/auth")" 700
	assert_eq "$(stat -c %a "$VSD_ROOT/auth/tokens.json")" 600
	run grep -c "$secret" "$VSD_ROOT/auth/tokens.json"
	assert_eq "$output" 0
	hash=$(printf '%s' "$secret" | sha256sum | cut -d' ' -f1)
	grep -q "$hash" "$VSD_ROOT/auth/tokens.json"
	# A second token of the same name is a conflict; bad input names the field.
	assert_eq "$(api_code POST /v1/tokens -d '{"name": "t-once"}')" 409
	run api POST /v1/tokens -d '{"name": "t-bad", "scope": "root"}'
	assert_contains "$output" "scope"
	assert_contains "$output" "HTTP 400"
	run api POST /v1/tokens -d '{"name": "../x"}'
	assert_contains "$output" "HTTP 400"
	run api POST /v1/tokens -d '{"name": "t-bad", "scope": "admin", "owner": "acme"}'
	assert_contains "$output" "HTTP 400"
	assert_contains "$output" "owner"
	run api GET /v1/tokens
	assert_not_contains "$output" "t-bad"
}

@test "a read token reads and changes nothing; it cannot create tokens" {
	mktoken t-read '"scope": "read"'
	assert_eq "$(tcode t-read GET /v1/containers)" 200
	run tapi t-read POST /v1/containers -d '{"name": "rd1", "template": "busybox"}'
	assert_contains "$output" "HTTP 403"
	assert_contains "$output" "token:t-read has scope read"
	[[ ! -e "$VSD_ROOT/containers/rd1" ]]
	assert_eq "$(tcode t-read POST /v1/tokens -d '{"name": "x"}')" 403
	assert_eq "$(tcode t-read GET /v1/tokens)" 403
	# An export is a GET, but it freezes the VPS and hands out its disk.
	api POST /v1/containers -d '{"name": "rd2", "template": "busybox"}' >/dev/null
	assert_eq "$(tcode t-read GET /v1/containers/rd2/export)" 403
	api DELETE /v1/containers/rd2 >/dev/null
}

@test "an operate token cannot create a privileged container, a token, or touch the node" {
	mktoken t-op '"scope": "operate"'
	run tapi t-op POST /v1/containers -d '{"name": "op1", "template": "busybox", "privileged": true}'
	assert_contains "$output" "HTTP 403"
	assert_contains "$output" "privileged"
	[[ ! -e "$VSD_ROOT/containers/op1" ]]
	# A host bridge the node did not declare for containers.
	run tapi t-op POST /v1/containers -d '{"name": "op1", "template": "busybox",
		"net": {"interfaces": [{"model": "bridged", "bridge": "mgmt0"}]}}'
	assert_contains "$output" "HTTP 403"
	assert_contains "$output" "mgmt0"
	[[ ! -e "$VSD_ROOT/containers/op1" ]]
	# An address outside the node's pools (another server's, say).
	run tapi t-op POST /v1/containers -d '{"name": "op1", "template": "busybox",
		"net": {"interfaces": [{"model": "routed", "addresses": ["198.51.100.53"]}]}}'
	assert_contains "$output" "HTTP 403"
	assert_contains "$output" "198.51.100.53"
	[[ ! -e "$VSD_ROOT/containers/op1" ]]
	assert_eq "$(tcode t-op POST /v1/tokens -d '{"name": "x"}')" 403
	assert_eq "$(tcode t-op POST /v1/pools -d '{"name": "p1"}')" 403
	assert_eq "$(tcode t-op DELETE /v1/templates/busybox)" 403
	assert_eq "$(tcode t-op POST /v1/containers/op1/restore -d '{"dir": "/tmp"}')" 403
	# What it may do, it does.
	assert_eq "$(tcode t-op POST /v1/containers -d '{"name": "op2", "template": "busybox"}')" 201
	assert_eq "$(tcode t-op DELETE /v1/containers/op2)" 200
}

@test "an owner token sees only its owner's containers; others' are 404 as if missing" {
	mkct own-a '"owner": "acme"'
	mkct own-b '"owner": "other"'
	mkct own-c
	mktoken t-acme '"scope": "operate", "owner": "acme"'
	run tapi t-acme GET /v1/containers
	assert_contains "$output" '"name":"own-a"'
	assert_not_contains "$output" "own-b"
	assert_not_contains "$output" "own-c"
	assert_eq "$(tcode t-acme GET /v1/containers/own-a)" 200
	for ct in own-b own-c; do
		run tapi t-acme GET /v1/containers/$ct
		assert_contains "$output" "HTTP 404"
		assert_contains "$output" "container '$ct' does not exist"
		assert_eq "$(tcode t-acme DELETE /v1/containers/$ct)" 404
		assert_eq "$(tcode t-acme PATCH /v1/containers/$ct -d '{"idle_reclaim": false}')" 404
		assert_eq "$(tcode t-acme PUT /v1/containers/$ct/state -d '{"action": "start"}')" 404
		assert_eq "$(tcode t-acme POST /v1/containers/$ct/exec -d '{"argv": ["true"]}' \
			-H 'Connection: Upgrade' -H 'Upgrade: vsd-stream')" 404
		assert_eq "$(tcode t-acme GET /v1/containers/$ct/stats)" 404
	done
	# A missing container answers the same.
	run tapi t-acme GET /v1/containers/nosuch
	assert_contains "$output" "HTTP 404"
	# Still there, untouched.
	assert_eq "$(api_code GET /v1/containers/own-b)" 200
	# Pools and template details are the node's.
	assert_eq "$(tcode t-acme GET /v1/pools)" 403
	assert_eq "$(tcode t-acme GET /v1/templates)" 200
}

@test "an owner token creates only its own containers and cannot give them away" {
	mktoken t-acme2 '"scope": "operate", "owner": "acme2"'
	run tapi t-acme2 POST /v1/containers -d '{"name": "own-d", "template": "busybox"}'
	assert_contains "$output" "HTTP 201"
	assert_contains "$output" '"owner":"acme2"'
	run tapi t-acme2 POST /v1/containers -d '{"name": "own-e", "template": "busybox", "owner": "zed"}'
	assert_contains "$output" "HTTP 403"
	[[ ! -e "$VSD_ROOT/containers/own-e" ]]
	run tapi t-acme2 PATCH /v1/containers/own-d -d '{"owner": "zed"}'
	assert_contains "$output" "HTTP 403"
	assert_eq "$(api GET /v1/containers/own-d | head -n1 | json_get owner)" acme2
	# The admin may, and ?owner= lists one owner's.
	run api PATCH /v1/containers/own-d -d '{"owner": "zed"}'
	assert_contains "$output" "HTTP 200"
	run api GET '/v1/containers?owner=zed'
	assert_contains "$output" '"name":"own-d"'
	assert_not_contains "$output" "own-a"
	assert_eq "$(tcode t-acme2 GET /v1/containers/own-d)" 404
}

@test "an owner token's event stream carries only its containers' events" {
	mktoken t-ev '"scope": "read", "owner": "evo"'
	curl -sN --max-time 60 --unix-socket "$VSD_SOCKET" -H "@$VSD_TMP/tok-t-ev" \
		http://vsd/v1/events >"$VSD_TMP/ev-owner" 2>/dev/null &
	echo $! >>"$VSD_TMP/readers"
	curl -sN --max-time 60 --unix-socket "$VSD_SOCKET" \
		http://vsd/v1/events >"$VSD_TMP/ev-all" 2>/dev/null &
	echo $! >>"$VSD_TMP/readers"
	sleep 0.3
	mkct ev-theirs
	mkct ev-mine '"owner": "evo"'
	api DELETE /v1/containers/ev-mine >/dev/null
	wait_for 5 grep -q '"container":"ev-mine".*destroyed\|container-destroyed' "$VSD_TMP/ev-all"
	wait_for 5 grep -q 'container-destroyed' "$VSD_TMP/ev-owner"
	grep -q '"container":"ev-mine"' "$VSD_TMP/ev-owner"
	grep -q '"container":"ev-theirs"' "$VSD_TMP/ev-all"
	run grep -c 'ev-theirs' "$VSD_TMP/ev-owner"
	assert_eq "$output" 0
}

@test "an owner token sees only its containers' operations; an archive saying privileged needs admin" {
	mkct op-mine '"owner": "opo"'
	mkct op-theirs
	mktoken t-opo '"scope": "operate", "owner": "opo"'
	run tapi t-opo POST /v1/containers/op-mine/snapshots -d '{"name": "s1"}'
	assert_contains "$output" "HTTP 202"
	mine=$(head -n1 <<<"$output" | json_get id)
	run api POST /v1/containers/op-theirs/snapshots -d '{"name": "s1"}'
	theirs=$(head -n1 <<<"$output" | json_get id)
	assert_eq "$(api GET "/v1/operations/$theirs?wait=30" | head -n1 | json_get status)" success
	assert_eq "$(tapi t-opo GET "/v1/operations/$mine?wait=30" | head -n1 | json_get status)" success
	assert_eq "$(tcode t-opo GET "/v1/operations/$theirs")" 404
	assert_eq "$(tcode t-opo DELETE "/v1/operations/$theirs")" 404
	run tapi t-opo GET /v1/operations
	assert_contains "$output" "\"id\":\"$mine\""
	assert_not_contains "$output" "\"id\":\"$theirs\""
	# Import: the archive's config is a create request like any other.
	mkct priv1 '"privileged": true'
	curl -sS --unix-socket "$VSD_SOCKET" -o "$VSD_TMP/priv1.tar.zst" \
		http://vsd/v1/containers/priv1/export
	mktoken t-imp '"scope": "operate"'
	run tapi t-imp POST '/v1/containers/import?name=priv2' \
		-H 'Content-Type: application/octet-stream' --data-binary "@$VSD_TMP/priv1.tar.zst"
	assert_contains "$output" "HTTP 202"
	id=$(head -n1 <<<"$output" | json_get id)
	run api GET "/v1/operations/$id?wait=60"
	assert_contains "$output" '"status":"failure"'
	assert_contains "$output" '"code":"forbidden"'
	assert_contains "$output" "privileged"
	[[ ! -e "$VSD_ROOT/containers/priv2" ]]
	# The owner token follows its own import, though the container it
	# names never came to be (the operation records who started it).
	run tapi t-opo POST '/v1/containers/import?name=priv3' \
		-H 'Content-Type: application/octet-stream' --data-binary "@$VSD_TMP/priv1.tar.zst"
	assert_contains "$output" "HTTP 202"
	id=$(head -n1 <<<"$output" | json_get id)
	run tapi t-opo GET "/v1/operations/$id?wait=60"
	assert_contains "$output" "HTTP 200"
	assert_contains "$output" '"status":"failure"'
	assert_contains "$output" '"owner":"opo"'
	assert_eq "$(tcode t-imp GET "/v1/operations/$id")" 200
	[[ ! -e "$VSD_ROOT/containers/priv3" ]]
	rm -f "$VSD_TMP/priv1.tar.zst"
}

@test "wrong, revoked and expired tokens are 401 and do nothing" {
	mktoken t-gone '"scope": "admin"'
	mktoken t-short '"scope": "admin", "expires": 1'
	assert_eq "$(tcode t-gone GET /v1/tokens)" 200
	assert_eq "$(api_code DELETE /v1/tokens/t-gone)" 200
	run tapi t-gone POST /v1/containers -d '{"name": "w1", "template": "busybox"}'
	assert_contains "$output" "HTTP 401"
	assert_contains "$output" "unknown API token"
	run api GET /v1/containers -H "Authorization: Bearer vsd_$(printf '0%.0s' {1..64})"
	assert_contains "$output" "HTTP 401"
	assert_eq "$(api_code GET /v1/containers -H 'Authorization: Bearer nonsense')" 401
	assert_eq "$(api_code GET /v1/containers -H 'Authorization: Basic eDp5')" 401
	sleep 2
	run tapi t-short GET /v1/containers
	assert_contains "$output" "HTTP 401"
	assert_contains "$output" "expired"
	[[ ! -e "$VSD_ROOT/containers/w1" ]]
	assert_eq "$(api_code DELETE /v1/tokens/t-gone)" 404
}

@test "vsctl token create prints the secret once; list and revoke" {
	run vsctl token create t-cli --scope read --owner acme --expires 7d
	assert_success
	grep -Eq '^vsd_[0-9a-f]{64}$' <<<"$output" || fail "$output"
	run vsctl token list
	assert_success
	assert_contains "$output" "t-cli"
	assert_contains "$output" "acme"
	assert_not_contains "$output" "vsd_"
	run vsctl token create t-cli2 --expires soon
	assert_status 2
	run vsctl token revoke t-cli
	assert_success
	run vsctl token list
	assert_not_contains "$output" "t-cli"
}

@test "the audit log holds who, what and the result, and never a secret" {
	mktoken t-aud '"scope": "read"'
	tcode t-aud POST /v1/containers -d '{"name": "aud1", "template": "busybox"}' >/dev/null
	api_code GET /v1/containers -H 'Authorization: Bearer vsd_nope' >/dev/null
	mkct aud2
	log="$VSD_ROOT/audit.log"
	assert_eq "$(stat -c %a "$log")" 600
	"$PY" - "$log" <<'PYEOF'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
def has(**kw):
    return any(all(r.get(k) == v for k, v in kw.items()) for r in recs)
assert has(who="token:t-aud", method="POST", path="/v1/containers", status=403), recs[-5:]
assert has(method="GET", path="/v1/containers", status=401), recs[-5:]
assert has(who="uid:0", method="POST", path="/v1/containers", status=201), recs[-5:]
assert has(method="POST", path="/v1/tokens", status=201)
for r in recs:
    assert set(r) >= {"time", "who", "method", "path", "status", "message"}, r
PYEOF
	# No secret in the audit log, the daemon's log or any command line.
	for t in "$VSD_TMP"/tok-*; do
		s=$(sed 's/^Authorization: Bearer //' "$t")
		run grep -c "$s" "$log" "$VSD_TMP/vsd.log"
		assert_not_contains "$output" ":1"
		run grep -ls "$s" /proc/[0-9]*/cmdline
		assert_eq "$output" ""
	done
	run grep -c '"template"' "$log"
	assert_eq "$output" 0
}

@test "GET /v1/audit and vsctl audit show the newest records to admins only" {
	mktoken t-aud2 '"scope": "operate"'
	tcode t-aud2 POST /v1/tokens -d '{"name": "nope"}' >/dev/null
	run api GET '/v1/audit?limit=1'
	assert_contains "$output" "HTTP 200"
	assert_contains "$output" '"who":"token:t-aud2"'
	assert_eq "$(head -n1 <<<"$output" | "$PY" -c 'import json,sys; print(len(json.load(sys.stdin)["records"]))')" 1
	assert_eq "$(tcode t-aud2 GET /v1/audit)" 403
	assert_eq "$(api_code GET '/v1/audit?limit=0')" 400
	assert_eq "$(api_code GET '/v1/audit?since=x')" 400
	run api GET "/v1/audit?since=$(($(date +%s) + 100))"
	assert_contains "$output" '{"records":[]}'
	run vsctl audit --limit 3
	assert_success
	assert_contains "$output" "token:t-aud2"
	assert_contains "$output" "/v1/tokens"
	run vsctl audit --limit many
	assert_status 2
}
