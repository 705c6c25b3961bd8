#!/usr/bin/env bats
# Backups: vsctl export / import (a zstd tar of config, own layer and the
# template's identity), consistency for a running container, template
# digest checks, and hostile archives refused with nothing left behind.

load helpers

setup_file() {
	# A low cap so the oversized-expansion case is cheap.
	export VSD_DAEMON_ARGS="--import-max-size 64M --import-max-files 100000"
	vsd_setup_file || return 1
	ct_create_started bka || return 1
}
teardown_file() { vsd_teardown_file; }
teardown() {
	for c in bkb bkc bkd bkh; do "$VSCTL_BIN" destroy "$c" --force >/dev/null 2>&1 || true; done
	rm -rf "$VSD_TMP"/bk-*.tar* /tmp/vsd-bk-evil-$$
	vsd_teardown_test
}

# No container NAME, no staging leftovers, nothing at the evil path.
nothing_left() {
	run "$VSCTL_BIN" status "$1"
	assert_failure
	[[ -z "$(ls -A "$VSD_ROOT/containers" | grep '^\.' || true)" ]] || fail "staging left: $(ls -A "$VSD_ROOT/containers")"
	[[ ! -e /tmp/vsd-bk-evil-$$ ]] || fail "something written outside"
}

@test "export of a running VPS keeps it running; import elsewhere keeps files, owners and deletions" {
	in_ct bka sh -c 'echo keep-me > /root/kept; mkdir -p /home/u; echo u > /home/u/f; chown -R 1000:1000 /home/u; rm /etc/profile; ln /root/kept /root/kept2; setsid sleep 100000 </dev/null >/dev/null 2>&1 &' || fail "setup inside"
	local pid_before
	pid_before=$(ct_init_pid bka)
	run "$VSCTL_BIN" export bka "$VSD_TMP/bk-a.tar.zst"
	assert_success
	assert_eq "$(ct_state bka)" running "state after export"
	assert_eq "$(ct_init_pid bka)" "$pid_before" "init pid after export"
	run in_ct bka sh -c 'pgrep -x sleep || ps | grep -c "[s]leep 100000"'
	assert_success
	grep -q "container bka: exported .*frozen [0-9]* ms" "$VSD_TMP/vsd.log" || fail "no freeze time logged"
	[[ -s "$VSD_TMP/bk-a.tar.zst" && ! -e "$VSD_TMP/bk-a.tar.zst.partial" ]] || fail "archive file"
	# Import under another name while bka exists: a different id range.
	run "$VSCTL_BIN" import "$VSD_TMP/bk-a.tar.zst" bkb
	assert_success
	[[ "$(ct_field bkb idmap.uid)" != "$(ct_field bka idmap.uid)" ]] || fail "same id range"
	run "$VSCTL_BIN" start bkb
	assert_success
	run in_ct bkb cat /root/kept
	assert_eq "$output" keep-me
	run in_ct bkb stat -c %u:%g /home/u/f
	assert_eq "$output" 1000:1000 "owner inside after import"
	assert_eq "$(stat -c %u "$VSD_ROOT/containers/bkb/upper/home/u/f")" "$(($(ct_field bkb idmap.uid) + 1000))" "host owner"
	run in_ct bkb test -e /etc/profile
	assert_failure
	run in_ct bkb stat -c %h /root/kept
	assert_eq "$output" 2 "hard link count"
}

@test "export, destroy, import: the VPS boots with its file" {
	in_ct bka sh -c 'echo round-trip > /root/rt' || fail "write"
	run "$VSCTL_BIN" export bka "$VSD_TMP/bk-rt.tar.zst"
	assert_success
	run "$VSCTL_BIN" destroy bka --force
	assert_success
	run "$VSCTL_BIN" import "$VSD_TMP/bk-rt.tar.zst"
	assert_success
	run "$VSCTL_BIN" start bka
	assert_success
	run in_ct bka cat /root/rt
	assert_eq "$output" round-trip
}

@test "a template whose digest differs is refused, and accepted when told" {
	run "$VSCTL_BIN" export bka "$VSD_TMP/bk-d.tar.zst"
	assert_success
	local dfile="$VSD_ROOT/templates/busybox/digest" saved
	saved=$(cat "$dfile")
	echo "sha256:$(printf '0%.0s' {1..64})" >"$dfile"
	run "$VSCTL_BIN" import "$VSD_TMP/bk-d.tar.zst" bkd
	echo "$saved" >"$dfile"
	assert_failure
	assert_contains "$output" "template-mismatch-ok"
	nothing_left bkd
	echo "sha256:$(printf '0%.0s' {1..64})" >"$dfile"
	run "$VSCTL_BIN" import --template-mismatch-ok "$VSD_TMP/bk-d.tar.zst" bkd
	echo "$saved" >"$dfile"
	assert_success
}

# make_hostile KIND OUT: a gzip tar with a valid manifest and config and
# one hostile layer member.
make_hostile() {
	local cfg="$VSD_ROOT/containers/bka/config.json" dig
	dig=$(cat "$VSD_ROOT/templates/busybox/digest")
	"$PY" - "$1" "$2" "$cfg" "$dig" "/tmp/vsd-bk-evil-$$" <<'PYEOF'
import io, json, sys, tarfile
kind, out, cfgp, dig, evil = sys.argv[1:6]
t = tarfile.open(out, "w:gz", format=tarfile.PAX_FORMAT)
def blob(name, data):
    i = tarfile.TarInfo(name); i.size = len(data); t.addfile(i, io.BytesIO(data))
blob("backup.json", json.dumps({"format": "vsd-backup", "version": 1, "name": "bkh",
     "template": {"name": "busybox", "digest": dig, "included": False}, "created_at": 0}).encode())
blob("config.json", open(cfgp, "rb").read())
d = tarfile.TarInfo("layer"); d.type = tarfile.DIRTYPE; d.mode = 0o755; t.addfile(d)
def add(i, data=b""):
    i.size = len(data); t.addfile(i, io.BytesIO(data))
if kind == "dotdot":
    add(tarfile.TarInfo("layer/../../../../../../.." + evil), b"x")
elif kind == "absolute":
    add(tarfile.TarInfo(evil), b"x")
elif kind == "symlink":
    l = tarfile.TarInfo("layer/lnk"); l.type = tarfile.SYMTYPE; l.linkname = "/tmp"; add(l)
    add(tarfile.TarInfo("layer/lnk/" + evil.split("/")[-1]), b"x")
elif kind == "device":
    n = tarfile.TarInfo("layer/mem"); n.type = tarfile.CHRTYPE; n.devmajor, n.devminor = 1, 1; add(n)
elif kind == "oversized":
    i = tarfile.TarInfo("layer/big"); i.size = 100 << 20
    t.addfile(i, io.BytesIO(bytes(100 << 20)))
t.close()
PYEOF
}

@test "hostile archives are refused with nothing written outside and nothing left" {
	local kind
	for kind in dotdot absolute symlink device oversized; do
		make_hostile "$kind" "$VSD_TMP/bk-h.tar.gz" || fail "make $kind"
		run "$VSCTL_BIN" import "$VSD_TMP/bk-h.tar.gz" bkh
		[[ "$status" -ne 0 ]] || fail "$kind: accepted"
		case "$kind" in
		dotdot | absolute) assert_contains "$output" "'..'" ;;
		symlink) assert_contains "$output" "symlink" ;;
		device) assert_contains "$output" "character device 1:1 refused" ;;
		oversized) assert_contains "$output" "import-max-size" ;;
		esac
		nothing_left bkh
	done
}
