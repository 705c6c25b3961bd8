#!/bin/bash
# Build the guest's ext4 root image for tests/vm (called by run.sh).
#
# usage: mkimage.sh OUT.img KERNEL_DIR REPO
#
# The image is made from a staging directory with `mkfs.ext4 -d` (no loop
# device, no mount) and holds:
#   /bin/busybox + applet links     busybox-static: the whole userland
#   /sbin/init -> busybox           PID 1 (reaps the daemon's orphans),
#   /etc/inittab                    which runs /vsd-vm/init.sh once
#   /usr/sbin/vsd /usr/bin/vsctl    from REPO/build
#   /usr/sbin/mke2fs, mkfs.ext4,    e2fsprogs from the host: vsd makes,
#     e2fsck, resize2fs             checks and resizes disk quota images
#   /etc/mke2fs.conf                with them (fs-cow/disk.c, disk-resize.c)
#   /lib*/...                       their shared libraries and loader, copied
#                                   from the host at the paths ldd names
#   /lib/modules/<release>          the cloud kernel's modules + modules.dep
#   /vsd-vm/                        tests/vm/guest/*: init.sh, checks.sh,
#                                   migrate.sh; memsum (build/tests/vsd-test-memsum)
#   /opt/vsd/criu, /usr/bin/rsync,  CRIU's private prefix, rsync, ip and GNU
#     /usr/sbin/ip, /usr/bin/tar    tar with their libraries: the migration checks
#   /dev/console, /dev/null         for the kernel's first open of the console
# plus some empty room for /var/lib/vsd (templates, containers' upper layers).
# The image is written next to OUT and renamed over it at the end, so a VM
# still running from the old image keeps its inode.
set -euo pipefail

(($# == 3)) || {
	echo "usage: $0 OUT.img KERNEL_DIR REPO" >&2
	exit 2
}
out=$1 kdir=$2 repo=$3
die() {
	echo "mkimage: error: $*" >&2
	exit 1
}

release=$(basename "$(readlink -f "$kdir")")
[[ -d $kdir/modules && -f $kdir/vmlinuz ]] || die "$kdir is not an unpacked kernel"
for b in vsd vsctl vsd-helper vsctl-tls.so tests/vsd-test-memsum; do
	[[ -x $repo/build/$b ]] || die "$repo/build/$b missing (run make all test-tools)"
done
busybox=/bin/busybox
file -L "$busybox" 2>/dev/null | grep -q 'statically linked' ||
	ldd "$busybox" 2>&1 | grep -q 'not a dynamic executable' ||
	die "$busybox is not statically linked (install busybox-static)"

outdir=$(dirname "$out")
mkdir -p "$outdir"
stage=$(mktemp -d "$outdir/.stage.XXXXXX")
tmpimg="$out.new.$$"
trap 'rm -rf "$stage" "$tmpimg"' EXIT

mkdir -p "$stage"/{bin,sbin,usr/bin,usr/sbin,lib,lib64,etc,dev,proc,sys,tmp,run,root,var/lib,vsd-vm}
chmod 1777 "$stage/tmp"
chmod 0700 "$stage/root"

# busybox and its applets, where busybox says they belong.
cp "$busybox" "$stage/bin/busybox"
while read -r applet; do
	[[ -n $applet && ! -e $stage/$applet && ! -L $stage/$applet ]] || continue
	mkdir -p "$stage/$(dirname "$applet")"
	ln -s /bin/busybox "$stage/$applet"
done < <("$busybox" --list-full)

install -m 0755 "$repo/build/vsd" "$stage/usr/sbin/vsd"
install -m 0755 "$repo/build/vsd-helper" "$stage/usr/sbin/vsd-helper"
install -m 0755 "$repo/build/vsctl" "$stage/usr/bin/vsctl"
install -D -m 0644 "$repo/build/vsctl-tls.so" "$stage/usr/libexec/vsd/vsctl-tls.so"
# e2fsprogs at the absolute paths vsd runs them by (busybox's mke2fs applet
# lacks the options vsd passes, and it has no resize2fs).
e2progs=(mke2fs e2fsck resize2fs)
for b in "${e2progs[@]}"; do
	[[ -x /usr/sbin/$b ]] || die "/usr/sbin/$b missing (install e2fsprogs)"
	install -m 0755 "/usr/sbin/$b" "$stage/usr/sbin/$b"
done
ln -sf mke2fs "$stage/usr/sbin/mkfs.ext4"
[[ ! -f /etc/mke2fs.conf ]] || cp /etc/mke2fs.conf "$stage/etc/mke2fs.conf"

# The shared libraries at the paths the host's loader resolved, and the
# loader at its ELF interpreter path. Debian's ld.so searches
# /lib/x86_64-linux-gnu by default, so no ld.so.cache is needed.
copy_lib() {
	local src=$1
	[[ -e $stage$src ]] && return 0
	mkdir -p "$stage$(dirname "$src")"
	cp -L "$src" "$stage$src"
}
for b in "$repo"/build/{vsd,vsctl,vsd-helper} "${e2progs[@]/#//usr/sbin/}"; do
	out_ldd=$(ldd "$b") || die "ldd $b failed"
	if grep -q 'not found' <<<"$out_ldd"; then
		die "$b: missing libraries: $(grep 'not found' <<<"$out_ldd" | tr -s ' \t\n' ' ')"
	fi
	while read -r lib; do
		copy_lib "$lib"
	done < <(awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' <<<"$out_ldd")
done

# The two-node migration checks (guest/migrate.sh): CRIU's private prefix
# (scripts/install-criu.sh: a self-contained tree whose bin/criu finds its
# own libraries), rsync (the layer's and image's copies) and iproute2's ip
# (network namespaces, veth, the LAN bridge), with their libraries.
criu_prefix=/opt/vsd/criu
[[ -x $criu_prefix/bin/criu ]] || die "$criu_prefix/bin/criu missing (run scripts/install-criu.sh)"
mkdir -p "$stage/opt/vsd"
cp -a "$criu_prefix" "$stage/opt/vsd/"
# GNU tar too: CRIU runs `tar` (its options are GNU's, busybox's applet
# lacks them) for the contents of a container's tmpfs mounts.
extra=(/usr/bin/rsync /usr/sbin/ip /usr/bin/tar)
for b in "${extra[@]}"; do
	[[ -x $b ]] || die "$b missing (install rsync, iproute2 and tar)"
	install -D -m 0755 "$b" "$stage$b"
done
for b in "${extra[@]}"; do
	out_ldd=$(ldd "$b") || die "ldd $b failed"
	while read -r lib; do
		copy_lib "$lib"
	done < <(awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' <<<"$out_ldd")
done

mkdir -p "$stage/lib/modules"
cp -a "$kdir/modules" "$stage/lib/modules/$release"

cp "$repo"/tests/vm/guest/* "$stage/vsd-vm/"
chmod 0755 "$stage"/vsd-vm/*.sh
# A static helper the migration checks run inside a container.
install -m 0755 "$repo/build/tests/vsd-test-memsum" "$stage/vsd-vm/memsum"

cat >"$stage/etc/inittab" <<'EOF'
# tests/vm: run the checks once, then init.sh powers the machine off.
::sysinit:/vsd-vm/init.sh
EOF
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$stage/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$stage/etc/group"
echo vsd-vm >"$stage/etc/hostname"
: >"$stage/etc/fstab"
# The kernel opens /dev/console for init before anything mounts devtmpfs.
mknod -m 0600 "$stage/dev/console" c 5 1
mknod -m 0666 "$stage/dev/null" c 1 3

# The programs must start from the staged tree alone.
chroot "$stage" /usr/sbin/vsd --version >/dev/null || die "vsd does not start inside the staged root"
chroot "$stage" /usr/bin/vsctl --version >/dev/null || die "vsctl does not start inside the staged root"
e2out=$(chroot "$stage" /usr/sbin/resize2fs 2>&1 || true)
grep -q '^Usage' <<<"$e2out" || die "resize2fs does not start inside the staged root: $e2out"
chroot "$stage" /usr/sbin/mkfs.ext4 -V >/dev/null 2>&1 || die "mkfs.ext4 does not start inside the staged root"
chroot "$stage" /opt/vsd/criu/bin/criu --version >/dev/null || die "criu does not start inside the staged root"
chroot "$stage" /usr/bin/rsync --version >/dev/null || die "rsync does not start inside the staged root"
chroot "$stage" /usr/sbin/ip -V >/dev/null || die "ip does not start inside the staged root"
chroot "$stage" /usr/bin/tar --version >/dev/null || die "tar does not start inside the staged root"

# Room for the daemon's state: templates (busybox: ~2 MB), the containers'
# upper layers, logs. The file is sparse; only what is written takes space.
used_mb=$(du -sm "$stage" | cut -f1)
size_mb=$((used_mb + 768))
rm -f "$tmpimg"
truncate -s "${size_mb}M" "$tmpimg"
mkfs.ext4 -q -F -L vsd-vm-root -d "$stage" "$tmpimg" || die "mkfs.ext4 -d failed"
mv -f "$tmpimg" "$out"
echo "mkimage: $out (${size_mb} MB, ${used_mb} MB used; kernel $release)"
