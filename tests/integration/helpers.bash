# Shared helpers for the Bats integration suite (run as root on the host).
#
# Every test FILE runs its own vsd instance: setup_file calls
# vsd_setup_file, teardown_file calls vsd_teardown_file. The instance lives
# under a private temp dir (root, run dir, socket, id-map registry) and a
# private cgroup parent "vsd-bats-<random>", so nothing of the host or of
# another instance is touched, and teardown can find and remove everything
# the file made even after a test failed halfway:
#   $VSD_TMP/root     --root
#   $VSD_TMP/run      --run-dir (socket: run/vsd.sock, exported as VSD_SOCKET)
#   $VSD_TMP/idmaps   --idmap-registry
#   $VSD_TMP/vsd.log  the daemon's output
#   $VSD_TMP/vsd.pid  the daemon's pid (a file, because tests restart it)

bats_require_minimum_version 1.5.0

VSD_REPO="$(cd "$BATS_TEST_DIRNAME/../.." && pwd)"
VSD_BIN="$VSD_REPO/build/vsd"
VSCTL_BIN="$VSD_REPO/build/vsctl"
# The system python, which has python3-jsonschema from install-deps.sh (a
# pyenv or venv python first in PATH may not).
if [[ -x /usr/bin/python3 ]]; then PY=/usr/bin/python3; else PY=python3; fi
export VSD_REPO VSD_BIN VSCTL_BIN PY

# ---------------------------------------------------------------- assertions

fail() {
	printf '%s\n' "$*" >&2
	return 1
}

# assert_status N: the last `run` exited with N.
assert_status() {
	if [[ "$status" != "$1" ]]; then
		printf 'expected exit status %s, got %s\noutput: %s\n' "$1" "$status" "$output" >&2
		[[ -n "${stderr:-}" ]] && printf 'stderr: %s\n' "$stderr" >&2
		return 1
	fi
}

assert_success() { assert_status 0; }

# assert_failure [N]: the last `run` failed (with N if given).
assert_failure() {
	if [[ -n "${1:-}" ]]; then
		assert_status "$1"
	elif [[ "$status" == 0 ]]; then
		printf 'expected failure, got status 0\noutput: %s\n' "$output" >&2
		return 1
	fi
}

# assert_contains HAYSTACK NEEDLE
assert_contains() {
	if [[ "$1" != *"$2"* ]]; then
		printf 'expected to find %q in:\n%s\n' "$2" "$1" >&2
		return 1
	fi
}

assert_not_contains() {
	if [[ "$1" == *"$2"* ]]; then
		printf 'did not expect %q in:\n%s\n' "$2" "$1" >&2
		return 1
	fi
}

# assert_eq ACTUAL EXPECTED [WHAT]
assert_eq() {
	if [[ "$1" != "$2" ]]; then
		printf '%sexpected %q, got %q\n' "${3:+$3: }" "$2" "$1" >&2
		return 1
	fi
}

# --------------------------------------------------------------- utilities

# squash TEXT: words of TEXT on one line, single spaces ("0\n1\n2\n" ->
# "0 1 2").
squash() {
	local s
	s=$(tr -s '[:space:]' ' ' <<<"$1")
	s=${s# }
	echo "${s% }"
}

# wait_for TIMEOUT_S CMD...: poll CMD every 0.1 s until it succeeds.
wait_for() {
	local timeout=$1
	shift
	local deadline=$((SECONDS + timeout))
	until "$@" >/dev/null 2>&1; do
		if ((SECONDS >= deadline)); then
			echo "wait_for: timed out after ${timeout}s: $*" >&2
			return 1
		fi
		sleep 0.1
	done
}

# now_ms: monotonic-ish wall clock in milliseconds.
now_ms() { date +%s%3N; }

# json_get PATH: read JSON on stdin, print the value at PATH (dot separated,
# numbers index arrays). Strings print raw, other values as JSON; a missing
# key prints nothing and exits 1.
json_get() {
	"$PY" -c '
import json, sys
v = json.load(sys.stdin)
for k in (sys.argv[1].split(".") if sys.argv[1] else []):
    try:
        v = v[int(k)] if isinstance(v, list) else v[k]
    except (KeyError, IndexError, ValueError, TypeError):
        sys.exit(1)
print(v if isinstance(v, str) else json.dumps(v))
' "$1"
}

# is_json: stdin parses as JSON.
is_json() { "$PY" -c 'import json,sys; json.load(sys.stdin)'; }

rand_hex() { od -An -N4 -tx1 /dev/urandom | tr -d ' \n'; }

pid_alive() { [[ -n "$1" && "$1" != 0 && -d "/proc/$1" ]] && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }

# ------------------------------------------------------------ vsd and vsctl

# vsctl ARGS...: the CLI under test, talking to this file's daemon.
vsctl() { "$VSCTL_BIN" "$@"; }

# in_ct NAME CMD...: run CMD inside container NAME.
in_ct() {
	local name=$1
	shift
	"$VSCTL_BIN" exec "$name" -- "$@"
}

# api METHOD PATH [curl args...]: raw REST call; prints the body, then a
# last line "HTTP <code>".
api() {
	local method=$1 path=$2
	shift 2
	curl -sS --max-time 60 --unix-socket "$VSD_SOCKET" -X "$method" -w '\nHTTP %{http_code}\n' \
		"$@" "http://vsd$path"
}

# api_code METHOD PATH [curl args...]: only the HTTP status code.
api_code() {
	local method=$1 path=$2
	shift 2
	curl -s --max-time 60 --unix-socket "$VSD_SOCKET" -X "$method" -o /dev/null \
		-w '%{http_code}' "$@" "http://vsd$path"
}

vsd_pid() { cat "$VSD_TMP/vsd.pid" 2>/dev/null; }

vsd_answers() { [[ "$(api_code GET /v1/node)" == 200 ]]; }

# vsd_start_daemon [VSD-OPTION...]: start this file's vsd in the background
# (with any extra options, after the words of $VSD_DAEMON_ARGS, which a
# file sets before vsd_setup_file to give every start of its daemon the same
# options) and wait until its socket answers. Fails (printing the log) if it
# dies or times out. $VSD_LAUNCH, when set, is a command prefix that must
# exec vsd in place (keeping its pid), e.g. "nsenter --net=/run/netns/N" to
# run it in a test's node network namespace (net-helpers.bash).
vsd_start_daemon() {
	[[ -x "$VSD_BIN" ]] || fail "vsd_start_daemon: $VSD_BIN missing (run make)" || return 1
	mkdir -p "$VSD_ROOT" "$VSD_RUN" "$VSD_TMP/idmaps"
	# fd 3 is Bats' own: a daemon holding it would make bats wait forever.
	# The subshell makes the daemon nobody's child in this shell (no job
	# notices, no zombie when a test kills it), as a service would run.
	(
		setsid ${VSD_LAUNCH:-} "$VSD_BIN" --root "$VSD_ROOT" --run-dir "$VSD_RUN" --socket "$VSD_SOCKET" \
			--cgroup-parent "$VSD_CG_PARENT" --idmap-registry "$VSD_TMP/idmaps" \
			${VSD_DAEMON_ARGS:-} "$@" \
			</dev/null >>"$VSD_TMP/vsd.log" 2>&1 3>&- &
		echo $! >"$VSD_TMP/vsd.pid"
	)
	local pid
	pid=$(cat "$VSD_TMP/vsd.pid")
	local deadline=$((SECONDS + 20))
	until vsd_answers; do
		if ! pid_alive "$pid"; then
			echo "vsd exited during start; log:" >&2
			tail -n 30 "$VSD_TMP/vsd.log" >&2
			return 1
		fi
		if ((SECONDS >= deadline)); then
			echo "vsd did not answer on $VSD_SOCKET within 20 s; log:" >&2
			tail -n 30 "$VSD_TMP/vsd.log" >&2
			return 1
		fi
		sleep 0.05
	done
}

# vsd_stop_daemon [SIGNAL]: stop this file's vsd (default SIGTERM, then
# SIGKILL after 10 s) and wait until it is gone. Containers keep running.
vsd_stop_daemon() {
	local sig=${1:-TERM} pid
	pid=$(vsd_pid) || return 0
	[[ -n "$pid" ]] || return 0
	# Only our own daemon: its command line names our root.
	grep -qF "$VSD_ROOT" "/proc/$pid/cmdline" 2>/dev/null || return 0
	kill "-$sig" "$pid" 2>/dev/null || true
	local deadline=$((SECONDS + 10))
	while pid_alive "$pid"; do
		if ((SECONDS >= deadline)); then
			kill -KILL "$pid" 2>/dev/null || true
			deadline=$((SECONDS + 5))
		fi
		sleep 0.05
	done
}

# vsd_kill_daemon: SIGKILL, as a crash would.
vsd_kill_daemon() { vsd_stop_daemon KILL; }

# ensure_busybox_template: build template "busybox" unless present.
ensure_busybox_template() {
	if [[ -f "$VSD_ROOT/templates/busybox/template.json" ]]; then
		return 0
	fi
	"$VSCTL_BIN" template build busybox --from busybox >"$VSD_TMP/busybox-build.log" 2>&1 || {
		echo "template build busybox failed:" >&2
		cat "$VSD_TMP/busybox-build.log" >&2
		return 1
	}
}

# vsd_setup_file [--no-busybox]: the per-file instance.
vsd_setup_file() {
	local tmp
	tmp=$(mktemp -d /tmp/vsd-bats-XXXXXX)
	# Like /var/lib: the containers' mapped root must be able to reach
	# their layers below it (mktemp makes it 0700).
	chmod 0755 "$tmp"
	export VSD_TMP="$tmp"
	export VSD_ROOT="$tmp/root"
	export VSD_RUN="$tmp/run"
	export VSD_SOCKET="$tmp/run/vsd.sock"
	VSD_CG_PARENT="vsd-bats-$(rand_hex)"
	export VSD_CG_PARENT
	echo "$VSD_CG_PARENT" >"$tmp/cgroup-parent"
	vsd_start_daemon || return 1
	if [[ "${1:-}" != --no-busybox ]]; then
		ensure_busybox_template || return 1
	fi
}

# The mount points under $VSD_TMP, deepest first.
_vsd_mounts_under_tmp() {
	# Field 5 of mountinfo is the mount point (octal escapes for blanks,
	# which our paths do not contain).
	awk -v p="$VSD_TMP/" 'index($5, p) == 1 { print length($5) " " $5 }' /proc/self/mountinfo |
		sort -rn | cut -d' ' -f2-
}

# Our cgroup directories in every hierarchy (v1 controllers, name=systemd,
# the unified hierarchy, or a pure v2 root).
_vsd_cgroup_roots() {
	local parent=$1 d
	for d in /sys/fs/cgroup/*/"$parent" /sys/fs/cgroup/"$parent"; do
		[[ -d "$d" ]] && echo "$d"
	done
}

# SIGKILL every task in our cgroups, then thaw every frozen one of them: a
# frozen task keeps its SIGKILL pending until thawed (a test that stopped a
# move while the container was held frozen, or that failed before it was
# thawed, leaves such tasks behind).
_vsd_kill_cgroup_tasks() {
	local parent=$1 root f pid
	for root in $(_vsd_cgroup_roots "$parent"); do
		while read -r f; do
			while read -r pid; do
				[[ -n "$pid" ]] && kill -KILL "$pid" 2>/dev/null
			done <"$f"
		done < <(find "$root" -name cgroup.procs 2>/dev/null)
	done
	for root in $(_vsd_cgroup_roots "$parent"); do
		while read -r f; do
			echo THAWED >"$f" 2>/dev/null
		done < <(find "$root" -name freezer.state 2>/dev/null)
		while read -r f; do
			echo 0 >"$f" 2>/dev/null
		done < <(find "$root" -name cgroup.freeze 2>/dev/null)
	done
}

_vsd_cgroups_empty() {
	local parent=$1 root f
	for root in $(_vsd_cgroup_roots "$parent"); do
		while read -r f; do
			# (cgroupfs files always report size 0: read them)
			[[ -n "$(cat "$f" 2>/dev/null)" ]] && return 1
		done < <(find "$root" -name cgroup.procs 2>/dev/null)
	done
	return 0
}

# Processes whose command line names our temp dir (the daemon, monitors and
# exec helpers of this instance): printed as pids.
_vsd_our_pids() {
	local f pid
	for f in /proc/[0-9]*/cmdline; do
		pid=${f#/proc/}
		pid=${pid%/cmdline}
		[[ "$pid" == "$$" || "$pid" == "$BASHPID" ]] && continue
		# (the process may be gone by now: quiet)
		if { tr '\0' ' ' <"$f"; } 2>/dev/null | grep -qF "$VSD_TMP/"; then
			echo "$pid"
		fi
	done
}

# _vsd_stop_lxcfs: stop this instance's lxcfs (the pid in run/lxcfs.pid, if
# its command line names our run dir) and detach its mount if left; only a
# fuse.lxcfs mount at our own mount point.
_vsd_stop_lxcfs() {
	local pid mnt
	pid=$(cat "$VSD_RUN/lxcfs.pid" 2>/dev/null)
	if [[ -n "$pid" ]] && { tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null | grep -qF "$VSD_RUN/lxcfs"; then
		kill -TERM "$pid" 2>/dev/null
		for _ in $(seq 50); do pid_alive "$pid" || break; sleep 0.1; done
		pid_alive "$pid" && kill -KILL "$pid" 2>/dev/null
	fi
	mnt="$(realpath "$VSD_RUN" 2>/dev/null)/lxcfs"
	if awk -v p="$mnt" '$5 == p && / - fuse.lxcfs / { f = 1 } END { exit !f }' /proc/self/mountinfo; then
		umount -l "$mnt" 2>/dev/null
	fi
}

# vsd_teardown_file: stop and remove everything this file's instance made.
# Safe to call after any failure, and more than once.
vsd_teardown_file() {
	[[ -n "${VSD_TMP:-}" && -d "$VSD_TMP" ]] || return 0
	# Bats runs this under errexit; cleanup must go on past every failure
	# (a process that died meanwhile, a busy cgroup...).
	set +e
	local parent name pid m root d
	parent=$(cat "$VSD_TMP/cgroup-parent" 2>/dev/null) || parent=$VSD_CG_PARENT

	# 1. Politely: destroy the containers through the daemon.
	if vsd_answers; then
		for d in "$VSD_ROOT"/containers/*/; do
			[[ -d "$d" ]] || continue
			name=$(basename "$d")
			timeout 30 "$VSCTL_BIN" destroy --force "$name" >/dev/null 2>&1 || true
		done
	fi
	# 2. The daemon, then its lxcfs (which outlives vsd on purpose).
	vsd_stop_daemon TERM
	_vsd_stop_lxcfs
	# 3. Whatever still runs in our cgroups (container inits and their
	#    children), then monitors and helpers named after our temp dir.
	if [[ -n "$parent" ]]; then
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			_vsd_cgroups_empty "$parent" && break
			_vsd_kill_cgroup_tasks "$parent"
			sleep 0.2
		done
	fi
	for _ in 1 2 3 4 5; do
		m=$(_vsd_our_pids)
		[[ -z "$m" ]] && break
		for pid in $m; do kill -KILL "$pid" 2>/dev/null || true; done
		sleep 0.2
	done
	# 4. Mounts under our temp dir, deepest first, lazily.
	for _ in 1 2 3; do
		m=$(_vsd_mounts_under_tmp)
		[[ -z "$m" ]] && break
		while read -r root; do
			umount -l "$root" 2>/dev/null || true
		done <<<"$m"
	done
	# 5. Our cgroups, depth first (only below our own parent name).
	if [[ -n "$parent" ]]; then
		# (a killed task may linger as a zombie for a moment: retry)
		for _ in 1 2 3 4 5; do
			m=$(_vsd_cgroup_roots "$parent")
			[[ -z "$m" ]] && break
			for root in $m; do
				find "$root" -depth -type d -exec rmdir {} \; 2>/dev/null
			done
			[[ -z "$(_vsd_cgroup_roots "$parent")" ]] && break
			sleep 0.5
		done
		for root in $(_vsd_cgroup_roots "$parent"); do
			echo "teardown: cgroup $root could not be removed" >&2
		done
	fi
	# 6. The files. --one-file-system: never descend into a mount that
	#    survived step 4.
	if [[ -z "$(_vsd_mounts_under_tmp)" ]]; then
		rm -rf --one-file-system "$VSD_TMP"
	else
		echo "teardown: mounts left under $VSD_TMP:" >&2
		_vsd_mounts_under_tmp >&2
		rm -rf --one-file-system "$VSD_TMP" 2>/dev/null || true
	fi
}

# Show the daemon log when a test failed (Bats prints the output of failed
# tests only).
# vsd_stop_readers: end the background readers (event streams) a test
# started, whose pids it appended to $VSD_TMP/readers; also after a failure.
vsd_stop_readers() {
	local pid
	[[ -f "${VSD_TMP:-}/readers" ]] || return 0
	while read -r pid; do
		kill "$pid" 2>/dev/null || true
	done <"$VSD_TMP/readers"
	rm -f "$VSD_TMP/readers"
}

vsd_teardown_test() {
	if [[ -z "${BATS_TEST_COMPLETED:-}" && -n "${VSD_TMP:-}" && -f "$VSD_TMP/vsd.log" ]]; then
		echo "--- last lines of vsd.log ---"
		tail -n 40 "$VSD_TMP/vsd.log"
	fi
}

# --------------------------------------------------------- container helpers

# ct_json NAME: status --json of NAME.
ct_json() { "$VSCTL_BIN" status "$1" --json; }

# ct_field NAME FIELD: one field of the status (e.g. init_pid, state).
ct_field() { ct_json "$1" | json_get "$2"; }

ct_state() { ct_field "$1" state; }
ct_init_pid() { ct_field "$1" init_pid; }

ct_is_state() { [[ "$(ct_state "$1" 2>/dev/null)" == "$2" ]]; }

# ct_create_started NAME [create args...]: create from busybox (unless
# --template is given) and start; waits until running.
ct_create_started() {
	local name=$1
	shift
	local args=("$@")
	if [[ " ${args[*]} " != *" --template "* ]]; then
		args+=(--template busybox)
	fi
	"$VSCTL_BIN" create "$name" "${args[@]}" >/dev/null || return 1
	"$VSCTL_BIN" start "$name" || return 1
	wait_for 10 ct_is_state "$name" running
}

# ct_cgroup_dir NAME CONTROLLER: the host directory of NAME's cgroup in a
# v1 controller's hierarchy (or the unified one when CONTROLLER is "").
ct_cgroup_dir() {
	local pid line rel
	pid=$(ct_init_pid "$1") || return 1
	if [[ -n "$2" ]]; then
		line=$(grep -E "^[0-9]+:([^:]*,)?$2(,[^:]*)?:" "/proc/$pid/cgroup") || return 1
		rel=${line#*:*:}
		local dir
		for dir in /sys/fs/cgroup/"$2" /sys/fs/cgroup/*"$2"*; do
			if [[ -d "$dir$rel" ]]; then
				echo "$dir$rel"
				return 0
			fi
		done
		return 1
	fi
	line=$(grep '^0::' "/proc/$pid/cgroup") || return 1
	rel=${line#0::}
	if [[ -d /sys/fs/cgroup/unified ]]; then
		echo "/sys/fs/cgroup/unified$rel"
	else
		echo "/sys/fs/cgroup$rel"
	fi
}

# containers_listing: every entry (hidden ones too) under containers/.
containers_listing() { ls -A "$VSD_ROOT/containers" 2>/dev/null | sort; }
templates_listing() { ls -A "$VSD_ROOT/templates" 2>/dev/null | sort; }

# tree_digest DIR: names, types, modes, owners, sizes and link targets of a
# tree, hashed (to check a template was not changed).
tree_digest() {
	(cd "$1" && find . -printf '%p %y %m %U %G %s %l\n' | LC_ALL=C sort | md5sum | cut -d' ' -f1)
}

# ---- the Debian 12 template shared by systemd.bats and checkpoint.bats

DEB_CACHE="${VSD_TEST_DEBIAN_TARBALL:-/var/cache/vsd-test/debian-bookworm.tar.zst}"

# deb12_template: import the cached tarball, else (or when that fails)
# build with debootstrap and refresh the cache. Writes the reason to
# $VSD_TMP/skip-reason and returns 1 when there is no template.
deb12_template() {
	[[ -f "$VSD_ROOT/templates/deb12/template.json" ]] && return 0
	local why=""
	if [[ -s "$DEB_CACHE" ]]; then
		if "$VSCTL_BIN" template import deb12 "$DEB_CACHE" >"$VSD_TMP/deb12.log" 2>&1; then
			return 0
		fi
		why="import of $DEB_CACHE failed: $(tail -n 1 "$VSD_TMP/deb12.log"); "
		echo "$why building instead" >&2
		# A broken default cache is rebuilt; a tarball named by the user is left alone.
		[[ -n "${VSD_TEST_DEBIAN_TARBALL:-}" ]] || rm -f "$DEB_CACHE"
	fi
	if ! timeout 1500 "$VSCTL_BIN" template build deb12 --from debian >"$VSD_TMP/deb12.log" 2>&1; then
		echo "${why}template build deb12 --from debian failed: $(tail -n 3 "$VSD_TMP/deb12.log")" >"$VSD_TMP/skip-reason"
		return 1
	fi
	# Cache the rootfs for the next run (atomically: temp + rename).
	if [[ -z "${VSD_TEST_DEBIAN_TARBALL:-}" ]]; then
		mkdir -p "$(dirname "$DEB_CACHE")"
		if tar -C "$VSD_ROOT/templates/deb12/rootfs" --numeric-owner --xattrs -cf - . |
			zstd -q -T0 -3 -o "$DEB_CACHE.tmp.$$"; then
			mv -f "$DEB_CACHE.tmp.$$" "$DEB_CACHE"
		else
			rm -f "$DEB_CACHE.tmp.$$"
		fi
	fi
}
