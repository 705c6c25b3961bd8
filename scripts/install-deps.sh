#!/bin/bash
# Install what vsd needs to build, run, test and benchmark on Debian 12.
# Idempotent: asks dpkg which packages are missing and installs only those
# (running `apt-get update` only when something has to be installed).
# Run as root. Prints what it installs; exits non-zero on failure.
set -euo pipefail

build_pkgs=(gcc make pkg-config libcap-dev libseccomp-dev libmnl-dev libyajl-dev
	libmicrohttpd-dev libarchive-dev libcmocka-dev clang-format libgnutls28-dev libnftnl-dev
	libwslay-dev libcrypt-dev nettle-dev libmount-dev)
# libnftnl-dev: the firewall speaks nf_tables netlink itself (netns/fw-nl.c),
# one batch per change with nothing fetched first; libnftables fetched the
# whole table before every command, which grew with every container.
# libwslay-dev: WebSocket (RFC 6455) framing of the exec and console streams.
# libcrypt-dev (libxcrypt): crypt(3) hashes (yescrypt) of the root passwords a
# hosting panel sets (daemon/creds.c).
# libgnutls28-dev: TLS for the HTTPS API and remote vsctl, SHA-256 for
# template digests (GnuTLS is already linked through libmicrohttpd).
# libmount-dev (util-linux): the one parser of /proc/PID/mountinfo
# (lib/vs_mountinfo.c).
# nettle-dev: SHA-256 and HMAC of checkpoint image digests in the monitor
# (vsd-helper), which loads no GnuTLS.
# The daemon writes id maps itself as root, so uidmap (newuidmap) is not needed.
# e2fsprogs: mkfs.ext4, e2fsck and resize2fs for the per-container disk images.
# rsync: copies of a container's own layer (checkpoints, snapshots; fs-cow/layer.c).
run_pkgs=(busybox-static debootstrap iproute2 e2fsprogs lxcfs rsync)
test_pkgs=(bats curl python3 python3-websockets python3-jsonschema python3-prometheus-client procps util-linux zstd tar qemu-system-x86
	kmod openssl attr acl)
# openssl: tls.bats makes client certificates with `openssl req` (vsd and
# vsctl themselves use GnuTLS).
# attr, acl: peer.bats gives a layer xattrs (setfattr) and ACLs (setfacl) and
# compares them after an rsync over TLS.
bench_pkgs=(crun lxc iperf3 libcurl4-gnutls-dev)
# libcurl4-gnutls-dev: bench/api-load.c, the REST API load generator.

usage() {
	echo "usage: $0 [--check]" >&2
	echo "  --check  only list missing packages; exit 1 if any are missing" >&2
}

check_only=0
case "${1:-}" in
"") ;;
--check) check_only=1 ;;
-h | --help)
	usage
	exit 0
	;;
*)
	usage
	exit 2
	;;
esac

# shellcheck source=scripts/apt-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/apt-lib.sh"

missing=()
for p in "${build_pkgs[@]}" "${run_pkgs[@]}" "${test_pkgs[@]}" "${bench_pkgs[@]}"; do
	installed "$p" || missing+=("$p")
done

here=$(dirname "$0")
# Beyond Debian 12's packages: CRIU 4.3 in a private prefix (checkpoint and
# restore; Debian 12's own criu fails on this kernel) and Debian's cloud
# kernel for the pure cgroup v2 test lane. Both scripts are idempotent.
extras() {
	# shellcheck disable=SC2046 # no argument at all unless --check
	"$here/install-criu.sh" $( ((check_only)) && echo --check) &&
		"$here/install-vm-deps.sh" $( ((check_only)) && echo --check)
}

if ((${#missing[@]} == 0)); then
	echo "install-deps: all Debian packages are installed"
	extras
	exit $?
fi
if ((check_only)); then
	echo "install-deps: missing: ${missing[*]}"
	exit 1
fi
if ((EUID != 0)); then
	echo "install-deps: missing ${missing[*]}; run me as root" >&2
	exit 1
fi

echo "install-deps: installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"

still=()
for p in "${missing[@]}"; do
	installed "$p" || still+=("$p")
done
if ((${#still[@]})); then
	echo "install-deps: failed to install: ${still[*]}" >&2
	exit 1
fi
echo "install-deps: installed: ${missing[*]}"
extras
