#!/bin/bash
# Provision what tests/vm (the pure cgroup v2 lane) needs on Debian 12:
#
#   - host packages: qemu-system-x86 (the emulator; TCG, since KVM does not
#     work on the development machines), e2fsprogs (mkfs.ext4 -d builds the
#     root image from a directory, no loop mount), kmod (depmod for the
#     guest's modules.dep), busybox-static (the guest's whole userland);
#   - Debian's cloud kernel (linux-image-<abi>-cloud-amd64) WITHOUT
#     installing it: the package is fetched with `apt-get download` (apt
#     checks it against the signed archive) and unpacked with `dpkg-deb -x`
#     into the cache, so the host's /boot, /lib/modules and dpkg database are
#     never touched. depmod then writes modules.dep for the unpacked tree so
#     the guest's busybox modprobe (and the kernel's module autoloading
#     through /sbin/modprobe) can load overlay, veth, bridge, ...
#
# No initramfs is needed: the cloud kernel has ext4 and NVMe built in
# (CONFIG_EXT4_FS=y, CONFIG_BLK_DEV_NVME=y; virtio_blk is only a module), so
# tests/vm/run.sh puts the root image on an emulated NVMe disk
# (root=/dev/nvme0n1) and boots the kernel directly.
#
# Layout (VSD_VM_CACHE, default /var/cache/vsd-vm):
#   debs/                        the downloaded kernel package
#   kernel/<release>/vmlinuz     the kernel
#   kernel/<release>/config      its configuration
#   kernel/<release>/modules/    lib/modules/<release> with modules.dep
#   kernel/<release>/PACKAGE     package name and version it came from
#   kernel/current -> <release>  what tests/vm/run.sh boots
#
# Idempotent: installs only missing packages (apt-get update only then) and
# downloads a kernel only when kernel/current is missing or incomplete, or
# with --update (then the newest linux-image-cloud-amd64 is fetched and
# older unpacked kernels are removed). Run as root. Exits 0 when everything
# is in place, non-zero with a message otherwise.
set -euo pipefail

CACHE=${VSD_VM_CACHE:-/var/cache/vsd-vm}
# The metapackage that names the current cloud kernel ABI; a fixed package
# (e.g. linux-image-6.1.0-56-cloud-amd64) may be given instead.
KERNEL_META=${VSD_VM_KERNEL_META:-linux-image-cloud-amd64}
KERNEL_PKG=${VSD_VM_KERNEL_PKG:-}
HOST_PKGS=(qemu-system-x86 e2fsprogs kmod busybox-static)

log() { echo "install-vm-deps: $*"; }
die() {
	echo "install-vm-deps: error: $*" >&2
	exit 1
}

usage() {
	cat >&2 <<EOF
usage: $0 [--check] [--update]
  --check   only verify; exit 1 when a package or the kernel is missing
  --update  fetch the newest $KERNEL_META even when a kernel is cached
environment: VSD_VM_CACHE ($CACHE), VSD_VM_KERNEL_META ($KERNEL_META),
  VSD_VM_KERNEL_PKG (a fixed linux-image package instead of the metapackage's)
EOF
}

check_only=0 update=0
while (($#)); do
	case "$1" in
	--check) check_only=1 ;;
	--update) update=1 ;;
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

# shellcheck source=scripts/apt-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/apt-lib.sh"

# kernel_ok DIR: an unpacked kernel with its modules index.
kernel_ok() {
	[[ -s $1/vmlinuz && -s $1/config && -s $1/modules/modules.dep && -s $1/PACKAGE ]]
}

missing=()
for p in "${HOST_PKGS[@]}"; do
	installed "$p" || missing+=("$p")
done

if ((check_only)); then
	rc=0
	if ((${#missing[@]})); then
		log "missing packages: ${missing[*]}"
		rc=1
	fi
	if kernel_ok "$CACHE/kernel/current"; then
		log "kernel: $(readlink "$CACHE/kernel/current") ($(cat "$CACHE/kernel/current/PACKAGE"))"
	else
		log "no kernel in $CACHE/kernel/current"
		rc=1
	fi
	exit "$rc"
fi

((EUID == 0)) || die "run me as root"
[[ "$(dpkg --print-architecture)" == amd64 ]] || die "only amd64 is supported"

mkdir -p "$CACHE"
# Two runs (or a run and a CI job) provisioning at once must not interleave.
exec 9>"$CACHE/lock"
flock -w 900 9 || die "another process holds $CACHE/lock"

export DEBIAN_FRONTEND=noninteractive
updated=0
apt_update() {
	((updated)) && return 0
	log "apt-get update"
	apt-get update -q >/dev/null || die "apt-get update failed"
	updated=1
}

if ((${#missing[@]})); then
	log "installing: ${missing[*]}"
	apt_update
	apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null ||
		die "apt-get install ${missing[*]} failed"
	for p in "${missing[@]}"; do
		installed "$p" || die "failed to install $p"
	done
fi

if ((!update)) && kernel_ok "$CACHE/kernel/current"; then
	log "kernel $(readlink "$CACHE/kernel/current") is in place ($(cat "$CACHE/kernel/current/PACKAGE"))"
	exit 0
fi

# The versioned package behind the metapackage, e.g.
# linux-image-6.1.0-56-cloud-amd64.
resolve_pkg() {
	apt-cache depends "$KERNEL_META" 2>/dev/null |
		awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }'
}
if [[ -z $KERNEL_PKG ]]; then
	((update)) && apt_update
	KERNEL_PKG=$(resolve_pkg)
	if [[ -z $KERNEL_PKG ]]; then
		apt_update
		KERNEL_PKG=$(resolve_pkg)
	fi
	[[ -n $KERNEL_PKG ]] || die "cannot resolve $KERNEL_META to a linux-image package"
fi
[[ $KERNEL_PKG =~ ^linux-image-([0-9][0-9a-z.+-]*)$ ]] || die "not a kernel image package: $KERNEL_PKG"
release=${BASH_REMATCH[1]}

debs=$CACHE/debs
mkdir -p "$debs"
# apt downloads as the _apt user when it can write the directory.
if id _apt >/dev/null 2>&1; then chown _apt:root "$debs"; fi
download() {
	rm -f "$debs/${KERNEL_PKG}"_*.deb
	(cd "$debs" && apt-get download -q "$KERNEL_PKG" >/dev/null 2>"$CACHE/download.err")
}
log "downloading $KERNEL_PKG"
if ! download; then
	# Stale package lists name a version the mirror no longer has.
	apt_update
	download || {
		cat "$CACHE/download.err" >&2
		die "apt-get download $KERNEL_PKG failed"
	}
fi
rm -f "$CACHE/download.err"
deb=$(find "$debs" -maxdepth 1 -name "${KERNEL_PKG}_*.deb" | head -n1)
[[ -n $deb ]] || die "downloaded package for $KERNEL_PKG not found in $debs"
version=$(dpkg-deb -f "$deb" Version)

stage=$CACHE/kernel/.unpack.$$
trap 'rm -rf "$stage"' EXIT
rm -rf "$stage"
mkdir -p "$stage/x"
dpkg-deb -x "$deb" "$stage/x"
[[ -f $stage/x/boot/vmlinuz-$release && -d $stage/x/lib/modules/$release ]] ||
	die "$deb has no boot/vmlinuz-$release or lib/modules/$release"
out=$stage/out
mkdir -p "$out"
mv "$stage/x/boot/vmlinuz-$release" "$out/vmlinuz"
mv "$stage/x/boot/config-$release" "$out/config"
# depmod -b wants BASE/lib/modules/RELEASE.
depmod -b "$stage/x" "$release" || die "depmod failed for $release"
mv "$stage/x/lib/modules/$release" "$out/modules"
echo "$KERNEL_PKG $version" >"$out/PACKAGE"

# What the lane relies on; a future cloud kernel that drops one of these
# needs an initramfs (see tests/vm/README.md).
for opt in CONFIG_EXT4_FS CONFIG_BLK_DEV_NVME CONFIG_CGROUPS CONFIG_MEMCG CONFIG_CGROUP_PIDS \
	CONFIG_CFS_BANDWIDTH CONFIG_USER_NS CONFIG_SERIAL_8250_CONSOLE CONFIG_DEVTMPFS; do
	grep -qx "$opt=y" "$out/config" || die "$KERNEL_PKG lacks $opt=y, which tests/vm needs built in"
done

rm -rf "$CACHE/kernel/$release"
mv "$out" "$CACHE/kernel/$release"
ln -sfn "$release" "$CACHE/kernel/current.new"
mv -T "$CACHE/kernel/current.new" "$CACHE/kernel/current"
# Older kernels and packages are of no use any more.
for d in "$CACHE"/kernel/*/; do
	d=${d%/}
	[[ -L $d || ${d##*/} == "$release" ]] || rm -rf "$d"
done
for f in "$debs"/*.deb; do
	[[ $f == "$deb" ]] || rm -f "$f"
done
log "kernel $release ($KERNEL_PKG $version) unpacked in $CACHE/kernel/$release"
