#!/usr/bin/env bats
# The HTTPS listener (issue 8, items 1, 2 and 10): vsd --listen on
# 127.0.0.1, the node's certificate, client certificates trusted by
# fingerprint, one-time join tokens, and a listener that many idle and
# half-sent connections cannot take down or use to block the unix socket.

load helpers

setup_file() {
	local port
	port=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	export TLS_PORT=$port
	export TLS_URL="https://127.0.0.1:$port"
	# A short idle timeout for the robustness test.
	export VSD_DAEMON_ARGS="--listen 127.0.0.1:$port --listen-timeout 3"
	vsd_setup_file || return 1
	# A client certificate (the operator's machine) and another one.
	local c
	for c in client other; do
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
			-keyout "$VSD_TMP/$c.key" -out "$VSD_TMP/$c.crt" -days 2 -subj "/CN=$c" \
			2>/dev/null || return 1
	done
}
teardown_file() { vsd_teardown_file; }
teardown() { vsd_teardown_test; }

# tls [curl args]: a request to the HTTPS listener; prints the body and
# "HTTP CODE" on a line of its own. The server's certificate is
# self-signed: -k here, its fingerprint is checked separately.
tls() {
	curl -sS -k --max-time 20 -w '\nHTTP %{http_code}\n' "$@"
}
tls_cert() { tls --cert "$VSD_TMP/client.crt" --key "$VSD_TMP/client.key" "$@"; }

fp_of() { openssl x509 -in "$1" -outform DER | sha256sum | cut -d' ' -f1; }

# The SHA-256 of the certificate the listener presents.
served_fp() {
	"$PY" - "$TLS_PORT" <<'EOF'
import hashlib, socket, ssl, sys
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
with socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10) as s:
    with ctx.wrap_socket(s) as t:
        print(hashlib.sha256(t.getpeercert(binary_form=True)).hexdigest())
EOF
}

join_token() {
	api POST /v1/trust/tokens -d "{\"name\":\"$1\",\"expires\":${2:-600}}" | head -1 | json_get token
}

@test "GET /v1/node shows the listener and the fingerprint of the certificate it serves" {
	run api GET /v1/node
	assert_success
	local fp
	fp=$(echo "$output" | head -1 | json_get tls.fingerprint)
	[[ "$fp" =~ ^[0-9a-f]{64}$ ]] || fail "fingerprint: '$fp'"
	assert_eq "$(served_fp)" "$fp"
	assert_contains "$output" "\"listen\":[\"127.0.0.1:$TLS_PORT\"]"
	# Key owner-only, in an owner-only directory.
	assert_eq "$(stat -c %a "$VSD_ROOT/auth")" 700
	assert_eq "$(stat -c %a "$VSD_ROOT/auth/node.key")" 600
}

@test "no credential, a wrong token, an untrusted certificate: 401 JSON, logged" {
	run tls "$TLS_URL/v1/containers"
	assert_contains "$output" "HTTP 401"
	assert_contains "$output" '"code":"unauthorized"'
	run tls -H 'Authorization: Bearer wrongwrongwrong' "$TLS_URL/v1/containers"
	assert_contains "$output" "HTTP 401"
	assert_not_contains "$(cat "$VSD_TMP/vsd.log")" wrongwrongwrong
	run tls_cert -X POST -d '{"name":"x","template":"busybox"}' "$TLS_URL/v1/containers"
	assert_contains "$output" "HTTP 401"
	assert_contains "$(cat "$VSD_TMP/vsd.log")" "refused (untrusted certificate)"
	# Admin routes too, and nothing was created.
	run tls_cert -X POST -d '{"name":"evil"}' "$TLS_URL/v1/trust/tokens"
	assert_contains "$output" "HTTP 401"
	run api GET /v1/trust/tokens
	assert_not_contains "$output" evil
}

@test "TLS 1.1 and older are refused" {
	run curl -sk --max-time 10 --tlsv1.0 --tls-max 1.1 -o /dev/null "$TLS_URL/v1/node"
	assert_failure
	run curl -sk --max-time 10 --tlsv1.2 --tls-max 1.2 -o /dev/null -w '%{http_code}' \
		"$TLS_URL/v1/node"
	assert_eq "$output" 401
}

@test "a join token trusts the presenting certificate once; then it works over HTTPS" {
	local tok fp
	tok=$(join_token laptop)
	[[ "$tok" =~ ^[0-9a-f]{64}$ ]] || fail "token: '$tok'"
	# Stored only as a hash; never logged.
	assert_not_contains "$(cat "$VSD_ROOT/auth/trust.json")" "$tok"
	assert_not_contains "$(cat "$VSD_TMP/vsd.log")" "$tok"
	# Without a client certificate there is nothing to trust: 400, token kept.
	run tls -X POST -d "{\"token\":\"$tok\"}" "$TLS_URL/v1/trust/join"
	assert_contains "$output" "HTTP 400"
	# A wrong token: 401.
	run tls_cert -X POST -d '{"token":"0000"}' "$TLS_URL/v1/trust/join"
	assert_contains "$output" "HTTP 401"
	run tls_cert -X POST -d "{\"token\":\"$tok\"}" "$TLS_URL/v1/trust/join"
	assert_contains "$output" "HTTP 201"
	fp=$(fp_of "$VSD_TMP/client.crt")
	assert_contains "$output" "\"fingerprint\":\"$fp\""
	# Once only, even from another certificate.
	run tls --cert "$VSD_TMP/other.crt" --key "$VSD_TMP/other.key" -X POST \
		-d "{\"token\":\"$tok\"}" "$TLS_URL/v1/trust/join"
	assert_contains "$output" "HTTP 401"
	run api GET /v1/trust
	assert_contains "$output" "\"name\":\"laptop\",\"fingerprint\":\"$fp\""
	assert_not_contains "$output" "$(fp_of "$VSD_TMP/other.crt")"

	# The lifecycle over HTTPS with the trusted certificate.
	run tls_cert -X POST -d '{"name":"tls1","template":"busybox"}' "$TLS_URL/v1/containers"
	assert_contains "$output" "HTTP 201"
	run tls_cert -X PUT -d '{"action":"start"}' "$TLS_URL/v1/containers/tls1/state"
	assert_contains "$output" "HTTP 200"
	assert_contains "$output" '"state":"running"'
	run tls_cert "$TLS_URL/v1/containers"
	assert_contains "$output" '"name":"tls1"'
	run tls_cert -X PUT -d '{"action":"stop","timeout":5}' "$TLS_URL/v1/containers/tls1/state"
	assert_contains "$output" "HTTP 200"
	run tls_cert -X DELETE "$TLS_URL/v1/containers/tls1"
	assert_contains "$output" "HTTP 200"
	run api GET /v1/containers/tls1
	assert_contains "$output" "HTTP 404"
}

@test "an expired join token is 401" {
	local tok
	tok=$(join_token brief 1)
	sleep 2
	run tls --cert "$VSD_TMP/other.crt" --key "$VSD_TMP/other.key" -X POST \
		-d "{\"token\":\"$tok\"}" "$TLS_URL/v1/trust/join"
	assert_contains "$output" "HTTP 401"
	run api GET /v1/trust/tokens
	assert_not_contains "$output" brief
}

@test "trust add by PEM, list, remove; bad input changes nothing" {
	local fp pem
	fp=$(fp_of "$VSD_TMP/other.crt")
	pem=$("$PY" -c 'import json,sys; print(json.dumps(open(sys.argv[1]).read()))' "$VSD_TMP/other.crt")
	run api POST /v1/trust -d "{\"name\":\"ops\",\"certificate\":$pem}"
	assert_contains "$output" "HTTP 201"
	assert_contains "$output" "\"fingerprint\":\"$fp\""
	run tls --cert "$VSD_TMP/other.crt" --key "$VSD_TMP/other.key" "$TLS_URL/v1/trust"
	assert_contains "$output" "HTTP 200"
	assert_contains "$output" '"name":"ops"'
	run api POST /v1/trust -d '{"name":"bad","certificate":"-----BEGIN nonsense"}'
	assert_contains "$output" "HTTP 400"
	run api POST /v1/trust -d '{"name":"bad","fingerprint":"1234"}'
	assert_contains "$output" "HTTP 400"
	run api POST /v1/trust -d "{\"name\":\"ops2\",\"fingerprint\":\"$fp\"}"
	assert_contains "$output" "HTTP 409"
	run api GET /v1/trust
	assert_not_contains "$output" '"bad"'
	assert_not_contains "$output" '"ops2"'
	run api DELETE "/v1/trust/$fp"
	assert_contains "$output" "HTTP 200"
	run tls --cert "$VSD_TMP/other.crt" --key "$VSD_TMP/other.key" "$TLS_URL/v1/trust"
	assert_contains "$output" "HTTP 401"
	run api DELETE "/v1/trust/$fp"
	assert_contains "$output" "HTTP 404"
}

@test "hundreds of idle and half-sent connections: both transports still answer, the idle ones are closed" {
	local ready="$VSD_TMP/flood.ready" out="$VSD_TMP/flood.json" t0 t1
	rm -f "$ready"
	"$PY" "$BATS_TEST_DIRNAME/tls-flood.py" "$TLS_PORT" 300 15 "$ready" >"$out" &
	local flood=$!
	wait_for 10 test -s "$ready" || { kill "$flood"; fail "the flood did not start"; }
	# Another client address (the per-address limit is what the flood
	# exhausts on 127.0.0.1): answered at once over TLS...
	t0=$(now_ms)
	run curl -sk --max-time 5 --interface 127.0.0.2 -o /dev/null -w '%{http_code}' \
		"$TLS_URL/v1/node"
	t1=$(now_ms)
	assert_eq "$output" 401
	(((t1 - t0) < 2000)) || fail "TLS answered in $((t1 - t0)) ms"
	# ... and over the unix socket.
	t0=$(now_ms)
	assert_eq "$(api_code GET /v1/node)" 200
	t1=$(now_ms)
	(((t1 - t0) < 2000)) || fail "unix socket answered in $((t1 - t0)) ms"
	wait "$flood"
	cat "$out"
	assert_eq "$(json_get still_open <"$out")" 0
	assert_eq "$(json_get closed <"$out")" "$(json_get opened <"$out")"
	pid_alive "$(vsd_pid)" || fail "vsd died"
	assert_eq "$(api_code GET /v1/node)" 200
	run curl -sk --max-time 5 -o /dev/null -w '%{http_code}' "$TLS_URL/v1/node"
	assert_eq "$output" 401
}

@test "a request head trickled a byte at a time is cut after the listener's timeout" {
	local out
	# --listen-timeout 3: idle-only timeouts would never cut it (a byte
	# every 0.5 s); the request-head deadline does.
	out=$("$PY" "$BATS_TEST_DIRNAME/tls-trickle.py" "$TLS_PORT" 0.5 20)
	echo "$out"
	local cut
	cut=$(echo "$out" | json_get cut_after)
	[[ "$cut" != null ]] || fail "not cut within 20 s"
	"$PY" -c "import sys; t = float(sys.argv[1]); sys.exit(not 2.5 <= t <= 6)" "$cut" ||
		fail "cut after $cut s, expected about 3"
	pid_alive "$(vsd_pid)" || fail "vsd died"
	assert_eq "$(api_code GET /v1/node)" 200
}

@test "trust answers, and 401 over HTTPS, conform to the OpenAPI document" {
	local doc="$VSD_TMP/openapi.json" out="$VSD_TMP/answer" meta spec method pattern url
	curl -sS --fail --unix-socket "$VSD_SOCKET" -o "$doc" http://vsd/v1/openapi.json
	# METHOD|PATTERN|URL|BODY, over the unix socket unless the URL is https.
	while IFS='|' read -r method pattern url spec; do
		local via=(--unix-socket "$VSD_SOCKET")
		[[ "$url" == https* ]] && via=(-k)
		meta=$(curl -sS --max-time 20 "${via[@]}" -X "$method" -o "$out" \
			-w '%{http_code} %{content_type}' ${spec:+-d "$spec"} "$url")
		"$PY" "$BATS_TEST_DIRNAME/openapi-check.py" "$doc" "$method" "$pattern" \
			"${meta%% *}" "${meta#* }" <"$out" ||
			fail "$method $url (${meta%% *}): $(head -c 400 "$out")"
	done <<CASES
POST|/v1/trust/tokens|http://vsd/v1/trust/tokens|{"name":"oa","expires":60}
GET|/v1/trust/tokens|http://vsd/v1/trust/tokens|
DELETE|/v1/trust/tokens/{name}|http://vsd/v1/trust/tokens/oa|
GET|/v1/trust|http://vsd/v1/trust|
POST|/v1/trust|http://vsd/v1/trust|{"name":"oa2","fingerprint":"1234"}
GET|/v1/node|$TLS_URL/v1/node|
POST|/v1/trust/join|$TLS_URL/v1/trust/join|{"token":"nope"}
CASES
}

@test "the certificate is kept over restarts; bad --listen values are refused" {
	local before
	before=$(served_fp)
	vsd_stop_daemon
	vsd_start_daemon
	assert_eq "$(served_fp)" "$before"
	run "$VSD_BIN" --root "$VSD_TMP/none" --listen 127.0.0.1 --help
	assert_status 2
	assert_contains "$output" "--listen: '127.0.0.1': expected ADDR:PORT"
	run "$VSD_BIN" --root "$VSD_TMP/none" --listen '[::1]:99999' --help
	assert_status 2
	run "$VSD_BIN" --root "$VSD_TMP/none" --listen-timeout 0 --help
	assert_status 2
	[[ ! -e "$VSD_TMP/none" ]] || fail "a refused start made $VSD_TMP/none"
}

@test "vsctl trust token, add, list, remove; node info shows the fingerprint" {
	local tok fp
	# The secret alone on stdout (the rest goes to stderr).
	tok=$(vsctl trust token desk --expires 10m 2>/dev/null)
	[[ "$tok" =~ ^[0-9a-f]{64}$ ]] || fail "token: '$tok'"
	run vsctl trust tokens
	assert_contains "$output" desk
	run vsctl trust token bad --expires soon
	assert_status 2
	assert_contains "$output" "--expires: expected a duration"
	run vsctl trust add "Bad Name" "$VSD_TMP/other.crt"
	assert_status 2
	run vsctl trust add desk2 "$VSD_TMP/other.crt"
	assert_success
	fp=$(fp_of "$VSD_TMP/other.crt")
	assert_contains "$output" "$fp"
	run vsctl trust list
	assert_contains "$output" "desk2"
	assert_contains "$output" "$fp"
	run vsctl trust remove "$fp"
	assert_success
	run vsctl trust list
	assert_not_contains "$output" "$fp"
	run vsctl node info
	assert_contains "$output" "tls.fingerprint: $(served_fp)"
}

# ---- remote vsctl ---------------------------------------------------------

# rvsctl ARGS...: vsctl with a private configuration (remotes, client
# certificate) under $VSD_TMP/xdg.
rvsctl() { XDG_CONFIG_HOME="$VSD_TMP/xdg" "$VSCTL_BIN" "$@"; }

@test "vsctl remote add: refuses an unpinned fingerprint without a terminal, redeems a join token, drives REMOTE:NAME" {
	local fp tokfile="$VSD_TMP/join.tok"
	fp=$(served_fp)
	vsctl trust token node1 --expires 10m >"$tokfile" 2>/dev/null
	# No --accept-fingerprint and no terminal: refused, nothing stored.
	run rvsctl remote add n1 "$TLS_URL" --join-token-file "$tokfile" </dev/null
	assert_failure
	assert_contains "$output" "--accept-fingerprint $fp"
	[[ ! -e "$VSD_TMP/xdg/vsctl/remotes.json" ]] || fail "remotes.json written"
	# A wrong fingerprint: refused.
	run rvsctl remote add n1 "$TLS_URL" --join-token-file "$tokfile" \
		--accept-fingerprint "$(printf '0%.0s' {1..64})"
	assert_failure
	assert_contains "$output" "not added"
	run rvsctl remote add n1 "$TLS_URL" --join-token-file "$tokfile" --accept-fingerprint "$fp"
	assert_success
	assert_eq "$(stat -c %a "$VSD_TMP/xdg/vsctl/remotes.json")" 600
	assert_eq "$(stat -c %a "$VSD_TMP/xdg/vsctl/client.key")" 600
	assert_not_contains "$(cat "$VSD_TMP/xdg/vsctl/remotes.json")" "$(cat "$tokfile")"
	run api GET /v1/trust
	assert_contains "$output" "\"name\":\"node1\",\"fingerprint\":\"$(fp_of "$VSD_TMP/xdg/vsctl/client.crt")\""
	# The token was used: adding again with it fails (401).
	run rvsctl remote add n1b "$TLS_URL" --join-token-file "$tokfile" --accept-fingerprint "$fp"
	assert_failure
	assert_contains "$output" "unknown, already used or expired"
	run rvsctl remote list
	assert_contains "$output" "n1"
	assert_contains "$output" "$fp"

	# The lifecycle through REMOTE:NAME.
	run rvsctl create n1:rc1 --template busybox
	assert_success
	run rvsctl start n1:rc1
	assert_success
	run rvsctl --remote n1 list
	assert_contains "$output" rc1
	assert_eq "$(ct_field rc1 state)" running
	# exec over HTTPS (a WebSocket on the TLS connection): output, the
	# exit status, stdin; run on the node, seen by its hostname.
	run rvsctl exec n1:rc1 -- sh -c 'echo out; echo err >&2; hostname; exit 7'
	assert_status 7
	assert_contains "$output" "out"
	assert_contains "$output" "err"
	assert_contains "$output" "rc1"
	out=$(head -c 300000 /dev/urandom | base64 -w0 | rvsctl exec n1:rc1 -- sh -c 'cat | wc -c')
	assert_eq "$out" "$(head -c 300000 /dev/zero | base64 -w0 | wc -c)"
	# An operate API token, on a remote of its own: exec works, the node's
	# trust routes do not.
	api POST /v1/tokens -d '{"name": "rt-op", "scope": "operate"}' | head -n -1 >"$VSD_TMP/rt.json"
	python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["secret"])' \
		"$VSD_TMP/rt.json" >"$VSD_TMP/rt.tok"
	run rvsctl remote add tokrem "$TLS_URL" --token-file "$VSD_TMP/rt.tok" --accept-fingerprint "$fp"
	assert_success
	run rvsctl exec tokrem:rc1 -- echo via-token
	assert_success
	assert_contains "$output" "via-token"
	run rvsctl --remote tokrem trust list
	assert_failure
	assert_contains "$output" "admin"
	# vsctl monitor on a remote: the event stream over TLS, with the token
	# (bounded by timeout: monitor reconnects until stopped).
	XDG_CONFIG_HOME="$VSD_TMP/xdg" timeout 20 "$VSCTL_BIN" --remote tokrem monitor --json \
		>"$VSD_TMP/mon.out" 2>&1 &
	local mon=$! i
	for i in $(seq 20); do
		api POST /v1/containers -d '{"name": "mon1", "template": "busybox"}' >/dev/null
		api DELETE /v1/containers/mon1 >/dev/null
		grep -q '"mon1"' "$VSD_TMP/mon.out" && break
		sleep 0.5
	done
	kill "$mon" 2>/dev/null || true
	wait "$mon" 2>/dev/null || true
	grep -q '"container":"mon1"' "$VSD_TMP/mon.out" ||
		fail "no event through the remote monitor: $(head -c 500 "$VSD_TMP/mon.out")"
	run rvsctl stop n1:rc1 --timeout 5
	assert_success
	run rvsctl destroy n1:rc1
	assert_success
	run api GET /v1/containers/rc1
	assert_contains "$output" "HTTP 404"
	run rvsctl list nosuch:x
	assert_status 2
	run rvsctl status nosuch:x
	assert_status 2
	assert_contains "$output" "unknown remote 'nosuch'"
}

@test "vsctl remote: default remote, and a changed server certificate is refused" {
	run rvsctl remote default n1
	assert_success
	run rvsctl node info
	assert_contains "$output" "tls.fingerprint: $(served_fp)"
	run rvsctl remote default local
	assert_success
	# A new certificate on the node: vsctl refuses to talk to it.
	vsd_stop_daemon
	mv "$VSD_ROOT/auth/node.crt" "$VSD_ROOT/auth/node.crt.old"
	mv "$VSD_ROOT/auth/node.key" "$VSD_ROOT/auth/node.key.old"
	vsd_start_daemon
	run rvsctl --remote n1 list
	assert_failure
	assert_contains "$output" "the server's certificate changed"
	run rvsctl remote remove n1
	assert_success
	run rvsctl remote list
	assert_not_contains "$output" n1
	run rvsctl remote remove n1
	assert_failure
}

@test "vsctl loads GnuTLS only to talk to a remote; without its TLS module a remote command says what is missing" {
	# A local command maps no GnuTLS (about 3.5 ms of every vsctl run).
	run ldd "$VSCTL_BIN"
	assert_success
	assert_not_contains "$output" libgnutls
	[[ -f "$(dirname "$VSCTL_BIN")/vsctl-tls.so" ]] || fail "no vsctl-tls.so beside $VSCTL_BIN"
	# vsctl alone, without the module beside it or in ../libexec/vsd/:
	# local commands work, a remote one fails naming the module.
	mkdir -p "$VSD_TMP/lone/bin"
	cp "$VSCTL_BIN" "$VSD_TMP/lone/bin/vsctl"
	run "$VSD_TMP/lone/bin/vsctl" list
	assert_success
	run env XDG_CONFIG_HOME="$VSD_TMP/xdg-lone" "$VSD_TMP/lone/bin/vsctl" remote add n9 "$TLS_URL" \
		--accept-fingerprint "$(served_fp)"
	assert_failure
	assert_contains "$output" "vsctl-tls.so"
	[[ ! -e "$VSD_TMP/xdg-lone/vsctl/remotes.json" ]] || fail "remotes.json written"
	rm -rf "$VSD_TMP/lone" "$VSD_TMP/xdg-lone"
}
