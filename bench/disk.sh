#!/bin/bash
# Disk quotas: what a per-container ext4 image costs. Prints figures, never
# pass/fail:
#   - create time (median over N creates) without and with --disk;
#   - per container with a disk (stopped: the disk stays mounted from create
#     to destroy): kernel memory (Slab + KernelStack + PageTables + Percpu
#     from /proc/meminfo, and MemAvailable), mounts, loop devices, jbd2
#     threads, and host blocks of the sparse image.
# Run as root under the shared lock: flock /tmp/vsd-heavy.lock bench/disk.sh
# Environment: N (default 50), DISK (default 1G).
set -euo pipefail
N=${N:-50}
DISK=${DISK:-1G}
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
bench_setup diskbench
bench_vsd_start

kmem_kb() {
	awk '/^(Slab|KernelStack|PageTables|Percpu):/ { s += $2 } END { print s }' /proc/meminfo
}
avail_kb() { awk '/^MemAvailable:/ { print $2 }' /proc/meminfo; }
loops() { grep -l "^$tmp/" /sys/block/loop*/loop/backing_file 2>/dev/null | wc -l; }
mounts() { grep -c " $tmp/" /proc/self/mountinfo || true; }
median() { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

# create_many PREFIX ARGS...: N creates, prints the median ms.
create_many() {
	local p=$1 i t0 t1
	shift
	for i in $(seq "$N"); do
		t0=$(date +%s%N)
		vsctl create "$p$i" --template busybox "$@" >/dev/null
		t1=$(date +%s%N)
		echo $(((t1 - t0) / 1000))
	done | median
}

sync
echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true
k0=$(kmem_kb) a0=$(avail_kb) m0=$(mounts) l0=$(loops) j0=$(pgrep -c '^jbd2/loop' || true)
plain_us=$(create_many plain)
k1=$(kmem_kb) a1=$(avail_kb) m1=$(mounts)
disk_us=$(create_many disk --disk "$DISK")
sleep 2
k2=$(kmem_kb) a2=$(avail_kb) m2=$(mounts) l2=$(loops) j2=$(pgrep -c '^jbd2/loop' || true)
img_kb=$(du -sk "$tmp"/root/containers/disk1/disk.img | cut -f1)

printf 'disk quotas, %d containers each (busybox, stopped), disk %s\n' "$N" "$DISK"
printf '  create, median          without --disk: %6.1f ms   with --disk: %6.1f ms\n' \
	"$(echo "$plain_us / 1000" | bc -l)" "$(echo "$disk_us / 1000" | bc -l)"
printf '  per container with a disk, over one without:\n'
printf '    kernel memory (slab, stacks, page tables, percpu): %d KiB\n' \
	$(((k2 - k1) / N - (k1 - k0) / N))
printf '    MemAvailable drop:                                 %d KiB (noisy: shared host)\n' \
	$(((a1 - a2) / N))
printf '    mounts: %d   loop devices: %d   jbd2 threads: %d\n' \
	$(((m2 - m1) / N)) $(((l2 - l0) / N)) $(((j2 - j0) / N))
printf '    host disk blocks of a fresh %s image: %d KiB\n' "$DISK" "$img_kb"
