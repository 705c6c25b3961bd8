#!/usr/bin/env bats
# The target's disk full (issue 10, item 6): node B's root is a small ext4
# file system of its own (a loop-mounted image this file makes and
# removes), on the cluster of cluster-helpers.bash.
#
# - A container bigger than B's free space is refused at the reservation,
#   the error naming the space; nothing changes on either node.
# - A container that fits at the reservation but grows past B's free space
#   during the copy (the guest writes after the reservation passed): the
#   move fails cleanly, its error on A names B's full disk (B's rsync's
#   line, relayed by B's migration record), exactly one copy runs, on A,
#   B has nothing of it (no staging, no id range) and its space back, and
#   once the guest frees
#   the space the same move works.

load helpers
load net-helpers
load cluster-helpers

IMG_MB=64

# _small_root_b: B's root moved onto an ext4 image of IMG_MB (no blocks
# reserved for root: rsync runs as root and would use them), B's vsd
# restarted on it. vsd_teardown_file unmounts it (a mount under B's temp
# dir; the loop device goes with it) and removes the image with the dir.
_small_root_b() {
	on B vsd_stop_daemon || return 1
	truncate -s "${IMG_MB}M" "$CL_B_TMP/root.img" &&
		mkfs.ext4 -q -F -m 0 "$CL_B_TMP/root.img" &&
		mv "$CL_B_ROOT" "$CL_B_TMP/root.old" && mkdir "$CL_B_ROOT" &&
		mount -o loop "$CL_B_TMP/root.img" "$CL_B_ROOT" &&
		rmdir "$CL_B_ROOT/lost+found" &&
		cp -a "$CL_B_TMP/root.old/." "$CL_B_ROOT/" &&
		rm -rf "$CL_B_TMP/root.old" || return 1
	on B vsd_start_daemon
}

setup_file() {
	cluster_setup_file || return 1
	_small_root_b
}
teardown_file() { cluster_teardown_file; }
teardown() { cluster_teardown_test; }

# b_free_mb: megabytes free on B's root.
b_free_mb() { df -B1M --output=avail "$CL_B_ROOT" | tail -n 1 | tr -d ' '; }

# write_mb NAME FILE MB: MB of random data into FILE in container NAME on A
# (random: rsync --sparse would not write zeros out).
write_mb() { on A in_ct "$1" dd if=/dev/urandom of="$2" bs=1M count="$3" 2>/dev/null; }

@test "B's root has less free space than the container brings: refused at the reservation, naming the space; nothing changes" {
	local free a b pid
	free=$(b_free_mb)
	ct_counting df1 192.0.2.96
	write_mb df1 /root/big $((free + 8))
	a=$(cl_listing A) b=$(cl_listing B)
	pid=$(on A ct_init_pid df1)
	run migrate df1 --check
	assert_failure 1
	assert_contains "$output" "$CL_B_ROOT has "
	assert_contains "$output" "bytes free, the container brings"
	run migrate df1
	assert_failure 1
	assert_contains "$output" "$(cl_url B)"
	assert_contains "$output" "$CL_B_ROOT has "
	assert_contains "$output" "bytes free, the container brings"
	assert_eq "$(cl_listing A)$(cl_listing B)" "$a$b" "the nodes' containers/ after the refusal"
	assert_eq "$(on A ct_init_pid df1)" "$pid" "df1's init on A (not restarted)"
	assert_one_copy df1
	assert_b_clean df1
}

@test "the guest fills B's disk during the copy: the move fails cleanly, one copy runs on A, B is clean; a move after freeing the space works" {
	local free id sum
	free=$(b_free_mb)
	ct_counting df2 192.0.2.97
	# 16 MB before the move: it fits, and its first round takes 2 s.
	write_mb df2 /root/base 16
	sum=$(on A in_ct df2 md5sum /root/base | cut -d' ' -f1)
	# A writer of the guest's own, started by a connection from the client
	# (a container being moved takes no exec).
	on A in_ct df2 sh -c "setsid sh -c 'nc -l -p 7001 </dev/null >/dev/null
		dd if=/dev/urandom of=/root/fill bs=1M count=$((free + 8)) 2>/dev/null; touch /root/filled' \
		</dev/null >/dev/null 2>&1 &"
	wait_for 10 eval "on A in_ct df2 netstat -ltn | grep -q ':7001 '"
	# What memory pre-copy rounds leave on the source until the final dump
	# (this kernel cannot make real ones: --mode precopy needs soft-dirty):
	# a move that fails before its dump removes them.
	mkdir -p "$CL_A_ROOT/containers/df2/precopy/1"
	mig_bg df2 --bandwidth 8M
	# Once the reservation passed, the guest writes more than B has.
	wait_for 20 test -d "$CL_B_ROOT/containers/.df2.incoming" ||
		fail "no reservation on B: $(mig_out)"
	in_client "$PY" -c 'import socket, sys; socket.create_connection((sys.argv[1], 7001), timeout=5).close()' \
		192.0.2.97
	id=$(mig_id)
	wait_for 90 test -s "$NET_TMP/mig.rc" || fail "the migrate did not end: $(mig_out)"
	assert_eq "$(mig_rc)" 1 "vsctl migrate's status ($(mig_out))"
	assert_contains "$(mig_out)" "stays here"
	assert_contains "$(mig_out)" "copy the layer to the target"
	# The target's rsync said why (its stderr stays there: the source's
	# rsync sees only the broken stream) ...
	grep -q "migration $id: rsync ended with status 11: .*No space left on device" "$CL_B_TMP/vsd.log" ||
		fail "B's log does not say the disk was full: $(grep "$id" "$CL_B_TMP/vsd.log")"
	# ... and recorded it, where A asked for it: A's error names the cause.
	assert_contains "$(json_get sync_error <"$CL_B_ROOT/migrations/$id.json")" \
		"layer: rsync ended with status 11: "
	assert_contains "$(mig_out)" "target $(cl_url B): rsync ended with status 11: rsync: [receiver] write failed on "
	assert_contains "$(mig_out)" "No space left on device (28); here: "
	echo "# the error: $(tail -n 1 "$NET_TMP/mig.out")" >&3
	assert_one_copy df2
	[[ ! -e "$CL_A_ROOT/containers/df2/precopy" ]] || fail "pre-copy rounds are left on A"
	assert_eq "$(mig_state A "$id")" failed "the migration's record on A"
	wait_for 10 eval '[[ "$(mig_state B '"$id"')" == aborted ]]' ||
		fail "the migration on B: $(mig_state B "$id")"
	assert_b_clean df2
	# B has its space back (what it had, give or take the records; ext4
	# frees blocks at its journal's next commit, within 5 s).
	wait_for 15 eval '(($(b_free_mb) >= '"$free"' - 1))' ||
		fail "B has $(b_free_mb) MB free, $free before the move"
	assert_reach client 192.0.2.97
	# The guest frees the space: the same move works.
	wait_for 20 on A in_ct df2 test -e /root/filled
	on A in_ct df2 rm /root/fill
	run migrate df2
	assert_success
	assert_eq "$(cl_state B df2)" running "df2 on B after the second migrate"
	! cl_has A df2 || fail "df2 is still on A"
	assert_eq "$(on B in_ct df2 md5sum /root/base | cut -d' ' -f1)" "$sum" "/root/base on B"
	assert_reach client 192.0.2.97
}
