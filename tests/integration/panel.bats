#!/usr/bin/env bats
# A hosting panel's provisioning cycle over the API, as a panel drives it:
# over HTTPS (vsd --listen 127.0.0.1:PORT) with an operate API token, every
# call through panel_api. Create with a plan and an owner and start, lock
# (suspension for non-payment) and unlock, change the plan live, passwords
# and keys, reinstall, usage, an owner's list, terminate.

load helpers

setup_file() {
	local port
	port=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	export PANEL_URL="https://127.0.0.1:$port"
	export VSD_DAEMON_ARGS="--listen 127.0.0.1:$port"
	vsd_setup_file || return 1
	# The panel's token (operate, every owner) and an account's (owner
	# acme), kept as curl header files (0600): never in a process list.
	panel_token panel '"scope": "operate"' || return 1
	panel_token acme '"scope": "operate", "owner": "acme"' || return 1
}
teardown_file() { vsd_teardown_file; }
teardown() {
	vsd_teardown_test
	vsd_answers || vsd_start_daemon || true
}

# panel_token NAME JSON-FIELDS: an API token, its header in $VSD_TMP/NAME.hdr.
panel_token() {
	local out
	out=$(api POST /v1/tokens -d "{\"name\": \"$1\", $2}" | sed '$d') || return 1
	(umask 077 && printf 'Authorization: Bearer %s\n' "$(json_get secret <<<"$out")" >"$VSD_TMP/$1.hdr")
}

# panel_api METHOD PATH [BODY]: one API call as the panel makes it (HTTPS,
# its token; PANEL_AS=acme: the account's token). Prints the body, then a
# last line "HTTP <code>". The node's certificate is self-signed (-k);
# tls.bats checks pinning.
panel_api() {
	local method=$1 path=$2 body=${3:-}
	local args=(-sS -k --max-time 60 -H @"$VSD_TMP/${PANEL_AS:-panel}.hdr" -X "$method"
		-w '\nHTTP %{http_code}\n')
	[[ -n "$body" ]] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
	curl "${args[@]}" "$PANEL_URL$path"
}

# The body of panel_api's output (all but the "HTTP" line) and its code.
body_of() { sed '$d' <<<"$1"; }
code_of() { tail -n 1 <<<"$1" | sed 's/^HTTP //'; }

KEY1='ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFBhbmVsVGVzdEtleU9uZU9uZU9uZU9uZU9uZU9u panel@one'
KEY2='ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFBhbmVsVGVzdEtleVR3b1R3b1R3b1R3b1R3b1R3 panel@two'

# hash_ok HASH PASSWORD: the crypt(3) hash verifies the password.
hash_ok() {
	"$PY" -W ignore -c 'import crypt, sys; sys.exit(crypt.crypt(sys.argv[2], sys.argv[1]) != sys.argv[1])' "$1" "$2"
}

# root_hash NAME: root's hash in NAME's /etc/shadow, read inside.
root_hash() { in_ct "$1" cat /etc/shadow | awk -F: '$1 == "root" { print $2 }'; }

# status NAME FIELD: one field of GET /v1/containers/NAME.
field() {
	local out
	out=$(panel_api GET "/v1/containers/$1") || return 1
	body_of "$out" | json_get "$2"
}

@test "create a VPS with a plan, a hostname, a root password and a key, and start it" {
	run panel_api POST /v1/containers \
		'{"name": "pn1", "template": "busybox", "hostname": "vps1.example", "owner": "acme",
		  "limits": {"memory": "64M", "cpus": "0.5", "pids": 128},
		  "root_password": "first Pass-1", "ssh_keys": ["'"$KEY1"'"]}'
	assert_eq "$(code_of "$output")" 201 "create: $output"
	# Queued for the first start: hashes and public keys only, 0600.
	local q="$VSD_ROOT/containers/pn1/credentials.json"
	[[ -f "$q" ]] || fail "nothing queued"
	assert_eq "$(stat -c %a "$q")" 600 "queue mode"
	grep -q 'first Pass-1' "$q" && fail "plain password on disk"
	run panel_api PUT /v1/containers/pn1/state '{"action": "start"}'
	assert_eq "$(code_of "$output")" 200 "start: $output"
	wait_for 10 ct_is_state pn1 running || fail "not running"
	assert_eq "$(field pn1 hostname)" vps1.example hostname
	assert_eq "$(field pn1 limits.pids)" 128 pids
	run field pn1 locked
	assert_failure
	# Written inside at the start; the queue is gone.
	[[ ! -e "$q" ]] || fail "queue left after start"
	local h
	h=$(root_hash pn1)
	[[ "$h" == '$y$'* ]] || fail "root hash: $h"
	hash_ok "$h" 'first Pass-1' || fail "hash does not verify"
	run in_ct pn1 cat /root/.ssh/authorized_keys
	assert_success
	assert_eq "$output" "$KEY1" authorized_keys
	run in_ct pn1 stat -c '%a %u' /root/.ssh /root/.ssh/authorized_keys
	assert_eq "$(squash "$output")" "700 0 600 0" modes
	grep -q 'first Pass-1' "$VSD_TMP/vsd.log" && fail "plain password in the log"
	true
}

@test "reset the root password and add a key while it runs" {
	run panel_api POST /v1/containers/pn1/password '{"password": "second Pass-2"}'
	assert_eq "$(code_of "$output")" 200 "password: $output"
	assert_eq "$(body_of "$output" | json_get applied)" true applied
	hash_ok "$(root_hash pn1)" 'second Pass-2' || fail "new hash does not verify"
	hash_ok "$(root_hash pn1)" 'first Pass-1' && fail "old password still works"
	run panel_api POST /v1/containers/pn1/ssh-keys '{"keys": ["'"$KEY2"'", "'"$KEY1"'"]}'
	assert_eq "$(code_of "$output")" 200 "keys: $output"
	run in_ct pn1 cat /root/.ssh/authorized_keys
	assert_eq "$output" "$KEY1"$'\n'"$KEY2" "added once each"
	run panel_api POST /v1/containers/pn1/ssh-keys '{"keys": ["'"$KEY2"'"], "replace": true}'
	assert_eq "$(code_of "$output")" 200 "replace: $output"
	run in_ct pn1 cat /root/.ssh/authorized_keys
	assert_eq "$output" "$KEY2" replaced
	grep -q 'second Pass-2' "$VSD_TMP/vsd.log" && fail "plain password in the log"
	true
}

@test "credentials: bad input and unknown users change nothing" {
	local before
	before=$(root_hash pn1)
	run panel_api POST /v1/containers/pn1/password '{"user": "nosuch", "password": "x"}'
	assert_eq "$(code_of "$output")" 404 "$output"
	assert_contains "$output" "user 'nosuch' does not exist"
	run panel_api POST /v1/containers/pn1/password '{"password_hash": "$6$a:0:0$b"}'
	assert_eq "$(code_of "$output")" 400 "$output"
	assert_contains "$output" password_hash
	run panel_api POST /v1/containers/pn1/password '{}'
	assert_eq "$(code_of "$output")" 400 "$output"
	run panel_api POST /v1/containers/pn1/ssh-keys '{"keys": ["command=\"sh\" ssh-ed25519 AAAA"]}'
	assert_eq "$(code_of "$output")" 400 "$output"
	assert_contains "$output" "keys[0]"
	run panel_api POST /v1/containers/pn1/ssh-keys '{"keys": ["ssh-ed25519 AAAA\nssh-rsa BBBB x"]}'
	assert_eq "$(code_of "$output")" 400 "$output"
	assert_eq "$(root_hash pn1)" "$before" "hash changed"
}

@test "credentials: a symlinked ~/.ssh or authorized_keys is refused, nothing written on the host" {
	local canary="$VSD_TMP/canary"
	echo canary >"$canary"
	in_ct pn1 rm -rf /root/.ssh
	in_ct pn1 ln -s /etc /root/.ssh
	run panel_api POST /v1/containers/pn1/ssh-keys '{"keys": ["'"$KEY1"'"]}'
	assert_eq "$(code_of "$output")" 409 "$output"
	assert_contains "$output" "symlink"
	[[ ! -e /etc/authorized_keys ]] || fail "host /etc/authorized_keys written"
	run in_ct pn1 ls /etc/authorized_keys
	assert_failure
	# An absolute symlink to a host path as the file itself.
	in_ct pn1 rm /root/.ssh
	in_ct pn1 mkdir -m 700 /root/.ssh
	in_ct pn1 ln -s "$canary" /root/.ssh/authorized_keys
	run panel_api POST /v1/containers/pn1/ssh-keys '{"keys": ["'"$KEY1"'"]}'
	assert_eq "$(code_of "$output")" 409 "$output"
	assert_eq "$(cat "$canary")" canary "host file changed"
	run panel_api POST /v1/containers/pn1/ssh-keys '{"keys": ["'"$KEY1"'"], "replace": true}'
	assert_eq "$(code_of "$output")" 409 "$output"
	assert_eq "$(cat "$canary")" canary "host file changed"
	in_ct pn1 rm /root/.ssh/authorized_keys
}

@test "credentials: a FIFO at /etc/shadow is refused at once, the VPS stays usable" {
	# Opened without O_NONBLOCK, the FIFO would hold the helper (and the
	# container's lock) until its 30 s timeout, whose error is another
	# one: the answer's text tells the two apart, not its time.
	in_ct pn1 sh -c 'cp -p /etc/shadow /etc/.shadow.keep && rm /etc/shadow && mkfifo -m 600 /etc/shadow'
	local t0=$SECONDS out took
	out=$(panel_api POST /v1/containers/pn1/password '{"password": "second Pass-2"}')
	took=$((SECONDS - t0))
	in_ct pn1 mv /etc/.shadow.keep /etc/shadow
	echo "answered in ${took}s: $out"
	assert_eq "$(code_of "$out")" 409 "$out"
	assert_contains "$out" "shadow is not a regular file"
	run panel_api POST /v1/containers/pn1/password '{"password": "second Pass-2"}'
	assert_eq "$(code_of "$output")" 200 "password: $output"
	hash_ok "$(root_hash pn1)" 'second Pass-2' || fail "password not set after the FIFO"
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
	# Its disk stays on the node: an archive could come back unlocked.
	run panel_api GET /v1/containers/pn1/export
	assert_eq "$(code_of "$output")" 409 "export of a locked VPS: $output"
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

@test "unlock with start: running again, no lock left, a password set while stopped applied" {
	run panel_api POST /v1/containers/pn1/password '{"password": "third Pass-3"}'
	assert_eq "$(code_of "$output")" 200 "password: $output"
	assert_eq "$(body_of "$output" | json_get applied)" false applied
	run panel_api POST /v1/containers/pn1/unlock '{"start": true}'
	assert_eq "$(code_of "$output")" 200 "unlock: $output"
	wait_for 10 ct_is_state pn1 running || fail "not running"
	run field pn1 locked
	assert_failure
	grep -q '"locked"' "$VSD_ROOT/containers/pn1/config.json" && fail "still in config.json"
	run in_ct pn1 hostname
	assert_success
	assert_eq "$output" vps1.example
	hash_ok "$(root_hash pn1)" 'third Pass-3' || fail "queued password not applied"
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

@test "reinstall: a new root, the plan, hostname and state kept, new credentials" {
	in_ct pn1 sh -c 'echo customer-data >/root/marker'
	local before_cfg
	before_cfg=$("$PY" -c 'import json,sys; c=json.load(open(sys.argv[1])); [c.pop(k, None) for k in ("template",)]; print(json.dumps(c, sort_keys=True))' \
		"$VSD_ROOT/containers/pn1/config.json")
	# Bad requests change nothing.
	run panel_api POST /v1/containers/pn1/reinstall '{"template": "nosuch"}'
	assert_eq "$(code_of "$output")" 404 "$output"
	run panel_api POST /v1/containers/pn1/reinstall '{"hostname": "x"}'
	assert_eq "$(code_of "$output")" 400 "$output"
	run vsctl reinstall pn1 </dev/null
	assert_status 2
	assert_contains "$output" "--yes"
	run in_ct pn1 cat /root/marker
	assert_eq "$output" customer-data "marker after refused reinstalls"

	run panel_api POST /v1/containers/pn1/reinstall \
		'{"root_password": "fresh Pass-4", "ssh_keys": ["'"$KEY1"'"]}'
	assert_eq "$(code_of "$output")" 200 "reinstall: $output"
	wait_for 10 ct_is_state pn1 running || fail "not running again"
	run in_ct pn1 cat /root/marker
	assert_failure
	assert_eq "$(field pn1 hostname)" vps1.example hostname
	assert_eq "$(field pn1 limits.pids)" 200 "plan kept"
	run in_ct pn1 hostname
	assert_eq "$output" vps1.example
	local after_cfg
	after_cfg=$("$PY" -c 'import json,sys; c=json.load(open(sys.argv[1])); [c.pop(k, None) for k in ("template",)]; print(json.dumps(c, sort_keys=True))' \
		"$VSD_ROOT/containers/pn1/config.json")
	assert_eq "$after_cfg" "$before_cfg" "config (limits, idmap, net, hostname) changed"
	hash_ok "$(root_hash pn1)" 'fresh Pass-4' || fail "new password not set"
	run in_ct pn1 cat /root/.ssh/authorized_keys
	assert_eq "$output" "$KEY1" "keys in the new root"
	[[ ! -e "$VSD_ROOT/containers/pn1/.reinstall-empty" ]] || fail "leftover"
}

@test "vsctl passwd, ssh-key add and reinstall --yes read secrets from files, not argv" {
	local pwf="$VSD_TMP/pw" kf="$VSD_TMP/keys"
	printf 'file Pass-5\n' >"$pwf"
	printf '# panel keys\n%s\n\n' "$KEY2" >"$kf"
	run vsctl passwd pn1 --password-file "$pwf"
	assert_success
	hash_ok "$(root_hash pn1)" 'file Pass-5' || fail "passwd from file"
	run vsctl passwd pn1 --password-file - <<<'stdin Pass-6'
	assert_success
	hash_ok "$(root_hash pn1)" 'stdin Pass-6' || fail "passwd from stdin"
	run vsctl ssh-key add pn1 --file "$kf"
	assert_success
	run in_ct pn1 cat /root/.ssh/authorized_keys
	assert_eq "$output" "$KEY1"$'\n'"$KEY2" "key added"
	run vsctl ssh-key add pn1
	assert_status 2
	run vsctl reinstall pn1 --yes --root-password-file "$pwf"
	assert_success
	wait_for 10 ct_is_state pn1 running || fail "not running"
	hash_ok "$(root_hash pn1)" 'file Pass-5' || fail "reinstall password"
	# create with both, and an empty password file refused before anything.
	: >"$VSD_TMP/empty"
	run vsctl create pn2 --template busybox --root-password-file "$VSD_TMP/empty"
	assert_failure
	assert_contains "$output" "empty"
	[[ ! -e "$VSD_ROOT/containers/pn2" ]] || fail "created anyway"
	run vsctl create pn2 --template busybox --root-password-file - --ssh-key-file "$kf" <<<'create Pass-7'
	assert_success
	run vsctl start pn2
	assert_success
	hash_ok "$(root_hash pn2)" 'create Pass-7' || fail "create password"
	run in_ct pn2 cat /root/.ssh/authorized_keys
	assert_eq "$output" "$KEY2" "create key"
	run vsctl destroy --force pn2
	assert_success
}

# cpu NAME [SINCE]: cpu_seconds of GET .../usage.
cpu() {
	local out
	out=$(panel_api GET "/v1/containers/$1/usage${2:+?since=$2}") || return 1
	body_of "$out" | json_get cpu_seconds
}

# burn NAME: about half a second of CPU inside.
burn() { in_ct "$1" sh -c 'i=0; while [ $i -lt 150000 ]; do i=$((i+1)); done'; }

# gt A B, ge A B: A > B, A >= B as decimals.
gt() { "$PY" -c 'import sys; sys.exit(not float(sys.argv[1]) > float(sys.argv[2]))' "$1" "$2"; }
ge() { "$PY" -c 'import sys; sys.exit(not float(sys.argv[1]) >= float(sys.argv[2]))' "$1" "$2"; }

@test "usage: CPU seconds grow, over stops, starts and vsd restarts" {
	local c0 c1 c2 c3 out created
	burn pn1
	c0=$(cpu pn1)
	gt "$c0" 0 || fail "cpu_seconds: $c0"
	burn pn1
	c1=$(cpu pn1)
	gt "$c1" "$c0" || fail "did not grow: $c0 -> $c1"
	out=$(panel_api GET /v1/containers/pn1/usage)
	created=$(field pn1 created_at)
	assert_eq "$(body_of "$out" | json_get from)" "$created" "from without since"
	[[ "$(body_of "$out" | json_get memory.current_bytes)" =~ ^[0-9]+$ ]] || fail "memory: $out"
	[[ "$(stat -c %a "$VSD_ROOT/containers/pn1/usage.json")" == 600 ]] || fail "ledger mode"
	# A stop and a start: the new run's counters add to the old.
	vsctl stop pn1
	c2=$(cpu pn1)
	ge "$c2" "$c1" || fail "lost at stop: $c1 -> $c2"
	vsctl start pn1
	burn pn1
	vsd_stop_daemon TERM
	vsd_start_daemon || fail "restart"
	c3=$(cpu pn1)
	gt "$c3" "$c2" || fail "lost over a restart: $c2 -> $c3"
	# Since now: from the newest sample, less than the whole.
	out=$(panel_api GET "/v1/containers/pn1/usage?since=$(date +%s)")
	(($(body_of "$out" | json_get from) > created)) || fail "from: $out"
	gt "$c3" "$(body_of "$out" | json_get cpu_seconds)" || fail "since now: $out"
	run vsctl usage pn1 --since 2020-01-01 --json
	assert_success
	assert_eq "$(json_get from <<<"$output")" "$created" "since 2020"
}

@test "usage: a bad since is 400" {
	run panel_api GET '/v1/containers/pn1/usage?since=yesterday'
	assert_eq "$(code_of "$output")" 400 "$output"
	assert_contains "$output" since
	run panel_api GET '/v1/containers/pn1/usage?since=-5'
	assert_eq "$(code_of "$output")" 400 "$output"
	run vsctl usage pn1 --since soon
	assert_status 2
	run panel_api GET '/v1/containers/nosuch/usage'
	assert_eq "$(code_of "$output")" 404 "$output"
}

# conforms METHOD PATTERN PATH [BODY]: the answer of panel_api matches the
# OpenAPI document's operation for PATTERN (status, type, schema).
conforms() {
	local method=$1 pattern=$2 path=$3 body=${4:-} out code
	out=$(panel_api "$method" "$path" "$body") || fail "$method $path: curl failed"
	code=$(code_of "$out")
	body_of "$out" | "$PY" "$BATS_TEST_DIRNAME/openapi-check.py" "$VSD_REPO/docs/openapi.json" \
		"$method" "$pattern" "$code" application/json ||
		fail "$method $path ($code): does not conform: $out"
}

@test "the panel's answers conform to the OpenAPI document" {
	conforms POST /v1/containers/{name}/lock /v1/containers/pn1/lock '{"reason": "check"}'
	conforms GET /v1/containers/{name} /v1/containers/pn1
	conforms POST /v1/containers/{name}/password /v1/containers/pn1/password '{"password": "x1"}'
	conforms POST /v1/containers/{name}/unlock /v1/containers/pn1/unlock '{"start": true}'
	conforms POST /v1/containers/{name}/ssh-keys /v1/containers/pn1/ssh-keys '{"keys": ["'"$KEY1"'"]}'
	conforms POST /v1/containers/{name}/password /v1/containers/pn1/password '{"user": "nosuch", "password": "x"}'
	conforms GET /v1/containers/{name}/usage '/v1/containers/pn1/usage?since=0'
	conforms GET /v1/containers/{name}/usage '/v1/containers/pn1/usage?since=x'
	conforms POST /v1/containers/{name}/reinstall /v1/containers/pn1/reinstall '{}'
	conforms POST /v1/containers/{name}/reinstall /v1/containers/pn1/reinstall '{"template": "nosuch"}'
	wait_for 10 ct_is_state pn1 running || fail "not running"
}

@test "an owner's VPSes: listed for the panel; the account's own token sees only them and cannot unlock" {
	run panel_api POST /v1/containers '{"name": "pn-other", "template": "busybox", "owner": "zed"}'
	assert_eq "$(code_of "$output")" 201 "create: $output"
	run panel_api GET '/v1/containers?owner=acme'
	assert_eq "$(code_of "$output")" 200
	assert_contains "$output" '"pn1"'
	assert_not_contains "$output" 'pn-other'
	PANEL_AS=acme run panel_api GET /v1/containers
	assert_contains "$output" '"pn1"'
	assert_not_contains "$output" 'pn-other'
	PANEL_AS=acme run panel_api GET /v1/containers/pn-other
	assert_eq "$(code_of "$output")" 404
	# The lock is the panel's: an account cannot lift it (nor set one).
	PANEL_AS=acme run panel_api POST /v1/containers/pn1/unlock '{}'
	assert_eq "$(code_of "$output")" 403
	PANEL_AS=acme run panel_api POST /v1/containers/pn1/lock '{"reason": "x"}'
	assert_eq "$(code_of "$output")" 403
	run panel_api DELETE /v1/containers/pn-other
	assert_eq "$(code_of "$output")" 200
}

@test "create and start in one call" {
	run panel_api POST /v1/containers '{"name": "pn2", "template": "busybox", "start": "yes"}'
	assert_eq "$(code_of "$output")" 400 "bad start: $output"
	assert_contains "$output" "start"
	[[ ! -e "$VSD_ROOT/containers/pn2" ]] || fail "made despite a bad request"
	run panel_api POST /v1/containers \
		'{"name": "pn2", "template": "busybox", "owner": "acme", "start": true,
		  "limits": {"memory": "64M"}, "root_password": "one Call-2"}'
	assert_eq "$(code_of "$output")" 201 "create: $output"
	assert_eq "$(body_of "$output" | json_get state)" running state
	run field pn2 start_error
	assert_failure
	local h
	h=$(root_hash pn2)
	hash_ok "$h" 'one Call-2' || fail "hash does not verify: $h"
	run panel_api DELETE '/v1/containers/pn2?force=1'
	assert_eq "$(code_of "$output")" 200 "delete: $output"
}

@test "terminate" {
	run panel_api DELETE '/v1/containers/pn1?force=1'
	assert_eq "$(code_of "$output")" 200 "delete: $output"
	[[ ! -e "$VSD_ROOT/containers/pn1" ]] || fail "directory left"
}
