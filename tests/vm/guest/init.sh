#!/bin/sh
# tests/vm guest: run once by busybox init (PID 1, /etc/inittab sysinit), on
# the serial console. Sets up a pure cgroup v2 host (the kernel was booted
# with cgroup_no_v1=all), runs the checks, and powers the machine off; the
# host's run.sh reads the TAP lines from the serial log.
#
# busybox init stays PID 1 on purpose: vsd's per-container monitors are
# reparented to PID 1, and a shell as PID 1 would leave them as zombies.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LC_ALL=C

mount -t proc -o nosuid,nodev,noexec proc /proc
mount -t sysfs -o nosuid,nodev,noexec sysfs /sys
mount -t devtmpfs -o nosuid,mode=0755 devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts -o nosuid,noexec,gid=5,mode=0620,ptmxmode=0666 devpts /dev/pts
mount -t tmpfs -o nosuid,nodev,mode=1777 tmpfs /dev/shm
mount -t tmpfs -o nosuid,nodev,mode=1777 tmpfs /tmp
mount -t tmpfs -o nosuid,nodev,mode=0755 tmpfs /run
# Where systemd puts it on a unified host: cgroup2 itself at /sys/fs/cgroup.
mount -t cgroup2 -o nosuid,nodev,noexec,nsdelegate cgroup2 /sys/fs/cgroup
hostname -F /etc/hostname
echo "# vsd-vm: kernel $(uname -r), $(nproc) cpus, up $(cut -d' ' -f1 /proc/uptime) s; cmdline: $(cat /proc/cmdline)"

/vsd-vm/checks.sh
echo "# vsd-vm: checks.sh exited with status $? (up $(cut -d' ' -f1 /proc/uptime) s)"
echo "# vsd-vm: done"
sync
poweroff -f
# poweroff should not return; if it does, the kernel's sysrq is the last word.
echo o >/proc/sysrq-trigger
