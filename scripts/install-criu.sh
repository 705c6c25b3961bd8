#!/bin/bash
# Install a CRIU that works on this kernel into a private prefix, for vsd.
#
# Why not `apt-get install criu`: Debian 12's criu 3.17 fails on kernels >= 6.x
# here (vDSO bounds), Debian 13's 4.1.1 cannot dump TCP sockets on kernels
# >= 6.16 nor restore a veth in a user namespace. CRIU 4.3 (Debian
# experimental) works, but it and about twenty of its libraries come from sid
# and need sid's libc. So they are fetched with a PRIVATE apt configuration
# (the system's sources, lists, pins and dpkg status are never touched),
# unpacked with `dpkg-deb -x` into $PREFIX (never over the system's libc),
# and $PREFIX/bin/criu is a copy of the criu binary whose ELF interpreter and
# DT_RPATH point into the prefix (patchelf), so it runs on the host like any
# program: /proc/self/exe is criu itself, and the programs it executes
# (iptables-restore, ip, action scripts) get the host's loader and libraries.
# If patchelf is unavailable or the patched copy does not run, bin/criu is a
# shell wrapper that runs the pristine binary through the prefix's loader
# (`ld-linux-x86-64.so.2 --library-path`, which unlike LD_LIBRARY_PATH is not
# inherited by those child programs).
#
# Layout:
#   $PREFIX/usr/...          the unpacked packages (usr/sbin/criu untouched)
#   $PREFIX/bin/criu         what vsd runs (patched binary or loader wrapper)
#   $PREFIX/INSTALLED        package list (name=version), method, date
#   $CACHE/apt/              private apt sources, lists, caches, empty status
#   $CACHE/debs/             downloaded .debs (verified by apt against the
#                            signed Release files)
#
# Idempotent: does nothing when $PREFIX/bin/criu already passes `criu check`
# with a recent enough version (unless --force). Exits 0 when a working criu
# is in place (verified by `criu check`), non-zero with a message otherwise.
# Runs on a fresh Debian 12 (amd64) machine with only Debian mirrors reachable.
set -euo pipefail

PREFIX=${VSD_CRIU_PREFIX:-/opt/vsd/criu}
CACHE=${VSD_CRIU_CACHE:-/var/cache/vsd-criu}
MIRROR=${VSD_CRIU_MIRROR:-http://deb.debian.org/debian}
KEYRING=${VSD_CRIU_KEYRING:-/usr/share/keyrings/debian-archive-keyring.gpg}
# The version known to work here; when experimental drops it (e.g. once 4.3
# or later reaches sid), the newest available version >= CRIU_MIN is used.
CRIU_VERSION=${VSD_CRIU_VERSION:-4.3-1~exp2}
CRIU_MIN=4.3
# Host (Debian 12) packages CRIU executes: iptables for iptables-save/-restore
# (netns dump and restore, the iptables network lock), iproute2 for `ip`
# (CRIU saves and restores a netns's addresses, routes and rules with it).
RUN_PKGS=(iptables iproute2)
# Needed only here, to point the copy of criu at the prefix.
INSTALL_PKGS=(patchelf)
LIBDIR=usr/lib/x86_64-linux-gnu
LOADER=ld-linux-x86-64.so.2

log() { echo "install-criu: $*"; }
die() {
	echo "install-criu: error: $*" >&2
	exit 1
}

usage() {
	cat >&2 <<EOF
usage: $0 [--check] [--force] [--method patchelf|loader]
  --check    only verify the installed criu; exit 1 if it is missing or broken
  --force    reinstall even when a working criu is in place
  --method   how bin/criu reaches its libraries (default: patchelf, falling
             back to loader)
environment: VSD_CRIU_PREFIX ($PREFIX), VSD_CRIU_CACHE ($CACHE),
  VSD_CRIU_VERSION ($CRIU_VERSION), VSD_CRIU_MIRROR ($MIRROR)
EOF
}

check_only=0 force=0 method=patchelf
while (($#)); do
	case "$1" in
	--check) check_only=1 ;;
	--force) force=1 ;;
	--method)
		(($# >= 2)) || {
			usage
			exit 2
		}
		method=$2
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
[[ $method == patchelf || $method == loader ]] || die "--method must be patchelf or loader, not '$method'"

# shellcheck source=scripts/apt-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/apt-lib.sh"

# criu_version BIN: print the "4.3" of `BIN --version`, or nothing.
criu_version() {
	"$1" --version 2>/dev/null | sed -n 's/^Version: *\([0-9][0-9.]*\).*/\1/p' | head -n1
}

# verify BIN: `criu check` must pass and the version must be >= CRIU_MIN.
verify() {
	local bin=$1 ver out
	[[ -x $bin ]] || return 1
	ver=$(criu_version "$bin")
	if [[ -z $ver ]]; then
		log "$bin --version failed"
		return 1
	fi
	if ! dpkg --compare-versions "$ver" ge "$CRIU_MIN"; then
		log "$bin is criu $ver, older than $CRIU_MIN"
		return 1
	fi
	if ! out=$("$bin" check 2>&1); then
		log "$bin check failed:"
		printf '%s\n' "$out" | sed 's/^/    /' >&2
		return 1
	fi
	log "$bin: criu $ver, check: $(printf '%s\n' "$out" | grep -v '^Warn' | tail -n1)"
}

# Optional features: reported, never fatal.
report_features() {
	local bin=$1 f
	for f in uffd-noncoop mem_dirty_track network_lock_nftables; do
		if "$bin" check --feature "$f" >/dev/null 2>&1; then
			log "  feature $f: yes"
		else
			log "  feature $f: no"
		fi
	done
}

if ((check_only)); then
	for p in "${RUN_PKGS[@]}"; do
		installed "$p" || die "host package $p (run by criu) is not installed"
	done
	verify "$PREFIX/bin/criu" || die "no working criu in $PREFIX (run $0 as root)"
	report_features "$PREFIX/bin/criu"
	exit 0
fi

((EUID == 0)) || die "run me as root"
[[ "$(dpkg --print-architecture)" == amd64 ]] || die "only amd64 is supported (this is $(dpkg --print-architecture))"

mkdir -p "$CACHE"
# Two engineers (or a CI run) installing at once must not interleave.
exec 9>"$CACHE/lock"
flock -w 900 9 || die "another install-criu holds $CACHE/lock"

install_host_pkgs() {
	local missing=() p
	for p in "${RUN_PKGS[@]}" "${INSTALL_PKGS[@]}"; do
		installed "$p" || missing+=("$p")
	done
	((${#missing[@]})) || return 0
	log "installing host packages: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	apt-get install -y -q --no-install-recommends "${missing[@]}"
}

if ((!force)) && verify "$PREFIX/bin/criu" 2>/dev/null; then
	install_host_pkgs
	log "a working criu is already installed in $PREFIX (use --force to reinstall)"
	report_features "$PREFIX/bin/criu"
	exit 0
fi

install_host_pkgs
[[ $method == loader ]] || installed patchelf || {
	log "patchelf missing: using the loader wrapper"
	method=loader
}

# --- Private apt configuration ----------------------------------------------
A=$CACHE/apt
mkdir -p "$A/sources.list.d" "$A/preferences.d" "$A/lists/partial" \
	"$A/cache/archives/partial" "$CACHE/debs"
: >"$A/status.new" && mv "$A/status.new" "$A/status"
cat >"$A/sources.list" <<EOF
deb [arch=amd64 signed-by=$KEYRING] $MIRROR sid main
deb [arch=amd64 signed-by=$KEYRING] $MIRROR experimental main
EOF
# Own lists, caches, pins and an empty dpkg status: the resolution below is
# "what a machine with nothing installed needs", and the system's apt state
# is neither read for pins nor written.
APT_OPTS=(-o "Dir::Etc::SourceList=$A/sources.list"
	-o "Dir::Etc::SourceParts=$A/sources.list.d"
	-o "Dir::Etc::Preferences=$A/preferences"
	-o "Dir::Etc::PreferencesParts=$A/preferences.d"
	-o "Dir::State::Lists=$A/lists"
	-o "Dir::State::status=$A/status"
	-o "Dir::State::extended_states=$A/extended_states"
	-o "Dir::Cache=$A/cache"
	-o "APT::Architecture=amd64"
	-o "APT::Install-Recommends=false" -o "APT::Default-Release=")

log "updating the private package lists (sid, experimental) in $A"
if ! apt-get "${APT_OPTS[@]}" update -q >"$CACHE/update.log" 2>&1 ||
	grep -qE '^(W|E):.*(NO_PUBKEY|not signed|signature)' "$CACHE/update.log"; then
	cat "$CACHE/update.log" >&2
	die "apt-get update of sid/experimental failed; if the error is a missing key, upgrade debian-archive-keyring (apt-get install debian-archive-keyring) or set VSD_CRIU_KEYRING"
fi

# Pick the criu version: the known-good one, else the newest >= CRIU_MIN.
mapfile -t avail < <(apt-cache "${APT_OPTS[@]}" madison criu | awk -F'|' '{gsub(/ /,"",$2); print $2}')
version=""
for v in "${avail[@]}"; do
	[[ $v == "$CRIU_VERSION" ]] && version=$v
done
if [[ -z $version ]]; then
	for v in "${avail[@]}"; do
		dpkg --compare-versions "$v" ge "$CRIU_MIN" || continue
		if [[ -z $version ]] || dpkg --compare-versions "$v" gt "$version"; then
			version=$v
		fi
	done
	[[ -n $version ]] || die "no criu >= $CRIU_MIN in sid or experimental (available: ${avail[*]:-none})"
	log "criu $CRIU_VERSION is not in the archive (any more); using $version"
fi

# The dependency closure, resolved by apt itself against the empty status.
mapfile -t pkgs < <(apt-get "${APT_OPTS[@]}" -s install "criu=$version" "libcompel1=$version" 2>"$CACHE/resolve.err" |
	awk '/^Inst /{v=$3; sub(/^\(/, "", v); print $2 "=" v}')
if ((${#pkgs[@]} == 0)); then
	cat "$CACHE/resolve.err" >&2
	die "could not resolve the dependencies of criu=$version"
fi
log "packages (${#pkgs[@]}): ${pkgs[*]}"

log "downloading into $CACHE/debs"
# apt drops privileges to _apt for downloads; let it write there.
if id _apt >/dev/null 2>&1; then chown _apt:root "$CACHE/debs"; fi
(cd "$CACHE/debs" && apt-get "${APT_OPTS[@]}" download -q "${pkgs[@]}") ||
	die "apt-get download failed"

# --- Unpack into a staging directory, then swap it in ----------------------
stage=$PREFIX.new.$$
trap 'rm -rf "$stage"' EXIT
rm -rf "$stage"
mkdir -p "$stage/bin"
declare -A used=()
for p in "${pkgs[@]}"; do
	name=${p%%=*} ver=${p#*=}
	# Debian file names spell the epoch's colon as %3a.
	deb=$(find "$CACHE/debs" -maxdepth 1 -name "${name}_${ver//:/%3a}_*.deb" | head -n1)
	[[ -n $deb ]] || die "downloaded package for $p not found in $CACHE/debs"
	dpkg-deb -x "$deb" "$stage"
	used[$deb]=1
done
# Older versions from earlier runs are of no use any more.
for deb in "$CACHE"/debs/*.deb; do
	[[ -n ${used[$deb]:-} ]] || rm -f "$deb"
done
[[ -x $stage/usr/sbin/criu && -x $stage/$LIBDIR/$LOADER ]] ||
	die "unpacked packages lack usr/sbin/criu or $LIBDIR/$LOADER"

# Before the swap, check the unpacked tree through its own loader (that
# works from any location, unlike the patched copy made below).
"$stage/$LIBDIR/$LOADER" --library-path "$stage/$LIBDIR" "$stage/usr/sbin/criu" --version >/dev/null ||
	die "the unpacked criu does not start through its loader"

write_wrapper() {
	cat >"$1/bin/criu" <<EOF
#!/bin/sh
# Written by vsd's scripts/install-criu.sh: run CRIU from $PREFIX through its
# own loader and libraries (sid libc), leaving the host's untouched.
exec "$PREFIX/$LIBDIR/$LOADER" --argv0 criu --library-path "$PREFIX/$LIBDIR" \\
	"$PREFIX/usr/sbin/criu" "\$@"
EOF
	chmod 0755 "$1/bin/criu"
}

if [[ $method == patchelf ]]; then
	cp "$stage/usr/sbin/criu" "$stage/bin/criu"
	# DT_RPATH (--force-rpath), not DT_RUNPATH: RUNPATH would only cover
	# criu's direct dependencies, and libgnutls's own (nettle, p11-kit, ...)
	# would then come from the host's ld.so.cache, built for another libc.
	patchelf --set-interpreter "$PREFIX/$LIBDIR/$LOADER" --force-rpath \
		--set-rpath "$PREFIX/$LIBDIR" "$stage/bin/criu" ||
		die "patchelf failed on $stage/bin/criu"
else
	write_wrapper "$stage"
fi
{
	echo "# vsd private CRIU, written by scripts/install-criu.sh"
	echo "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "method=$method"
	echo "mirror=$MIRROR"
	printf 'package %s\n' "${pkgs[@]}"
} >"$stage/INSTALLED"

old=""
if [[ -e $PREFIX ]]; then
	old=$PREFIX.old.$$
	mv "$PREFIX" "$old"
fi
mkdir -p "$(dirname "$PREFIX")"
mv "$stage" "$PREFIX"

if ! verify "$PREFIX/bin/criu"; then
	if [[ $method == patchelf ]]; then
		log "the patched binary does not work; falling back to the loader wrapper"
		method=loader
		write_wrapper "$PREFIX"
		sed -i 's/^method=.*/method=loader/' "$PREFIX/INSTALLED"
		verify "$PREFIX/bin/criu" || method=failed
	else
		method=failed
	fi
fi
if [[ $method == failed ]]; then
	rm -rf "$PREFIX"
	if [[ -n $old ]]; then
		mv "$old" "$PREFIX"
		log "restored the previous $PREFIX"
	fi
	die "criu $version from $CACHE/debs does not pass 'criu check' on this machine"
fi
[[ -z $old ]] || rm -rf "$old"
log "installed criu $version in $PREFIX ($method); run it as $PREFIX/bin/criu"
report_features "$PREFIX/bin/criu"
