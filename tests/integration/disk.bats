#!/usr/bin/env bats
# Disk quotas (limits.disk, limits.inodes): the container's own layer on an
# ext4 image of its own (fs-cow/disk.c). df inside shows the quota, writes
# stop at it, the quota grows and shrinks, and nothing (loop devices,
# mounts) outlives a container, also across a vsd SIGKILL, a "host reboot"
# (the disk unmounted behind vsd's back) and suspend/resume.
#
# Resizing goes through `vsctl set NAME --disk SIZE` (PATCH
# /v1/containers/NAME), usage through `vsctl stats NAME --json` (disk.*).
# Every test destroys its containers in teardown, even when it failed.

load helpers
load cr-helpers

M=$((1024 * 1024))

setup_file() { vsd_setup_file || return 1; }
teardown_file() { vsd_teardown_file; }
teardown() {
	vsd_teardown_test
	vsd_answers || vsd_start_daemon || true
	local d
	for d in "$VSD_ROOT"/containers/*/; do
		[[ -d "$d" ]] || continue
		timeout 60 "$VSCTL_BIN" destroy --force "$(basename "$d")" >/dev/null 2>&1 ||
			echo "teardown: destroy $(basename "$d") failed" >&2
	done
	[[ -z "$(our_loops)" ]] || echo "teardown: loop devices left: $(our_loops)" >&2
}

# our_loops: loop devices backed by a file under this file's root.
our_loops() {
	local f
	for f in /sys/block/loop*/loop/backing_file; do
		[[ -f "$f" ]] && grep -l "^$VSD_TMP/" "$f" 2>/dev/null
	done
	return 0
}

# disk_stat NAME FIELD: disk.FIELD of `vsctl stats NAME --json` (used,
# total, inodes_used, inodes_total; "null" for the whole object without a
# disk quota).
disk_stat() { vsctl stats "$1" --json | json_get "disk${2:+.$2}"; }
cdir() { echo "$VSD_ROOT/containers/$1"; }

# df_total_k NAME: the 1K-blocks total of / inside NAME (df -P).
df_total_k() { in_ct "$1" df -P / | awk 'NR == 2 { print $2 }'; }

# assert_between VALUE LOW HIGH WHAT
assert_between() {
	(($1 >= $2 && $1 <= $3)) || fail "$4: $1 not within [$2, $3]"
}

has_cap_sys_resource() {
	local bnd
	bnd=$(awk '/^CapBnd/ { print $2 }' /proc/self/status)
	(((0x$bnd >> 24) & 1))
}

@test "no disk: the layout of before (upper on the root's filesystem, no image)" {
	ct_create_started nodisk || fail "create"
	[[ -d "$(cdir nodisk)/upper" && ! -e "$(cdir nodisk)/disk.img" ]] || fail "layout changed"
	run vsctl stats nodisk --json
	assert_success
	assert_eq "$(json_get disk <<<"$output")" null "stats: disk without a quota"
}

@test "--disk 64M: df inside shows about 64M; writing 100M fails with ENOSPC; the container keeps running" {
	ct_create_started q64 --disk 64M || fail "create"
	local pid total
	pid=$(ct_init_pid q64)
	total=$(df_total_k q64)
	# ext4's journal (4M) and inode tables take up to 6% of a small disk.
	assert_between "$total" $((58 * 1024)) $((64 * 1024)) "df total (K)"
	run in_ct q64 dd if=/dev/zero of=/big bs=1M count=100
	assert_failure
	assert_contains "$output" "No space left on device"
	assert_eq "$(ct_state q64)" running state
	assert_eq "$(ct_init_pid q64)" "$pid" "init pid"
	# The host side: the image is sparse and exactly the quota.
	assert_eq "$(stat -c %s "$(cdir q64)/disk.img")" $((64 * M)) "image size"
	# stats agrees with df (bytes vs 1K blocks).
	assert_eq "$(disk_stat q64 total)" $((total * 1024)) "stats disk.total"
	(($(disk_stat q64 used) > 0)) || fail "stats disk.used: $(disk_stat q64 used)"
	run in_ct q64 rm /big
	assert_success
}

@test "--inodes 2000: creating 3000 files fails" {
	ct_create_started qi --disk 64M --inodes 2000 || fail "create"
	run in_ct qi sh -c 'mkdir /many && i=0; while [ $i -lt 3000 ]; do touch /many/f$i || exit 1; i=$((i+1)); done'
	assert_failure
	assert_contains "$output" "No space left on device"
	local n
	n=$(in_ct qi sh -c 'ls /many | wc -l')
	assert_between "$n" 1900 2000 "files created"
	assert_eq "$(disk_stat qi inodes_total)" 2000 "stats disk.inodes_total"
	# The files made, plus the layer's own directories.
	assert_between "$(disk_stat qi inodes_used)" "$n" 2000 "stats disk.inodes_used"
}

@test "grow 64M -> 128M: live where the kernel allows it (same init pid), else refused running and done stopped" {
	ct_create_started grow --disk 64M || fail "create"
	local pid
	pid=$(ct_init_pid grow)
	run in_ct grow dd if=/dev/zero of=/big bs=1M count=100
	assert_failure
	in_ct grow rm -f /big
	run vsctl set grow --disk 128M
	if has_cap_sys_resource; then
		assert_success
		assert_eq "$(ct_init_pid grow)" "$pid" "init pid after a live grow"
	else
		# EXT4_IOC_RESIZE_FS needs CAP_SYS_RESOURCE, dropped on this host.
		assert_failure
		assert_contains "$output" "CAP_SYS_RESOURCE"
		assert_contains "$output" "stop the container"
		assert_eq "$(ct_init_pid grow)" "$pid" "init pid after a refused grow"
		assert_between "$(df_total_k grow)" $((58 * 1024)) $((64 * 1024)) "df after refusal"
		assert_eq "$(ct_field grow limits.disk)" $((64 * M)) "stored limit after refusal"
		assert_eq "$(stat -c %s "$(cdir grow)/disk.img")" $((64 * M)) "image after refusal"
		vsctl stop grow --force || fail "stop"
		run vsctl set grow --disk 128M
		assert_success
		vsctl start grow || fail "start"
		wait_for 10 ct_is_state grow running || fail "not running"
	fi
	assert_between "$(df_total_k grow)" $((120 * 1024)) $((128 * 1024)) "df total after grow"
	assert_eq "$(ct_field grow limits.disk)" $((128 * M)) "stored limit after grow"
	assert_eq "$(disk_stat grow total)" $(($(df_total_k grow) * 1024)) "stats disk.total after grow"
	run in_ct grow dd if=/dev/zero of=/big bs=1M count=100
	assert_success
}

@test "shrink: refused while running; stopped, above usage works, below usage refused; inodes fixed" {
	ct_create_started shr --disk 64M || fail "create"
	in_ct shr dd if=/dev/zero of=/data bs=1M count=20 2>/dev/null || fail "write 20M"
	run vsctl set shr --disk 32M
	assert_failure
	assert_contains "$output" "shrinking needs the container stopped"
	run vsctl set shr --inodes 5000
	assert_failure
	assert_contains "$output" "inodes: cannot be changed on an existing disk"
	assert_eq "$(ct_field shr limits.disk)" $((64 * M)) "stored limit after refusals"
	vsctl stop shr --force || fail "stop"
	run vsctl set shr --disk 16M
	assert_failure
	assert_contains "$output" "disk: 16M is smaller than the 2"
	assert_contains "$output" "already used"
	assert_eq "$(stat -c %s "$(cdir shr)/disk.img")" $((64 * M)) "image after a refused shrink"
	run vsctl set shr --disk 32M
	assert_success
	assert_eq "$(stat -c %s "$(cdir shr)/disk.img")" $((32 * M)) "image size"
	assert_eq "$(ct_field shr limits.disk)" $((32 * M)) "stored limit after shrink"
	vsctl start shr || fail "start"
	wait_for 10 ct_is_state shr running || fail "not running"
	assert_between "$(df_total_k shr)" $((26 * 1024)) $((32 * 1024)) "df after shrink"
	assert_eq "$(in_ct shr sh -c 'wc -c < /data')" $((20 * M)) "data kept"
}

# mem_limit NAME: the memory limit in force in NAME's cgroup, in bytes.
mem_limit() {
	local dir
	if [[ -d /sys/fs/cgroup/memory ]]; then
		dir=$(ct_cgroup_dir "$1" memory) && cat "$dir/memory.limit_in_bytes"
	else
		dir=$(ct_cgroup_dir "$1" "") && cat "$dir/memory.max"
	fi
}

@test "all or nothing: a set whose --disk is refused leaves --memory as it was (cgroup and stored)" {
	ct_create_started aon --disk 64M --memory 128M || fail "create"
	local pid
	pid=$(ct_init_pid aon)
	assert_eq "$(mem_limit aon)" $((128 * M)) "memory limit at start"
	# The memory limit is applied before the disk (daemon/limits.c
	# change_live), so a refused disk must take it back. A shrink of a
	# running container's disk is refused on every host.
	run vsctl set aon --memory 256M --disk 32M
	assert_failure
	assert_contains "$output" "shrinking needs the container stopped"
	assert_contains "$output" "nothing changed"
	assert_eq "$(mem_limit aon)" $((128 * M)) "memory limit in force after a refused shrink"
	assert_eq "$(ct_field aon limits.memory)" $((128 * M)) "stored memory after a refused shrink"
	assert_eq "$(ct_field aon limits.disk)" $((64 * M)) "stored disk after a refused shrink"
	if ! has_cap_sys_resource; then
		# A grow is refused here too (no CAP_SYS_RESOURCE): same rule.
		run vsctl set aon --memory 256M --disk 128M
		assert_failure
		assert_contains "$output" "CAP_SYS_RESOURCE"
		assert_eq "$(mem_limit aon)" $((128 * M)) "memory limit in force after a refused grow"
		assert_eq "$(ct_field aon limits.memory)" $((128 * M)) "stored memory after a refused grow"
		assert_eq "$(stat -c %s "$(cdir aon)/disk.img")" $((64 * M)) "image after a refused grow"
	fi
	assert_eq "$(ct_init_pid aon)" "$pid" "init pid"
	# Control: the same --memory alone is applied, so the reads above
	# would have seen a change.
	run vsctl set aon --memory 256M
	assert_success
	assert_eq "$(mem_limit aon)" $((256 * M)) "memory limit after a good set"
	assert_eq "$(ct_field aon limits.memory)" $((256 * M)) "stored memory after a good set"
}

@test "deleting a template file leaves an overlay whiteout (0:0 char device) on the disk" {
	ct_create_started wo --disk 32M || fail "create"
	run in_ct wo rm /bin/ls
	assert_success
	local w="$(cdir wo)/disk/upper/bin/ls"
	[[ -c "$w" ]] || fail "no whiteout at $w"
	assert_eq "$(stat -c '%t:%T' "$w")" "0:0" "whiteout device"
	run in_ct wo sh -c 'rm -rf /etc && mkdir /etc && ls -A /etc | wc -l'
	assert_eq "$output" 0 "opaque /etc"
}

@test "destroy leaves no loop device and no mount" {
	ct_create_started gone --disk 32M || fail "create"
	local loops
	loops=$(our_loops)
	[[ -n "$loops" ]] || fail "no loop device backed by the image while it exists"
	vsctl destroy --force gone || fail "destroy"
	[[ -z "$(our_loops)" ]] || fail "loop devices left: $(our_loops)"
	! grep -q "$VSD_ROOT/containers/" /proc/self/mountinfo || fail "mounts left: $(grep "$VSD_ROOT/containers/" /proc/self/mountinfo)"
	[[ ! -e "$(cdir gone)" ]] || fail "directory left"
	! losetup -a | grep -q "$VSD_TMP/" || fail "losetup still lists ours"
}

@test "vsd killed (SIGKILL) and restarted: the running container's disk still works" {
	ct_create_started crash --disk 64M || fail "create"
	local pid
	pid=$(ct_init_pid crash)
	vsd_kill_daemon
	vsd_start_daemon || fail "restart"
	assert_eq "$(ct_init_pid crash)" "$pid" "init pid"
	assert_between "$(df_total_k crash)" $((58 * 1024)) $((64 * 1024)) "df after restart"
	run in_ct crash dd if=/dev/zero of=/after bs=1M count=10
	assert_success
	run in_ct crash dd if=/dev/zero of=/big bs=1M count=100
	assert_failure
	assert_contains "$output" "No space left on device"
	[[ $(our_loops | wc -l) == 1 ]] || fail "loop devices: $(our_loops)"
}

@test "host reboot: a disk unmounted behind vsd's back is mounted again at vsd start, and start works" {
	vsctl create reboot --template busybox --disk 32M >/dev/null || fail "create"
	vsd_stop_daemon TERM
	umount "$(cdir reboot)/disk" || fail "umount"
	[[ -z "$(our_loops)" ]] || fail "loop not freed by umount: $(our_loops)"
	vsd_start_daemon || fail "restart"
	mountpoint -q "$(cdir reboot)/disk" || fail "disk not mounted by recovery"
	vsctl start reboot || fail "start"
	wait_for 10 ct_is_state reboot running || fail "not running"
	assert_between "$(df_total_k reboot)" $((26 * 1024)) $((32 * 1024)) "df"
}

@test "a create cut short (staging dir with a mounted disk) is undone at vsd start" {
	local st="$VSD_ROOT/containers/.cut.creating"
	vsd_stop_daemon TERM
	mkdir -p "$st/disk"
	truncate -s 32M "$st/disk.img"
	mkfs.ext4 -q -F "$st/disk.img"
	mount -o loop "$st/disk.img" "$st/disk" || fail "mount"
	vsd_start_daemon || fail "restart"
	[[ ! -e "$st" ]] || fail "staging left"
	[[ -z "$(our_loops)" ]] || fail "loop devices left: $(our_loops)"
}

@test "--default-disk applies to a create without --disk; an explicit --disk wins" {
	vsd_stop_daemon TERM
	vsd_start_daemon --default-disk 32M || fail "start with --default-disk"
	vsctl create dflt --template busybox >/dev/null || fail "create dflt"
	vsctl create expl --template busybox --disk 48M >/dev/null || fail "create expl"
	assert_eq "$(stat -c %s "$(cdir dflt)/disk.img")" $((32 * M)) "default image"
	assert_eq "$(stat -c %s "$(cdir expl)/disk.img")" $((48 * M)) "explicit image"
	assert_eq "$(ct_field dflt limits.disk)" $((32 * M)) "limits.disk in status"
	vsd_stop_daemon TERM
	vsd_start_daemon || fail "restart without --default-disk"
	run "$VSD_BIN" --default-disk 1M --root /nonexistent
	assert_status 2
	assert_contains "$output" "too small"
}

@test "suspend/resume with a disk quota keeps the files and df" {
	local why
	if why=$(cr_criu_unusable); then
		skip "checkpoint/restore unavailable: $why"
	fi
	vsd_stop_daemon TERM
	cr_start_daemon || fail "start with criu"
	ct_create_started cr --disk 64M || fail "create"
	in_ct cr sh -c 'echo kept > /kept' || fail "write"
	run --separate-stderr vsctl suspend cr
	assert_success
	assert_eq "$(ct_state cr)" suspended state
	mountpoint -q "$(cdir cr)/disk" || fail "disk unmounted while suspended"
	run --separate-stderr vsctl resume cr
	assert_success
	assert_eq "$(ct_state cr)" running state
	assert_eq "$(in_ct cr cat /kept)" kept "file"
	assert_between "$(df_total_k cr)" $((58 * 1024)) $((64 * 1024)) "df after resume"
	run in_ct cr dd if=/dev/zero of=/big bs=1M count=100
	assert_failure
	assert_contains "$output" "No space left on device"
}
