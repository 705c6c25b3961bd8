#!/usr/bin/env bats
# The OpenAPI contract against a running vsd: GET /v1/openapi.json serves
# docs/openapi.json as built, and live answers (success and error) validate
# against its response schemas (tests/integration/openapi-check.py,
# python3-jsonschema, Draft 2020-12).

load helpers

CHECK="$BATS_TEST_DIRNAME/openapi-check.py"

setup_file() {
	local port
	port=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	export OA_URL="https://127.0.0.1:$port"
	export VSD_DAEMON_ARGS="--listen 127.0.0.1:$port"
	vsd_setup_file || return 1
	ct_create_started oa1 --memory 128M --pids 64 || return 1
}
teardown_file() { vsd_teardown_file; }
teardown() {
	vsd_teardown_test
	local d
	for d in "$VSD_ROOT"/containers/*/; do
		[[ -d "$d" && "$(basename "$d")" != oa1 ]] || continue
		timeout 60 "$VSCTL_BIN" destroy --force "$(basename "$d")" >/dev/null 2>&1 ||
			echo "teardown: destroy $(basename "$d") failed" >&2
	done
	"$VSCTL_BIN" pool remove oapool >/dev/null 2>&1 || true
}

# served_doc: GET /v1/openapi.json into $VSD_TMP/openapi.json.
served_doc() {
	[[ -s "$VSD_TMP/openapi.json" ]] && return 0
	curl -sS --fail --max-time 30 --unix-socket "$VSD_SOCKET" \
		-o "$VSD_TMP/openapi.json" http://vsd/v1/openapi.json
}

# conforms METHOD PATTERN PATH [curl args...]: call PATH and check the
# answer (status, content type, body) against PATTERN's operation.
conforms() {
	local method=$1 pattern=$2 path=$3 out meta code ctype
	shift 3
	served_doc || fail "GET /v1/openapi.json failed"
	out="$VSD_TMP/answer"
	meta=$(curl -sS --max-time 60 --unix-socket "$VSD_SOCKET" -X "$method" -o "$out" \
		-w '%{http_code} %{content_type}' "$@" "http://vsd$path") || fail "$method $path: curl failed"
	code=${meta%% *}
	ctype=${meta#* }
	"$PY" "$CHECK" "$VSD_TMP/openapi.json" "$method" "$pattern" "$code" "$ctype" <"$out" ||
		fail "$method $path ($code): the answer does not conform: $(head -c 600 "$out")"
	LAST_CODE=$code
}

@test "GET /v1/openapi.json serves docs/openapi.json as built, as JSON" {
	served_doc
	cmp "$VSD_TMP/openapi.json" "$VSD_REPO/docs/openapi.json"
	run curl -sS --unix-socket "$VSD_SOCKET" -o /dev/null -w '%{http_code} %{content_type}' \
		http://vsd/v1/openapi.json
	assert_eq "$output" "200 application/json"
	assert_eq "$(json_get openapi <"$VSD_TMP/openapi.json")" 3.1.0
	run "$PY" "$CHECK" "$VSD_TMP/openapi.json" --schemas
	assert_success
}

@test "openapi: containers, node, stats, templates, metrics conform" {
	conforms GET /v1/containers /v1/containers
	assert_eq "$LAST_CODE" 200
	conforms GET '/v1/containers/{name}' /v1/containers/oa1
	assert_eq "$LAST_CODE" 200
	conforms GET '/v1/containers/{name}/stats' /v1/containers/oa1/stats
	assert_eq "$LAST_CODE" 200
	conforms GET /v1/node /v1/node
	conforms GET /v1/templates /v1/templates
	conforms GET '/v1/templates/{name}' /v1/templates/busybox
	assert_eq "$LAST_CODE" 200
	conforms GET /metrics /metrics
	conforms GET '/v1/containers/{name}/snapshots' /v1/containers/oa1/snapshots
	assert_eq "$LAST_CODE" 200
}

@test "openapi: error answers conform (400, 404, 405, 409)" {
	conforms GET '/v1/containers/{name}' /v1/containers/nosuch
	assert_eq "$LAST_CODE" 404
	conforms GET '/v1/containers/{name}' /v1/containers/Bad_Name
	assert_eq "$LAST_CODE" 400
	conforms DELETE /v1/node /v1/node
	assert_eq "$LAST_CODE" 405
	conforms POST /v1/containers /v1/containers -H 'Content-Type: application/json' \
		-d '{"name": "oa2", "template": "busybox", "bogus": 1}'
	assert_eq "$LAST_CODE" 400
	conforms PUT '/v1/containers/{name}/state' /v1/containers/oa1/state \
		-H 'Content-Type: application/json' -d '{"action": "start"}'
	assert_eq "$LAST_CODE" 409
	conforms GET '/v1/operations/{id}' /v1/operations/999999
	assert_eq "$LAST_CODE" 404
}

@test "openapi: create, update, state, delete and pools conform" {
	conforms POST /v1/pools /v1/pools -H 'Content-Type: application/json' \
		-d '{"name": "oapool", "memory": "50%", "cpus": "1", "pids": 500}'
	assert_eq "$LAST_CODE" 201
	conforms GET /v1/pools /v1/pools
	conforms POST /v1/containers /v1/containers -H 'Content-Type: application/json' \
		-d '{"name": "oa2", "template": "busybox", "limits": {"memory": "64M", "cpus": "0.5"}, "pool": "oapool"}'
	assert_eq "$LAST_CODE" 201
	conforms PATCH '/v1/containers/{name}' /v1/containers/oa2 -H 'Content-Type: application/json' \
		-d '{"limits": {"pids": 100}}'
	assert_eq "$LAST_CODE" 200
	conforms PUT '/v1/containers/{name}/state' /v1/containers/oa2/state \
		-H 'Content-Type: application/json' -d '{"action": "start"}'
	assert_eq "$LAST_CODE" 200
	conforms PUT '/v1/containers/{name}/state' /v1/containers/oa2/state \
		-H 'Content-Type: application/json' -d '{"action": "stop", "timeout": 5}'
	assert_eq "$LAST_CODE" 200
	conforms GET '/v1/pools/{name}' /v1/pools/oapool
	assert_eq "$LAST_CODE" 200
	conforms DELETE '/v1/containers/{name}' /v1/containers/oa2
	assert_eq "$LAST_CODE" 200
	conforms DELETE '/v1/pools/{name}' /v1/pools/oapool
	assert_eq "$LAST_CODE" 200
}

@test "openapi: a snapshot operation and its result conform" {
	local id status i
	conforms POST '/v1/containers/{name}/snapshots' /v1/containers/oa1/snapshots \
		-H 'Content-Type: application/json' -d '{"name": "s1"}'
	assert_eq "$LAST_CODE" 202
	id=$(json_get id <"$VSD_TMP/answer")
	for ((i = 0; i < 300; i++)); do
		conforms GET '/v1/operations/{id}' "/v1/operations/$id"
		status=$(json_get status <"$VSD_TMP/answer")
		[[ "$status" != running ]] && break
		sleep 0.1
	done
	assert_eq "$status" success "operation $id"
	conforms GET '/v1/containers/{name}/snapshots/{snap}' /v1/containers/oa1/snapshots/s1
	assert_eq "$LAST_CODE" 200
	conforms DELETE '/v1/containers/{name}/snapshots/{snap}' /v1/containers/oa1/snapshots/s1
	assert_eq "$LAST_CODE" 200
}

@test "openapi: a client typed by openapi-typescript drives create, start, status, exec, stop, destroy over HTTPS with a token" {
	local dir="$VSD_TMP/client" tools="$VSD_REPO/.tools/node_modules/.bin" out fp
	"$VSD_REPO/scripts/install-dev-tools.sh" >/dev/null || fail "install-dev-tools.sh failed"
	served_doc
	mkdir -p "$dir"
	cp "$BATS_TEST_DIRNAME"/openapi-client/*.ts "$dir/"
	# The types come from the document the daemon serves; the client must
	# type-check against them before it runs.
	run "$tools/openapi-typescript" "$VSD_TMP/openapi.json" -o "$dir/vsd.d.ts"
	assert_success
	run "$tools/tsc" --strict --target es2022 --module nodenext --moduleResolution nodenext \
		--skipLibCheck --outDir "$dir/out" "$dir/client.ts" "$dir/node-shim.d.ts"
	assert_success
	# A panel's operate token, and the node's certificate to pin.
	out=$(api POST /v1/tokens -d '{"name": "oa-client", "scope": "operate"}' | sed '$d')
	(umask 077 && json_get secret <<<"$out" >"$dir/token")
	fp=$(api GET /v1/node | sed '$d' | "$PY" -c 'import json, sys; print(json.load(sys.stdin)["tls"]["fingerprint"])')
	[[ ${#fp} == 64 ]] || fail "no fingerprint in GET /v1/node: $fp"
	VSD_URL=$OA_URL VSD_TOKEN_FILE="$dir/token" VSD_FP=$fp \
		NODE_EXTRA_CA_CERTS="$VSD_ROOT/auth/node.crt" \
		run timeout 60 node --no-warnings --experimental-websocket "$dir/out/client.js" oacl
	assert_success
	assert_eq "$(squash "$output")" "created oacl stopped started running init_pid>0=true status running memory=67108864 exec stdout=hello-42 exit=3 stopped stopped destroyed oacl gone not_found"
	# A wrong pin is refused before anything is believed.
	VSD_URL=$OA_URL VSD_TOKEN_FILE="$dir/token" VSD_FP=$(printf '0%.0s' {1..64}) \
		NODE_EXTRA_CA_CERTS="$VSD_ROOT/auth/node.crt" \
		run timeout 60 node --no-warnings --experimental-websocket "$dir/out/client.js" oacl2
	assert_failure
	assert_contains "$output" "pinned"
	[[ ! -e "$VSD_ROOT/containers/oacl2" ]] || fail "created through a connection whose pin failed"
}
