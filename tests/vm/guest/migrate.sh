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

mig_counter() { on_b exec "$MCT" -- cat /root/counter 2>/dev/null; }
mig_counter_a() { on_a exec "$MCT" -- cat /root/counter 2>/dev/null; }
# counter_past N: B's counter went past N.
counter_past() { [ "$(mig_counter)" -gt "$1" ] 2>/dev/null; }
memsum_file() { on_b exec "$MCT" -- test -s /root/memsum; }

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

	check "$MCT: create and start on A" sh -c "VSD_SOCKET=$MA_SOCK vsctl create $MCT --template bb --memory 256M </dev/null >/dev/null && VSD_SOCKET=$MA_SOCK vsctl start $MCT </dev/null >/dev/null"
	# (not on_a: its stdin is /dev/null)
	if ! VSD_SOCKET=$MA_SOCK timeout 60 vsctl exec "$MCT" -- sh -c 'cat >/memsum && chmod 0755 /memsum' </vsd-vm/memsum; then
		fail "$MCT: vsd-test-memsum copied into it"
		return
	fi
	on_a exec "$MCT" -- sh -c 'rm -f /root/memsum; setsid /memsum 48 /root/memsum </dev/null >/dev/null 2>&1 &'
	on_a exec "$MCT" -- sh -c 'setsid sh -c "i=0; while :; do i=\$((i + 1)); echo \$i >/root/counter; usleep 20000; done" </dev/null >/dev/null 2>&1 &'
	# A task running /bin/true through vfork all the time, as dash does:
	# a freeze often catches it waiting for a child not yet exec'd, which
	# CRIU cannot seize (the pre-copy rounds must not freeze; the final
	# dump's freeze must wait until no vfork is pending).
	on_a exec "$MCT" -- sh -c 'cp /memsum /vforker && setsid /vforker vfork /bin/true </dev/null >/dev/null 2>&1 &'
	if ! wait_for 30 on_a exec "$MCT" -- sh -c 'pidof vforker >/dev/null'; then
		fail "$MCT: a task vforking all the time runs on A" "$(on_a exec "$MCT" -- ps 2>&1)"
		return
	fi
	if ! wait_for 120 on_a exec "$MCT" -- test -s /root/memsum; then
		fail "$MCT: 48 MB of memory filled on A" "$(on_a exec "$MCT" -- ps 2>&1)"
		return
	fi
	sum=$(on_a exec "$MCT" -- cat /root/memsum)
	before=$(mig_counter_a)
	out=$(XDG_CONFIG_HOME="$MXDG" VSD_SOCKET=$MA_SOCK timeout 360 vsctl migrate "$MCT" --to nodeb --mode precopy --json </dev/null 2>&1)
	st=$?
	echo "# precopy move: $(echo "$out" | tr -d '\n' | grep -o '"frozen_ms": *[0-9]*\|"total_ms": *[0-9]*\|"memory_rounds": *\[[0-9, ]*\]\|"bytes": *[0-9]*' | tr '\n' ' ')"
	if [ "$st" != 0 ]; then
		fail "$MCT: vsctl migrate --mode precopy A -> B" "status $st: $out" \
			"$(tail -n 20 "$MA_LOG")" "$(tail -n 20 "$MB_LOG")"
		return
	fi
	pass "$MCT: vsctl migrate --mode precopy A -> B"
	rounds=$(echo "$out" | tr -d '\n' | grep -o '"memory_rounds": *\[[0-9, ]*\]' | grep -o '[0-9][0-9]*' | wc -l)
	if [ "${rounds:-0}" -ge 2 ]; then
		pass "$MCT: $rounds memory pre-copy rounds reported"
	else
		fail "$MCT: 2 or more memory pre-copy rounds reported" "$out"
	fi
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
	if counter_past "${before:-0}" && wait_for 30 counter_past "$(mig_counter)"; then
		pass "$MCT: its counter goes on on B (was ${before:-?} before the move, $(mig_counter) now)"
	else
		fail "$MCT: its counter goes on on B" "before ${before:-?}, now $(mig_counter)"
	fi
	on_b exec "$MCT" -- sh -c 'rm -f /root/memsum && kill -USR1 $(pidof memsum)'
	if wait_for 120 memsum_file; then
		check_eq "$MCT: its memory's checksum on B is the one on A" \
			"$(on_b exec "$MCT" -- cat /root/memsum)" "$sum"
	else
		fail "$MCT: its memory's checksum on B is the one on A" "no checksum came"
	fi
	on_b destroy --force "$MCT" >/dev/null 2>&1
}

mig_checks
# The nodes' daemons go; the namespaces go with the machine.
for _s in "$MA_SOCK" "$MB_SOCK"; do
	VSD_SOCKET=$_s timeout 60 vsctl destroy --force "$MCT" </dev/null >/dev/null 2>&1
done
for _p in $(pidof vsd); do
	tr '\0' ' ' <"/proc/$_p/cmdline" | grep -q -- "--root /var/lib/vsd-[ab] " && kill -TERM "$_p"
done
