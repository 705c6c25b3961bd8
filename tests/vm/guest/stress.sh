#!/bin/sh
# tests/vm guest: a repeated-migration stress run (issue 10, the post-copy
# "shell stops in wait4" bug), instead of the lane, when the kernel command
# line says vsd.stress=MODE:MOVES (tests/vm/run.sh --stress MODE:MOVES; CI
# never sets it). Sourced by checks.sh (its TAP helpers); uses migrate.sh's
# functions (MIG_LIB_ONLY: it runs none of its checks).
#
# The two nodes of migrate.sh and the same VPS (48 MB in vsd-test-memsum, a
# task vforking /bin/true all the time, the counter shell forking usleep
# every 20 ms) move A -> B -> A ... MOVES times; after each move one check:
# the counter goes on for STRESS_WATCH seconds (sampled every 5 s, each
# sample past the one before; read by migrate.sh's mig_read_counter, which
# reads again a file it finds empty). A counter that stopped ends the run
# with what the guest's root namespace sees of the loop and its children
# (stress_diag). Before the moves, stress_race counts the empty reads.
#
# Besides, stress_churn makes the guest change its disk as a real one does
# during a move (the layer's rsync rounds run meanwhile): a file rewritten
# in place (truncated, then written: rsync reads it short, status 23),
# files created, hard-linked, renamed and removed, FIFOs, files of mode
# 000, directories made and removed. A move that fails before the commit
# is tried once more and counted; its error is printed.
#
# MODE postcopy: vm.unprivileged_userfaultfd=1 before both daemons start,
#   --mode postcopy moves.
# MODE precopy-toggle: the sysctl set to 1 before both daemons start and
#   back to 0 before the moves, --mode precopy moves (the variant a previous
#   session saw stop twice in two runs).
# MODE precopy: the sysctl left at 0, --mode precopy moves.

MIG_LIB_ONLY=1
. /vsd-vm/migrate.sh
MCT=mig2
STRESS_WATCH=${STRESS_WATCH:-15}
MXDG_B=/tmp/mig-xdg-b

stress_arg=$(tr ' ' '\n' </proc/cmdline | sed -n 's/^vsd\.stress=//p' | tail -n1)
stress_mode=${stress_arg%%:*}
stress_moves=${stress_arg#*:}
[ "$stress_moves" != "$stress_arg" ] || stress_moves=10

# on_n SOCK ARGS...: vsctl against the node at SOCK.
on_n() {
	_s=$1
	shift
	VSD_SOCKET=$_s timeout 300 vsctl "$@" </dev/null
}
counter_on() { mig_read_counter "$1"; }
# counter_raw SOCK: one read, as the lane made it before issue 10's fix.
counter_raw() { on_n "$1" exec "$MCT" -- cat /root/counter 2>/dev/null; }

# stress_shells: the guest pids of the counter shell (and of any forked
# copy of it not yet exec'd: same command line).
stress_shells() {
	for _p in /proc/[0-9]*; do
		tr '\0' ' ' <"$_p/cmdline" 2>/dev/null | grep -q 'echo \$i >/root/counter' && echo "${_p#/proc/}"
	done
}

# stress_task PID: what the guest's root namespace sees of one task.
stress_task() {
	_t=/proc/$1
	echo "pid $1 comm $(cat $_t/comm 2>/dev/null) wchan $(cat $_t/wchan 2>/dev/null) syscall $(cat $_t/syscall 2>/dev/null)"
	grep -E '^(State|Tgid|PPid|NSpid|SigQ|SigPnd|ShdPnd|SigBlk|SigIgn|SigCgt|Threads):' $_t/status 2>/dev/null | tr '\n' ' '
	echo
	echo "children: $(cat $_t/task/*/children 2>/dev/null | tr '\n' ' ')"
	echo "ns pid $(readlink $_t/ns/pid) pid_for_children $(readlink $_t/ns/pid_for_children) cgroup $(cat $_t/cgroup 2>/dev/null)"
	echo "stack: $(cat $_t/stack 2>/dev/null | tr '\n' '|')"
}

# stress_diag SOCK RUN CGPARENT: the stopped counter shell as seen from the
# guest's root namespace (the host side of the VPS).
stress_diag() {
	echo "uptime $(cat /proc/uptime), clock ticks: start time is field 22 of stat"
	_sh1=$(stress_shells | head -n 1)
	echo "the counter seen by vsctl exec and through the shell's own root, 8 times 1 s apart:"
	for _j in 1 2 3 4 5 6 7 8; do
		echo "  $(cut -d' ' -f1 /proc/uptime): exec $(on_n "$1" exec "$MCT" -- sh -c 'echo $(cat /root/counter) $(stat -c "%d:%i %s %y" /root/counter) mnt $(readlink /proc/self/ns/mnt)' 2>&1) | root $(cat /proc/$_sh1/root/root/counter) $(stat -L -c '%d:%i %s %y' /proc/$_sh1/root/root/counter) mnt $(readlink /proc/$_sh1/ns/mnt)"
		sleep 1
	done
	for _sh in $(stress_shells); do
		stress_task "$_sh"
		echo "stat: $(cat /proc/$_sh/stat 2>&1)"
		for _c in $(cat /proc/$_sh/task/*/children 2>/dev/null); do
			echo "  child $_c of $_sh (from children): ls: $(ls -ld /proc/$_c 2>&1)"
			stress_task "$_c" 2>&1 | sed 's/^/    /'
			echo "    stat: $(cat /proc/$_c/stat 2>&1)"
			echo "    threads: $(ls /proc/$_c/task 2>&1 | tr '\n' ' ') exe: $(readlink /proc/$_c/exe 2>&1)"
			echo "    in readdir: $(ls /proc | grep -c "^$_c\$")"
			for _t in /proc/$_c/task/*; do
				echo "    thread ${_t##*/}: $(grep -E '^State' $_t/status | tr '\n' ' ') stack $(tr '\n' '|' <$_t/stack 2>&1)"
			done
		done
		echo "  root $(readlink /proc/$_sh/root) cwd $(readlink /proc/$_sh/cwd) fds: $(ls -l /proc/$_sh/fd 2>&1 | awk '{ print $9 $10 $11 }' | tr '\n' ' ')"
		echo "  /root/counter through its root: $(cat /proc/$_sh/root/root/counter 2>&1), again 2 s later: $(sleep 2; cat /proc/$_sh/root/root/counter 2>&1); stat $(stat -L -c '%d:%i %s %y' /proc/$_sh/root/root/counter 2>&1)"
		echo "  its mount of /: $(awk '$5 == "/"' /proc/$_sh/mountinfo 2>&1 | head -n 3 | tr '\n' ' ')"
		echo "  syscalls sampled: $(for _j in 1 2 3 4 5 6 7 8 9 10; do cut -d' ' -f1-3 /proc/$_sh/syscall; done | tr '\n' ',')"
		echo "  its children sampled 60 times (pid, NSpid, PPid, State, cmdline):"
		_i=0
		while [ $_i -lt 60 ]; do
			for _c in $(cat /proc/$_sh/task/*/children 2>/dev/null); do
				echo "    $_i: $_c $(grep -E '^(NSpid|PPid|State):' /proc/$_c/status 2>/dev/null | tr '\n' ' ') $(tr '\0' ' ' </proc/$_c/cmdline 2>/dev/null)"
			done
			_i=$((_i + 1))
		done
		for _v in $(pidof vforker); do
			echo "  vforker $_v: $(grep -E '^(NSpid|PPid|State):' /proc/$_v/status | tr '\n' ' ') syscall $(cat /proc/$_v/syscall) children $(cat /proc/$_v/task/*/children)"
			echo "  vforker $_v stat: $(cat /proc/$_v/stat)"
		done
		for _p in /proc/[0-9]*; do
			[ "$(sed -n 's/^PPid:[[:space:]]*//p' "$_p/status" 2>/dev/null)" = "$_sh" ] || continue
			echo "  PPid $_sh (readdir): ${_p#/proc/}"
		done
	done
	echo "zombies and D-state tasks (host view):"
	for _p in /proc/[0-9]*; do
		grep -qE '^State:[[:space:]]*[ZD]' "$_p/status" 2>/dev/null &&
			echo "  ${_p#/proc/} $(cat "$_p/comm") $(grep -E '^(State|PPid):' "$_p/status" | tr '\n' ' ')"
	done
	echo "cgroups under $3/$MCT:"
	find "/sys/fs/cgroup/$3/$MCT" -type d 2>/dev/null | while read -r _d; do
		echo "  $_d freeze=$(cat "$_d/cgroup.freeze" 2>/dev/null) events=$(tr '\n' ' ' <"$_d/cgroup.events" 2>/dev/null) procs=$(tr '\n' ' ' <"$_d/cgroup.procs" 2>/dev/null)"
	done
	echo "df: $(df -k /var/lib/vsd-a /var/lib/vsd-b /run /tmp / 2>&1 | tr -s ' ' | tr '\n' ';')"
	echo "free: $(free -k | tr -s ' ' | tr '\n' ';')"
	echo "a write in the VPS: $(on_n "$1" exec "$MCT" -- sh -c 'echo 1 >/root/probe; echo "status $?"; cat /root/probe; ls -ln /root; i=0; i=$((i + 1)); echo "arith $i"' 2>&1 | tr '\n' ' ')"
	echo "the VPS's own view:"
	on_n "$1" exec "$MCT" -- sh -c 'for p in /proc/[0-9]*; do echo "${p#/proc/} $(cat $p/comm) $(grep -E "^(State|PPid)" $p/status | tr "\n" " ") $(cat $p/wchan)"; done' 2>&1
	_lz=$2/containers/$MCT/lazy-pages/lazy-pages.log
	if [ -f "$_lz" ]; then
		echo "lazy-pages.log: $(grep -c 'FORK' "$_lz") FORK events; around them, and the end:"
		grep -v -e 'uffd_copy:' -e 'TCP_NODELAY' -e 'Read [0-9a-f]* [0-9]* pages' "$_lz" | grep -B 12 -A 25 -e 'FORK' | head -n 120
		grep -v -e 'uffd_copy:' -e 'TCP_NODELAY' -e 'Read [0-9a-f]* [0-9]* pages' "$_lz" | tail -n 25
	fi
	echo "dmesg:"
	dmesg | tail -n 20
}

# stress_watch SOCK BEFORE: the counter on SOCK's node went past BEFORE and
# goes on for STRESS_WATCH seconds ($cnt: its last value).
stress_watch() {
	cnt=$(counter_on "$1")
	[ "${cnt:-0}" -gt "$2" ] 2>/dev/null || return 1
	_end=$(($(date +%s) + STRESS_WATCH))
	while [ "$(date +%s)" -lt "$_end" ]; do
		sleep 5
		_prev=$cnt
		cnt=$(counter_on "$1")
		[ "${cnt:-0}" -gt "$_prev" ] 2>/dev/null || return 1
	done
}

# stress_race SOCK: how often a read of /root/counter finds it empty (the
# loop's redirection truncates it before echo writes), before any move: by
# vsctl exec cat, as the lane's single reads did, and by the shell's
# builtin read through the loop's /proc/PID/root.
stress_race() {
	_e=0 _j=0
	while [ "$_j" -lt 100 ]; do
		[ -n "$(counter_raw "$1")" ] || _e=$((_e + 1))
		_j=$((_j + 1))
	done
	_sh=$(stress_shells | head -n 1)
	_d=0 _j=0
	while [ "$_j" -lt 2000 ]; do
		_v=
		read -r _v <"/proc/$_sh/root/root/counter"
		[ -n "$_v" ] || _d=$((_d + 1))
		_j=$((_j + 1))
	done
	echo "# stress: empty reads of /root/counter before any move: $_e of 100 by vsctl exec cat, $_d of 2000 direct"
}

# stress_churn SOCK: the disk churn above, in the VPS on SOCK's node, its
# own loop every 20 ms (started before the moves: a VPS being moved takes
# no exec; it moves with the VPS).
stress_churn() {
	on_n "$1" exec "$MCT" -- sh -c 'setsid sh -c "i=0; mkdir -p /var/log/churn /root/churn
		cd /root/churn || exit 1
		while :; do
			i=\$((i + 1)) j=\$((i - 1))
			echo \$i >/var/log/churn/log
			dd if=/dev/zero of=/var/log/churn/big bs=64k count=16 2>/dev/null
			echo \$i >a.\$i && ln a.\$i l.\$i && mv a.\$i b; rm -f l.\$j
			mkfifo f.\$i; rm -f f.\$j
			: >m.\$i && chmod 000 m.\$i; rm -f m.\$j
			mkdir d.\$i; rmdir d.\$j 2>/dev/null
			usleep 20000
		done" </dev/null >/dev/null 2>&1 &'
}

# stress_dwatch_start: sample, every 0.3 s until stress_dwatch_stop, the
# guest's tasks in state D (a dump that fails names one: "Unseizable
# non-zombie N found, state D") with their wchan, stack and children, and
# their children's state, into /tmp/stress-dstate (the last 400 lines are
# kept).
stress_dwatch_start() {
	: >/tmp/stress-dstate
	touch /tmp/stress-dwatch
	(
		while [ -e /tmp/stress-dwatch ]; do
			_u=$(cut -d' ' -f1 /proc/uptime)
			for _p in /proc/[0-9]*; do
				grep -qE '^State:[[:space:]]*D' "$_p/status" 2>/dev/null || continue
				echo "$_u D ${_p#/proc/} $(cat "$_p/comm" 2>/dev/null) ppid $(sed -n 's/^PPid:[[:space:]]*//p' "$_p/status" 2>/dev/null) wchan $(cat "$_p/wchan" 2>/dev/null) stack $(cat "$_p/stack" 2>/dev/null | tr '\n' '|')"
				for _c in $(cat "$_p"/task/*/children 2>/dev/null); do
					echo "$_u   child $_c $(cat /proc/$_c/comm 2>/dev/null) $(grep -E '^(State|TracerPid):' /proc/$_c/status 2>/dev/null | tr '\n' ' ') wchan $(cat /proc/$_c/wchan 2>/dev/null) stack $(cat /proc/$_c/stack 2>/dev/null | tr '\n' '|')"
				done
			done >>/tmp/stress-dstate
			sleep 0.3
		done
	) &
	dwatch_pid=$!
}

# stress_dwatch_stop: the sampler ends.
stress_dwatch_stop() {
	rm -f /tmp/stress-dwatch
	wait "$dwatch_pid" 2>/dev/null
}

# stress_dump_diag OUT: for a move that failed with a task CRIU could
# not seize, the dump log's lines naming it and what the sampler saw.
stress_dump_diag() {
	_pid=$(echo "$1" | grep -o 'Unseizable non-zombie [0-9]*' | head -n1 | grep -o '[0-9]*$')
	[ -n "$_pid" ] || return 0
	echo "# stress: the dump log's lines on task $_pid:"
	_log=$(echo "$1" | grep -o '(log: [^)]*)' | head -n1 | sed 's/^(log: //; s/)$//')
	grep -E "[^0-9]$_pid[^0-9]|freez|Freez|thaw|Timeout" "$_log" 2>/dev/null |
		head -n 60 | sed 's/^/# stress:   /'
	echo "# stress: tasks in state D while the move ran (last 80 samples):"
	tail -n 80 /tmp/stress-dstate | sed 's/^/# stress:   /'
}

stress_run() {
	echo "# stress: mode $stress_mode, $stress_moves moves, counter watched ${STRESS_WATCH} s after each"
	case "$stress_mode" in
	postcopy | precopy-toggle) uffd=1 ;;
	precopy) uffd=0 ;;
	*)
		fail "stress: a known mode (postcopy, precopy-toggle, precopy)" "got '$stress_arg'"
		return
		;;
	esac
	modprobe overlay
	echo "$uffd" >/proc/sys/vm/unprivileged_userfaultfd
	if ! mig_net || ! mig_node vma "$MA_ROOT" "$MA_RUN" "$MA_SOCK" vsd-a 192.0.2.11 "$MA_LOG" ||
		! mig_node vmb "$MB_ROOT" "$MB_RUN" "$MB_SOCK" vsd-b 192.0.2.12 "$MB_LOG"; then
		fail "stress: two nodes" "$(tail -n 5 "$MA_LOG" "$MB_LOG" 2>&1)"
		return
	fi
	[ "$stress_mode" != precopy-toggle ] || echo 0 >/proc/sys/vm/unprivileged_userfaultfd
	mode=${stress_mode%-toggle}
	if ! on_a template build bb --from busybox >/dev/null || ! on_b template build bb --from busybox >/dev/null ||
		! on_a trust add nodeb "$MB_ROOT/auth/node.crt" >/dev/null ||
		! on_b trust add nodea "$MA_ROOT/auth/node.crt" >/dev/null; then
		fail "stress: templates and mutual trust" "$(tail -n 5 "$MA_LOG" "$MB_LOG")"
		return
	fi
	mkdir -p "$MXDG" "$MXDG_B" && chmod 0700 "$MXDG" "$MXDG_B"
	fpb=$(on_b node info --json | grep -o '"fingerprint": *"[^"]*"' | head -n1 | sed 's/.*"\([^"]*\)"$/\1/')
	fpa=$(on_a node info --json | grep -o '"fingerprint": *"[^"]*"' | head -n1 | sed 's/.*"\([^"]*\)"$/\1/')
	if ! env XDG_CONFIG_HOME="$MXDG" nsenter --net=/run/netns/vma vsctl remote add nodeb https://192.0.2.12:8443 --accept-fingerprint "$fpb" >/dev/null ||
		! env XDG_CONFIG_HOME="$MXDG_B" nsenter --net=/run/netns/vmb vsctl remote add nodea https://192.0.2.11:8443 --accept-fingerprint "$fpa" >/dev/null; then
		fail "stress: remotes nodeb and nodea"
		return
	fi
	if ! mig_start_vps "$MCT"; then
		fail "stress: $MCT created on A, counting" "$(on_a exec "$MCT" -- ps 2>&1)"
		return
	fi
	stress_race "$MA_SOCK"
	stress_churn "$MA_SOCK"
	retried=0 refroze=0
	from=$MA_SOCK fromx=$MXDG to=nodeb tosock=$MB_SOCK torun=$MB_RUN tocg=vsd-b
	moves=0 t0=$(date +%s)
	while [ "$moves" -lt "$stress_moves" ]; do
		before=$(counter_on "$from")
		stress_dwatch_start
		out=$(XDG_CONFIG_HOME="$fromx" VSD_SOCKET=$from timeout 360 vsctl migrate "$MCT" --to "$to" --mode "$mode" --json </dev/null 2>&1)
		st=$?
		stress_dwatch_stop
		if [ "$st" != 0 ] && on_n "$from" status "$MCT" >/dev/null 2>&1; then
			# A move that failed before the commit leaves it running here:
			# once more (not what this run looks for).
			retried=$((retried + 1))
			echo "# stress: move $((moves + 1)) failed, the VPS stays; again: $(echo "$out" | tail -n 1)"
			stress_dump_diag "$out"
			stress_dwatch_start
			out=$(XDG_CONFIG_HOME="$fromx" VSD_SOCKET=$from timeout 360 vsctl migrate "$MCT" --to "$to" --mode "$mode" --json </dev/null 2>&1)
			st=$?
			stress_dwatch_stop
		fi
		moves=$((moves + 1))
		! echo "$out" | grep -q 'frozen again' || refroze=$((refroze + 1))
		if [ "$st" != 0 ]; then
			fail "stress: move $moves ($mode, to $to)" "status $st: $out" "$(tail -n 20 "$MA_LOG")" "$(tail -n 20 "$MB_LOG")" "$(stress_dump_diag "$out")"
			return
		fi
		if stress_watch "$tosock" "${before:-0}"; then
			pass "stress: move $moves ($mode, to $to): the counter goes on ($before before, $cnt after ${STRESS_WATCH} s; $(echo "$out" | tr -d '\n' | grep -o '"frozen_ms": *[0-9]*\|"total_ms": *[0-9]*' | tr -d ' "' | tr '\n' ' '))"
		else
			fail "stress: move $moves ($mode, to $to): the counter goes on" \
				"before $before, now $(counter_on "$tosock") (the stop seen in move $moves of $stress_moves)" \
				"$(stress_diag "$tosock" "$torun" "$tocg" 2>&1)" "$(tail -n 20 "$MB_LOG" "$MA_LOG")"
			break
		fi
		if [ "$to" = nodeb ]; then
			from=$MB_SOCK fromx=$MXDG_B to=nodea tosock=$MA_SOCK torun=$MA_RUN tocg=vsd-a
		else
			from=$MA_SOCK fromx=$MXDG to=nodeb tosock=$MB_SOCK torun=$MB_RUN tocg=vsd-b
		fi
	done
	echo "# stress: $moves moves in $(($(date +%s) - t0)) s, $nfail stopped, $retried failed before the commit and tried again, $refroze froze again for a vfork"
	_left=$(cat "$MA_LOG" "$MB_LOG" | grep 'left to the final round')
	echo "# stress: rounds left to the final round: $(echo "$_left" | grep -c 'exited with 2[34]') (rsync's status 23: $(echo "$_left" | grep -c 'exited with 23'), 24: $(echo "$_left" | grep -c 'exited with 24'))"
	# rsync's messages of failed runs, those other than "vanished" first.
	cat "$MA_LOG" "$MB_LOG" | grep 'rsync.* ended with status' | grep -v 'status 24' | cut -c1-400 | head -n 8 | sed 's/^/# stress: /'
	cat "$MA_LOG" "$MB_LOG" | grep 'rsync.* ended with status 24' | cut -c1-300 | head -n 2 | sed 's/^/# stress: /'
}

stress_run
echo 0 >/proc/sys/vm/unprivileged_userfaultfd
