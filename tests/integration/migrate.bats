#!/usr/bin/env bats
# Migration between nodes (issue 10; the protocol in docs/migration.md) on
# a cluster of two vsd nodes, A and B, and a client on one test LAN
# (cluster-helpers.bash draws it). Every test moves containers from A to
# B with `vsctl --socket A migrate NAME --to nodeb`; vsctl resolves the
# remote nodeb from the cluster's own configuration. Each test's
# containers are destroyed on both nodes after it, and the nodes trust
# each other again.

load helpers
load net-helpers
load cluster-helpers

setup_file() { cluster_setup_file; }
teardown_file() { cluster_teardown_file; }
teardown() { cluster_teardown_test; }

# ct_on A|B NAME CREATE-ARGS...: a routed busybox container NAME created
# and started on the node.
ct_on() { on "$1" ct_create_started "${@:2}"; }

# assert_moved NAME STATE: NAME is on B in STATE and gone from A (its
# directory too, and no staging leftovers on B).
assert_moved() {
	cl_has B "$1" || fail "$1 is not on node B: $(cl_list B | tr '\n' ' ')" || return 1
	assert_eq "$(cl_state B "$1")" "$2" "state of $1 on B" || return 1
	! cl_has A "$1" || fail "$1 is still on node A" || return 1
	assert_eq "$(cl_listing A | grep -c "$1" || true)" 0 "entries of $1 under A's containers/" || return 1
	assert_eq "$(cl_listing B | grep -c "\.$1\." || true)" 0 "staging entries of $1 under B's containers/"
}

# chat_start NODE NAME ADDR: an echo server in NAME on NODE (busybox nc -e
# cat) and chat_connect (cluster-helpers.bash) to it.
chat_start() {
	on "$1" in_ct "$2" sh -c 'setsid nc -l -p 7000 -e cat </dev/null >/dev/null 2>&1 &'
	wait_for 10 eval "on $1 in_ct $2 netstat -ltn | grep -q ':7000 '" || return 1
	chat_connect "$3"
}

@test "the rig: two nodes on one LAN reach each other's API with their node certificates; a routed container on A answers the client" {
	local n o
	for n in A B; do
		on "$n" vsctl node info >/dev/null || fail "node $n does not answer"
		# vsd runs in its node's namespace.
		assert_eq "$(readlink "/proc/$(on "$n" vsd_pid)/ns/net")" \
			"$(ip netns exec "$(cl_ns "$n")" readlink /proc/self/ns/net)" "vsd's namespace on $n"
	done
	# Each daemon's own certificate is trusted by the other, through the LAN.
	for n in A B; do
		if [[ $n == A ]]; then o=B; else o=A; fi
		run ip netns exec "$(cl_ns "$n")" curl -sS -k --max-time 10 -o /dev/null -w '%{http_code}' \
			--cert "$(cl_root "$n")/auth/node.crt" --key "$(cl_root "$n")/auth/node.key" \
			"$(cl_url "$o")/v1/containers"
		assert_eq "$output" 200 "node $n's certificate at node $o"
		# And nothing else is.
		run ip netns exec "$(cl_ns "$n")" curl -sS -k --max-time 10 -o /dev/null -w '%{http_code}' \
			"$(cl_url "$o")/v1/containers"
		assert_eq "$output" 401 "node $o without a certificate"
	done
	# The operator's remotes, over HTTPS from the client.
	run in_cl_client "$VSCTL_BIN" --remote nodeb node info
	assert_success
	assert_contains "$output" "tls.fingerprint: $(node_fp B)"
	run in_cl_client "$VSCTL_BIN" --remote nodea node info
	assert_success
	assert_contains "$output" "tls.fingerprint: $(node_fp A)"
	# The machine's own namespace has no way to the LAN.
	run curl -sk --max-time 2 "$(cl_url B)/v1/node"
	assert_failure
	ct_on A rig1 --ip 192.0.2.70 --ip 2001:db8:ff::170
	assert_reach client 192.0.2.70
	assert_reach client 2001:db8:ff::170
	# Through A: its proxy entries answer, B's do not.
	assert_contains "$(ip -n "$CL_NS_A" neigh show proxy)" "192.0.2.70"
	assert_not_contains "$(ip -n "$CL_NS_B" neigh show proxy)" "192.0.2.70"
}

@test "live: a VPS holding 20 MB of tmpfs and a counter moves to B and keeps counting" {
	local sum before after out
	ct_on A mv1 --ip 192.0.2.71
	# 20 MB in a tmpfs of its own, and a counter on its disk every 0.1 s
	# (written aside and renamed: a read never sees it half written).
	on A in_ct mv1 sh -c 'mkdir -p /run/mem && mount -t tmpfs -o size=40m tmpfs /run/mem &&
		dd if=/dev/urandom of=/run/mem/blob bs=1M count=20 2>/dev/null'
	sum=$(on A in_ct mv1 md5sum /run/mem/blob | cut -d' ' -f1)
	on A in_ct mv1 sh -c 'setsid sh -c "i=0; while :; do i=\$((i + 1)); echo \$i >/var/count.new; mv /var/count.new /var/count; sleep 0.1; done" </dev/null >/dev/null 2>&1 &'
	wait_for 5 on A in_ct mv1 test -s /var/count
	sleep 0.5
	before=$(on A in_ct mv1 cat /var/count)
	out=$(migrate mv1 --json)
	assert_eq "$(json_get mode <<<"$out")" live "the migration's mode"
	local k
	for k in frozen_ms total_ms bytes rounds container; do
		json_get "$k" <<<"$out" >/dev/null || fail "no $k in the result: $out"
	done
	# At least the tmpfs's 20 MB went over the wire.
	(($(json_get bytes <<<"$out") >= 20 * 1024 * 1024)) || fail "bytes: $out"
	assert_moved mv1 running
	sleep 0.5
	after=$(on B in_ct mv1 cat /var/count)
	((after > before)) || fail "the counter went from $before to $after"
	assert_eq "$(on B in_ct mv1 md5sum /run/mem/blob | cut -d' ' -f1)" "$sum" "the tmpfs file's checksum on B"
	sleep 0.5
	(($(on B in_ct mv1 cat /var/count) > after)) || fail "the counter stopped on B at $after"
	echo "# live move of 20 MB: $out" >&3
}

@test "live: 100 MB of anonymous memory go through B's page server while A dumps: no page file on A, the memory and a tmpfs file intact on B" {
	local out sum tsum files
	ct_on A mv6 --ip 192.0.2.96
	on A in_ct mv6 sh -c 'mkdir -p /run/mem && mount -t tmpfs -o size=20m tmpfs /run/mem &&
		dd if=/dev/urandom of=/run/mem/blob bs=1M count=5 2>/dev/null'
	tsum=$(on A in_ct mv6 md5sum /run/mem/blob | cut -d' ' -f1)
	memsum_start A mv6 100
	sum=$(on A in_ct mv6 cat /root/memsum)
	page_watch_start A mv6
	out=$(migrate mv6 --json)
	files=$(page_watch_stop)
	assert_eq "$files" "" "CRIU page files written under A's containers/mv6 during the move"
	assert_eq "$(json_get pages <<<"$out")" page-server "how the pages went ($out)"
	(($(json_get pages_bytes <<<"$out") >= 100 * 1024 * 1024)) || fail "pages_bytes: $out"
	# Both nodes' CRIU is the same: the dump locks as their probe says.
	assert_eq "$(json_get network_lock <<<"$out")" \
		"$(on A vsctl node info --json | json_get criu.network_lock_method)" "the dump's network lock"
	assert_moved mv6 running
	assert_eq "$(memsum_now B mv6)" "$sum" "the memory's checksum on B"
	assert_eq "$(on B in_ct mv6 md5sum /run/mem/blob | cut -d' ' -f1)" "$tsum" "the tmpfs file's checksum on B"
	echo "# live move of 100 MB of anonymous memory: frozen $(json_get frozen_ms <<<"$out") ms (dump $(json_get dump_ms <<<"$out"), commit $(json_get commit_ms <<<"$out")), total $(json_get total_ms <<<"$out") ms, $(json_get bytes <<<"$out") bytes" >&3
}

@test "precopy without dirty-page tracking (this kernel): refused before anything moves, naming live" {
	if on A "$VSCTL_BIN" node info --json | grep -q '"mem_tracking": *true'; then
		skip "this kernel tracks dirty pages"
	fi
	ct_on A mv7 --ip 192.0.2.97
	run migrate mv7 --mode precopy
	assert_failure
	assert_contains "$output" "precopy"
	assert_contains "$output" "--mode live"
	assert_eq "$(cl_state A mv7)" running "mv7 on A"
	! cl_has B mv7 || fail "mv7 is on B"
	assert_eq "$(cl_listing B | grep -c mv7 || true)" 0 "entries of mv7 under B's containers/"
}

@test "postcopy: refused (501) before anything moves where vm.unprivileged_userfaultfd=0, named" {
	# The restored tasks run in the container's user namespace: userfaultfd
	# needs the sysctl (criu check, run as root, cannot tell). Where it is
	# 1 postcopy works (the qemu lane moves a VPS so: tests/vm/guest/migrate.sh).
	[[ $(cat /proc/sys/vm/unprivileged_userfaultfd 2>/dev/null) != 1 ]] ||
		skip "vm.unprivileged_userfaultfd is 1 here: postcopy is possible"
	ct_on A mv8 --ip 192.0.2.98
	run migrate mv8 --mode postcopy
	assert_failure
	assert_contains "$output" "postcopy"
	assert_contains "$output" "--mode live, precopy or stop"
	assert_contains "$output" "vm.unprivileged_userfaultfd"
	on A "$VSCTL_BIN" node info --json | grep -q '"lazy_pages": *false' ||
		fail "node info says lazy_pages true"
	# --check lists this node's refusal and the target's (its node
	# info), each with the reason, instead of failing on the first.
	run migrate mv8 --mode postcopy --check
	assert_failure
	assert_contains "$output" "blocked: this node (the source): "
	assert_contains "$output" "blocked: the target cannot restore lazily (post-copy): "
	[[ $(grep -c 'vm.unprivileged_userfaultfd' <<<"$output") -ge 2 ]] ||
		fail "both blockers name the sysctl: $output"
	# No failed pull to recover from: refused, nothing changes.
	run cvsctl --socket "$CL_A_SOCKET" migrate mv8 --recover
	assert_failure
	assert_contains "$output" "has no failed post-copy pull"
	# The API's recover refuses the fields the CLI refuses, naming each.
	for f in mode:live bandwidth:50M; do
		run api_on A POST /v1/containers/mv8/migrate -H 'Content-Type: application/json' \
			-d "{\"recover\": true, \"${f%%:*}\": \"${f#*:}\"}"
		assert_contains "$output" "HTTP 400"
		assert_contains "$output" "${f%%:*}: not with recover"
	done
	assert_eq "$(cl_state A mv8)" running "mv8 on A"
	! cl_has B mv8 || fail "mv8 is on B"
	assert_eq "$(cl_listing B | grep -c mv8 || true)" 0 "entries of mv8 under B's containers/"
	# The API's status.
	run api_on A POST /v1/containers/mv8/migrate -H 'Content-Type: application/json' \
		-d "{\"target\": {\"url\": \"https://${CL_ADDR4[B]}:$CL_PORT\", \"fingerprint\": \"$(node_fp B)\"}, \"mode\": \"postcopy\"}"
	assert_contains "$output" "HTTP 501"
	assert_eq "$(cl_state A mv8)" running "mv8 on A after the API's refusal"
}

@test "live: a client on the LAN keeps its TCP conversation with the VPS during the move" {
	local res
	ct_on A mv2 --ip 192.0.2.72
	assert_reach client 192.0.2.72
	chat_start A mv2 192.0.2.72
	sleep 0.5
	migrate mv2
	assert_moved mv2 running
	# The conversation goes on with B for a while.
	sleep 1
	res=$(chat_finish)
	[[ "$res" == ok\ * ]] || fail "the client's conversation: $res"
	echo "# conversation across the move: $res (answers, longest gap in ms)" >&3
	# B answers for the address now, A no longer does.
	assert_contains "$(ip -n "$CL_NS_B" neigh show proxy)" "192.0.2.72"
	assert_not_contains "$(ip -n "$CL_NS_A" neigh show proxy)" "192.0.2.72"
	# The client's ARP entry names B's uplink now.
	assert_eq "$(ip -n "$CLIENT" -j neigh show 192.0.2.72 dev cl0 | json_get 0.lladdr)" \
		"$(ip -n "$CL_NS_B" -j link show dev "$NET_UPLINK" | json_get 0.address)" \
		"the client's ARP entry for 192.0.2.72"
	assert_reach client 192.0.2.72
}

@test "offline: a stopped container moves and starts on B" {
	on A vsctl create mv3 --template busybox --ip 192.0.2.73 >/dev/null
	run migrate mv3 --mode offline
	assert_success
	assert_moved mv3 stopped
	on B vsctl start mv3
	wait_for 10 cl_is B mv3 running
	assert_reach client 192.0.2.73
}

@test "stop mode: a running container is stopped, moved and runs on B" {
	ct_on A mv4 --ip 192.0.2.74
	on A in_ct mv4 sh -c 'echo kept >/root/mark'
	local out
	out=$(migrate mv4 --mode stop --json)
	assert_eq "$(json_get mode <<<"$out")" stop "the migration's mode"
	assert_moved mv4 running
	assert_eq "$(on B in_ct mv4 cat /root/mark)" kept "a file of its layer"
	assert_reach client 192.0.2.74
}

# check_blocked NAME WORDS: `migrate NAME --check` fails, its output holds
# WORDS, and neither node changed.
check_blocked() {
	local a b
	a=$(cl_listing A) b=$(cl_listing B)
	run migrate "$1" --check
	assert_failure 1
	assert_contains "$output" "$2"
	assert_eq "$(cl_listing A)" "$a" "node A's containers/ after the check"
	assert_eq "$(cl_listing B)" "$b" "node B's containers/ after the check"
	assert_eq "$(cl_state A "$1")" running "$1 on A after the check"
}

@test "--check prints what blocks the move (template, name, address) and changes nothing on either node" {
	# A template node B lacks.
	on A vsctl template build bbonly --from busybox >/dev/null 2>&1
	ct_on A ck1 --template bbonly --ip 192.0.2.75
	check_blocked ck1 "template 'bbonly'"
	# The name taken on B.
	ct_on A ck2 --ip 192.0.2.76
	on B vsctl create ck2 --template busybox --ip 192.0.2.86 >/dev/null
	check_blocked ck2 "container 'ck2' already exists"
	# The address taken on B (by a stopped container: it holds it).
	ct_on A ck3 --ip 192.0.2.77
	on B vsctl create other3 --template busybox --ip 192.0.2.77 >/dev/null
	check_blocked ck3 "192.0.2.77"
	# A free move passes the check and still changes nothing.
	ct_on A ck4 --ip 192.0.2.78
	local a b
	a=$(cl_listing A) b=$(cl_listing B)
	run migrate ck4 --check
	assert_success
	assert_eq "$(cl_listing A)$(cl_listing B)" "$a$b" "the nodes after a passing check"
	assert_eq "$(cl_state A ck4)" running
	on A vsctl template remove bbonly >/dev/null 2>&1 || true
}

@test "an untrusted source is refused cleanly: the container still runs on A, nothing is left on B" {
	local pid fp
	ct_on A ut1 --ip 192.0.2.79
	pid=$(on A ct_init_pid ut1)
	fp=$(openssl x509 -in "$CL_A_ROOT/auth/node.crt" -outform DER | sha256sum | cut -d' ' -f1)
	on B vsctl trust remove "$fp" >/dev/null
	local b
	b=$(cl_listing B)
	run migrate ut1
	assert_failure 1
	[[ "$output" =~ vsctl:\ .*([Tt]rust|[Cc]ertificate|401|[Uu]nauthori) ]] ||
		fail "the error does not say the target refused this node: $output"
	assert_eq "$(cl_state A ut1)" running "ut1 on A"
	assert_eq "$(on A ct_init_pid ut1)" "$pid" "ut1's init on A (not restarted)"
	assert_eq "$(cl_listing B)" "$b" "node B's containers/"
	assert_reach client 192.0.2.79
	# Trusted again, the same move works (what failed was the trust).
	cluster_trust
	migrate ut1 >/dev/null
	assert_moved ut1 running
	assert_reach client 192.0.2.79
}

@test "node evacuate: every container of A moves to B, two at a time, each in its state" {
	ct_on A ev1 --ip 192.0.2.91
	ct_on A ev2 --ip 192.0.2.92
	on A vsctl create ev3 --template busybox --ip 192.0.2.93 >/dev/null
	on A in_ct ev1 sh -c 'echo one >/root/mark'
	run cvsctl --socket "$CL_A_SOCKET" node evacuate --to nodeb --parallel 2
	assert_success
	assert_contains "$output" "migrated ev1 to nodeb (live)"
	assert_contains "$output" "migrated ev3 to nodeb (offline)"
	assert_eq "$(cl_list A | wc -l)" 0 "containers left on A"
	assert_moved ev1 running
	assert_moved ev2 running
	assert_moved ev3 stopped
	assert_eq "$(on B in_ct ev1 cat /root/mark)" one "ev1's layer on B"
	assert_reach client 192.0.2.92
	# Nothing left to move: a no-op that succeeds.
	run cvsctl --socket "$CL_A_SOCKET" node evacuate --to nodeb
	assert_success
	# An unknown remote is a usage error naming it, before anything moves.
	run cvsctl --socket "$CL_A_SOCKET" node evacuate --to nosuch
	assert_failure 2
	assert_contains "$output" "unknown remote 'nosuch'"
}

@test "live: a container whose id range is taken on B moves into another one (layer and image shifted)" {
	# B's first container takes the range A's first one has.
	on B vsctl create holder --template busybox --ip 192.0.2.95 >/dev/null
	ct_on A sh1 --ip 192.0.2.94
	local base_a
	base_a=$(cvsctl --socket "$CL_A_SOCKET" status sh1 --json | json_get idmap.uid)
	assert_eq "$(cvsctl --socket "$CL_B_SOCKET" status holder --json | json_get idmap.uid)" \
		"$base_a" "the range B's holder took"
	on A in_ct sh1 sh -c 'mkdir -p /home/u && echo mine >/home/u/file && chown -R 1000:1000 /home/u'
	on A in_ct sh1 sh -c 'setsid sh -c "i=0; while :; do i=\$((i + 1)); echo \$i >/var/count.new; mv /var/count.new /var/count; sleep 0.1; done" </dev/null >/dev/null 2>&1 &'
	wait_for 5 on A in_ct sh1 test -s /var/count
	run migrate sh1
	assert_success
	assert_moved sh1 running
	local base_b
	base_b=$(cvsctl --socket "$CL_B_SOCKET" status sh1 --json | json_get idmap.uid)
	[[ "$base_b" != "$base_a" ]] || fail "sh1 kept range $base_a on B, which holder has"
	# Inside, owners are as they were; outside, in B's new range.
	assert_eq "$(on B in_ct sh1 stat -c %u:%g /home/u/file)" "1000:1000" "the owner inside"
	assert_eq "$(on B in_ct sh1 stat -c %u /var/count)" 0 "root's file inside"
	local before
	before=$(on B in_ct sh1 cat /var/count)
	sleep 0.5
	(($(on B in_ct sh1 cat /var/count) > before)) || fail "the counter stopped on B"
	on B in_ct sh1 sh -c 'echo again >>/home/u/file'
}

@test "live: a VPS with a disk quota moves with its quota, its files and its limits" {
	ct_on A dq1 --ip 192.0.2.96 --disk 64M --memory 256M
	on A in_ct dq1 sh -c 'dd if=/dev/urandom of=/root/data bs=1M count=8 2>/dev/null; sync'
	local sum total_a
	sum=$(on A in_ct dq1 md5sum /root/data | cut -d' ' -f1)
	total_a=$(on A in_ct dq1 df -P / | awk 'NR == 2 { print $2 }')
	run migrate dq1
	assert_success
	assert_moved dq1 running
	# The same quota inside (ext4 of the same size), and enforced.
	assert_eq "$(on B in_ct dq1 df -P / | awk 'NR == 2 { print $2 }')" "$total_a" "df total (K) on B"
	assert_eq "$(stat -c %s "$(cl_root B)/containers/dq1/disk.img")" $((64 * 1024 * 1024)) "B's disk image"
	assert_eq "$(on B in_ct dq1 md5sum /root/data | cut -d' ' -f1)" "$sum" "the file's checksum on B"
	run on B in_ct dq1 dd if=/dev/zero of=/root/big bs=1M count=100
	assert_failure
	assert_contains "$output" "No space left on device"
	assert_eq "$(cvsctl --socket "$CL_B_SOCKET" status dq1 --json | json_get limits.memory)" \
		$((256 * 1024 * 1024)) "the memory limit on B"
}

@test "live: the owner, the shaping and the uptime inside go with the VPS" {
	ct_on A ow1 --ip 192.0.2.97 --owner acme --ingress-rate 20mbit --egress-rate 10mbit
	sleep 2
	local up_a hif
	up_a=$(on A in_ct ow1 cut -d. -f1 /proc/uptime)
	((up_a >= 2)) || fail "uptime inside on A: $up_a"
	run migrate ow1
	assert_success
	assert_moved ow1 running
	assert_eq "$(cvsctl --socket "$CL_B_SOCKET" status ow1 --json | json_get owner)" acme "the owner on B"
	# What it receives is shaped on B's side of its link; what it sends is policed there.
	hif=$(on B ct_hostif ow1)
	run tc -n "$CL_NS_B" qdisc show dev "$hif"
	assert_contains "$output" tbf
	assert_contains "$output" "rate 20Mbit"
	run ip netns exec "$CL_NS_B" nft list ruleset
	assert_contains "$(grep -A8 "chain eg_$hif " <<<"$output")" "limit rate"
	# Its uptime counts on from A's, not from the restore.
	(($(on B in_ct ow1 cut -d. -f1 /proc/uptime) >= up_a)) ||
		fail "uptime inside on B: $(on B in_ct ow1 cat /proc/uptime), on A it was $up_a"
}

# rsync exits 24 when files it listed are gone by their turn ("some files
# vanished"): a running guest does that all the time (temp files, renames;
# a systemd guest's moves failed on it). A pre-copy round takes it for a
# round done; the final round, with the guest stopped, copies the rest.
@test "live: files that come and go during the pre-copy rounds (rsync's 'vanished') do not fail the move" {
	ct_on A vn1 --ip 192.0.2.99
	# A file first in rsync's order, sent slowly, and after it files a
	# loop replaces every 0.1 s: each round lists files that are gone when
	# their turn comes, 2 s later.
	on A in_ct vn1 dd if=/dev/urandom of=/a-big bs=1M count=4 2>/dev/null
	on A in_ct vn1 sh -c 'mkdir /zz && setsid sh -c "i=0; while :; do i=\$((i + 1)); for k in 1 2 3 4 5; do echo \$i >/zz/f\$i.\$k; done; sleep 0.1; rm -f /zz/f\$i.*; done" </dev/null >/dev/null 2>&1 &'
	wait_for 5 eval 'on A in_ct vn1 ls /zz | grep -q .'
	run migrate vn1 --bandwidth 2M
	assert_success
	assert_moved vn1 running
	grep -q "files of the running container changed during a round, left to the final round" "$CL_A_TMP/vsd.log" ||
		fail "no round met vanished files: the test did not test that"
	# The loop goes on on B.
	local a b
	a=$(on B in_ct vn1 ls /zz)
	sleep 0.5
	b=$(on B in_ct vn1 ls /zz)
	[[ "$a" != "$b" ]] || fail "the loop stopped on B: $a"
}
