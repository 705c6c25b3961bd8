# A cluster of two vsd nodes on one machine (issue 10, item 6; load after
# helpers and net-helpers): no test packet leaves the machine.
#
# cluster_setup_file makes four network namespaces of its own:
#   lan    ($CL_LAN, "vsdt-l-<hex>"): the test LAN, a bridge lan0 and
#          nothing else (no address, no route);
#   node A ($CL_NS_A, "vsdt-a-<hex>") and node B ($CL_NS_B, "vsdt-b-<hex>"):
#          one vsd each, with its own root, run dir, socket, id-map
#          registry (separate machines), cgroup parent, bridge and uplink;
#   client ($CLIENT, "vsdt-c-<hex>"): a machine on the LAN.
#
#   A: up0 192.0.2.11/24 2001:db8:ff::11/64 --+
#   B: up0 192.0.2.12/24 2001:db8:ff::12/64 --+-- lan0 (in lan)
#   client: cl0 192.0.2.2/24 2001:db8:ff::2/64 --+
#
# No namespace has a route beyond its connected /24 and /64. Routed
# containers take addresses of 192.0.2.64/26 and 2001:db8:ff::100/120 (the
# same pools on both nodes, as on one LAN; the tests name their
# addresses): the client reaches them on-link through the proxy ARP / NDP
# entries of the node that runs them.
#
# Each vsd listens HTTPS on its LAN address (port 8443) and trusts the
# other's node certificate (vsctl trust add). vsctl has a private
# configuration ($CL_XDG) with a remote per node, nodea and nodeb, added
# from the client namespace (the LAN addresses are not reachable from the
# machine's own namespace), with a join token so that this vsctl is
# trusted too. vsctl then runs in the machine's namespace against a node's
# unix socket (--socket "$CL_A_SOCKET") and only resolves a remote's URL
# and fingerprint from $CL_XDG; the daemons reach each other in the LAN.
#
# The per-node state of helpers.bash (VSD_TMP, VSD_ROOT, VSD_RUN,
# VSD_SOCKET, VSD_CG_PARENT) is kept as CL_A_* and CL_B_*; cluster_use A|B
# makes a node's current, so vsd_teardown_file, in_ct, ct_json ... work on
# it. net-helpers' NET_TMP is the cluster's temp dir: net_bg, sniff_start,
# in_client and net_teardown_file (the namespaces) work as in a network test.

CL_PORT=8443
CL_POOLS="--ip-pool routed=192.0.2.64/26 --ip-pool routed=2001:db8:ff::100/120"
declare -gA CL_ADDR4=([A]=192.0.2.11 [B]=192.0.2.12)
declare -gA CL_ADDR6=([A]=2001:db8:ff::11 [B]=2001:db8:ff::12)

# cluster_use A|B: make node A's (B's) vsd the current one of helpers.bash.
cluster_use() {
	local n=$1 v
	for v in TMP ROOT RUN SOCKET CG_PARENT; do
		eval "export VSD_$v=\${CL_${n}_$v:-}"
	done
	export VSD_LAUNCH="nsenter --net=/run/netns/$(cl_ns "$n")"
	VSD_DAEMON_ARGS="--uplink $NET_UPLINK $CL_POOLS --listen ${CL_ADDR4[$n]}:$CL_PORT"
	export VSD_DAEMON_ARGS
}

# _cluster_save A|B: the current helpers.bash state as node A's (B's).
_cluster_save() {
	local n=$1 v
	for v in TMP ROOT RUN SOCKET CG_PARENT; do
		eval "export CL_${n}_$v=\${VSD_$v:-}"
	done
}

cl_ns() { if [[ "$1" == A ]]; then echo "$CL_NS_A"; else echo "$CL_NS_B"; fi; }
cl_sock() { if [[ "$1" == A ]]; then echo "$CL_A_SOCKET"; else echo "$CL_B_SOCKET"; fi; }
cl_root() { if [[ "$1" == A ]]; then echo "$CL_A_ROOT"; else echo "$CL_B_ROOT"; fi; }
cl_url() { echo "https://${CL_ADDR4[$1]}:$CL_PORT"; }

# on A|B CMD...: CMD (a helper such as in_ct, ct_json, ct_state, or
# vsctl) against node A's (B's) daemon; cvsctl: vsctl with the cluster's
# remotes (the source of a migration is named with --socket).
on() {
	local n=$1
	shift
	(
		cluster_use "$n"
		"$@"
	)
}
cvsctl() { XDG_CONFIG_HOME="$CL_XDG" "$VSCTL_BIN" "$@"; }
# in_cl_client CMD...: CMD in the client namespace with the cluster's vsctl
# configuration.
in_cl_client() { XDG_CONFIG_HOME="$CL_XDG" nsenter --net="/run/netns/$CLIENT" "$@"; }

# _cluster_namespaces: the LAN with its bridge, the two node namespaces and
# the client, joined to the bridge by veth pairs.
_cluster_namespaces() {
	local id n
	id=$(rand_hex | cut -c1-6)
	NET_TMP=$(mktemp -d /tmp/vsdt-cl-XXXXXX) && chmod 0755 "$NET_TMP" || return 1
	export NET_TMP CL_XDG="$NET_TMP/xdg" CL_LAN="vsdt-l-$id" CL_NS_A="vsdt-a-$id"
	export CL_NS_B="vsdt-b-$id" CLIENT="vsdt-c-$id" NODE="vsdt-a-$id"
	: >"$NET_TMP/pids"
	# Recorded before they exist: net_teardown_file deletes what is listed.
	echo "$CL_LAN $CL_NS_A $CL_NS_B $CLIENT" >"$NET_TMP/netns"
	for n in "$CL_LAN" "$CL_NS_A" "$CL_NS_B" "$CLIENT"; do
		ip netns add "$n" && ip -n "$n" link set lo up || return 1
	done
	ip -n "$CL_LAN" link add lan0 type bridge && ip -n "$CL_LAN" link set lan0 up || return 1
	_cluster_port "$CL_NS_A" "$NET_UPLINK" lana 192.0.2.11/24 2001:db8:ff::11/64 &&
		_cluster_port "$CL_NS_B" "$NET_UPLINK" lanb 192.0.2.12/24 2001:db8:ff::12/64 &&
		_cluster_port "$CLIENT" cl0 lanc 192.0.2.2/24 2001:db8:ff::2/64 || return 1
	for n in "$CL_LAN" "$CL_NS_A" "$CL_NS_B" "$CLIENT"; do
		[[ -z "$(ip -n "$n" route show default)$(ip -n "$n" -6 route show default)" ]] ||
			fail "namespace $n has a default route" || return 1
	done
}

# _cluster_port NS IF LANPORT ADDR4 ADDR6: IF in NS, its peer LANPORT a
# port of lan0.
_cluster_port() {
	ip -n "$1" link add "$2" type veth peer name "$3" netns "$CL_LAN" &&
		ip -n "$1" addr add "$4" dev "$2" &&
		ip -n "$1" addr add "$5" dev "$2" nodad &&
		ip -n "$1" link set "$2" up &&
		ip -n "$CL_LAN" link set "$3" master lan0 &&
		ip -n "$CL_LAN" link set "$3" up
}

# _cluster_node A|B: that node's vsd (helpers' vsd_setup_file in its
# namespace, with the busybox template). Its state is saved even when the
# start failed, so that the teardown finds what was made.
_cluster_node() {
	local rc=0
	cluster_use "$1"
	vsd_setup_file || rc=1
	_cluster_save "$1"
	return $rc
}

# node_fp A|B: the SHA-256 fingerprint of the node's certificate.
node_fp() { api_on "$1" GET /v1/node | head -n 1 | json_get tls.fingerprint; }
api_on() { on "$1" api "${@:2}"; }

# cluster_trust: each node trusts the other's node certificate (again,
# after a test took it away); idempotent.
cluster_trust() {
	local n o fp
	for n in A B; do
		if [[ $n == A ]]; then o=B; else o=A; fi
		fp=$(openssl x509 -in "$(cl_root "$o")/auth/node.crt" -outform DER | sha256sum | cut -d' ' -f1)
		on "$n" vsctl trust list | grep -q "$fp" && continue
		on "$n" vsctl trust add "node$(tr 'AB' 'ab' <<<"$o")" "$(cl_root "$o")/auth/node.crt" >/dev/null ||
			return 1
	done
}

# _cluster_remotes: remotes nodea and nodeb in $CL_XDG, each with its
# fingerprint pinned and this vsctl's certificate trusted by a join token.
_cluster_remotes() {
	local n tok
	mkdir -p "$CL_XDG" && chmod 0700 "$CL_XDG" || return 1
	for n in A B; do
		tok="$NET_TMP/join-$n.tok"
		on "$n" vsctl trust token "ops$(tr 'AB' 'ab' <<<"$n")" --expires 10m >"$tok" || return 1
		in_cl_client "$VSCTL_BIN" remote add "node$(tr 'AB' 'ab' <<<"$n")" "$(cl_url "$n")" \
			--join-token-file "$tok" --accept-fingerprint "$(node_fp "$n")" >/dev/null || return 1
		rm -f "$tok"
	done
}

# cluster_setup_file: namespaces, both nodes, trust, remotes.
cluster_setup_file() {
	_cluster_namespaces || return 1
	_cluster_node A || return 1
	_cluster_node B || return 1
	cluster_trust || return 1
	_cluster_remotes
}

# cluster_teardown_file: everything, even after a failure anywhere in the
# setup: background processes, both nodes (containers, daemons, lxcfs,
# cgroups, mounts, files), then the namespaces (with every link in them)
# and the temp dir.
cluster_teardown_file() {
	set +e
	net_kill_bg
	cluster_use A
	vsd_teardown_file
	cluster_use B
	vsd_teardown_file
	net_teardown_file
	return 0
}

# cluster_teardown_test: the test's background processes and containers on
# both nodes go; the nodes trust each other again (a test may have taken it
# away). Shows both daemons' logs after a failure.
cluster_teardown_test() {
	local n d
	net_kill_bg
	for n in A B; do
		if [[ -z "${BATS_TEST_COMPLETED:-}" ]]; then
			echo "--- node $n: last lines of vsd.log ---"
			tail -n 30 "$(cl_root "$n")/../vsd.log" 2>/dev/null
		fi
		for d in "$(cl_root "$n")"/containers/*/; do
			[[ -d "$d" ]] || continue
			timeout 30 "$VSCTL_BIN" --socket "$(cl_sock "$n")" destroy --force "$(basename "$d")" \
				>/dev/null 2>&1
		done
	done
	cluster_trust >/dev/null 2>&1
	return 0
}

# ---------------------------------------------------------- container data

# cl_list A|B: the names of the node's containers, one per line, sorted.
cl_list() {
	"$VSCTL_BIN" --socket "$(cl_sock "$1")" list --json |
		"$PY" -c 'import json, sys; [print(c["name"]) for c in sorted(json.load(sys.stdin)["containers"], key=lambda c: c["name"])]'
}
# cl_listing A|B: every entry under the node's containers/ (hidden staging
# directories too): what "changes nothing" compares.
cl_listing() { ls -A "$(cl_root "$1")/containers" 2>/dev/null | sort; }
cl_has() { cl_list "$1" | grep -qx "$2"; }
cl_state() { on "$1" ct_state "$2"; }
cl_is() { [[ "$(cl_state "$1" "$2" 2>/dev/null)" == "$3" ]]; }

# ------------------------------------------------------- node daemons

# node_kill A|B: SIGKILL of the node's vsd by its pid, as a crash would
# (its containers keep running).
node_kill() { on "$1" vsd_kill_daemon; }
# node_restart A|B [VSD-OPTION...]: the node's vsd stopped (if it runs) and
# started again with its usual options and any extra ones.
node_restart() {
	local n=$1
	shift
	on "$n" vsd_stop_daemon && on "$n" vsd_start_daemon "$@"
}
# node_up A|B: the node's vsd started unless it runs (after a test that
# killed it failed before its restart).
node_up() { pid_alive "$(on "$1" vsd_pid)" || on "$1" vsd_start_daemon; }

# ------------------------------------------- moves from A to B, and faults

# ct_counting NAME IP [CREATE-ARGS...]: a routed busybox container on A
# with a counter on its disk every 0.1 s (/var/count).
ct_counting() {
	on A ct_create_started "$1" --ip "$2" "${@:3}" || return 1
	on A in_ct "$1" sh -c 'setsid sh -c "i=0; while :; do i=\$((i + 1)); echo \$i >/var/count.new; mv /var/count.new /var/count; sleep 0.1; done" </dev/null >/dev/null 2>&1 &'
	wait_for 5 on A in_ct "$1" test -s /var/count
}

# migrate NAME ARGS...: move NAME from A to B (vsctl's output).
migrate() { cvsctl --socket "$CL_A_SOCKET" migrate "$1" --to nodeb "${@:2}"; }

# mig_bg NAME ARGS...: the migration in the background; its output in
# $NET_TMP/mig.out, its status in $NET_TMP/mig.rc once it ended.
mig_bg() {
	rm -f "$NET_TMP/mig.rc" "$NET_TMP/mig.out"
	(
		# Not under the test's errexit: the status is what is wanted.
		set +eE
		trap - ERR
		migrate "$@" >"$NET_TMP/mig.out" 2>&1
		echo $? >"$NET_TMP/mig.rc"
	) </dev/null 3>&- &
	echo $! >>"$NET_TMP/pids"
}
mig_rc() { cat "$NET_TMP/mig.rc"; }
mig_out() { cat "$NET_TMP/mig.out"; }

# assert_one_copy NAME: NAME runs on A and its counter still counts; B has
# no container NAME (its directory is looked at, so that this holds while
# B's vsd is down too).
assert_one_copy() {
	local c
	assert_eq "$(cl_state A "$1")" running "$1 on A" || return 1
	[[ ! -e "$CL_B_ROOT/containers/$1" ]] || fail "$1 is on node B too" || return 1
	if pid_alive "$(on B vsd_pid)"; then
		! cl_has B "$1" || fail "$1 is listed on node B" || return 1
	fi
	c=$(on A in_ct "$1" cat /var/count)
	sleep 0.5
	(($(on A in_ct "$1" cat /var/count) > c)) || fail "$1's counter stopped at $c on A"
}
# assert_b_clean NAME: nothing of NAME on B: no container, no staging, no
# id range claimed.
assert_b_clean() {
	local f
	! cl_has B "$1" || fail "$1 is on B" || return 1
	assert_eq "$(cl_listing B | grep -c "$1" || true)" 0 "entries of $1 under B's containers/" ||
		return 1
	f=$(grep -lw -- "$1" "$CL_B_TMP"/idmaps/* 2>/dev/null || true)
	[[ -z "$f" ]] || fail "B's registry still claims a range for $1: $f ($(cat "$f"))"
}

# mig_state NODE ID: the migration's state in the node's record.
mig_state() { json_get state <"$(cl_root "$1")/migrations/$2.json"; }
# mig_id: the id of the only migration A has recorded in this test (the
# newest record).
mig_id() { basename "$(ls -t "$CL_A_ROOT"/migrations/*.json | head -n 1)" .json; }

# ------------------------------------------------------- guest memory

MEMSUM_BIN="$VSD_REPO/build/tests/vsd-test-memsum"
# memsum_start NODE NAME MB: MB of pseudo-random anonymous memory held in
# container NAME by vsd-test-memsum (make test-tools), its checksum in
# /root/memsum once filled.
memsum_start() {
	[[ -x "$MEMSUM_BIN" ]] || fail "$MEMSUM_BIN missing: make test-tools" || return 1
	on "$1" in_ct "$2" sh -c 'cat >/memsum && chmod 0755 /memsum' <"$MEMSUM_BIN" || return 1
	on "$1" in_ct "$2" sh -c "rm -f /root/memsum; setsid /memsum $3 /root/memsum </dev/null >/dev/null 2>&1 &"
	wait_for 30 on "$1" in_ct "$2" test -s /root/memsum
}
# memsum_now NODE NAME: the checksum computed afresh over the memory as it
# is now (SIGUSR1 to vsd-test-memsum; the file replaced when done).
memsum_now() {
	on "$1" in_ct "$2" sh -c 'rm -f /root/memsum && kill -USR1 $(pidof memsum)' || return 1
	wait_for 30 on "$1" in_ct "$2" test -s /root/memsum || return 1
	on "$1" in_ct "$2" cat /root/memsum
}
# page_watch_start NODE NAME: record every CRIU page file (pages-*.img,
# pagemap-*.img) seen under the node's containers/NAME, every 20 ms, into
# $NET_TMP/pagefiles, until page_watch_stop.
page_watch_start() {
	local dir
	dir="$(cl_root "$1")/containers/$2"
	: >"$NET_TMP/pagefiles"
	rm -f "$NET_TMP/pagewatch.stop"
	(
		while [[ ! -e "$NET_TMP/pagewatch.stop" ]]; do
			find "$dir" -maxdepth 2 \( -name 'pages-*.img' -o -name 'pagemap-*.img' \) \
				2>/dev/null >>"$NET_TMP/pagefiles"
			sleep 0.02
		done
	) </dev/null 3>&- &
	echo $! >>"$NET_TMP/pids"
}
page_watch_stop() {
	touch "$NET_TMP/pagewatch.stop"
	sleep 0.1
	sort -u "$NET_TMP/pagefiles"
}

# ------------------------------------------------ a client's conversation

# chat_connect ADDR: a request/answer loop from the client with ADDR:7000
# every 50 ms over one connection (net-tool.py chat), after its first
# answer; chat_finish stops it and prints its result ("ok ANSWERS GAP-MS").
chat_connect() {
	rm -rf "$NET_TMP/chat" && mkdir "$NET_TMP/chat"
	net_bg "$NET_TMP/chat.log" in_client "$PY" "$NET_TOOL" chat "$1" 7000 "$NET_TMP/chat" >/dev/null
	wait_for 15 test -e "$NET_TMP/chat/step1" ||
		fail "no first answer: $(cat "$NET_TMP/chat.log" "$NET_TMP/chat/result" 2>&1)"
}
chat_finish() {
	touch "$NET_TMP/chat/stop"
	wait_for 70 test -e "$NET_TMP/chat/result" || return 1
	cat "$NET_TMP/chat/result"
}
