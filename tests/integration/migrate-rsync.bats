#!/usr/bin/env bats
# The disk sync while the guest writes (issue 10, item 4; docs/migration.md,
# "Transport"), on the cluster of cluster-helpers.bash. A guest that
# rewrites a file in place (`dd of=F`, `echo $i >F`: truncate, then write)
# makes rsync read a file shorter than it listed it: "read errors
# mapping F: No data available", rsync's status 23. In a round run while
# the container runs, that is a round done (the final round, the container
# stopped, compares every file again and must end with 0); the file and
# why are in the source's log.

load helpers
load net-helpers
load cluster-helpers

# Every move here waits 5 s after its running rounds, before the freeze
# (daemon/migrate-out.c, test_freeze_delay), logged on A.
setup_file() {
	export VSD_TEST_MIG_FREEZE_DELAY_MS=5000
	cluster_setup_file
}
teardown_file() { cluster_teardown_file; }
teardown() { cluster_teardown_test; }

@test "a file the guest truncates while a running round sends the layer: the move completes, A's log names the file rsync read short" {
	local log="$CL_A_ROOT/../vsd.log" from id pid
	ct_counting rs1 192.0.2.110
	# 16 MB at 4 MB/s: the running round reads /root/zzz for about 4 s.
	on A in_ct rs1 sh -c 'head -c 16777216 /dev/urandom >/root/zzz'
	from=$(($(wc -l <"$log") + 1))
	mig_bg rs1 --bandwidth 4M
	# zzz is arriving on B (rsync's temporary file): A's rsync has it
	# open and is reading it. Truncated then, as the guest would (`: >F`),
	# through its root (a container being moved takes no exec): rsync's
	# next read of it comes back short. (A file truncated before rsync
	# opens it is sent at its new size, no error.)
	wait_for 60 sh -c "find '$CL_B_ROOT/containers' -name '.zzz.*' | grep -q ." ||
		fail "/root/zzz never arrived on B: $(mig_out)"
	pid=$(on A ct_init_pid rs1)
	: >"/proc/$pid/root/root/zzz"
	wait_for 120 test -e "$NET_TMP/mig.rc" || fail "the move did not end"
	echo "# A's log: $(tail -n +"$from" "$log" | grep -E 'rsync|round' | cut -c1-300)" >&3
	assert_eq "$(mig_rc)" 0 "the move's status ($(mig_out))"
	assert_eq "$(cl_state B rs1)" running "rs1 on B"
	! cl_has A rs1 || fail "rs1 is still on A"
	# A running round met the truncation ...
	tail -n +"$from" "$log" | grep -q 'ended with status 23: .*read errors mapping ".*/root/zzz"' ||
		fail "no running round of A read /root/zzz short: $(tail -n +"$from" "$log" | grep rsync)"
	# ... and took it for a round done.
	tail -n +"$from" "$log" | grep -q 'changed during a round, left to the final round' ||
		fail "A's log has no round left to the final round"
	# B's record keeps no failure of a round the final round made good
	# (the cause a later failure of the move would name).
	id=$(mig_id)
	assert_eq "$(json_get sync_error <"$CL_B_ROOT/migrations/$id.json" 2>/dev/null || true)" "" \
		"sync_error in B's record of the move"
	assert_eq "$(on B in_ct rs1 stat -c %s /root/zzz)" 0 "/root/zzz's size on B"
	# The counter counts on B.
	local c1 c2
	c1=$(on B in_ct rs1 cat /var/count)
	sleep 0.5
	c2=$(on B in_ct rs1 cat /var/count)
	((c2 > c1)) || fail "rs1's counter on B: $c1 then $c2"
}

# The final round skips a file whose size and modification time match the
# target's copy; the guest's file below changes after the running rounds
# read it, to the same size and (set back) the same time, as a second write
# within one tick of the file system's clock would. Its change time, which
# the guest cannot set, sends it again, compared whole.
@test "a file rewritten to the same size and time after the running rounds read it reaches the target (the final round's second pass)" {
	local log="$CL_A_ROOT/../vsd.log" from pid root
	ct_counting rs2 192.0.2.111
	on A in_ct rs2 sh -c 'head -c 4096 /dev/zero | tr "\0" A >/root/same && touch -r /root/same /root/ref'
	from=$(($(wc -l <"$log") + 1))
	mig_bg rs2
	wait_for 60 sh -c "tail -n +$from '$log' | grep -q 'test hook: .* before the freeze'" ||
		fail "the move did not reach its freeze: $(tail -n +"$from" "$log" | cut -c1-300)"
	# Written as the guest would, through its root (a container being
	# moved takes no exec).
	pid=$(on A ct_init_pid rs2)
	root=/proc/$pid/root/root
	head -c 4096 /dev/zero | tr '\0' B >"$root/same"
	touch -r "$root/ref" "$root/same"
	wait_for 120 test -e "$NET_TMP/mig.rc" || fail "the move did not end"
	assert_eq "$(mig_rc)" 0 "the move's status ($(mig_out))"
	assert_eq "$(cl_state B rs2)" running "rs2 on B"
	assert_eq "$(on B in_ct rs2 head -c 8 /root/same)" BBBBBBBB "/root/same on B"
	tail -n +"$from" "$log" | grep -q 'second pass: [1-9][0-9]* files changed during the move' ||
		fail "A's log has no second pass: $(tail -n +"$from" "$log" | grep -E 'round|pass' | cut -c1-300)"
}
