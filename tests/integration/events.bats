#!/usr/bin/env bats
# Events (GET /v1/events, vsctl monitor), operations (list, long-poll,
# cancel) and ETag/If-Match (issue 8, items 5 and 6).

load helpers

setup_file() {
	vsd_setup_file || return 1
}
teardown_file() { vsd_teardown_file; }

# Background readers this test started (pids in $VSD_TMP/readers) go, even
# when the test failed.
teardown() {
	vsd_stop_readers
	vsd_teardown_test
}

# reader FILE [QUERY] [curl args]: follow the event stream into FILE.
reader() {
	local file=$1 query=${2:-}
	shift 2 || shift $#
	curl -sN --max-time 120 --unix-socket "$VSD_SOCKET" "$@" "http://vsd/v1/events$query" \
		>"$file" 2>/dev/null &
	echo $! >>"$VSD_TMP/readers"
	# The subscription exists once the response head is out; a probe
	# event would disturb the ids under test, so give it a moment.
	sleep 0.3
}

# events FILE [CONTAINER]: "TYPE ID" lines of the data objects in FILE.
events() {
	"$PY" - "$1" "${2:-}" <<'EOF'
import json, sys
for line in open(sys.argv[1]):
    if line.startswith("data: "):
        d = json.loads(line[6:])
        if not sys.argv[2] or d.get("container") == sys.argv[2]:
            print(d["type"], d["id"])
EOF
}

has_event() { events "$1" "${3:-}" | grep -q "^$2 "; }

@test "create, start, stop and destroy are events in order with increasing ids" {
	reader "$VSD_TMP/ev1"
	vsctl create ev1 --template busybox >/dev/null
	vsctl start ev1
	vsctl stop ev1 --timeout 5
	vsctl destroy ev1
	wait_for 5 has_event "$VSD_TMP/ev1" container-destroyed ev1
	run events "$VSD_TMP/ev1" ev1
	assert_eq "$(cut -d' ' -f1 <<<"$output" | tr '\n' ' ')" \
		"container-created container-started container-stopped container-destroyed "
	# Ids increase, and the SSE id: lines carry the same ids.
	run "$PY" -c '
import sys
ids = [int(l.split()[1]) for l in sys.argv[1].splitlines()]
assert ids == sorted(ids) and len(set(ids)) == len(ids), ids
' "$output"
	assert_success
	grep -q '^event: container-created$' "$VSD_TMP/ev1"
	grep -q '^id: [0-9]*$' "$VSD_TMP/ev1"
}

@test "a type filter passes only those types; an unknown type is 400" {
	reader "$VSD_TMP/ev2" "?type=container-created,container-destroyed"
	vsctl create ev2 --template busybox >/dev/null
	vsctl start ev2
	vsctl destroy ev2 --force
	wait_for 5 has_event "$VSD_TMP/ev2" container-destroyed ev2
	run events "$VSD_TMP/ev2"
	assert_eq "$(cut -d' ' -f1 <<<"$output" | tr '\n' ' ')" \
		"container-created container-destroyed "
	run api GET "/v1/events?type=container-created,nope"
	assert_contains "$output" "HTTP 400"
	assert_contains "$output" "unknown event type 'nope'"
}

@test "Last-Event-ID resumes after the given event" {
	reader "$VSD_TMP/ev3a"
	vsctl create ev3 --template busybox >/dev/null
	vsctl start ev3
	vsctl destroy ev3 --force
	wait_for 5 has_event "$VSD_TMP/ev3a" container-destroyed ev3
	local first
	first=$(events "$VSD_TMP/ev3a" ev3 | awk '$1 == "container-created" { print $2 }')
	[[ -n "$first" ]]
	# A new client that saw only the created event gets the rest.
	curl -sN --max-time 2 --unix-socket "$VSD_SOCKET" -H "Last-Event-ID: $first" \
		http://vsd/v1/events >"$VSD_TMP/ev3b" || true
	run events "$VSD_TMP/ev3b" ev3
	assert_eq "$(cut -d' ' -f1 <<<"$output" | tr '\n' ' ')" \
		"container-started container-stopped container-destroyed "
	run "$PY" -c 'import sys; assert all(int(l.split()[1]) > int(sys.argv[2]) for l in sys.argv[1].splitlines())' \
		"$output" "$first"
	assert_success
}

@test "a container whose init exits behind vsd's back is reported stopped" {
	ct_create_started ev4
	reader "$VSD_TMP/ev4"
	local pid
	pid=$(ct_init_pid ev4)
	kill -KILL "$pid"
	wait_for 10 has_event "$VSD_TMP/ev4" container-stopped ev4
	run events "$VSD_TMP/ev4" ev4
	assert_eq "$(grep -c container-stopped <<<"$output")" 1
	vsctl destroy ev4 --force
}

@test "a client that stops reading blocks nothing and is dropped" {
	ct_create_started ev5
	# A reader with a tiny receive buffer that never reads.
	"$PY" - "$VSD_SOCKET" "$VSD_TMP/ev5.out" "$VSD_TMP/ev5.go" <<'EOF' &
import os, socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
s.connect(sys.argv[1])
s.sendall(b"GET /v1/events HTTP/1.0\r\nHost: vsd\r\n\r\n")
deadline = time.time() + 100
while not os.path.exists(sys.argv[3]) and time.time() < deadline:
    time.sleep(0.1)
# Now drain: the daemon must have dropped us (EOF), with fewer events
# than were published.
s.settimeout(20)
data = b""
try:
    while True:
        b = s.recv(65536)
        if not b:
            break
        data += b
except OSError as e:
    data += b"\nERROR " + str(e).encode()
open(sys.argv[2], "wb").write(data)
EOF
	echo $! >>"$VSD_TMP/readers"
	local reader_pid=$!
	sleep 0.3
	# 400 events (the bus drops a client 256 behind), each a live update.
	local i slowest=0 t0 t1
	for i in $(seq 1 200); do
		curl -s --unix-socket "$VSD_SOCKET" -X PATCH -d '{"limits":{"pids":'$((100 + i))'}}' \
			-o /dev/null http://vsd/v1/containers/ev5
		curl -s --unix-socket "$VSD_SOCKET" -X PATCH -d '{"limits":{"pids":'$((400 + i))'}}' \
			-o /dev/null http://vsd/v1/containers/ev5
		if ((i % 50 == 0)); then
			t0=$(now_ms)
			vsctl list >/dev/null
			t1=$(now_ms)
			((t1 - t0 > slowest)) && slowest=$((t1 - t0))
		fi
	done
	echo "slowest vsctl list while a reader is stuck: ${slowest} ms" >&3
	((slowest < 1000))
	touch "$VSD_TMP/ev5.go"
	wait "$reader_pid"
	local n
	n=$(grep -c '^event: container-updated' "$VSD_TMP/ev5.out" || true)
	echo "the stuck reader got $n of 400 events before it was dropped" >&3
	((n < 400))
	! grep -q '^ERROR' "$VSD_TMP/ev5.out"
	vsctl destroy ev5 --force
}

@test "operations: list, long-poll to the end of a snapshot, 409 and 404 on cancel" {
	ct_create_started ev6
	run api POST /v1/containers/ev6/snapshots -d '{"name":"s1"}'
	assert_contains "$output" "HTTP 202"
	local id
	id=$(head -n1 <<<"$output" | json_get id)
	local t0 t1
	t0=$(now_ms)
	run api GET "/v1/operations/$id?wait=30"
	t1=$(now_ms)
	assert_contains "$output" "HTTP 200"
	[[ "$(head -n1 <<<"$output" | json_get status)" == success ]]
	((t1 - t0 < 25000))
	run api GET /v1/operations
	assert_contains "$output" "\"id\":\"$id\""
	assert_contains "$output" '"kind":"snapshot-create"'
	run api DELETE "/v1/operations/$id"
	assert_contains "$output" "HTTP 409"
	assert_contains "$output" "has already ended"
	run api DELETE /v1/operations/999999
	assert_contains "$output" "HTTP 404"
	run api GET "/v1/operations/$id?wait=61"
	assert_contains "$output" "HTTP 400"
	run vsctl operation list
	assert_success
	assert_contains "$output" "$id"
	vsctl destroy ev6 --force
}

@test "long-poll times out on a running build; cancelling it leaves nothing" {
	# Restart the daemon with builds held back (a test hook).
	vsd_stop_daemon
	VSD_TEST_BUILD_DELAY_MS=30000 vsd_start_daemon
	run api POST /v1/templates -d '{"name":"slowtpl","from":"busybox"}'
	assert_contains "$output" "HTTP 202"
	local id t0 t1
	id=$(head -n1 <<<"$output" | json_get id)
	t0=$(now_ms)
	run api GET "/v1/operations/$id?wait=1"
	t1=$(now_ms)
	[[ "$(head -n1 <<<"$output" | json_get status)" == running ]]
	((t1 - t0 >= 900 && t1 - t0 < 5000))
	[[ "$(head -n1 <<<"$output" | json_get cancellable)" == true ]]
	run vsctl operation cancel "$id"
	assert_success
	run vsctl operation show "$id" --wait 10 --json
	assert_success
	[[ "$(json_get status <<<"$output")" == failure ]]
	[[ "$(json_get cancelled <<<"$output")" == true ]]
	assert_contains "$output" cancelled
	[[ ! -e "$VSD_ROOT/templates/slowtpl" ]]
	run api GET /v1/templates/slowtpl
	assert_contains "$output" "HTTP 404"
	vsd_stop_daemon
	vsd_start_daemon
}

@test "ETag: a stale If-Match is 412 and changes nothing" {
	vsctl create ev7 --template busybox --memory 128M >/dev/null
	local etag
	etag=$(curl -si --unix-socket "$VSD_SOCKET" http://vsd/v1/containers/ev7 |
		awk -F': ' 'tolower($1) == "etag" { print $2 }' | tr -d '\r"')
	[[ "$etag" =~ ^[0-9a-f]{16}$ ]]
	# The right tag works and changes the tag.
	run api PATCH /v1/containers/ev7 -H "If-Match: \"$etag\"" -d '{"limits":{"memory":"256M"}}'
	assert_contains "$output" "HTTP 200"
	local etag2
	etag2=$(curl -si --unix-socket "$VSD_SOCKET" http://vsd/v1/containers/ev7 |
		awk -F': ' 'tolower($1) == "etag" { print $2 }' | tr -d '\r"')
	[[ "$etag2" != "$etag" ]]
	# The old one is refused, and nothing changes.
	run api PATCH /v1/containers/ev7 -H "If-Match: \"$etag\"" -d '{"limits":{"memory":"64M"}}'
	assert_contains "$output" "HTTP 412"
	assert_contains "$output" '"code":"precondition_failed"'
	[[ "$(ct_field ev7 limits.memory)" == 268435456 ]]
	run vsctl set ev7 --memory 64M --if-match "$etag"
	assert_failure 1
	assert_contains "$output" "If-Match"
	[[ "$(ct_field ev7 limits.memory)" == 268435456 ]]
	run vsctl set ev7 --memory 64M --if-match "\"$etag2\""
	assert_success
	run api DELETE /v1/containers/ev7 -H "If-Match: \"$etag\""
	assert_contains "$output" "HTTP 412"
	vsctl status ev7 >/dev/null
	# Without If-Match it works as before.
	run api DELETE /v1/containers/ev7
	assert_contains "$output" "HTTP 200"
}

@test "vsctl monitor prints events, --json the data objects" {
	vsctl monitor --json --type container-created >"$VSD_TMP/mon" 2>&1 &
	echo $! >>"$VSD_TMP/readers"
	vsctl monitor --type container-created,container-destroyed >"$VSD_TMP/mon2" 2>&1 &
	echo $! >>"$VSD_TMP/readers"
	sleep 0.5
	vsctl create ev8 --template busybox >/dev/null
	vsctl destroy ev8
	wait_for 5 grep -q container-destroyed "$VSD_TMP/mon2"
	[[ "$(head -n1 "$VSD_TMP/mon" | json_get type)" == container-created ]]
	[[ "$(head -n1 "$VSD_TMP/mon" | json_get container)" == ev8 ]]
	grep -q ' container-created ev8$' "$VSD_TMP/mon2"
	run vsctl monitor --type bogus
	assert_failure 1
	assert_contains "$output" "unknown event type"
}
