#!/usr/bin/env bats
# Life of a busybox container: create, start, status, list, exec, stop,
# restart, reboot/poweroff from inside, destroy.

load helpers

setup_file() { vsd_setup_file; }
teardown_file() { vsd_teardown_file; }
teardown() { vsd_teardown_test; }

@test "create: stopped container with its directory and config" {
	run vsctl create lc1 --template busybox
	assert_success
	[[ -f "$VSD_ROOT/containers/lc1/config.json" ]] || fail "no config.json"
	[[ -d "$VSD_ROOT/containers/lc1/upper" ]] || fail "no upper/"
	run vsctl status lc1 --json
	assert_success
	assert_eq "$(json_get state <<<"$output")" stopped state
	assert_eq "$(json_get init_pid <<<"$output")" 0 init_pid
	assert_eq "$(json_get template <<<"$output")" busybox template
	assert_eq "$(json_get hostname <<<"$output")" lc1 hostname
}

@test "list shows containers, --json is the API's JSON" {
	run vsctl list
	assert_success
	assert_contains "$output" lc1
	run vsctl list --json
	assert_success
	is_json <<<"$output" || fail "not JSON: $output"
	assert_eq "$(json_get containers.0.name <<<"$output")" lc1
}

@test "start: running, init_pid is a live host pid that is pid 1 inside" {
	run vsctl start lc1
	assert_success
	run vsctl status lc1 --json
	assert_success
	local json=$output pid
	assert_eq "$(json_get name <<<"$json")" lc1 name
	assert_eq "$(json_get state <<<"$json")" running state
	assert_eq "$(json_get template <<<"$json")" busybox template
	assert_eq "$(json_get hostname <<<"$json")" lc1 hostname
	pid=$(json_get init_pid <<<"$json")
	[[ "$pid" =~ ^[1-9][0-9]*$ ]] || fail "init_pid: $pid"
	[[ -r "/proc/$pid/status" ]] || fail "init pid $pid is not alive"
	# NSpid: host pid first, pid in the container's namespace last.
	local nspid
	nspid=$(awk '/^NSpid:/ { print $NF }' "/proc/$pid/status")
	assert_eq "$nspid" 1 "init's pid inside"
	# Started means init has been exec'd: no longer the vsd binary.
	run readlink "/proc/$pid/exe"
	assert_not_contains "$output" "vsd"
	run vsctl list
	assert_contains "$output" running
}

@test "status of a running container in plain text" {
	run vsctl status lc1
	assert_success
	assert_contains "$output" lc1
	assert_contains "$output" running
}

@test "exec: stdout and exit status" {
	run in_ct lc1 echo hello
	assert_success
	assert_eq "$output" hello
	run in_ct lc1 sh -c 'exit 7'
	assert_status 7
	# the shell's convention for "command not found"
	run -127 in_ct lc1 /no/such/command
}

@test "exec: stdin passes through" {
	run bash -c 'echo hi | "$VSCTL_BIN" exec lc1 -- cat'
	assert_success
	assert_eq "$output" hi
	# Larger than a pipe buffer, both ways.
	run bash -c 'seq 1 100000 | "$VSCTL_BIN" exec lc1 -- wc -l'
	assert_success
	assert_eq "$(squash "$output")" 100000
}

@test "exec: stderr is separate from stdout" {
	run --separate-stderr in_ct lc1 sh -c 'echo out; echo err >&2'
	assert_success
	assert_eq "$output" out stdout
	assert_eq "$stderr" err stderr
}

@test "exec works when vsctl is started with stdin closed" {
	# As from cron or a CI runner without stdin: the first descriptor vsctl
	# opens then gets number 0, which must not be taken for stdin.
	run bash -c '"$VSCTL_BIN" exec lc1 -- echo hello 0<&-'
	assert_success
	assert_eq "$output" hello
}

@test "exec: killed by a signal reports 128+N" {
	run in_ct lc1 sh -c 'kill -9 $$'
	assert_status 137
}

@test "enter: an interactive login shell on a terminal" {
	# script(1) gives vsctl a terminal; the arithmetic proves the shell
	# ran the line (the echo of the typed input would not contain 42).
	run bash -c "printf 'echo ok-\$((40+2))\nexit\n' | timeout 30 script -qec '$VSCTL_BIN enter lc1' /dev/null"
	assert_success
	assert_contains "$output" "ok-42"
	# on a terminal allocated in the container
	run bash -c "printf 'echo tty=\$(tty)\nexit\n' | timeout 30 script -qec '$VSCTL_BIN enter lc1' /dev/null"
	assert_contains "$output" "tty=/dev/pts/"
}

@test "console: attach, run a command, detach with Ctrl-a q; container keeps running" {
	local pid
	pid=$(ct_init_pid lc1)
	run bash -c "{ sleep 0.5; printf 'echo con-\$((6*7))\r'; sleep 1; printf '\001q'; sleep 1; } |
		timeout 30 script -qec '$VSCTL_BIN console lc1' /dev/null"
	assert_success
	assert_contains "$output" "con-42"
	assert_eq "$(ct_state lc1)" running
	assert_eq "$(ct_init_pid lc1)" "$pid" "init pid after detach"
}

@test "stop --timeout: stops a busybox init and frees its pid" {
	local pid
	pid=$(ct_init_pid lc1)
	run vsctl stop lc1 --timeout 20
	assert_success
	assert_eq "$(ct_state lc1)" stopped
	assert_eq "$(ct_init_pid lc1)" 0 init_pid
	wait_for 5 bash -c "! test -d /proc/$pid" || fail "old init $pid still alive"
}

@test "stop when stopped fails" {
	run --separate-stderr vsctl stop lc1
	assert_failure 1
	assert_contains "$stderr" "vsctl: "
}

@test "restart: new init pid, still running" {
	run vsctl start lc1
	assert_success
	local old new
	old=$(ct_init_pid lc1)
	run vsctl restart lc1
	assert_success
	assert_eq "$(ct_state lc1)" running
	new=$(ct_init_pid lc1)
	[[ "$new" != "$old" && "$new" != 0 ]] || fail "init pid $old -> $new"
	pid_alive "$new" || fail "new init $new not alive"
	run in_ct lc1 true
	assert_success
}

@test "stop --force kills at once" {
	local t0 t1
	t0=$(now_ms)
	run vsctl stop lc1 --force
	t1=$(now_ms)
	assert_success
	assert_eq "$(ct_state lc1)" stopped
	((t1 - t0 < 5000)) || fail "stop --force took $((t1 - t0)) ms"
}

@test "stop --timeout: an init that ignores the stop signal is killed after the timeout" {
	# A template whose init is a shell loop: pid 1 without a handler
	# ignores every signal but SIGKILL.
	local rootfs="$VSD_ROOT/templates/busybox/rootfs" stage="$BATS_TEST_TMPDIR/stubborn"
	mkdir -p "$stage"
	cp -a "$rootfs/." "$stage/"
	rm -f "$stage/sbin/init"
	printf '#!/bin/sh\nwhile :; do sleep 1; done\n' >"$stage/sbin/init"
	chmod 755 "$stage/sbin/init"
	tar -C "$stage" --numeric-owner -cf "$BATS_TEST_TMPDIR/stubborn.tar" .
	run vsctl template import stubborn "$BATS_TEST_TMPDIR/stubborn.tar"
	assert_success
	ct_create_started lcs --template stubborn
	local t0 t1
	t0=$(now_ms)
	run vsctl stop lcs --timeout 2
	t1=$(now_ms)
	assert_success
	assert_eq "$(ct_state lcs)" stopped
	((t1 - t0 >= 1900)) || fail "stop returned after $((t1 - t0)) ms, before the timeout"
	((t1 - t0 < 10000)) || fail "stop took $((t1 - t0)) ms for a 2 s timeout"
	run vsctl destroy lcs
	assert_success
	run vsctl template remove stubborn
	assert_success
}

@test "reboot inside restarts the container (new init), poweroff stops it" {
	run vsctl start lc1
	assert_success
	local old new
	old=$(ct_init_pid lc1)
	# The exec'd reboot may be killed with the container: ignore its status.
	in_ct lc1 reboot -f >/dev/null 2>&1 || true
	wait_for 20 bash -c "! test -d /proc/$old" || fail "old init $old still alive"
	wait_for 20 ct_is_state lc1 running
	new=$(ct_init_pid lc1)
	[[ "$new" != "$old" && "$new" != 0 ]] || fail "init pid $old -> $new"
	run in_ct lc1 true
	assert_success

	in_ct lc1 poweroff -f >/dev/null 2>&1 || true
	wait_for 20 ct_is_state lc1 stopped || fail "state after poweroff: $(ct_state lc1)"
	wait_for 5 bash -c "! test -d /proc/$new" || fail "init $new still alive"
	# And stays stopped (not restarted by the monitor).
	sleep 1
	assert_eq "$(ct_state lc1)" stopped
}

# zygote_pid: vsd's zygote (its live child named vsd-zygote), if any.
zygote_pid() {
	local p
	for p in $(pgrep -P "$(vsd_pid)"); do
		[[ "$(cat "/proc/$p/comm" 2>/dev/null)" == vsd-zygote ]] || continue
		[[ "$(awk '{ print $3 }' "/proc/$p/stat" 2>/dev/null)" != Z ]] || continue
		echo "$p"
		return 0
	done
	return 1
}

@test "exec and start go through vsd's zygote, which is replaced when it dies" {
	local z1 z2 mon was
	was=$(ct_state lc1)
	if [[ "$was" != running ]]; then
		run vsctl start lc1
		assert_success
	fi
	z1=$(zygote_pid) || fail "no zygote under vsd after starts and execs"
	# The monitor is not vsd's child: the zygote forked it, and it left.
	mon=$(ct_field lc1 monitor_pid)
	[[ "$(awk '{ print $4 }' "/proc/$mon/stat")" != "$(vsd_pid)" ]] || fail "monitor is vsd's child"
	kill -KILL "$z1"
	# The exit status comes back from a helper vsd is not the parent of.
	run in_ct lc1 sh -c 'exit 5'
	assert_status 5
	z2=$(zygote_pid) || fail "no zygote after the old one was killed"
	[[ "$z2" != "$z1" ]] || fail "zygote $z1 not replaced"
	# The old one was reaped, not left a zombie.
	[[ ! -e "/proc/$z1" ]] || fail "old zygote $z1 still in the process table"
	# A monitor from the new zygote.
	run vsctl restart lc1
	assert_success
	assert_eq "$(ct_state lc1)" running
	run in_ct lc1 echo hello
	assert_success
	assert_eq "$output" hello
	# As the test before left it.
	if [[ "$was" != running ]]; then
		run vsctl stop --force lc1
		assert_success
	fi
}

@test "destroy refuses a running container without --force" {
	run vsctl start lc1
	assert_success
	run --separate-stderr vsctl destroy lc1
	assert_failure 1
	assert_contains "$stderr" "vsctl: "
	assert_eq "$(ct_state lc1)" running
	[[ -d "$VSD_ROOT/containers/lc1" ]] || fail "container dir gone"
}

@test "destroy --force removes containers/NAME and nothing else" {
	run vsctl create lc2 --template busybox
	assert_success
	local before_tpl after_tpl pid
	before_tpl=$(tree_digest "$VSD_ROOT/templates/busybox/rootfs")
	pid=$(ct_init_pid lc1)
	run vsctl destroy --force lc1
	assert_success
	[[ ! -e "$VSD_ROOT/containers/lc1" ]] || fail "containers/lc1 still there"
	wait_for 5 bash -c "! test -d /proc/$pid" || fail "init $pid still alive"
	assert_eq "$(containers_listing)" lc2 "containers/ after destroy"
	# Its id range is released in the registry ("ROOT NAME" per range).
	run grep -lx "$VSD_ROOT lc1" -r "$VSD_TMP/idmaps"
	assert_eq "$output" "" "id-map claims of lc1"
	run grep -lx "$VSD_ROOT lc2" -r "$VSD_TMP/idmaps"
	[[ -n "$output" ]] || fail "no id-map claim for lc2"
	after_tpl=$(tree_digest "$VSD_ROOT/templates/busybox/rootfs")
	assert_eq "$after_tpl" "$before_tpl" "template digest"
	[[ -f "$VSD_ROOT/templates/busybox/template.json" ]] || fail "template.json gone"
	run --separate-stderr vsctl status lc1
	assert_failure 1
	run vsctl destroy lc2
	assert_success
	assert_eq "$(containers_listing)" "" "containers/ at the end"
}
