#!/usr/bin/env bats
# exec, enter and console as WebSocket (RFC 6455) streams over the unix
# socket: vsctl's own client (VSCTL_STREAM=websocket), a third-party client
# (python3-websockets) for conformance, refused handshakes, and a client
# that vanishes mid-command.

load helpers

setup_file() {
	vsd_setup_file
	ct_create_started ws1
}
teardown_file() { vsd_teardown_file; }
teardown() { vsd_teardown_test; }

wsctl() { VSCTL_STREAM=websocket "$VSCTL_BIN" "$@"; }
ws_client() { "$PY" "$BATS_TEST_DIRNAME/ws-client.py" "$VSD_SOCKET" "$@"; }

@test "ws exec: stdout and stderr apart, the exit code as vsctl's" {
	run --separate-stderr wsctl exec ws1 -- sh -c 'echo out; echo err >&2; exit 7'
	assert_status 7
	assert_eq "$output" out stdout
	assert_eq "$stderr" err stderr
	run wsctl exec ws1 -- sh -c 'kill -9 $$'
	assert_status 137
}

@test "ws exec: stdin is piped through and its end reaches the command" {
	run bash -c 'printf "hi\nthere\n" | VSCTL_STREAM=websocket "$VSCTL_BIN" exec ws1 -- cat'
	assert_success
	assert_eq "$output" $'hi\nthere'
	# 200 KiB through cat and back: back-pressure, no loss
	run bash -c 'head -c 204800 /dev/zero | VSCTL_STREAM=websocket "$VSCTL_BIN" exec ws1 -- cat | wc -c'
	assert_success
	assert_eq "$(squash "$output")" 204800
	# 4 MB of output through a pipe that reads slowly at first
	run bash -c 'VSCTL_STREAM=websocket "$VSCTL_BIN" exec ws1 -- head -c 4000000 /dev/zero |
		{ sleep 1; wc -c; }'
	assert_success
	assert_eq "$(squash "$output")" 4000000
	# started with stdin closed: the command sees EOF at once
	run bash -c 'VSCTL_STREAM=websocket timeout 20 "$VSCTL_BIN" exec ws1 -- cat 0<&-'
	assert_success
	assert_eq "$output" ""
}

@test "ws exec -t: a terminal whose size follows the resize message" {
	# Under script(1): vsctl in the background on the terminal (stdin from
	# it, output to a file), resized once the command has shown the first
	# size; the command waits for the change, so no timing is guessed.
	local out="$BATS_TEST_TMPDIR/tty.out" sh="$BATS_TEST_TMPDIR/tty.sh"
	cat >"$sh" <<-EOF
		stty rows 20 cols 70
		VSCTL_STREAM=websocket "$VSCTL_BIN" exec -t ws1 -- sh -c \
			'stty size; while [ "\$(stty size)" = "20 70" ]; do sleep 0.1; done; stty size; tty' \
			</dev/tty >"$out" 2>&1 &
		p=\$!
		until grep -q "20 70" "$out"; do sleep 0.1; done
		stty rows 33 cols 101
		kill -WINCH \$p
		wait \$p
	EOF
	run timeout 30 script -qec "bash $sh" /dev/null
	assert_success
	run cat "$out"
	assert_contains "$output" "20 70"
	assert_contains "$output" "33 101"
	assert_contains "$output" "/dev/pts/"
}

@test "ws enter and console: a shell on a terminal, then the console with detach" {
	run bash -c "printf 'echo ok-\$((40+2))\nexit 3\n' |
		VSCTL_STREAM=websocket timeout 30 script -qec '$VSCTL_BIN enter ws1' /dev/null"
	assert_status 3
	assert_contains "$output" "ok-42"
	local pid
	pid=$(ct_init_pid ws1)
	run bash -c "{ sleep 0.5; printf 'echo con-\$((6*7))\r'; sleep 1; printf '\001q'; sleep 1; } |
		VSCTL_STREAM=websocket timeout 30 script -qec '$VSCTL_BIN console ws1' /dev/null"
	assert_success
	assert_contains "$output" "con-42"
	assert_contains "$output" "Detached from the console of ws1"
	assert_eq "$(ct_state ws1)" running
	assert_eq "$(ct_init_pid ws1)" "$pid" "init pid after detach"
}

@test "ws conformance: python3-websockets runs a command, gets channels, exit message, close 1000" {
	run ws_client /v1/containers/ws1/exec \
		'{"command":["sh","-c","echo out; echo err >&2; exit 7"]}' --ping
	assert_success
	local j=$output
	assert_eq "$(json_get subprotocol <<<"$j")" vsd.exec.v1 subprotocol
	assert_eq "$(json_get stdout <<<"$j")" out stdout
	assert_eq "$(json_get stderr <<<"$j")" err stderr
	assert_eq "$(json_get exit.code <<<"$j")" 7 "exit code"
	assert_eq "$(json_get exit.signal <<<"$j")" 0 "exit signal"
	assert_eq "$(json_get close_code <<<"$j")" 1000 "close code"
	assert_eq "$(json_get pong <<<"$j")" true "pong"
	# stdin on channel 0 and {"type":"eof"}
	run ws_client /v1/containers/ws1/exec '{"command":["cat"]}' --stdin "from-python"
	assert_success
	assert_eq "$(json_get stdout <<<"$output")" from-python
	assert_eq "$(json_get exit.code <<<"$output")" 0
	# the console: data only, and a clean close from the client's side
	run ws_client /v1/containers/ws1/console '{}' --stdin $'echo con-$((6*7))\r' --close-after con-42
	assert_success
	assert_contains "$(json_get stdout <<<"$output")" con-42
	assert_eq "$(json_get close_code <<<"$output")" 1000 "console close code"
}

@test "ws: a malformed control message closes with 1007 and ends the command" {
	run ws_client /v1/containers/ws1/exec '{"command":["sleep","4244"],"tty":true}' --text '{"type":"bogus"}'
	assert_success
	assert_eq "$(json_get close_code <<<"$output")" 1007 "close code"
	assert_eq "$(json_get exit <<<"$output")" null "exit message"
	wait_for 10 bash -c "! { $VSCTL_BIN exec ws1 -- ps | grep -v grep | grep -q 'sleep 4244'; }" ||
		fail "sleep 4244 still runs after the stream was closed"
}

# rss_kb PID: resident memory in KiB.
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

@test "ws back-pressure: a client that reads nothing does not make vsd buffer the output" {
	local pid before during
	pid=$(cat "$VSD_TMP/vsd.pid")
	before=$(rss_kb "$pid")
	# 200 MB of output to a client that stalls for 4 s, then leaves
	ws_client /v1/containers/ws1/exec '{"command":["head","-c","200000000","/dev/zero"]}' \
		--stall 4 --vanish >"$BATS_TEST_TMPDIR/stall.out" &
	local client=$!
	sleep 3
	during=$(rss_kb "$pid")
	wait "$client"
	echo "vsd rss: ${before} KiB before, ${during} KiB while the client stalled"
	((during - before < 32768)) || fail "vsd grew by $((during - before)) KiB"
}

@test "ws stdin: 64 MiB streamed to a command that reads it slowly keeps vsd's memory flat" {
	local pid before peak r out="$BATS_TEST_TMPDIR/wc.out"
	pid=$(cat "$VSD_TMP/vsd.pid")
	before=$(rss_kb "$pid")
	peak=$before
	# About 10 MB/s, slower than the client sends: a backlog stays in vsd
	# while the whole stream passes through it.
	head -c 67108864 /dev/zero |
		VSCTL_STREAM=websocket timeout 120 "$VSCTL_BIN" exec ws1 -- sh -c \
			'for i in $(seq 64); do dd bs=65536 count=16 iflag=fullblock 2>/dev/null; sleep 0.1; done | wc -c' \
			>"$out" &
	local client=$!
	while kill -0 "$client" 2>/dev/null; do
		r=$(rss_kb "$pid")
		((r > peak)) && peak=$r
		sleep 0.2
	done
	wait "$client" || fail "vsctl exec failed"
	echo "vsd rss: ${before} KiB before, ${peak} KiB at most while stdin streamed"
	assert_eq "$(squash "$(cat "$out")")" 67108864 "bytes through"
	((peak - before < 30720)) || fail "vsd grew by $((peak - before)) KiB"
}

# cpu_ticks PID: user + system time of the process, in clock ticks.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

@test "ws stdin: a client that leaves while its stdin is held back ends the stream, no spinning" {
	# sleep reads nothing: the terminal's input fills, then vsd's stdin
	# backlog (so it stops reading the socket), then the client leaves.
	local pid t0 t1
	pid=$(cat "$VSD_TMP/vsd.pid")
	run ws_client /v1/containers/ws1/exec '{"command":["sleep","4246"],"tty":true}' \
		--stdin-size 2000000 --vanish-after 2
	assert_success
	assert_eq "$(json_get held_back <<<"$output")" true "stdin held back"
	t0=$(cpu_ticks "$pid")
	sleep 3
	t1=$(cpu_ticks "$pid")
	echo "vsd used $((t1 - t0)) ticks in 3 s after the client left"
	wait_for 10 bash -c "! { $VSCTL_BIN exec ws1 -- ps | grep -v grep | grep -q 'sleep 4246'; }" ||
		fail "sleep 4246 still runs after the client left"
	((t1 - t0 < $(getconf CLK_TCK))) || fail "vsd spun: $((t1 - t0)) ticks in 3 s"
}

@test "ws handshake: a missing key or a wrong version is 400 JSON and runs nothing" {
	local body='{"command":["touch","/tmp/ws-ran"]}'
	local -a base=(-sS --unix-socket "$VSD_SOCKET" -o "$VSD_TMP/ws-body" -w '%{http_code}'
		-H 'Connection: Upgrade' -H 'Upgrade: websocket' -H 'Content-Type: application/json'
		-d "$body" http://vsd/v1/containers/ws1/exec)
	run curl "${base[@]}" -H 'Sec-WebSocket-Version: 13'
	assert_eq "$output" 400
	assert_contains "$(cat "$VSD_TMP/ws-body")" '"code":"invalid"'
	assert_contains "$(cat "$VSD_TMP/ws-body")" "Sec-WebSocket-Key"
	run curl "${base[@]}" -H 'Sec-WebSocket-Version: 8' -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=='
	assert_eq "$output" 400
	assert_contains "$(cat "$VSD_TMP/ws-body")" "Sec-WebSocket-Version"
	run curl "${base[@]}" -H 'Sec-WebSocket-Version: 13' -H 'Sec-WebSocket-Key: c2hvcnQ='
	assert_eq "$output" 400
	run in_ct ws1 test -e /tmp/ws-ran
	assert_failure 1
}

@test "ws: a client that vanishes mid-command ends the exec (tty and pipes)" {
	run ws_client /v1/containers/ws1/exec \
		'{"command":["sh","-c","echo started; exec sleep 4242"],"tty":true}' --vanish
	assert_success
	assert_contains "$output" started
	wait_for 10 bash -c "! { $VSCTL_BIN exec ws1 -- ps | grep -v grep | grep -q 'sleep 4242'; }" ||
		fail "sleep 4242 still runs after the client left"
	run ws_client /v1/containers/ws1/exec \
		'{"command":["sh","-c","while echo tick-4243; do sleep 0.2; done"]}' --vanish
	assert_success
	assert_contains "$output" tick-4243
	wait_for 10 bash -c "! { $VSCTL_BIN exec ws1 -- ps | grep -v grep | grep -q 'tick-4243'; }" ||
		fail "the loop still runs after the client left"
}
