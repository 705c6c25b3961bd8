#!/usr/bin/env bats
# Bad input gets a clear error naming what was wrong, creates nothing and
# changes nothing; the daemon keeps answering.

load helpers

setup_file() {
	vsd_setup_file || return 1
	"$VSCTL_BIN" create bad1 --template busybox >/dev/null || return 1
}
teardown_file() { vsd_teardown_file; }
teardown() { vsd_teardown_test; }

# snapshot: the parts of the state that bad input must not change.
snapshot() {
	{
		containers_listing
		echo --
		templates_listing
		echo --
		ls -A "$VSD_TMP/idmaps" | sort
	}
}

@test "bad container names are refused via the CLI, nothing created" {
	local before name long
	long=$(printf 'a%.0s' $(seq 1 65))
	before=$(snapshot)
	for name in "" "." ".." "/" "a/b" "../x" "$long" "UPPER" "a_b" "a b" "x;y"; do
		run --separate-stderr vsctl create "$name" --template busybox
		[[ "$status" == 1 ]] || fail "name '$name': status $status (stderr: $stderr)"
		[[ "$stderr" == vsctl:* ]] || fail "name '$name': stderr: $stderr"
		[[ "$stderr" == *name* ]] || fail "name '$name': message does not name the problem: $stderr"
	done
	# "-x" looks like an option to the CLI: usage error or refusal.
	run --separate-stderr vsctl create -x --template busybox
	[[ "$status" == 1 || "$status" == 2 ]] || fail "-x: status $status"
	assert_eq "$(snapshot)" "$before" "state after bad names"
}

@test "bad container names are refused by the API with 400 naming the field" {
	local before name body
	before=$(snapshot)
	for name in "" "." ".." "/" "-x" "UPPER" "a_b" "$(printf 'b%.0s' $(seq 1 65))"; do
		body=$("$PY" -c 'import json,sys; print(json.dumps({"name": sys.argv[1], "template": "busybox"}))' "$name")
		run api POST /v1/containers -H 'Content-Type: application/json' -d "$body"
		assert_contains "$output" "HTTP 400"
		assert_contains "$output" '"invalid"'
		assert_contains "$output" "name"
	done
	assert_eq "$(snapshot)" "$before" "state after bad names"
}

@test "unknown template: exit 1 naming it, nothing created" {
	local before
	before=$(snapshot)
	run --separate-stderr vsctl create okname --template no-such-template
	assert_failure 1
	assert_contains "$stderr" "no-such-template"
	assert_eq "$(snapshot)" "$before"
}

@test "duplicate name: exit 1, the existing container untouched" {
	local before cfg
	before=$(snapshot)
	cfg=$(md5sum <"$VSD_ROOT/containers/bad1/config.json")
	run --separate-stderr vsctl create bad1 --template busybox --hostname other
	assert_failure 1
	assert_contains "$stderr" "bad1"
	assert_eq "$(snapshot)" "$before"
	assert_eq "$(md5sum <"$VSD_ROOT/containers/bad1/config.json")" "$cfg" "bad1's config"
	assert_eq "$(ct_field bad1 hostname)" bad1
}

@test "bad limits are refused naming the field" {
	local before
	before=$(snapshot)
	run api POST /v1/containers -d '{"name":"lim","template":"busybox","limits":{"memory":"lots"}}'
	assert_contains "$output" "HTTP 400"
	assert_contains "$output" "limits.memory"
	run api POST /v1/containers -d '{"name":"lim","template":"busybox","limits":{"cpus":"-1"}}'
	assert_contains "$output" "HTTP 400"
	assert_contains "$output" "cpus"
	run api POST /v1/containers -d '{"name":"lim","template":"busybox","limits":{"pids":"many"}}'
	assert_contains "$output" "HTTP 400"
	assert_contains "$output" "pids"
	run --separate-stderr vsctl create lim --template busybox --cpus 0
	assert_failure
	assert_contains "$stderr" "cpus"
	assert_eq "$(snapshot)" "$before"
}

@test "API: malformed JSON, wrong types, unknown fields" {
	local before
	before=$(snapshot)
	run api POST /v1/containers -d '{"name": "x", "template": '
	assert_contains "$output" "HTTP 400"
	assert_contains "$output" '"invalid"'
	run api POST /v1/containers -d '[1,2,3]'
	assert_contains "$output" "HTTP 400"
	run api POST /v1/containers -d '{"name": 5, "template": "busybox"}'
	assert_contains "$output" "HTTP 400"
	assert_contains "$output" "name"
	run api POST /v1/containers -d '{"name": "x", "template": "busybox", "privileged": "yes"}'
	assert_contains "$output" "HTTP 400"
	assert_contains "$output" "privileged"
	run api POST /v1/containers -d '{"name": "x", "template": "busybox", "bogus_field": 1}'
	assert_contains "$output" "HTTP 400"
	assert_contains "$output" "bogus_field"
	run api PUT /v1/containers/bad1/state -d '{"action": "explode"}'
	assert_contains "$output" "HTTP 400"
	assert_contains "$output" "action"
	run api PUT /v1/containers/bad1/state -d '{"action": "start", "timeout": "soon"}'
	assert_contains "$output" "HTTP 400"
	assert_contains "$output" "timeout"
	run api PUT /v1/containers/bad1/state -d '{"action": "start", "bogus": true}'
	assert_contains "$output" "HTTP 400"
	assert_contains "$output" "bogus"
	assert_eq "$(ct_state bad1)" stopped
	assert_eq "$(snapshot)" "$before"
}

# raw_request REQUEST-BYTES (a Python bytes literal's body): send it as is
# over the socket and print the whole answer (status line first). A send
# that fails because the daemon answered early and closed is no error: the
# answer is already in our socket's queue (AF_UNIX), so it is read anyway.
raw_request() {
	"$PY" - "$VSD_SOCKET" "$1" <<'PYEOF'
import ast, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.settimeout(10)
try:
    s.sendall(ast.literal_eval("b'" + sys.argv[2] + "'"))
except (BrokenPipeError, ConnectionResetError):
    pass
data = b""
while True:
    try:
        chunk = s.recv(65536)
    except (socket.timeout, ConnectionResetError):
        break
    if not chunk:
        break
    data += chunk
    if b"\r\n\r\n" in data and data.rstrip().endswith(b"}"):
        break
print(data.decode(errors="replace"))
PYEOF
}

@test "API: oversized body is 413, unknown route 404, wrong method 405" {
	# The daemon answers 413 from the Content-Length alone and closes, so a
	# client still sending the body gets EPIPE (curl: "Send failure: Broken
	# pipe") before it reads the answer. Send the whole body anyway, as a
	# client would, ignore a failed send, and read the answer, which is
	# already in our socket's queue when the daemon closes (AF_UNIX): the
	# outcome does not depend on who is faster.
	local pad body
	pad=$(head -c 70000 /dev/zero | tr '\0' a)
	body="{\"name\": \"x\", \"pad\": \"$pad\"}"
	run raw_request "POST /v1/containers HTTP/1.1\r\nHost: vsd\r\nContent-Type: application/json\r\nContent-Length: ${#body}\r\n\r\n$body"
	assert_success
	assert_contains "$output" "HTTP/1.1 413"
	assert_contains "$output" "too_large"
	run api GET /v1/nope
	assert_contains "$output" "HTTP 404"
	assert_contains "$output" '"not_found"'
	run api GET /v2/containers
	assert_contains "$output" "HTTP 404"
	run api PATCH /v1/containers
	assert_contains "$output" "HTTP 405"
	# Every error body is JSON with error.code and error.message.
	run curl -s --unix-socket "$VSD_SOCKET" http://vsd/v1/nope
	assert_eq "$(json_get error.code <<<"$output")" not_found
	[[ -n "$(json_get error.message <<<"$output")" ]] || fail "no message: $output"
}

@test "names in URLs are exact: a %00 in a name is 400 naming the parameter, nothing deleted" {
	run vsctl create nul1 --template busybox
	assert_success
	# libmicrohttpd decodes %00; matched as a C string this deleted nul1.
	run curl -sS --path-as-is --unix-socket "$VSD_SOCKET" -X DELETE -w '\nHTTP %{http_code}\n' \
		'http://vsd/v1/containers/nul1%00anything'
	assert_contains "$output" "HTTP 400"
	assert_contains "$output" '"invalid"'
	assert_contains "$output" "container name"
	assert_eq "$(api_code GET /v1/containers/nul1)" 200 "nul1 after the DELETE"
	run curl -sS --path-as-is --unix-socket "$VSD_SOCKET" -w '\nHTTP %{http_code}\n' \
		'http://vsd/v1/containers/bad1%00evil'
	assert_contains "$output" "HTTP 400"
	assert_contains "$output" "container name"
	assert_not_contains "$output" '"state"'
	run curl -sS --path-as-is --unix-socket "$VSD_SOCKET" -w '\nHTTP %{http_code}\n' \
		'http://vsd/v1/containers/bad1/snapshots/s1%00x'
	assert_contains "$output" "HTTP 400"
	assert_contains "$output" "snapshot name"
	# In a literal segment or an id: still 400, not a 404 that hides it.
	run curl -sS --path-as-is --unix-socket "$VSD_SOCKET" -w '\nHTTP %{http_code}\n' \
		'http://vsd/v1/contai%00ners'
	assert_contains "$output" "HTTP 400"
	run curl -sS --path-as-is --unix-socket "$VSD_SOCKET" -w '\nHTTP %{http_code}\n' \
		'http://vsd/v1/operations/1%00'
	assert_contains "$output" "HTTP 400"
	# A percent-encoded valid name is that name.
	assert_eq "$(curl -s --path-as-is --unix-socket "$VSD_SOCKET" -o /dev/null -w '%{http_code}' \
		'http://vsd/v1/containers/nul%31')" 200 "GET nul%31"
	run vsctl destroy nul1
	assert_success
}

@test "duplicate Content-Length headers are 400, nothing created" {
	local before body='{"name":"dupcl","template":"busybox"}'
	before=$(snapshot)
	# Same value twice, then two that disagree (request smuggling).
	run raw_request "POST /v1/containers HTTP/1.1\\r\\nHost: vsd\\r\\nContent-Length: ${#body}\\r\\nContent-Length: ${#body}\\r\\n\\r\\n$body"
	assert_success
	assert_contains "$output" "HTTP/1.1 400"
	assert_contains "$output" "Content-Length: given more than once"
	run raw_request "POST /v1/containers HTTP/1.1\\r\\nHost: vsd\\r\\nContent-Length: 2\\r\\nContent-Length: ${#body}\\r\\n\\r\\n$body"
	assert_success
	assert_contains "$output" "HTTP/1.1 400"
	assert_eq "$(api_code GET /v1/containers/dupcl)" 404 "dupcl"
	assert_eq "$(snapshot)" "$before"
}

@test "missing container: 404 and exit 1 for every operation" {
	run api GET /v1/containers/ghost
	assert_contains "$output" "HTTP 404"
	assert_contains "$output" ghost
	local args
	for args in "start ghost" "stop ghost" "restart ghost" "status ghost" "destroy ghost" "exec ghost -- true"; do
		# shellcheck disable=SC2086
		run --separate-stderr vsctl $args
		[[ "$status" == 1 ]] || fail "vsctl $args: status $status"
		[[ "$stderr" == vsctl:*ghost* ]] || fail "vsctl $args: stderr: $stderr"
	done
}

@test "wrong state: start a running container, stop a stopped one" {
	run vsctl start bad1
	assert_success
	run --separate-stderr vsctl start bad1
	assert_failure 1
	assert_contains "$stderr" "vsctl: "
	run api PUT /v1/containers/bad1/state -d '{"action":"start"}'
	assert_contains "$output" "HTTP 409"
	assert_contains "$output" conflict
	run vsctl create bad2 --template busybox
	assert_success
	run --separate-stderr vsctl stop bad2
	assert_failure 1
	assert_contains "$stderr" "vsctl: "
	run --separate-stderr vsctl exec bad2 -- true
	assert_failure 1
	run vsctl destroy bad2
	assert_success
}

# make_tar KIND OUT: a small archive with one malicious trick (python's
# tarfile writes exactly what we ask for).
make_tar() {
	"$PY" - "$1" "$2" "$VSD_TMP/outside" <<'PYEOF'
import io, sys, tarfile, time
kind, out, outside = sys.argv[1:4]

def add_dir(t, name):
    i = tarfile.TarInfo(name); i.type = tarfile.DIRTYPE; i.mode = 0o755; i.mtime = time.time(); t.addfile(i)

def add_file(t, name, data=b"x\n", mode=0o644):
    i = tarfile.TarInfo(name); i.size = len(data); i.mode = mode; i.mtime = time.time()
    t.addfile(i, io.BytesIO(data))

def add_link(t, name, target, typ=tarfile.SYMTYPE):
    i = tarfile.TarInfo(name); i.type = typ; i.linkname = target; i.mtime = time.time(); t.addfile(i)

with tarfile.open(out, "w", format=tarfile.GNU_FORMAT) as t:
    skel = ["bin", "etc", "sbin", "tmp"]
    if kind != "dev-symlink": skel.append("dev")
    if kind != "proc-symlink": skel.append("proc")
    skel.append("sys")
    for d in skel: add_dir(t, d)
    add_file(t, "etc/hostname", b"evil\n")
    if kind == "dotdot":
        add_file(t, "../../../../../../.." + outside + "/pwned")
        add_file(t, "etc/../../pwned2")
    elif kind == "absolute":
        add_file(t, outside + "/pwned")
    elif kind == "symlink-write":
        add_link(t, "etc/escape", outside)
        add_file(t, "etc/escape/pwned")
    elif kind == "hardlink-outside":
        add_link(t, "etc/shadow-copy", outside + "/secret", tarfile.LNKTYPE)
    elif kind == "hardlink-dotdot":
        add_link(t, "etc/shadow-copy", "../../../../../.." + outside + "/secret", tarfile.LNKTYPE)
    elif kind == "blockdev":
        i = tarfile.TarInfo("dev/sda"); i.type = tarfile.BLKTYPE; i.devmajor = 8; i.devminor = 0; i.mode = 0o660; t.addfile(i)
    elif kind == "chardev-mem":
        i = tarfile.TarInfo("dev/mem"); i.type = tarfile.CHRTYPE; i.devmajor = 1; i.devminor = 1; i.mode = 0o660; t.addfile(i)
    elif kind == "dev-symlink":
        add_link(t, "dev", outside)
    elif kind == "proc-symlink":
        add_link(t, "proc", "/")
    elif kind == "good":
        add_file(t, "sbin/init", b"#!/bin/sh\n", 0o755)
        i = tarfile.TarInfo("dev/null"); i.type = tarfile.CHRTYPE; i.devmajor = 1; i.devminor = 3; i.mode = 0o666; t.addfile(i)
        add_link(t, "bin/sh", "/bin/busybox")
        add_link(t, "etc/hostname2", "etc/hostname", tarfile.LNKTYPE)
    else:
        sys.exit("unknown kind " + kind)
PYEOF
}

@test "template import: a well-formed archive is accepted (control)" {
	make_tar good "$BATS_TEST_TMPDIR/good.tar"
	run vsctl template import goodtpl "$BATS_TEST_TMPDIR/good.tar"
	assert_success
	[[ -f "$VSD_ROOT/templates/goodtpl/rootfs/etc/hostname" ]] || fail "not extracted"
	run vsctl template remove goodtpl
	assert_success
}

@test "template import: malicious archives are refused, nothing escapes" {
	mkdir -p "$VSD_TMP/outside"
	echo secret >"$VSD_TMP/outside/secret"
	local before_out before kind
	before_out=$(tree_digest "$VSD_TMP/outside")
	before=$(snapshot)
	for kind in dotdot absolute symlink-write hardlink-outside hardlink-dotdot blockdev chardev-mem dev-symlink proc-symlink; do
		make_tar "$kind" "$BATS_TEST_TMPDIR/$kind.tar"
		run --separate-stderr vsctl template import "evil-$kind" "$BATS_TEST_TMPDIR/$kind.tar"
		[[ "$status" == 1 ]] || fail "$kind: import status $status (stderr: $stderr)"
		[[ "$stderr" == vsctl:* ]] || fail "$kind: stderr: $stderr"
		# refused for the trick, not for something else
		case "$kind" in
		dotdot) assert_contains "$stderr" ".." ;;
		absolute) assert_contains "$stderr" "absolute" ;;
		symlink-write) assert_contains "$stderr" "symlink" ;;
		hardlink-*) assert_contains "$stderr" "link" ;;
		blockdev) assert_contains "$stderr" "block device" ;;
		chardev-mem) assert_contains "$stderr" "1:1" ;;
		dev-symlink) assert_contains "$stderr" "/dev" ;;
		proc-symlink) assert_contains "$stderr" "/proc" ;;
		esac
		assert_eq "$(tree_digest "$VSD_TMP/outside")" "$before_out" "$kind: outside dir" || return 1
		[[ ! -e "$VSD_TMP/pwned" && ! -e /pwned && ! -e /pwned2 ]] || fail "$kind: file escaped"
		assert_eq "$(snapshot)" "$before" "$kind: state" || return 1
	done
	run vsctl template list
	assert_not_contains "$output" evil-
}

@test "template import: garbage is refused" {
	head -c 4096 /dev/urandom >"$BATS_TEST_TMPDIR/garbage.tar"
	run --separate-stderr vsctl template import junk "$BATS_TEST_TMPDIR/garbage.tar"
	assert_failure 1
	assert_contains "$stderr" "vsctl: "
	[[ ! -e "$VSD_ROOT/templates/junk" ]] || fail "templates/junk exists"
	run --separate-stderr vsctl template import junk2 "$BATS_TEST_TMPDIR/no-such-file.tar"
	assert_failure 1
}

@test "bad template build source is refused" {
	run --separate-stderr vsctl template build t1 --from windows
	assert_failure 1
	assert_contains "$stderr" "from"
	[[ ! -e "$VSD_ROOT/templates/t1" ]] || fail "templates/t1 exists"
}

@test "after all that, the daemon still answers and works" {
	pid_alive "$(vsd_pid)" || fail "daemon died"
	run api GET /v1/node
	assert_contains "$output" "HTTP 200"
	ct_is_state bad1 running || vsctl start bad1
	run in_ct bad1 echo alive
	assert_eq "$output" alive
}
