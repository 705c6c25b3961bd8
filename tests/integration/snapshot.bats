#!/usr/bin/env bats
# Snapshots (issue 9): vsctl snapshot create|list|restore|delete of a
# container's own layer, stopped and running, with and without memory.
# What must hold: a file written before the snapshot and changed after
# comes back; a template file deleted inside (an overlay whiteout) stays
# deleted; the copy keeps ownership in the container's id range; a
# snapshot is refused onto a running container without --stop; a crash
# mid-way leaves nothing that vsd start does not clean.
#
# The --with-memory test needs a usable criu (skipped otherwise). Every
# test destroys its containers in teardown, even when it failed.

load helpers
load cr-helpers

setup_file() {
	vsd_setup_file || return 1
	if cr_criu_unusable >/dev/null; then
		echo none >"$VSD_TMP/criu-current"
	else
		cr_restart_daemon "$CR_CRIU" || return 1
	fi
}
teardown_file() { vsd_teardown_file; }
teardown() {
	vsd_teardown_test
	vsd_answers || restart_vsd || true
	local d
	for d in "$VSD_ROOT"/containers/*/; do
		[[ -d "$d" ]] || continue
		timeout 60 "$VSCTL_BIN" destroy --force "$(basename "$d")" >/dev/null 2>&1 ||
			echo "teardown: destroy $(basename "$d") failed" >&2
	done
}

restart_vsd() {
	if [[ "$(cat "$VSD_TMP/criu-current")" == none ]]; then
		vsd_stop_daemon TERM
		vsd_start_daemon
	else
		cr_restart_daemon "$CR_CRIU"
	fi
}

snapdir() { echo "$VSD_ROOT/containers/$1/snapshots${2:+/$2}"; }

# write_state NAME: the files the tests compare, written inside NAME.
write_state() {
	in_ct "$1" sh -c 'echo v1 >/root/a; echo keep >/root/b; rm /bin/true; mkdir -p /root/d && echo x >/root/d/f'
}

# check_state NAME: what write_state made is there again.
check_state() {
	run in_ct "$1" cat /root/a /root/b /root/d/f
	assert_eq "$(squash "$output")" "v1 keep x" "files after restore" || return 1
	run in_ct "$1" test -e /bin/true
	[[ "$status" != 0 ]] || fail "/bin/true (deleted from the template inside) came back" || return 1
	run in_ct "$1" test -e /root/new
	[[ "$status" != 0 ]] || fail "/root/new (made after the snapshot) survived the restore"
}

change_state() {
	in_ct "$1" sh -c 'echo v2 >/root/a; rm /root/b; rm -r /root/d; echo n >/root/new'
}

@test "stopped VPS: create, list, restore brings back files, whiteouts and ownership; delete" {
	ct_create_started st1 || fail "start st1"
	write_state st1 || fail "write"
	run vsctl stop st1
	assert_success
	run --separate-stderr vsctl snapshot create st1 s1 --json
	assert_success
	assert_eq "$(json_get snapshot.name <<<"$output")" s1
	assert_eq "$(json_get snapshot.with_memory <<<"$output")" false
	# 0700 root, the layer only (no template file), ids in the range.
	assert_eq "$(stat -c '%a %u' "$(snapdir st1 s1)")" "700 0" "snapshot dir mode"
	[[ ! -e "$(snapdir st1 s1)/layer/bin/busybox" ]] || fail "the template was copied"
	local base
	base=$(ct_field st1 idmap.uid)
	assert_eq "$(stat -c %u "$(snapdir st1 s1)/layer/root/a")" "$base" "owner of a copied file"
	assert_eq "$(stat -c '%F %t:%T' "$(snapdir st1 s1)/layer/bin/true")" "character special file 0:0" "whiteout"
	run vsctl snapshot list st1
	assert_success
	assert_contains "$output" s1
	assert_contains "$output" "not counted against the disk quota"
	run vsctl snapshot list st1 --json
	assert_eq "$(json_get counted_against_disk_quota <<<"$output")" false

	run vsctl start st1
	assert_success
	change_state st1
	run vsctl stop st1
	assert_success
	run --separate-stderr vsctl snapshot restore st1 s1
	assert_success
	assert_eq "$(ct_state st1)" stopped "state after restore"
	run vsctl start st1
	assert_success
	check_state st1
	# the id range still owns the restored layer (the root shows it too)
	assert_eq "$(stat -c '%u %a' "$VSD_ROOT/containers/st1/upper")" "$base 755" "upper after restore"
	[[ ! -e "$VSD_ROOT/containers/st1/.upper.vsd-swap" ]] || fail "swap directory left"

	run vsctl snapshot delete st1 s1
	assert_success
	[[ ! -e "$(snapdir st1 s1)" ]] || fail "s1 still there"
	run vsctl snapshot list st1 --json
	assert_eq "$(json_get snapshots <<<"$output")" "[]"
	run vsctl snapshot delete st1 s1
	assert_failure
	assert_contains "$output" "does not exist"
}

@test "running VPS without memory: snapshot while running; restore refused without --stop, works with it" {
	ct_create_started rn1 || fail "start rn1"
	write_state rn1 || fail "write"
	run --separate-stderr vsctl snapshot create rn1 s1
	assert_success
	assert_eq "$(ct_state rn1)" running "still running after the snapshot"
	change_state rn1
	run vsctl snapshot restore rn1 s1
	assert_failure
	assert_contains "$output" "stop it first, or use --stop"
	run in_ct rn1 cat /root/a
	assert_eq "$output" v2 "refused restore changed nothing"
	run --separate-stderr vsctl snapshot restore rn1 s1 --stop
	assert_success
	assert_eq "$(ct_state rn1)" stopped
	run vsctl start rn1
	assert_success
	check_state rn1
}

@test "running VPS with memory: the counter and the disk come back from the snapshot" {
	[[ "$(cat "$VSD_TMP/criu-current")" != none ]] || skip "no usable criu"
	ct_create_started mm1 || fail "start mm1"
	write_state mm1 || fail "write"
	cr_start_counter mm1
	cr_wait_counter mm1 20 || fail "counter did not start"
	run --separate-stderr vsctl snapshot create mm1 s1 --with-memory --json
	[[ "$status" == 0 ]] || fail "snapshot: $stderr"
	assert_eq "$(json_get snapshot.with_memory <<<"$output")" true
	assert_eq "$(ct_state mm1)" running "still running after the snapshot"
	local at
	at=$(cr_read_int "$(snapdir mm1 s1)/image/layer/root/cnt") || fail "no counter in the snapshot"
	change_state mm1
	cr_wait_counter mm1 $((at + 20)) || fail "counter stopped"
	run vsctl stop mm1
	assert_success
	run --separate-stderr vsctl snapshot restore mm1 s1 --json
	[[ "$status" == 0 ]] || fail "restore: $stderr"
	assert_eq "$(ct_state mm1)" running "state after restoring a snapshot with memory"
	cr_check_counter_continues mm1 "$at"
	check_state mm1
	# --with-memory on a stopped container is refused
	run vsctl stop mm1
	run vsctl snapshot create mm1 s2 --with-memory
	assert_failure
	assert_contains "$output" "needs it running"
}

@test "names are checked; duplicates and unknown snapshots refused; destroy removes snapshots" {
	ct_create_started nm1 || fail "start nm1"
	run vsctl snapshot create nm1 'bad/name'
	assert_failure
	run vsctl snapshot create nm1 ../x
	assert_failure
	run api_code POST /v1/containers/nm1/snapshots -H 'Content-Type: application/json' -d '{"name": "s1", "bogus": 1}'
	assert_eq "$output" 400
	run vsctl snapshot create nm1 s1
	assert_success
	run vsctl snapshot create nm1 s1
	assert_failure
	assert_contains "$output" "already exists"
	run vsctl snapshot restore nm1 nope --stop
	assert_failure
	assert_contains "$output" "does not exist"
	run api_code GET /v1/containers/nm1/snapshots/nope
	assert_eq "$output" 404
	# a default name when none is given
	run --separate-stderr vsctl snapshot create nm1 --json
	assert_success
	[[ "$(json_get snapshot.name <<<"$output")" == snap-* ]] || fail "default name: $output"
	run vsctl destroy --force nm1
	assert_success
	[[ ! -e "$VSD_ROOT/containers/nm1" ]] || fail "container directory left"
}

@test "a crash mid-way: a staging snapshot and a half put-back layer are cleaned at vsd start" {
	ct_create_started cr1 || fail "start cr1"
	write_state cr1 || fail "write"
	run vsctl snapshot create cr1 s1
	assert_success
	run vsctl stop cr1
	assert_success
	# What a vsd killed inside create, delete and restore leaves behind.
	mkdir -p "$(snapdir cr1 .s2.creating)/layer/root" "$(snapdir cr1 .s3.deleting)/layer"
	echo partial >"$(snapdir cr1 .s2.creating)/layer/root/x"
	mkdir -p "$VSD_ROOT/containers/cr1/.upper.vsd-swap/root"
	echo partial >"$VSD_ROOT/containers/cr1/.upper.vsd-swap/root/a"
	restart_vsd || fail "restart vsd"
	[[ ! -e "$(snapdir cr1 .s2.creating)" ]] || fail ".s2.creating left"
	[[ ! -e "$(snapdir cr1 .s3.deleting)" ]] || fail ".s3.deleting left"
	[[ ! -e "$VSD_ROOT/containers/cr1/.upper.vsd-swap" ]] || fail "swap directory left"
	grep -q "removed snapshots/.s2.creating" "$VSD_TMP/vsd.log" || fail "recovery not logged"
	run vsctl snapshot list cr1 --json
	assert_eq "$(json_get snapshots.0.name <<<"$output")" s1 "the complete snapshot stays"
	run --separate-stderr vsctl snapshot restore cr1 s1
	assert_success
	run vsctl start cr1
	assert_success
	check_state cr1
}

@test "vsd SIGKILLed during a snapshot of a 100 MB layer: the staging directory goes at restart" {
	ct_create_started kl1 || fail "start kl1"
	in_ct kl1 dd if=/dev/urandom of=/root/big bs=1M count=100 2>/dev/null || fail "write 100M"
	run vsctl stop kl1
	assert_success
	"$VSCTL_BIN" snapshot create kl1 s1 >/dev/null 2>&1 &
	local cli=$!
	wait_for 20 test -d "$(snapdir kl1 .s1.creating)" || fail "no staging directory"
	kill -KILL "$(vsd_pid)"
	wait "$cli" || true
	# rsync, vsd's child, finishes or dies on its own; wait until no
	# process writes there any more.
	# (anchored: the pattern must not match the shell that runs pgrep)
	wait_for 60 bash -c "! pgrep -f '^/usr/bin/rsync .*$VSD_ROOT/containers/kl1' >/dev/null" || fail "rsync still running"
	restart_vsd || fail "restart vsd"
	[[ ! -e "$(snapdir kl1 .s1.creating)" ]] || fail ".s1.creating left after restart"
	run vsctl snapshot list kl1 --json
	assert_eq "$(json_get snapshots <<<"$output")" "[]"
	run vsctl snapshot create kl1 s1
	assert_success
}

@test "a VPS with a disk quota: the snapshot lives outside the disk, restore puts the layer back inside it" {
	ct_create_started dq1 --disk 64M || fail "start dq1"
	write_state dq1 || fail "write"
	run vsctl stop dq1
	assert_success
	run --separate-stderr vsctl snapshot create dq1 s1
	assert_success
	[[ -f "$(snapdir dq1 s1)/layer/root/a" ]] || fail "no copy of the disk's upper layer"
	# not on the container's ext4: its own mount point is disk/
	[[ "$(stat -c %d "$(snapdir dq1 s1)")" != "$(stat -c %d "$VSD_ROOT/containers/dq1/disk")" ]] ||
		fail "the snapshot is on the container's disk"
	run vsctl start dq1
	assert_success
	change_state dq1
	run --separate-stderr vsctl snapshot restore dq1 s1 --stop
	assert_success
	[[ ! -e "$VSD_ROOT/containers/dq1/disk/.upper.vsd-swap" ]] || fail "swap directory left on the disk"
	run vsctl start dq1
	assert_success
	check_state dq1
	# df inside still shows the quota's disk
	run in_ct dq1 df -P /
	assert_success
	assert_contains "$output" "/"
}
