#!/usr/bin/env bats
# The disk sync while the guest writes (issue 10, item 4; docs/migration.md,
# "Transport"), on the cluster of cluster-helpers.bash. A guest that
# rewrites a file in place (`dd of=F`, `echo $i >F`: truncate, then write)
# makes rsync read a file shorter than when it opened it: "read errors
# mapping F: No data available", rsync's status 23. In a round run while
# the container runs, that is a round done (the final round, the container
# stopped, compares every file again and must end with 0); the file and
# why are in the source's log.

load helpers
load net-helpers
load cluster-helpers

setup_file() { cluster_setup_file; }
teardown_file() { cluster_teardown_file; }
teardown() { cluster_teardown_test; }

@test "the guest rewrites a 16 MB file in place during the running rounds: the move completes, A's log names the file rsync read short" {
	local log="$CL_A_ROOT/../vsd.log" from id
	ct_counting rs1 192.0.2.110
	# The writer, started before the move (a container being moved takes
	# no exec): 16 MB truncated and written again, over and over.
	on A in_ct rs1 sh -c 'setsid sh -c "while :; do dd if=/dev/zero of=/root/churn bs=64k count=256 2>/dev/null; done" </dev/null >/dev/null 2>&1 &'
	wait_for 5 on A in_ct rs1 test -s /root/churn
	from=$(($(wc -l <"$log") + 1))
	run migrate rs1
	echo "# A's log: $(tail -n +"$from" "$log" | grep -E 'rsync|round' | cut -c1-300)" >&3
	assert_success
	assert_eq "$(cl_state B rs1)" running "rs1 on B"
	! cl_has A rs1 || fail "rs1 is still on A"
	# A running round met the rewrite (else this test proves nothing) ...
	tail -n +"$from" "$log" | grep -q 'ended with status 23: .*read errors mapping ".*/root/churn"' ||
		fail "no running round of A read /root/churn short: $(tail -n +"$from" "$log" | grep rsync)"
	# ... and took it for a round done.
	tail -n +"$from" "$log" | grep -q 'changed during a round, left to the final round' ||
		fail "A's log has no round left to the final round"
	# B's record keeps no failure of a round the final round made good
	# (the cause a later failure of the move would name).
	id=$(mig_id)
	assert_eq "$(json_get sync_error <"$CL_B_ROOT/migrations/$id.json" 2>/dev/null || true)" "" \
		"sync_error in B's record of the move"
	# The counter counts on B.
	local c1 c2
	c1=$(on B in_ct rs1 cat /var/count)
	sleep 0.5
	c2=$(on B in_ct rs1 cat /var/count)
	((c2 > c1)) || fail "rs1's counter on B: $c1 then $c2"
}
