# Helpers for checkpoint.bats (checkpoint/restore with CRIU). Loaded after
# helpers.bash, whose per-file daemon instance they extend:
#   - the daemon can be (re)started with `--criu PATH`, e.g. a wrapper that
#     makes `criu dump` or `criu restore` fail ($VSD_TMP/criu-current holds
#     the path the running daemon was given; the per-test teardown puts the
#     real one back);
#   - guest programs that write what they hold in memory to a file, read
#     from the host through the container's upper layer (reading does not
#     open an exec session, which would make a checkpoint refuse);
#   - checks that the daemon's view (status, list) matches the processes,
#     the cgroups and the image on disk.

# The CRIU under test (installed by scripts/install-criu.sh).
CR_CRIU="${VSD_TEST_CRIU:-/opt/vsd/criu/bin/criu}"
# The Debian 12 template tarball shared with systemd.bats.
export CR_CRIU

# cr_criu_unusable: print why checkpoint tests cannot run here and succeed,
# or fail (print nothing) when `criu check` passes.
cr_criu_unusable() {
	local out
	if [[ ! -x "$CR_CRIU" ]]; then
		echo "no criu at $CR_CRIU (run scripts/install-criu.sh)"
		return 0
	fi
	if ! out=$(timeout 60 "$CR_CRIU" check 2>&1); then
		echo "$CR_CRIU check failed: $(tail -n 2 <<<"$out" | tr '\n' ' ')"
		return 0
	fi
	return 1
}

# ------------------------------------------------------------- the daemon

# cr_start_daemon [CRIU]: like vsd_start_daemon, with `--criu CRIU` (default
# the real one). Fails (printing the log) if vsd dies or does not answer.
cr_start_daemon() {
	local criu=${1:-$CR_CRIU}
	echo "$criu" >"$VSD_TMP/criu-current"
	vsd_start_daemon --criu "$criu"
}

# cr_restart_daemon [CRIU]: stop this file's vsd (containers keep running)
# and start it again with --criu CRIU.
cr_restart_daemon() {
	vsd_stop_daemon TERM
	cr_start_daemon "$@"
}

# cr_wrapper MODE: write a criu wrapper for MODE and print its path. It runs
# the real criu for everything (the daemon's probe: --version, check) except:
#   dump-early     `dump` fails at once (nothing dumped, nothing frozen by criu)
#   dump-late      `dump` runs for real but with --leave-running (the tree is
#                  thawed, not killed), leaves a complete image, then fails
#   restore-early  `restore` fails at once
#   restore-late   `restore` runs for real (the tree is restored and runs
#                  detached), then fails
#   record         every call runs for real; its arguments are appended, one
#                  call per line, to $VSD_TMP/criu-calls.log
# A failing wrapper appends an "Error (criu-wrapper): injected ..." line to
# the log named by -o in the -D directory, as criu would.
cr_wrapper() {
	local mode=$1 path="$VSD_TMP/criu-$1"
	cat >"$path" <<EOF
#!/bin/bash
real='$CR_CRIU'
mode='$mode'
EOF
	cat >>"$path" <<'EOF'
cmd=${1:-}
dir=. log=
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
	case "${args[i]}" in
	-D | --images-dir) dir=${args[i + 1]} ;;
	-D?*) dir=${args[i]#-D} ;;
	--images-dir=*) dir=${args[i]#*=} ;;
	-o | --log-file) log=${args[i + 1]} ;;
	--log-file=*) log=${args[i]#*=} ;;
	esac
done
[[ -n "$log" && "$log" != /* ]] && log="$dir/$log"
injected() {
	[[ -n "$log" ]] && echo "(00.000000) Error (criu-wrapper): injected $cmd failure ($mode)" >>"$log"
	exit 1
}
[[ "$mode" == record ]] && printf '%s\n' "$*" >>"$(dirname "$0")/criu-calls.log"
case "$mode:$cmd" in
dump-early:dump | restore-early:restore) injected ;;
dump-late:dump)
	"$real" "$@" --leave-running || exit $?
	injected
	;;
restore-late:restore)
	"$real" "$@" || exit $?
	injected
	;;
esac
exec "$real" "$@"
EOF
	chmod 0755 "$path"
	echo "$path"
}

# -------------------------------------------------------- guest programs

# cr_upper NAME PATH: the host path of PATH (absolute, inside the
# container) in NAME's copy-on-write layer, where the container's new files
# land.
cr_upper() { echo "$VSD_ROOT/containers/$1/upper$2"; }

# cr_read_int FILE: the integer in FILE (retried for a moment: the guest
# rewrites it with `>`, which truncates first). Fails if there is none.
cr_read_int() {
	local v
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		v=$(cat "$1" 2>/dev/null)
		if [[ "$v" =~ ^[0-9]+$ ]]; then
			echo "$v"
			return 0
		fi
		sleep 0.02
	done
	echo "cr_read_int: no integer in $1 (got '$v')" >&2
	return 1
}

# cr_start_counter NAME: a busybox shell loop in NAME that increments a
# shell variable (memory only) and writes it to /root/cnt every 0.1 s,
# through a rename so a reader (or a checkpoint) never sees it half written.
# Detached from the exec session (its own stdin/stdout/stderr), so the
# session ends and the loop is the container's.
cr_start_counter() {
	# shellcheck disable=SC2016 # (expanded by the guest's shell)
	in_ct "$1" sh -c '(i=0; while :; do i=$((i + 1)); echo $i >/root/cnt.new; mv /root/cnt.new /root/cnt; sleep 0.1; done) </dev/null >/dev/null 2>&1 &'
}

# cr_counter NAME: the counter's last written value.
cr_counter() { cr_read_int "$(cr_upper "$1" /root/cnt)"; }

# cr_wait_counter NAME MIN [TIMEOUT]: wait until the counter reaches MIN.
cr_wait_counter() {
	local deadline=$((SECONDS + ${3:-20})) v
	while :; do
		v=$(cr_counter "$1" 2>/dev/null) || v=0
		((v >= $2)) && return 0
		if ((SECONDS >= deadline)); then
			echo "counter of $1 is $v, not >= $2 after ${3:-20} s" >&2
			return 1
		fi
		sleep 0.1
	done
}

# cr_check_counter_continues NAME FROM: after a resume/restore, the counter
# goes on from FROM (the value when the container was frozen): within 3 s
# it exceeds FROM, never having gone back below it, and it is far below
# FROM+100 (a restarted loop would begin at 1 again; FROM is >= 20 in these
# tests, so 1..19 cannot pass for a continuation).
cr_check_counter_continues() {
	local name=$1 from=$2 v prev deadline=$((SECONDS + 3))
	prev=$from
	while :; do
		v=$(cr_counter "$name") || return 1
		((v >= prev)) || fail "$name: counter went back from $prev to $v (frozen at $from)" || return 1
		((v < from + 100)) || fail "$name: counter $v too far past $from" || return 1
		prev=$v
		((v > from + 2)) && break
		if ((SECONDS >= deadline)); then
			fail "$name: counter stuck at $v after resume (frozen at $from)"
			return 1
		fi
		sleep 0.1
	done
	echo "$name: counter frozen at $from, now $v"
}

# ---------------------------------------------------------- observations

# cr_image_dir NAME: where `suspend` keeps NAME's image.
cr_image_dir() { echo "$VSD_ROOT/containers/$1/checkpoint"; }

# cr_image_digest DIR: names and contents of the CRIU image files (*.img)
# in DIR, hashed; the logs criu appends to are left out.
cr_image_digest() {
	[[ -f "$1/inventory.img" ]] || {
		echo "no-image"
		return 0
	}
	(cd "$1" && find . -maxdepth 1 -name '*.img' -type f -print0 | LC_ALL=C sort -z |
		xargs -0 md5sum | md5sum | cut -d' ' -f1)
}

# cr_host_pids NAME: host pids of every process in one of NAME's cgroups
# (in any hierarchy), found from /proc, so a process that escaped vsd's
# bookkeeping is seen too.
cr_host_pids() {
	local f pid
	for f in /proc/[0-9]*/cgroup; do
		pid=${f#/proc/}
		pid=${pid%/cgroup}
		# (the process may be gone by now: quiet)
		if grep -qE ":/$VSD_CG_PARENT/$1(/|\$)" "$f" 2>/dev/null; then
			echo "$pid"
		fi
	done
}

# cr_list_entry NAME: "STATE INIT_PID" of NAME in `vsctl list --json`.
cr_list_entry() {
	vsctl list --json | "$PY" -c '
import json, sys
for c in json.load(sys.stdin)["containers"]:
    if c["name"] == sys.argv[1]:
        print(c["state"], c.get("init_pid", 0))
' "$1"
}

# cr_check_truth NAME: status and list agree, and they tell the truth: when
# running, init is alive and in NAME's cgroup; when suspended, nothing of
# NAME runs on the host, its monitor is gone and its image is complete;
# when stopped, nothing runs. Prints the state.
cr_check_truth() {
	local name=$1 st lst state pid mon pids
	st=$(ct_json "$name") || fail "status $name failed" || return 1
	state=$(json_get state <<<"$st")
	pid=$(json_get init_pid <<<"$st")
	mon=$(json_get monitor_pid <<<"$st")
	lst=$(cr_list_entry "$name") || return 1
	assert_eq "$lst" "$state $pid" "list vs status of $name" || return 1
	pids=$(cr_host_pids "$name")
	case "$state" in
	running)
		pid_alive "$pid" || fail "$name: running with dead init $pid" || return 1
		grep -qx "$pid" <<<"$pids" || fail "$name: init $pid not in the container's cgroup" || return 1
		;;
	suspended | stopped)
		assert_eq "$pid" 0 "$name: init_pid when $state" || return 1
		assert_eq "$mon" 0 "$name: monitor_pid when $state" || return 1
		[[ -z "$pids" ]] || fail "$name is $state but these run in its cgroup: $(squash "$pids")" || return 1
		if [[ "$state" == suspended ]]; then
			[[ -f "$(cr_image_dir "$name")/inventory.img" ]] ||
				fail "$name: suspended without an image in $(cr_image_dir "$name")" || return 1
		fi
		;;
	*) fail "$name: state $state" || return 1 ;;
	esac
	echo "$state"
}

# cr_settle NAME: wait (30 s at most) until NAME reads running, suspended or
# stopped twice in a row, half a second apart; print that state.
cr_settle() {
	local deadline=$((SECONDS + 30)) s prev=""
	while :; do
		s=$(ct_state "$1" 2>/dev/null) || s=""
		case "$s" in
		running | suspended | stopped)
			if [[ "$s" == "$prev" ]]; then
				echo "$s"
				return 0
			fi
			;;
		esac
		prev=$s
		if ((SECONDS >= deadline)); then
			echo "cr_settle: $1 still '$s' after 30 s" >&2
			return 1
		fi
		sleep 0.5
	done
}

# --------------------------------------------------------- per-test teardown

# cr_teardown_test: show the log of a failed test, then undo what the test
# made: the real criu back in the daemon (restarting it if a test killed it
# or gave it a wrapper), every container destroyed, image dirs removed.
cr_teardown_test() {
	vsd_teardown_test
	local d
	if [[ "$(cat "$VSD_TMP/criu-current" 2>/dev/null)" != "$CR_CRIU" ]] || ! vsd_answers; then
		cr_restart_daemon "$CR_CRIU" || true
	fi
	for d in "$VSD_ROOT"/containers/*/; do
		[[ -d "$d" ]] || continue
		timeout 60 "$VSCTL_BIN" destroy --force "$(basename "$d")" >/dev/null 2>&1 ||
			echo "teardown: destroy $(basename "$d") failed" >&2
	done
	rm -rf "$VSD_TMP"/images "$VSD_TMP"/criu-calls.log
	return 0
}
