#!/usr/bin/env bats
# What an unprivileged container can see and do: pid, user, mount, uts and
# net namespaces, masked /proc and /sys, minimal /dev, seccomp, capability
# bounding set, no leaked descriptors, and the exec defences.

load helpers

setup_file() {
	vsd_setup_file || return 1
	ct_create_started iso1 --hostname iso-host || return 1
	ct_create_started iso2 || return 1
}
teardown_file() { vsd_teardown_file; }
teardown() { vsd_teardown_test; }

@test "pid namespace: only the container's processes, init is pid 1" {
	run in_ct iso1 ls /proc
	assert_success
	local pids
	pids=$(tr ' ' '\n' <<<"$output" | grep -E '^[0-9]+$' | sort -n)
	[[ "$(head -n1 <<<"$pids")" == 1 ]] || fail "no pid 1 in: $pids"
	local n
	n=$(wc -l <<<"$pids")
	((n < 10)) || fail "$n processes visible inside: $pids"
	run in_ct iso1 cat /proc/1/cmdline
	assert_success
	assert_contains "$output" init
	# ps inside shows few lines, and none of the host's daemon.
	run in_ct iso1 ps
	assert_success
	assert_not_contains "$output" "vsd"
	(($(wc -l <<<"$output") < 10)) || fail "ps shows: $output"
	local vpid
	vpid=$(vsd_pid)
	run in_ct iso1 cat "/proc/$vpid/cmdline"
	# pid numbers inside are tiny; the daemon's host pid is not there
	# (or, if some small number coincides, it is not the daemon)
	assert_not_contains "$output" "vsd"
}

@test "user namespace: uid_map is not the identity, host sees the mapped uid" {
	run in_ct iso1 cat /proc/self/uid_map
	assert_success
	local inside base len
	read -r inside base len <<<"$output"
	assert_eq "$inside" 0 "first id inside"
	[[ "$base" =~ ^[0-9]+$ ]] && ((base >= 65536)) || fail "host base $base"
	assert_eq "$len" 65536 "range size"
	assert_eq "$(ct_field iso1 idmap.uid)" "$base" "status idmap.uid"
	run in_ct iso1 cat /proc/self/gid_map
	assert_contains "$output" "0"
	local gbase
	gbase=$(awk '{ print $2 }' <<<"$output")
	assert_eq "$(ct_field iso1 idmap.gid)" "$gbase" "status idmap.gid"
	# The host sees init running as the mapped uid, not as root.
	local pid
	pid=$(ct_init_pid iso1)
	assert_eq "$(awk '/^Uid:/ { print $2 }' "/proc/$pid/status")" "$base" "init's uid on host"
	assert_eq "$(awk '/^Gid:/ { print $2 }' "/proc/$pid/status")" "$gbase" "init's gid on host"
	# ...and root inside.
	run in_ct iso1 id -u
	assert_eq "$output" 0
}

@test "two containers get disjoint id ranges" {
	local a b
	a=$(ct_field iso1 idmap.uid)
	b=$(ct_field iso2 idmap.uid)
	[[ "$a" =~ ^[0-9]+$ && "$b" =~ ^[0-9]+$ ]] || fail "ids $a $b"
	local d=$((a > b ? a - b : b - a))
	((d >= 65536)) || fail "ranges overlap: $a and $b"
}

@test "masked /proc and /sys paths are empty or unreadable" {
	local p
	for p in /proc/kcore /proc/sysrq-trigger /proc/timer_list /proc/keys; do
		run in_ct iso1 sh -c "head -c 64 $p 2>/dev/null | wc -c"
		assert_eq "$(squash "$output")" 0 "bytes readable from $p"
	done
	run in_ct iso1 sh -c 'ls -A /sys/firmware 2>/dev/null | wc -l'
	assert_eq "$(squash "$output")" 0 "entries in /sys/firmware"
	# Writes to sysrq-trigger must not get through.
	run in_ct iso1 sh -c 'echo h > /proc/sysrq-trigger'
	assert_failure
}

@test "/sys and /proc/sys are read-only" {
	run in_ct iso1 touch /sys/x
	assert_failure
	run in_ct iso1 sh -c 'echo 1 > /proc/sys/kernel/sysrq'
	assert_failure
	run in_ct iso1 sh -c 'grep " /sys " /proc/mounts'
	assert_success
	[[ " $(awk '{ print $4 }' <<<"$output" | tr ',' ' ') " == *" ro "* ]] || fail "/sys mount: $output"
}

@test "/dev has only the minimal set, and the devices work" {
	run in_ct iso1 ls -A /dev
	assert_success
	local allowed=" null zero full random urandom tty console ptmx pts shm fd stdin stdout stderr mqueue core "
	local e
	for e in $output; do
		[[ "$allowed" == *" $e "* ]] || fail "unexpected /dev/$e in: $output"
	done
	for e in null zero full random urandom tty ptmx pts; do
		[[ " $(squash "$output") " == *" $e "* ]] || fail "/dev/$e missing: $output"
	done
	run in_ct iso1 sh -c 'echo x > /dev/null && head -c 4 /dev/zero | wc -c && head -c 4 /dev/urandom | wc -c'
	assert_success
	assert_eq "$(squash "$output")" "4 4"
	run in_ct iso1 sh -c 'echo x > /dev/full'
	assert_failure
	# No way to make a usable block device.
	run in_ct iso1 sh -c 'mknod /dev/sdz b 8 0 && head -c 1 /dev/sdz'
	assert_failure
}

@test "seccomp filter on init and on exec'd processes" {
	run in_ct iso1 cat /proc/1/status
	assert_success
	assert_eq "$(awk '/^Seccomp:/ { print $2 }' <<<"$output")" 2 "init Seccomp"
	run in_ct iso1 cat /proc/self/status
	assert_eq "$(awk '/^Seccomp:/ { print $2 }' <<<"$output")" 2 "exec Seccomp"
	# (no_new_privs stays off on purpose: setuid programs such as su must
	# keep working in a system container.)
}

@test "seccomp denies what the user namespace alone would allow" {
	# A read-only adjtimex(2) query needs no privilege at all: it works
	# for nobody on the host, so only the filter can refuse it inside.
	run setpriv --reuid=65534 --regid=65534 --clear-groups busybox adjtimex
	assert_success
	run --separate-stderr in_ct iso1 adjtimex
	assert_failure
	assert_contains "$stderr" "not permitted"
	# Kernel modules and swap: refused (the filter, and capabilities).
	run in_ct iso1 swapon /dev/null
	assert_failure
	run in_ct iso1 insmod /dev/null
	assert_failure
}

# cap_bit HEX N: 1 if bit N is set in the capability mask HEX.
cap_bit() { echo $(((0x$1 >> $2) & 1)); }

@test "capability bounding set is trimmed" {
	local st bnd eff
	st=$(in_ct iso1 cat /proc/1/status) || fail "exec"
	bnd=$(awk '/^CapBnd:/ { print $2 }' <<<"$st")
	[[ "$bnd" =~ ^[0-9a-f]{16}$ ]] || fail "CapBnd: $bnd"
	local bit
	# SYS_MODULE 16, SYS_RAWIO 17, SYS_TIME 25, MKNOD is fine inside a
	# userns, MAC_OVERRIDE 32, MAC_ADMIN 33, SYSLOG 34, WAKE_ALARM 35,
	# BLOCK_SUSPEND 36.
	for bit in 16 17 25 32 33 34 35 36; do
		assert_eq "$(cap_bit "$bnd" "$bit")" 0 "CapBnd bit $bit ($bnd)"
	done
	# Something useful is still there: CHOWN 0, KILL 5, SETUID 7, SYS_BOOT 22.
	for bit in 0 5 7 22; do
		assert_eq "$(cap_bit "$bnd" "$bit")" 1 "CapBnd bit $bit ($bnd)"
	done
	# exec'd processes have the same bound.
	st=$(in_ct iso1 cat /proc/self/status) || fail "exec"
	assert_eq "$(awk '/^CapBnd:/ { print $2 }' <<<"$st")" "$bnd" "exec CapBnd"
	eff=$(awk '/^CapEff:/ { print $2 }' <<<"$st")
	assert_eq "$(cap_bit "$eff" 16)" 0 "exec CapEff SYS_MODULE"
}

@test "no stray file descriptors in init, seen inside and from the host" {
	run in_ct iso1 ls /proc/1/fd
	assert_success
	assert_eq "$(squash "$output")" "0 1 2" "init fds inside"
	local pid
	pid=$(ct_init_pid iso1)
	assert_eq "$(ls /proc/"$pid"/fd | sort -n | tr '\n' ' ')" "0 1 2 " "init fds from host"
	# Each of them is the console or /dev/null, nothing else of the host:
	# inside they are devices; from the host, devices or the container's
	# own console devpts under this instance's run dir.
	local fd t
	for fd in 0 1 2; do
		t=$(in_ct iso1 readlink "/proc/1/fd/$fd") || fail "readlink inside"
		[[ "$t" == /dev/* ]] || fail "init fd $fd -> $t (inside)"
		t=$(readlink "/proc/$pid/fd/$fd")
		[[ "$t" == /dev/* || "$t" == "$VSD_RUN/"* ]] || fail "init fd $fd -> $t (host)"
	done
}

@test "exec'd processes get only 0 1 2 (plus the ls's own dir fd)" {
	run in_ct iso1 ls /proc/self/fd
	assert_success
	assert_eq "$(squash "$output")" "0 1 2 3" "fds of an exec'd ls"
}

@test "hostname: set from --hostname, default the name" {
	run in_ct iso1 hostname
	assert_eq "$output" iso-host
	run in_ct iso2 hostname
	assert_eq "$output" iso2
	assert_eq "$(ct_field iso1 hostname)" iso-host
	# uts namespace: the host's hostname is unchanged
	[[ "$(hostname)" != iso-host ]] || fail "host hostname changed"
}

@test "network namespace: only lo, and it is up" {
	run in_ct iso1 ls /sys/class/net
	assert_success
	assert_eq "$(squash "$output")" lo "interfaces"
	local flags
	flags=$(in_ct iso1 cat /sys/class/net/lo/flags) || fail "exec"
	(((flags & 1) == 1)) || fail "lo flags $flags (not IFF_UP)"
	run in_ct iso1 ping -c 1 -W 2 127.0.0.1
	assert_success
}

@test "mount namespace: root is the overlay, no host mounts, mounts inside stay inside" {
	run in_ct iso1 cat /proc/mounts
	assert_success
	local rootfs others
	rootfs=$(awk '$2 == "/" { print $3 }' <<<"$output" | tail -n1)
	assert_eq "$rootfs" overlay "fstype of /"
	others=$(awk '$2 != "/"' <<<"$output")
	assert_not_contains "$others" "$VSD_TMP"
	assert_not_contains "$others" "/var/lib/vsd"
	# none of the host's own mount points
	assert_not_contains "$others" " /boot"
	assert_not_contains "$others" " /sys/fs/cgroup/memory "
	# A mount made inside does not appear on the host.
	run in_ct iso1 sh -c 'mkdir -p /mnt/t && mount -t tmpfs none /mnt/t && grep -c /mnt/t /proc/mounts'
	assert_success
	assert_not_contains "$(cat /proc/self/mountinfo)" "/mnt/t"
}

@test "mount namespace: the root mount's options do not reveal host paths" {
	run in_ct iso1 cat /proc/mounts
	assert_success
	assert_not_contains "$output" "$VSD_TMP"
}

@test "exec defences: /proc/self/exe inside the container, cwd /, root /" {
	run in_ct iso1 readlink /proc/self/exe
	assert_success
	assert_eq "$output" /bin/busybox "exe of an exec'd process"
	run in_ct iso1 pwd
	assert_eq "$output" / "cwd of exec"
	run in_ct iso1 readlink /proc/1/cwd
	assert_eq "$output" / "init's cwd"
	run in_ct iso1 readlink /proc/1/root
	assert_eq "$output" / "init's root"
	run in_ct iso1 sh -c 'ls -l /proc/1/cwd'
	assert_success
	assert_contains "$output" "-> /"
	# The exec helper (the vsd binary) is not reachable from inside: no
	# process in the container has an exe outside its root.
	run in_ct iso1 sh -c 'for p in /proc/[0-9]*; do readlink $p/exe; done'
	assert_not_contains "$output" "vsd"
	assert_not_contains "$output" "memfd"
}

@test "the container cannot see or signal host processes" {
	run in_ct iso1 kill -0 1
	assert_success
	# Host pid of the daemon does not exist in the container's pid space
	# (or is another process we may not signal as the daemon).
	local vpid
	vpid=$(vsd_pid)
	run in_ct iso1 sh -c "test -d /proc/$vpid && cat /proc/$vpid/comm"
	assert_not_contains "$output" vsd
}

@test "--privileged: no user namespace, but only the usual device nodes" {
	ct_create_started priv1 --privileged || fail "create/start priv1"
	run in_ct priv1 cat /proc/self/uid_map
	assert_success
	local inside base len
	read -r inside base len <<<"$output"
	assert_eq "$inside $base" "0 0" "privileged map is the identity"
	# Root here has CAP_MKNOD for real: the devices controller still
	# refuses a block device (the host's disk) ...
	run in_ct priv1 sh -c 'mknod /tmp/disk b 254 0 && head -c 1 /tmp/disk >/dev/null'
	assert_failure
	# ... and allows the usual nodes and a terminal.
	run in_ct priv1 sh -c 'echo x >/dev/null && head -c 4 /dev/urandom | wc -c'
	assert_success
	assert_eq "$output" 4 "bytes from /dev/urandom"
	run vsctl destroy --force priv1
	assert_success
}
