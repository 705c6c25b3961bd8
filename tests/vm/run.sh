#!/bin/bash
# tests/vm: vsd on a pure cgroup v2 host, under qemu (TCG).
#
# 1. provision (scripts/install-vm-deps.sh: qemu, e2fsprogs, kmod,
#    busybox-static, and Debian's cloud kernel unpacked into the cache);
# 2. `make` build/vsd and build/vsctl;
# 3. (re)build the guest's ext4 root image (tests/vm/mkimage.sh) when any of
#    its inputs changed: the binaries, their libraries, busybox, the kernel,
#    tests/vm/guest/* or mkimage.sh;
# 4. boot the kernel directly (no initramfs: NVMe and ext4 are built in)
#    with cgroup_no_v1=all; the image is attached with snapshot=on, so the
#    cached image is never written and every run starts from a clean disk;
# 5. print the TAP lines the guest writes to its serial console as they
#    come, and judge them.
#
# Exit status: 0 when the guest printed a plan, every planned check ran and
# none failed; 1 otherwise (a failed check, a bail-out, a crash, or no
# report within the timeout); 2 on bad usage.
#
# usage: tests/vm/run.sh [--timeout SECONDS] [--rebuild] [--log FILE] [--stress MODE:MOVES]
#   --timeout S  kill the VM after S seconds (default $VSD_VM_TIMEOUT or 1200)
#   --rebuild    rebuild the image even when its inputs did not change
#   --log FILE   also copy the full serial log to FILE
#   --stress M:N instead of the lane, N migrations of one VPS between two
#                nodes, A -> B -> A ..., mode M: postcopy, precopy or
#                precopy-toggle (guest/stress.sh; default $VSD_VM_STRESS)
# The serial log of the last run is kept in $VSD_VM_CACHE/last-serial.log.
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CACHE=${VSD_VM_CACHE:-/var/cache/vsd-vm}
timeout_s=${VSD_VM_TIMEOUT:-1200}
rebuild=0
keep_log=""
stress=${VSD_VM_STRESS:-}

usage() { sed -n 's/^# \{0,1\}//; /^usage:/,/^The serial/p' "${BASH_SOURCE[0]}" >&2; }
while (($#)); do
	case "$1" in
	--timeout)
		[[ ${2:-} =~ ^[1-9][0-9]*$ ]] || {
			usage
			exit 2
		}
		timeout_s=$2
		shift
		;;
	--rebuild) rebuild=1 ;;
	--stress)
		[[ ${2:-} =~ ^(postcopy|precopy|precopy-toggle)(:[1-9][0-9]*)?$ ]] || {
			usage
			exit 2
		}
		stress=$2
		shift
		;;
	--log)
		[[ -n ${2:-} ]] || {
			usage
			exit 2
		}
		keep_log=$2
		shift
		;;
	-h | --help)
		usage
		exit 0
		;;
	*)
		usage
		exit 2
		;;
	esac
	shift
done

log() { echo "vm: $*"; }
die() {
	echo "vm: error: $*" >&2
	exit 1
}
((EUID == 0)) || die "run me as root (provisioning installs packages)"
start=$SECONDS

# --- 1. provisioning --------------------------------------------------------
"$repo/scripts/install-vm-deps.sh" || die "provisioning failed"
kdir=$CACHE/kernel/current
[[ -f $kdir/vmlinuz ]] || die "no kernel in $kdir"

# --- 2. build ---------------------------------------------------------------
make -C "$repo" -s all >/dev/null || die "make failed"

# --- 3. the image -----------------------------------------------------------
img=$CACHE/image/root.img
stamp=$img.inputs
mkdir -p "$CACHE/image"
# Everything the image is made of, as one digest.
inputs_digest() {
	{
		sha256sum "$repo/build/vsd" "$repo/build/vsctl" "$repo/build/vsd-helper" \
			"$repo/build/vsctl-tls.so" "$repo/build/tests/vsd-test-memsum" /bin/busybox \
			/usr/sbin/mke2fs /usr/sbin/e2fsck /usr/sbin/resize2fs \
			/usr/bin/rsync /usr/sbin/ip /usr/bin/tar /opt/vsd/criu/bin/criu /opt/vsd/criu/INSTALLED \
			"$repo/tests/vm/mkimage.sh" "$repo"/tests/vm/guest/*
		cat "$kdir/PACKAGE"
		# The libraries by path, size and time: an apt upgrade changes them.
		ldd "$repo/build/vsd" "$repo/build/vsctl" "$repo/build/vsd-helper" \
			/usr/sbin/mke2fs /usr/sbin/e2fsck /usr/sbin/resize2fs /usr/bin/rsync /usr/sbin/ip /usr/bin/tar |
			awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\/.*[^:]$/ { print $1 }' |
			sort -u | xargs stat -L -c '%n %s %Y'
	} | sha256sum | cut -d' ' -f1
}
(
	# One builder at a time; a VM booted from the old image keeps its inode
	# (mkimage renames the new one over it).
	flock -w 600 9 || die "another run holds $CACHE/image/lock"
	want=$(inputs_digest) || die "cannot compute the image's inputs"
	if ((rebuild)) || [[ ! -s $img || "$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
		t=$SECONDS
		"$repo/tests/vm/mkimage.sh" "$img" "$kdir" "$repo" || die "building the image failed"
		echo "$want" >"$stamp"
		log "image built in $((SECONDS - t)) s"
	else
		log "image is up to date ($img)"
	fi
) 9>"$CACHE/image/lock" || exit 1

# --- 4. boot ----------------------------------------------------------------
tmp=$(mktemp -d /tmp/vsd-vm.XXXXXX)
qpid=""
cleanup() {
	if [[ -n $qpid ]] && kill -0 "$qpid" 2>/dev/null; then
		kill -TERM "$qpid" 2>/dev/null
		sleep 1
		kill -KILL "$qpid" 2>/dev/null
	fi
	[[ -n $qpid ]] && wait "$qpid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
serial=$tmp/serial.log
: >"$serial"

# quiet: the OOM killer's reports (KERN_WARNING) stay off the console, so
# the TAP lines are not interleaved with them; panic=-1 with -no-reboot ends
# qemu at once if PID 1 dies instead of waiting for the timeout.
append="console=ttyS0 root=/dev/nvme0n1 rootfstype=ext4 rw cgroup_no_v1=all panic=-1 quiet"
# The guest's checks.sh runs guest/stress.sh instead of the lane.
[[ -z $stress ]] || append+=" vsd.stress=$stress"
# KVM does not work on the development machines (a boot hangs): TCG, with
# one host thread per virtual CPU. -nodefaults: no NIC (no option ROM
# needed), no VGA, no monitor; the serial console goes to a file. qemu puts
# the snapshot overlay in TMPDIR, which the cleanup removes.
log "booting $(cat "$kdir/PACKAGE") (TCG, timeout ${timeout_s} s)"
boot=$SECONDS
TMPDIR=$tmp timeout --kill-after=10 "$timeout_s" qemu-system-x86_64 \
	-accel tcg,thread=multi -m 1024 -smp 2 \
	-nodefaults -no-user-config -display none -no-reboot \
	-kernel "$kdir/vmlinuz" -append "$append" \
	-drive "file=$img,if=none,id=root,format=raw,snapshot=on" \
	-device nvme,drive=root,serial=vsdvm \
	-serial "file:$serial" -monitor none \
	</dev/null >"$tmp/qemu.out" 2>&1 &
qpid=$!

# --- 5. the report ----------------------------------------------------------
# Print TAP and diagnostics as they arrive; tail ends when qemu does. In
# the background, so that a signal to this script is acted on at once (bash
# runs traps only between foreground commands, but interrupts `wait`).
tail -n +1 -F --pid="$qpid" "$serial" 2>/dev/null | tr -d '\r' |
	grep --line-buffered -E '^(ok |not ok |1\.\.|Bail out!|# )' &
tailpid=$!
wait "$qpid"
qstatus=$?
qpid=""
wait "$tailpid"
elapsed=$((SECONDS - boot))

tr -d '\r' <"$serial" >"$tmp/serial.txt"
cp "$tmp/serial.txt" "$CACHE/last-serial.log"
[[ -z $keep_log ]] || cp "$tmp/serial.txt" "$keep_log"

plan=$(sed -n 's/^1\.\.\([0-9][0-9]*\)$/\1/p' "$tmp/serial.txt" | tail -n1)
nok=$(grep -cE '^ok [0-9]+' "$tmp/serial.txt")
# "not ok N - ... # TODO ...": a known bug's check (checks.sh's known),
# shown and counted apart, not a failure.
ntodo=$(grep -cE '^not ok [0-9]+ .*# TODO ' "$tmp/serial.txt")
nnot=$(($(grep -cE '^not ok [0-9]+' "$tmp/serial.txt") - ntodo))
bail=$(grep -c '^Bail out!' "$tmp/serial.txt")
done_mark=$(grep -c '^# vsd-vm: done' "$tmp/serial.txt")

failed=0
why=()
if ((qstatus == 124 || qstatus == 137)); then
	why+=("the VM did not finish within ${timeout_s} s")
	failed=1
elif ((qstatus != 0)); then
	why+=("qemu exited with status $qstatus: $(tail -n 3 "$tmp/qemu.out" | tr '\n' ' ')")
	failed=1
fi
if [[ -z $plan ]]; then
	why+=("the guest printed no TAP plan")
	failed=1
elif ((nok + nnot + ntodo != plan)); then
	why+=("planned $plan checks, saw $((nok + nnot + ntodo))")
	failed=1
fi
((nnot == 0)) || failed=1
((bail == 0)) || {
	why+=("the guest bailed out")
	failed=1
}
((done_mark)) || {
	why+=("the guest never reached its power-off")
	failed=1
}

if ((failed)); then
	for w in "${why[@]}"; do log "$w"; done
	# Kernel oopses, panics, a missing init: whatever the console said last.
	log "last lines of the serial console:"
	grep -vE '^(ok |not ok |1\.\.|# )' "$tmp/serial.txt" | tail -n 25 | sed 's/^/  | /'
	log "full serial log: $CACHE/last-serial.log"
fi
todo_note=
if ((ntodo > 0)); then
	grep -E '^not ok [0-9]+ .*# TODO ' "$tmp/serial.txt" | sed 's/^/vm: known bug: /'
	todo_note=", $ntodo known bug(s) (TODO)"
fi
log "$nok passed, $nnot failed${plan:+ of $plan}$todo_note; VM ${elapsed} s, total $((SECONDS - start)) s"
exit "$failed"
