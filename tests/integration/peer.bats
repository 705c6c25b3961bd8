#!/usr/bin/env bats
# The node-to-node transport of migrations (issue 10, docs/migration.md):
# daemon/peer.c driven by build/test-peer (tests/integration/peer-client.c).
# Two vsd instances listen on the loopback of a network namespace the file
# creates: node B (this file's vsd, the target) and node A, whose node
# certificate test-peer presents, its requests made from inside that
# namespace. The rsync cases run vsd_peer_rsync_push against a target
# that test-peer starts on 127.0.0.1: libmicrohttpd as vsd starts it,
# serving the two requests (sync, sync-input) as daemon/migrate-in.c does.
# A push through a real target vsd (a reserved migration) is
# migrate.bats'.

load helpers

PEER_BIN="$VSD_REPO/build/test-peer"

setup_file() {
	make -s -C "$VSD_REPO" build/test-peer >/dev/null || return 1
	PEER_NS="vsdt-p-$(rand_hex | cut -c1-6)"
	export PEER_NS
	ip netns add "$PEER_NS" || return 1
	ip -n "$PEER_NS" link set lo up || return 1
	export PEER_PORT=8443
	export PEER_URL="https://127.0.0.1:$PEER_PORT"
	export VSD_LAUNCH="nsenter --net=/run/netns/$PEER_NS"
	export VSD_DAEMON_ARGS="--listen 127.0.0.1:$PEER_PORT"
	vsd_setup_file --no-busybox || return 1
	# Node A: a second vsd, its own root, run dir and cgroup parent; its
	# node certificate is the identity the source presents.
	mkdir -p "$VSD_TMP/node-a" && chmod 0755 "$VSD_TMP/node-a" || return 1
	echo "vsd-bats-$(rand_hex)" >"$VSD_TMP/node-a/cgroup-parent"
	node_a vsd_start_daemon || return 1
	cp "$VSD_TMP/node-a/root/auth/node.crt" "$VSD_TMP/a.crt" &&
		cp "$VSD_TMP/node-a/root/auth/node.key" "$VSD_TMP/a.key" || return 1
	# And a stranger nobody trusts.
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$VSD_TMP/stranger.key" -out "$VSD_TMP/stranger.crt" -days 2 \
		-subj "/CN=stranger" 2>/dev/null || return 1
	local pem
	pem=$("$PY" -c 'import json,sys; print(json.dumps(open(sys.argv[1]).read()))' "$VSD_TMP/a.crt")
	[[ "$(api_code POST /v1/trust -d "{\"name\":\"node-a\",\"certificate\":$pem}")" == 201 ]] ||
		fail "trust add of node A failed" || return 1
	B_FP=$(api GET /v1/node | head -1 | json_get tls.fingerprint)
	[[ "$B_FP" =~ ^[0-9a-f]{64}$ ]] || fail "node B's fingerprint: '$B_FP'" || return 1
	export B_FP
}

# node_a CMD...: CMD (a helper) with this file's instance variables
# pointing at node A.
node_a() {
	local a="$VSD_TMP/node-a"
	VSD_TMP="$a" VSD_ROOT="$a/root" VSD_RUN="$a/run" VSD_SOCKET="$a/run/vsd.sock" \
		VSD_CG_PARENT="$(cat "$a/cgroup-parent")" VSD_DAEMON_ARGS="--listen 127.0.0.1:8444" \
		"$@"
}

teardown_file() {
	[[ -d "${VSD_TMP:-}/node-a" ]] && node_a vsd_teardown_file
	vsd_teardown_file
	local ns=${PEER_NS:-}
	[[ "$ns" == vsdt-p-* ]] && ip netns del "$ns" 2>/dev/null
	true
}

teardown() {
	vsd_teardown_test
	rm -rf "${VSD_TMP:?}/src" "${VSD_TMP:?}/dst"
}

# peer_req FROM METHOD PATH [URL [FP]]: test-peer request from inside the
# namespace with node FROM's certificate.
peer_req() {
	ip netns exec "$PEER_NS" "$PEER_BIN" request "${4:-$PEER_URL}" "${5:-$B_FP}" \
		"$VSD_TMP/$1.crt" "$VSD_TMP/$1.key" "$2" "$3"
}

@test "a trusted node's request: 200 with B's node document" {
	# Node A is a vsd of its own, listening beside B.
	assert_contains "$(node_a api GET /v1/node)" '"listen":["127.0.0.1:8444"]'

	run peer_req a GET /v1/node
	assert_success
	assert_eq "$(echo "$output" | head -1)" 200
	assert_contains "$output" "\"fingerprint\":\"$B_FP\""
	# The pin is case-insensitive, as fingerprints are shown both ways.
	run peer_req a GET /v1/node "$PEER_URL" "${B_FP^^}"
	assert_success
	assert_eq "$(echo "$output" | head -1)" 200
}

@test "an untrusted node: the target's 401 answer, logged there" {
	run peer_req stranger GET /v1/containers
	assert_success
	assert_eq "$(echo "$output" | head -1)" 401
	assert_contains "$output" '"code":"unauthorized"'
	assert_contains "$(cat "$VSD_TMP/vsd.log")" "refused (untrusted certificate)"
}

@test "a wrong target: fingerprint mismatch naming both, no request sent" {
	local wrong
	wrong=$(printf '%064d' 7)
	run peer_req a GET /v1/node "$PEER_URL" "$wrong"
	assert_failure
	assert_contains "$output" \
		"fingerprint mismatch: expected $wrong, the node at $PEER_URL presented $B_FP"
}

@test "nothing listening, a bad URL, a bad pin: clear errors" {
	run peer_req a GET /v1/node "https://127.0.0.1:1"
	assert_failure
	assert_contains "$output" "error: https://127.0.0.1:1: cannot connect to 127.0.0.1 port 1: Connection refused"
	run peer_req a GET /v1/node "https://[::1]:1"
	assert_failure
	assert_contains "$output" "cannot connect to ::1 port 1"
	run peer_req a GET /v1/node "http://127.0.0.1:$PEER_PORT"
	assert_failure
	assert_contains "$output" "expected https://HOST:PORT"
	run peer_req a GET /v1/node "$PEER_URL" 1234
	assert_failure
	assert_contains "$output" "peer fingerprint '1234': expected 64 hexadecimal digits"
}

@test "a sync the target refuses: its status and message; an input naming no stream: 400" {
	local id body
	id=$(rand_hex)$(rand_hex)$(rand_hex)$(rand_hex) # 32 hex: a well-formed id
	body='{"part":"layer","args":["rsync","--server","."],"stream":"'$id'"}'
	run ip netns exec "$PEER_NS" "$PEER_BIN" request "$PEER_URL" "$B_FP" "$VSD_TMP/a.crt" \
		"$VSD_TMP/a.key" POST "/v1/migrations/$id/sync" "$body"
	assert_success
	assert_eq "$(echo "$output" | head -1)" 404
	assert_contains "$output" "$id"
	# The input route checks its Vsd-Stream header before any body.
	run ip netns exec "$PEER_NS" "$PEER_BIN" request "$PEER_URL" "$B_FP" "$VSD_TMP/a.crt" \
		"$VSD_TMP/a.key" POST "/v1/migrations/$id/sync-input" '{}'
	assert_success
	assert_eq "$(echo "$output" | head -1)" 400
	assert_contains "$output" "the Vsd-Stream header must name a stream"
	# Neither from a stranger.
	run ip netns exec "$PEER_NS" "$PEER_BIN" request "$PEER_URL" "$B_FP" \
		"$VSD_TMP/stranger.crt" "$VSD_TMP/stranger.key" POST "/v1/migrations/$id/sync" "$body"
	assert_success
	assert_eq "$(echo "$output" | head -1)" 401
}

# A layer as overlayfs leaves it: ids of a container's range, hard links,
# an opaque directory, an ACL, a sparse file, a whiteout. make_layer DIR
# [MIB]: MIB (default 16) is the sparse file's length.
make_layer() {
	local s=$1 mib=${2:-16}
	mkdir -p "$s/etc" "$s/opaque/inner" "$s/var"
	echo "one" >"$s/etc/a"
	ln "$s/etc/a" "$s/etc/a-link"
	ln "$s/etc/a" "$s/var/a-link2"
	echo "secret" >"$s/etc/shadow" && chmod 0640 "$s/etc/shadow"
	chown -R 100000:100000 "$s"
	chown 100000:100042 "$s/etc/shadow"
	setfattr -n trusted.overlay.opaque -v y "$s/opaque"
	setfattr -n user.note -v hello "$s/etc/a"
	setfacl -m u:100007:rw "$s/etc/shadow"
	dd if=/dev/urandom of="$s/var/sparse" bs=4k count=1 seek=$((mib * 128)) 2>/dev/null
	truncate -s "${mib}M" "$s/var/sparse"
	mknod "$s/etc/gone" c 0 0
	ln -s ../etc/a "$s/var/sym"
	dd if=/dev/urandom of="$s/var/blob" bs=64k count=$((mib * 2)) 2>/dev/null
}

# Everything that must survive: names, types, modes, owners, sizes, links,
# device numbers, inode sharing, xattrs, ACLs, contents.
layer_facts() {
	(
		cd "$1" || exit 1
		find . -printf '%p %y %m %U %G %s %l %n\n' | LC_ALL=C sort
		find . -type c -exec stat -c '%n %t:%T' {} + | LC_ALL=C sort
		getfattr -R -d -m - -h . 2>/dev/null | grep -v '^$'
		getfacl -R -p -n . 2>/dev/null
		find . -type f -exec md5sum {} + | LC_ALL=C sort
		# The three names of one file share an inode.
		stat -c '%i' etc/a etc/a-link var/a-link2 | uniq | wc -l
	)
}

@test "rsync over TLS: a layer arrives identical; a second round moves nothing" {
	make_layer "$VSD_TMP/src"
	mkdir -p "$VSD_TMP/dst"
	run timeout 60 "$PEER_BIN" rsync "$VSD_TMP/src" "$VSD_TMP/dst"
	assert_success
	# 4 regular files: a (its links are links), shadow, sparse, blob.
	[[ "$output" =~ files\ 4$ ]] || fail "stats: $output"
	local sent=${output#sent }
	sent=${sent%% *}
	((sent > 2000000)) || fail "bytes sent: $output"
	assert_eq "$(layer_facts "$VSD_TMP/dst")" "$(layer_facts "$VSD_TMP/src")"
	assert_eq "$(getfattr --only-values -n trusted.overlay.opaque "$VSD_TMP/dst/opaque")" y
	# Still sparse: 16 MiB long, a few KiB on disk.
	(($(du -k "$VSD_TMP/dst/var/sparse" | cut -f1) < 1024)) || fail "sparse file filled"
	run timeout 60 "$PEER_BIN" rsync "$VSD_TMP/src" "$VSD_TMP/dst"
	assert_success
	[[ "$output" =~ files\ 0$ ]] || fail "second round: $output"
	# What went is deleted there too.
	rm "$VSD_TMP/src/var/blob" "$VSD_TMP/src/etc/gone"
	run timeout 60 "$PEER_BIN" rsync "$VSD_TMP/src" "$VSD_TMP/dst"
	assert_success
	assert_eq "$(layer_facts "$VSD_TMP/dst")" "$(layer_facts "$VSD_TMP/src")"
}

@test "rsync over the two requests, five times: both ends see the stream end" {
	make_layer "$VSD_TMP/src" 1
	local i
	for i in 1 2 3 4 5; do
		rm -rf "$VSD_TMP/dst" && mkdir -p "$VSD_TMP/dst"
		run timeout 60 "$PEER_BIN" rsync "$VSD_TMP/src" "$VSD_TMP/dst"
		assert_success
		[[ "$output" =~ files\ 4$ ]] || fail "round $i: $output"
		assert_eq "$(layer_facts "$VSD_TMP/dst")" "$(layer_facts "$VSD_TMP/src")"
	done
}

@test "rsync to a target that refuses the sync: its message, nothing copied, no rsync left" {
	make_layer "$VSD_TMP/src" 1
	mkdir -p "$VSD_TMP/dst"
	run timeout 60 "$PEER_BIN" rsync-refused "$VSD_TMP/src" "$VSD_TMP/dst"
	assert_failure
	assert_contains "$output" "error: source: rsync $VSD_TMP/src: https://127.0.0.1:"
	assert_contains "$output" ": 400: body: {\"part\":\"layer\",\"args\":[\"rsync\",\"--server\""
	assert_eq "$(ls -A "$VSD_TMP/dst")" ""
	[[ -z "$(pgrep -f "__fdcat vsd rsync --server" || true)" ]] || fail "a remote shell was left"
}

# Both sides end on the cut itself, not on a timeout (the requests' 20 s
# one, or timeout(1)'s 60 s, which would end it with status 124): each
# error names what the cut did to it. The file under way when the link
# went is not left half-written, and no rsync of either side is left.
@test "rsync over TLS, the link cut mid-stream: both sides fail on the cut, nothing left behind" {
	make_layer "$VSD_TMP/src" 1
	mkdir -p "$VSD_TMP/dst"
	run timeout 60 "$PEER_BIN" rsync-cut "$VSD_TMP/src" "$VSD_TMP/dst"
	assert_eq "$status" 1 "test-peer's status ($output)"
	assert_contains "$output" "error: source: rsync $VSD_TMP/src"
	assert_contains "$output" "the stream was cut"
	assert_contains "$output" "error: target: rsync exited with 12: rsync error: error in rsync protocol data stream"
	assert_not_contains "$output" "timed out"
	[[ ! -e "$VSD_TMP/dst/var/sparse" ]] || fail "the file cut mid-stream was left: $(ls -ls "$VSD_TMP/dst/var")"
	assert_eq "$(find "$VSD_TMP/dst" -name '.*' | head -n 3)" "" "rsync's temporary files left in the target"
	[[ -z "$(pgrep -f "__fdcat vsd rsync --server" || true)" ]] || fail "a remote shell was left"
	[[ -z "$(pgrep -f "rsync.*$VSD_TMP/(src|dst)" || true)" ]] || fail "an rsync was left"
}

@test "rsync over TLS: a source that cannot be read fails with rsync's status and line" {
	mkdir -p "$VSD_TMP/dst"
	run "$PEER_BIN" rsync "$VSD_TMP/no-such-dir" "$VSD_TMP/dst"
	assert_failure
	assert_contains "$output" "error: source: rsync $VSD_TMP/no-such-dir to https://127.0.0.1:"
	# The cause is rsync's own line naming the file (vs_mig_rsync_cause),
	# not its closing "some files/attrs were not transferred".
	assert_contains "$output" "rsync exited with 23: rsync: [sender] change_dir \"$VSD_TMP/no-such-dir\" failed: No such file or directory"
	assert_eq "$(ls -A "$VSD_TMP/dst")" ""
}
