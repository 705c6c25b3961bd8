#!/bin/sh
# tests/vm guest: a live migration with memory pre-copy rounds between two
# vsd nodes (issue 10: precopy needs the kernel's soft-dirty tracking,
# which Debian's cloud kernel has and the development hosts lack).
#
# Sourced by checks.sh after its single-node checks (it uses their TAP
# helpers and numbering). Two vsd instances, each in a network namespace
# of its own on a LAN bridge in a third (as tests/integration/
# cluster-helpers.bash draws them on the host), each with its own root, run
# dir, socket, cgroup parent and id-map registry; their node certificates
# are made by vsd at start, and each trusts the other's. A busybox
# container holding 48 MB of pseudo-random memory (vsd-test-memsum) and a
# shell loop counting in its memory and into a file, and a task running
# /bin/true through vfork all the time, moves from A to B with
# --mode precopy. Only the outcome is checked, never a time: it runs on B
# and not on A, its memory's checksum is the one it had on A, its counter
# goes on from where it was, and the result reports two rounds or more.
# Before that: the CRIU probe says no lazy pages (post-copy) with this
# kernel's vm.unprivileged_userfaultfd=0, and names the sysctl.
#
# Then post-copy (mig_postcopy_checks): this VM, its own machine, sets
# vm.unprivileged_userfaultfd=1 once the precopy case is over (so that case
# runs as it always did) and restarts both daemons, whose CRIU probe then
# says lazy_pages: true; a second busybox VPS holding 48 MB and a counter
# moves with --mode postcopy: it runs on B before its memory arrived, B's
# criu lazy-pages pulls it from A's dump. Checked: the move succeeds, the
# result says postcopy with lazy pages > 0, it runs on B and is gone from
# A, its counter goes on, its memory's checksum on B is A's.

MA_ROOT=/var/lib/vsd-a MB_ROOT=/var/lib/vsd-b
MA_RUN=/run/vsd-a MB_RUN=/run/vsd-b
MA_SOCK=$MA_RUN/vsd.sock MB_SOCK=$MB_RUN/vsd.sock
MA_LOG=/tmp/vsd-a.log MB_LOG=/tmp/vsd-b.log
MCT=mig1
MXDG=/tmp/mig-xdg
# iproute2's ip by its path: busybox's sh runs its own applets first, and
# busybox's ip knows no network namespaces or veth.
IP=/usr/sbin/ip

# on_a / on_b ARGS...: vsctl against node A's (B's) unix socket.
on_a() { VSD_SOCKET=$MA_SOCK timeout 300 vsctl "$@" </dev/null; }
on_b() { VSD_SOCKET=$MB_SOCK timeout 300 vsctl "$@" </dev/null; }

# mig_port NS IF LANPORT ADDR: IF in NS with ADDR, its veth peer LANPORT a
# port of the LAN's bridge.
mig_port() {
	"$IP" netns add "$1" && "$IP" -n "$1" link set lo up &&
		"$IP" -n "$1" link add "$2" type veth peer name "$3" netns vmlan &&
		"$IP" -n "$1" addr add "$4" dev "$2" && "$IP" -n "$1" link set "$2" up &&
		"$IP" -n vmlan link set "$3" master lan0 && "$IP" -n vmlan link set "$3" up
}

mig_net() {
	"$IP" netns add vmlan && "$IP" -n vmlan link set lo up &&
		"$IP" -n vmlan link add lan0 type bridge && "$IP" -n vmlan link set lan0 up &&
		mig_port vma up0 lana 192.0.2.11/24 && mig_port vmb up0 lanb 192.0.2.12/24
}

# mig_node NS ROOT RUN SOCK PARENT ADDR LOG: a vsd in NS.
mig_node() {
	mkdir -p "$2" "$3" "$2-idmaps"
	nsenter --net="/run/netns/$1" setsid vsd --root "$2" --run-dir "$3" --socket "$4" \
		--cgroup-parent "$5" --idmap-registry "$2-idmaps" --listen "$6:8443" \
		</dev/null >"$7" 2>&1 &
	wait_for 60 test -S "$4"
}

# mig_fp: node B's certificate fingerprint, as GET /v1/node gives it.
mig_fp() {
	on_b node info --json | grep -o '"fingerprint": *"[^"]*"' | head -n1 |
		sed 's/.*"\([^"]*\)"$/\1/'
}

# mig_read_counter SOCK: the VPS's counter on the node at SOCK, a number.
# The loop writes it with `echo $i >/root/counter`: the redirection
# truncates the file before echo writes, so a read can find it empty
# (issue 10: that empty read, taken for a counter that stopped, was the
# "post-copy shell stops" bug); such a read is made again, at most 20
# times 0.1 s apart.
mig_read_counter() {
	_n=0
	while [ "$_n" -lt 20 ]; do
		_v=$(VSD_SOCKET=$1 timeout 300 vsctl exec "$MCT" -- cat /root/counter </dev/null 2>/dev/null)
		case "$_v" in
		'' | *[!0-9]*) ;;
		*)
			echo "$_v"
			return 0
			;;
		esac
		_n=$((_n + 1))
		sleep 0.1
	done
	return 1
}
mig_counter() { mig_read_counter "$MB_SOCK"; }
mig_counter_a() { mig_read_counter "$MA_SOCK"; }
# counter_past N: B's counter went past N.
counter_past() { [ "$(mig_counter)" -gt "$1" ] 2>/dev/null; }
memsum_file() { on_b exec "$MCT" -- test -s /root/memsum; }

# mig_start_vps NAME: a busybox VPS on A holding 48 MB of
# pseudo-random memory (its checksum in /root/memsum) and a counter, and a
# task running /bin/true through vfork all the time, as dash does: a
# freeze often catches it waiting for a child not yet exec'd, which CRIU
# cannot seize (pre-copy rounds stop the tasks by ptrace; a dump's freeze
# waits until no vfork is pending).
mig_start_vps() {
	VSD_SOCKET=$MA_SOCK vsctl create "$1" --template bb --memory 256M </dev/null >/dev/null &&
		VSD_SOCKET=$MA_SOCK vsctl start "$1" </dev/null >/dev/null &&
		VSD_SOCKET=$MA_SOCK timeout 60 vsctl exec "$1" -- sh -c 'cat >/memsum && chmod 0755 /memsum' </vsd-vm/memsum &&
		on_a exec "$1" -- sh -c 'rm -f /root/memsum; setsid /memsum 48 /root/memsum </dev/null >/dev/null 2>&1 &' &&
		on_a exec "$1" -- sh -c 'setsid sh -c "i=0; while :; do i=\$((i + 1)); echo \$i >/root/counter; usleep 20000; done" </dev/null >/dev/null 2>&1 &' &&
		on_a exec "$1" -- sh -c 'cp /memsum /vforker && setsid /vforker vfork /bin/true </dev/null >/dev/null 2>&1 &' &&
		wait_for 30 on_a exec "$1" -- sh -c 'pidof vforker >/dev/null' &&
		wait_for 120 on_a exec "$1" -- test -s /root/memsum
}

# mig_move MODE LOGSUFFIX FIGURES: $MCT made on A (mig_start_vps), its
# memory's checksum in $sum and its counter in $before, then moved to B
# with --mode MODE ($out: the result, FIGURES a grep pattern of what of it
# to print). 1 (reported) when a step failed.
mig_move() {
	if ! mig_start_vps "$MCT"; then
		fail "$MCT: created on A, 48 MB of memory filled, counting" \
			"$(on_a exec "$MCT" -- ps 2>&1)" "$(tail -n 5 "$MA_LOG$2")"
		return 1
	fi
	pass "$MCT: created on A, 48 MB of memory filled, counting"
	sum=$(on_a exec "$MCT" -- cat /root/memsum)
	before=$(mig_counter_a)
	out=$(XDG_CONFIG_HOME="$MXDG" VSD_SOCKET=$MA_SOCK timeout 360 vsctl migrate "$MCT" --to nodeb --mode "$1" --json </dev/null 2>&1)
	st=$?
	echo "# $1 move: $(echo "$out" | tr -d '\n' | grep -o "$3" | tr '\n' ' ')"
	if [ "$st" != 0 ]; then
		fail "$MCT: vsctl migrate --mode $1 A -> B" "status $st: $out" \
			"$(tail -n 20 "$MA_LOG$2")" "$(tail -n 20 "$MB_LOG$2")" \
			"$(tail -n 15 "$MB_RUN/containers/$MCT/lazy-pages/lazy-pages.log" 2>/dev/null)"
		return 1
	fi
	pass "$MCT: vsctl migrate --mode $1 A -> B"
}

# mig_outcome BEFORE SUM [LOGSUFFIX]: after a move of $MCT, it runs on B
# and not on A, its counter went past BEFORE and goes on, its memory's
# checksum is SUM (A's); then it goes. A counter that stops is shown with
# the VPS's processes, B's log and lazy-pages' log.
mig_outcome() {
	check_eq "$MCT: runs on B" "$(on_b status "$MCT" --json 2>&1 | grep -o '"state": *"[a-z]*"' | head -n1 | grep -o '[a-z]*"$' | tr -d '"')" running
	if on_a status "$MCT" >/dev/null 2>&1; then
		fail "$MCT: gone from A (exactly one copy)" "$(on_a list 2>&1)"
	else
		pass "$MCT: gone from A (exactly one copy)"
	fi
	if on_b exec "$MCT" -- sh -c 'pidof vforker >/dev/null'; then
		pass "$MCT: the task vforking all the time moved with it"
	else
		fail "$MCT: the task vforking all the time moved with it" "$(on_b exec "$MCT" -- ps 2>&1)"
	fi
	if counter_past "${1:-0}" && wait_for 30 counter_past "$(mig_counter)"; then
		pass "$MCT: its counter goes on on B (was ${1:-?} before the move, $(mig_counter) now)"
	else
		_procs=$(on_b exec "$MCT" -- sh -c 'for p in /proc/[0-9]*; do echo "${p#/proc/} $(cat $p/comm) $(grep ^State $p/status) $(cat $p/wchan) $(cat $p/syscall)"; done' 2>&1)
		_blog=$(tail -n 30 "$MB_LOG${3:-}" 2>/dev/null)
		_lazy=$(tail -n 20 "$MB_RUN/containers/$MCT/lazy-pages/lazy-pages.log" 2>/dev/null)
		fail "$MCT: its counter goes on on B" "before ${1:-?}, now $(mig_counter)" "$_procs" "$_blog" "$_lazy"
	fi
	on_b exec "$MCT" -- sh -c 'rm -f /root/memsum && kill -USR1 $(pidof memsum)'
	if wait_for 120 memsum_file; then
		check_eq "$MCT: its memory's checksum on B is the one on A" \
			"$(on_b exec "$MCT" -- cat /root/memsum)" "$2"
	else
		fail "$MCT: its memory's checksum on B is the one on A" "no checksum came"
	fi
	on_b destroy --force "$MCT" >/dev/null 2>&1
}

mig_checks() {
	if ! mig_net; then
		fail "two nodes: the LAN and the nodes' namespaces" "$("$IP" netns list 2>&1)"
		return
	fi
	if ! mig_node vma "$MA_ROOT" "$MA_RUN" "$MA_SOCK" vsd-a 192.0.2.11 "$MA_LOG" ||
		! mig_node vmb "$MB_ROOT" "$MB_RUN" "$MB_SOCK" vsd-b 192.0.2.12 "$MB_LOG"; then
		fail "two nodes: both daemons listen" "$(tail -n 5 "$MA_LOG" "$MB_LOG")"
		return
	fi
	# Lazy pages (post-copy) need the restored tasks, in the container's
	# user namespace, to open a userfaultfd: not with this kernel's
	# default vm.unprivileged_userfaultfd=0, which `criu check` as root
	# cannot tell.
	uffd=$(cat /proc/sys/vm/unprivileged_userfaultfd)
	lazy=$(on_a node info --json)
	if [ "$uffd" != 0 ]; then
		fail "two nodes: no lazy pages with vm.unprivileged_userfaultfd=0" "the sysctl is $uffd here"
	elif echo "$lazy" | grep -q '"lazy_pages": *false' &&
		echo "$lazy" | grep -q 'vm.unprivileged_userfaultfd is 0'; then
		pass "two nodes: no lazy pages with vm.unprivileged_userfaultfd=0, and node info names the sysctl"
	else
		fail "two nodes: no lazy pages with vm.unprivileged_userfaultfd=0, and node info names the sysctl" "$lazy"
	fi
	if on_a node info --json | grep -q '"mem_tracking": *true'; then
		pass "two nodes: CRIU tracks dirty pages on this kernel (criu.mem_tracking)"
	else
		fail "two nodes: CRIU tracks dirty pages on this kernel (criu.mem_tracking)" \
			"$(on_a node info --json 2>&1 | grep -A8 '"criu"')"
		return
	fi
	if ! on_a template build bb --from busybox >/dev/null || ! on_b template build bb --from busybox >/dev/null ||
		! on_a trust add nodeb "$MB_ROOT/auth/node.crt" >/dev/null ||
		! on_b trust add nodea "$MA_ROOT/auth/node.crt" >/dev/null; then
		fail "two nodes: templates and mutual trust" "$(tail -n 5 "$MA_LOG" "$MB_LOG")"
		return
	fi
	mkdir -p "$MXDG" && chmod 0700 "$MXDG"
	fp=$(mig_fp)
	check "two nodes: remote nodeb (fingerprint $fp)" \
		env XDG_CONFIG_HOME="$MXDG" nsenter --net=/run/netns/vma \
		vsctl remote add nodeb https://192.0.2.12:8443 --accept-fingerprint "$fp"

	# --check --mode postcopy with the sysctl at 0 on both nodes: this
	# node's refusal and the target's (from its node info), each with
	# its reason, and nothing moves.
	if on_a create mig0 --template bb >/dev/null && on_a start mig0 >/dev/null; then
		_chk=$(XDG_CONFIG_HOME="$MXDG" VSD_SOCKET=$MA_SOCK timeout 60 vsctl migrate mig0 --to nodeb --mode postcopy --check </dev/null 2>&1)
		_st=$?
		if [ "$_st" = 1 ] && echo "$_chk" | grep -q '^blocked: this node (the source): .*vm.unprivileged_userfaultfd' &&
			echo "$_chk" | grep -q '^blocked: the target cannot restore lazily (post-copy): .*vm.unprivileged_userfaultfd' &&
			! on_b status mig0 >/dev/null 2>&1; then
			pass "--check --mode postcopy lists both nodes' lazy-pages refusal with its reason"
		else
			fail "--check --mode postcopy lists both nodes' lazy-pages refusal with its reason" "status $_st: $_chk"
		fi
	else
		fail "--check --mode postcopy: mig0 made on A" "$(tail -n 5 "$MA_LOG")"
	fi
	on_a destroy --force mig0 >/dev/null 2>&1
	mig_move precopy "" '"frozen_ms": *[0-9]*\|"total_ms": *[0-9]*\|"memory_rounds": *\[[0-9, ]*\]\|"bytes": *[0-9]*' || return
	rounds=$(echo "$out" | tr -d '\n' | grep -o '"memory_rounds": *\[[0-9, ]*\]' | grep -o '[0-9][0-9]*' | wc -l)
	if [ "${rounds:-0}" -ge 2 ]; then
		pass "$MCT: $rounds memory pre-copy rounds reported"
	else
		fail "$MCT: 2 or more memory pre-copy rounds reported" "$out"
	fi
	mig_outcome "$before" "$sum"
}

# mig_stop ROOT SOCK: that node's vsd ends (its containers run on).
mig_stop() {
	_pids=
	for _p in $(pidof vsd); do
		tr '\0' ' ' <"/proc/$_p/cmdline" | grep -q -- "--root $1 " && kill -TERM "$_p" && _pids="$_pids $_p"
	done
	# (a zombie's cmdline is empty)
	for _p in $_pids; do
		wait_for 30 sh -c "! tr '\\0' ' ' </proc/$_p/cmdline 2>/dev/null | grep -q -- '--root $1 '"
	done
	rm -f "$2"
}

mig_postcopy_checks() {
	MCT=mig2
	# Set once, before both daemons start again (their probe reads it).
	if ! echo 1 >/proc/sys/vm/unprivileged_userfaultfd; then
		fail "post-copy: vm.unprivileged_userfaultfd=1 in this VM"
		return
	fi
	mig_stop "$MA_ROOT" "$MA_SOCK"
	mig_stop "$MB_ROOT" "$MB_SOCK"
	if ! mig_node vma "$MA_ROOT" "$MA_RUN" "$MA_SOCK" vsd-a 192.0.2.11 "$MA_LOG.2" ||
		! mig_node vmb "$MB_ROOT" "$MB_RUN" "$MB_SOCK" vsd-b 192.0.2.12 "$MB_LOG.2"; then
		fail "post-copy: both daemons back with the sysctl at 1" "$(tail -n 5 "$MA_LOG.2" "$MB_LOG.2")"
		return
	fi
	if on_a node info --json | grep -q '"lazy_pages": *true' &&
		on_b node info --json | grep -q '"lazy_pages": *true'; then
		pass "post-copy: both nodes' probes say lazy_pages with vm.unprivileged_userfaultfd=1"
	else
		fail "post-copy: both nodes' probes say lazy_pages with vm.unprivileged_userfaultfd=1" \
			"$(on_a node info --json 2>&1 | grep -A12 '"criu"')"
		return
	fi
	mig_move postcopy .2 '"frozen_ms": *[0-9]*\|"total_ms": *[0-9]*\|"lazy_pages": *[0-9]*\|"lazy_bytes": *[0-9]*\|"bytes": *[0-9]*' || return
	lp=$(echo "$out" | tr -d '\n' | grep -o '"lazy_pages": *[0-9]*' | grep -o '[0-9]*$')
	if echo "$out" | grep -q '"mode": *"postcopy"' && [ "${lp:-0}" -gt 0 ]; then
		pass "$MCT: the result says postcopy, $lp lazy pages"
	else
		fail "$MCT: the result says postcopy, lazy pages > 0" "$out"
	fi
	# B's lazy-pages is done: its socket and the image it read are gone.
	if wait_for 30 sh -c "! test -e '$MB_ROOT/containers/$MCT/incoming-image' && ! test -e '$MB_RUN/containers/$MCT/lazy-pages/lazy-pages.socket'"; then
		pass "$MCT: B keeps neither the image nor lazy-pages' socket after the pull"
	else
		fail "$MCT: B keeps neither the image nor lazy-pages' socket after the pull" \
			"$(ls -la "$MB_ROOT/containers/$MCT" "$MB_RUN/containers/$MCT/lazy-pages" 2>&1)"
	fi
	mig_outcome "$before" "$sum" .2
}

# A failed pull (docs/migration.md, "A failed pull"). mig_pull_fault NAME
# FAULT: NAME made on A moves with --mode postcopy in the background, its
# lazy pages paced to 2 MB/s so that the pull of its 48 MB lasts; once B
# runs it (resumed, pulling), FAULT: "cut" (A's LAN port down 35 s, longer
# than a node's stream timeout, then up), "lazy" (B's criu lazy-pages
# SIGKILLed) or "restart" (A's vsd SIGKILLed and started again: the lazy
# stream lived in it, so the pull fails with it). Then B kills and removes its copy and A thaws its frozen one:
# a rollback to the freeze. Checked (outcomes only): the move fails saying
# so, the VPS runs on A and is gone from B, its counter goes on on A, its
# memory's checksum is the one it had, A's record says "recovered".
# mig_pulling NAME: NAME made on A ($sum: its memory's checksum) moves with
# --mode postcopy in the background ($_mp, its output in /tmp/NAME.out),
# its lazy pages paced to 2 MB/s; 0 once B runs it (resumed, pulling), 1
# (reported) when it does not come to that.
mig_pulling() {
	MCT=$1
	if ! mig_start_vps "$MCT"; then
		fail "$MCT: created on A, 48 MB of memory filled, counting" "$(tail -n 5 "$MA_LOG.2")"
		return 1
	fi
	sum=$(on_a exec "$MCT" -- cat /root/memsum)
	XDG_CONFIG_HOME="$MXDG" VSD_SOCKET=$MA_SOCK timeout 400 vsctl migrate "$MCT" --to nodeb \
		--mode postcopy --bandwidth 2M --json </dev/null >"/tmp/$MCT.out" 2>&1 &
	_mp=$!
	if ! wait_for 180 sh -c "VSD_SOCKET=$MB_SOCK vsctl status $MCT --json 2>/dev/null | grep -q '\"state\": *\"running\"'"; then
		wait "$_mp"
		fail "$MCT: resumed on B, pulling" "$(cat "/tmp/$MCT.out")" "$(tail -n 20 "$MB_LOG.2")"
		return 1
	fi
}

mig_pull_fault() {
	mig_pulling "$1" || return
	case $2 in
	cut) "$IP" -n vmlan link set lana down && sleep 35 && "$IP" -n vmlan link set lana up ;;
	lazy)
		for _p in $(pidof criu); do
			tr '\0' ' ' <"/proc/$_p/cmdline" | grep -q 'lazy-pages -D' && kill -KILL "$_p"
		done
		;;
	restart)
		for _p in $(pidof vsd); do
			tr '\0' ' ' <"/proc/$_p/cmdline" | grep -q -- "--root $MA_ROOT " && kill -KILL "$_p"
		done
		rm -f "$MA_SOCK"
		mig_node vma "$MA_ROOT" "$MA_RUN" "$MA_SOCK" vsd-a 192.0.2.11 "$MA_LOG.3"
		;;
	esac
	wait "$_mp"
	_st=$?
	_out=$(cat "/tmp/$MCT.out")
	echo "# $2: $(echo "$_out" | tr -d '\n' | tail -c 600)"
	if [ "$2" = restart ]; then
		# The operation went with the daemon; the restarted one settles.
		if wait_for 240 grep -q "runs here again as it was at its freeze" "$MA_LOG.3"; then
			pass "$MCT: A's vsd, restarted during the pull, settles it: the VPS runs on A again"
		else
			fail "$MCT: A's vsd, restarted during the pull, settles it: the VPS runs on A again" \
				"$(tail -n 20 "$MA_LOG.3")" "$(tail -n 20 "$MB_LOG.2")"
			# A copy left frozen would hang every exec below.
			on_a destroy --force "$MCT" >/dev/null 2>&1
			return
		fi
	elif [ "$_st" != 0 ] && echo "$_out" | grep -q 'runs here again as it was at its freeze'; then
		pass "$MCT: the pull failed ($2) and the move says the VPS runs on A again"
	else
		fail "$MCT: the pull failed ($2) and the move says the VPS runs on A again" "status $_st: $_out" \
			"$(tail -n 20 "$MA_LOG.2")" "$(tail -n 20 "$MB_LOG.2")"
		on_a destroy --force "$MCT" >/dev/null 2>&1
		return
	fi
	mig_back_on_a
	on_a destroy --force "$MCT" >/dev/null 2>&1
}

# mig_back_on_a: after a failed pull, $MCT runs on A and is gone from B,
# its counter goes on on A, its memory's checksum is $sum (before the
# move), and A's record says "recovered".
mig_back_on_a() {
	check_eq "$MCT: runs on A" "$(on_a status "$MCT" --json 2>&1 | grep -o '"state": *"[a-z]*"' | head -n1 | grep -o '[a-z]*"$' | tr -d '"')" running
	if wait_for 30 sh -c "! VSD_SOCKET=$MB_SOCK vsctl status $MCT >/dev/null 2>&1 && ! test -e $MB_ROOT/containers/$MCT && ! test -e $MB_ROOT/containers/.$MCT.incoming"; then
		pass "$MCT: gone from B, nothing left there (exactly one copy)"
	else
		fail "$MCT: gone from B, nothing left there (exactly one copy)" "$(on_b list 2>&1; ls -a "$MB_ROOT/containers")"
	fi
	_c=$(mig_counter_a)
	if wait_for 30 sh -c "[ \"\$(VSD_SOCKET=$MA_SOCK vsctl exec $MCT -- cat /root/counter </dev/null)\" -gt ${_c:-0} ]"; then
		pass "$MCT: its counter goes on on A (was ${_c:-?})"
	else
		fail "$MCT: its counter goes on on A" "was ${_c:-?}, now $(mig_counter_a)"
	fi
	on_a exec "$MCT" -- sh -c 'rm -f /root/memsum && kill -USR1 $(pidof memsum)'
	if wait_for 120 on_a exec "$MCT" -- test -s /root/memsum; then
		check_eq "$MCT: its memory's checksum on A is the one before the move" \
			"$(on_a exec "$MCT" -- cat /root/memsum)" "$sum"
	else
		fail "$MCT: its memory's checksum on A is the one before the move" "no checksum came"
	fi
	if grep -l '"pull": *"recovered"' "$MA_ROOT"/migrations/*.json 2>/dev/null | xargs -r grep -l "\"name\": *\"$MCT\"" | grep -q .; then
		pass "$MCT: A's migration record says the pull failed and it was recovered"
	else
		fail "$MCT: A's migration record says the pull failed and it was recovered" "$(grep -h '"pull"' "$MA_ROOT"/migrations/*.json)"
	fi
}

# The operator's way out (docs/migration.md, "A failed pull", rule 5):
# mig6 moves as above and, once B runs it, A's LAN port goes down and
# stays down, so A cannot ask B about its copy: the move fails (after its
# stream's 30 s timeout and 150 s of asking) saying the copy on A stays
# frozen; then, the link still down, vsctl migrate --recover is refused
# naming that the target cannot be asked, and --recover --force brings
# the VPS back on A as at its freeze. The link comes back: B has no copy
# and its record says lost (its stream idled out after 120 s). About 4
# minutes of the lane, most of it the move's own wait.
mig_recover_force() {
	mig_pulling mig6 || return
	"$IP" -n vmlan link set lana down
	wait "$_mp"
	_st=$?
	_out=$(cat "/tmp/$MCT.out")
	echo "# link down for good: $(echo "$_out" | tr -d '\n' | tail -c 400)"
	if [ "$_st" != 0 ] && echo "$_out" | grep -q 'stays frozen'; then
		pass "$MCT: the link cut for good, the move fails and the copy on A stays frozen"
	else
		fail "$MCT: the link cut for good, the move fails and the copy on A stays frozen" \
			"status $_st: $_out" "$(tail -n 20 "$MA_LOG.3")"
	fi
	_out=$(on_a migrate "$MCT" --recover 2>&1)
	_st=$?
	if [ "$_st" != 0 ] && echo "$_out" | grep -q 'the target cannot be asked'; then
		pass "$MCT: vsctl migrate --recover is refused: the target cannot be asked"
	else
		fail "$MCT: vsctl migrate --recover is refused: the target cannot be asked" "status $_st: $_out"
	fi
	_out=$(on_a migrate "$MCT" --recover --force 2>&1)
	_st=$?
	echo "# --recover --force: $_out"
	if [ "$_st" = 0 ] && echo "$_out" | grep -q 'runs here again as it was at its freeze'; then
		pass "$MCT: vsctl migrate --recover --force: the VPS runs on A again from its freeze"
	else
		fail "$MCT: vsctl migrate --recover --force: the VPS runs on A again from its freeze" \
			"status $_st: $_out" "$(tail -n 20 "$MA_LOG.3")"
		# A copy left frozen would hang every exec below.
		"$IP" -n vmlan link set lana up
		on_a destroy --force "$MCT" >/dev/null 2>&1
		return
	fi
	"$IP" -n vmlan link set lana up
	mig_back_on_a
	if wait_for 30 sh -c "grep -l '\"pull\": *\"lost\"' $MB_ROOT/migrations/*.json 2>/dev/null | xargs -r grep -l '\"name\": *\"$MCT\"' | grep -q ."; then
		pass "$MCT: B's migration record says its copy was lost"
	else
		fail "$MCT: B's migration record says its copy was lost" "$(grep -h '"pull"' "$MB_ROOT"/migrations/*.json)"
	fi
	on_a destroy --force "$MCT" >/dev/null 2>&1
}

# (stress.sh sources this file for its functions only.)
[ -z "${MIG_LIB_ONLY:-}" ] || return 0
mig_checks
mig_postcopy_checks
mig_pull_fault mig3 cut
mig_pull_fault mig4 lazy
mig_pull_fault mig5 restart
mig_recover_force
echo 0 >/proc/sys/vm/unprivileged_userfaultfd
# The nodes' daemons go; the namespaces go with the machine.
for _s in "$MA_SOCK" "$MB_SOCK"; do
	for _c in mig1 mig2 mig3 mig4 mig5 mig6; do
		VSD_SOCKET=$_s timeout 60 vsctl destroy --force "$_c" </dev/null >/dev/null 2>&1
	done
done
for _p in $(pidof vsd); do
	tr '\0' ' ' <"/proc/$_p/cmdline" | grep -q -- "--root /var/lib/vsd-[ab] " && kill -TERM "$_p"
done
