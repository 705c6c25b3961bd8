# shellcheck shell=bash
# Shared by benchmarks that run a private vsd (disk.sh, snapshot.sh; run.sh
# and lifecycle.sh take only bench_lxc_conf, cr.sh and migrate.sh only
# wait_file): source it after `set -euo pipefail`, then call
# bench_vsd_start.
#   bench_setup NAME   repo, binaries, a temp dir /tmp/vsd-NAME-XXXXXX
#                      (tmp), VSD_SOCKET, a cgroup parent of its own, the
#                      vsctl function and the EXIT trap that destroys what
#                      the private vsd made, stops it, unmounts and removes
#                      the temp dir and the cgroup parent
#   bench_vsd_start [VSD-OPTION...]
#                      start the private vsd (root, run dir, id registry
#                      under tmp), wait for its socket, build the busybox
#                      template
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
vsd_bin=$repo/build/vsd
vsctl_bin=$repo/build/vsctl
vsd_pid=""
vsctl() { "$vsctl_bin" "$@"; }

bench_cleanup() {
	trap - EXIT
	set +e
	if [[ -n "$vsd_pid" ]]; then
		for d in "$tmp"/root/containers/*/; do
			[[ -d "$d" ]] && vsctl destroy --force "$(basename "$d")" >/dev/null 2>&1
		done
		kill "$vsd_pid" 2>/dev/null
		wait "$vsd_pid" 2>/dev/null
	fi
	awk -v p="$tmp/" 'index($5, p) == 1 { print length($5) " " $5 }' /proc/self/mountinfo |
		sort -rn | cut -d' ' -f2- | while read -r m; do umount -l "$m"; done
	rm -rf --one-file-system "$tmp"
	# The instance's (empty) cgroup parent in every hierarchy.
	for d in /sys/fs/cgroup/*/"$cg_parent" /sys/fs/cgroup/"$cg_parent"; do
		[[ -d "$d" ]] && find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
	done
}

# bench_median_p90 FILE DECIMALS: "median p90" of the numbers in FILE
# (microseconds), in ms with DECIMALS decimals; "- -" when it is empty.
# wait_file PATH SECONDS: until PATH exists; the caller's die after SECONDS
wait_file() {
	local n=0
	until [[ -e "$1" ]]; do
		((n++ < $2 * 20)) || die "timed out waiting for $1"
		sleep 0.05
	done
}

bench_median_p90() {
	sort -n "$1" | awk -v d="$2" '
		{ v[NR] = $1 }
		END {
			if (NR == 0) { print "- -"; exit }
			m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
			i = int(NR * 0.9 + 0.999999); if (i < 1) i = 1; if (i > NR) i = NR
			printf "%.*f %.*f\n", d, m / 1000, d, v[i] / 1000
		}'
}

# bench_lxc_conf FILE ROOTFS CGROUP: the LXC peer's configuration (as
# bench/run.sh and bench/lifecycle.sh run it): privileged, no network, its
# own init, ROOTFS used in place, cgroups under CGROUP (payload, monitor).
bench_lxc_conf() {
	cat >"$1" <<CONF
lxc.rootfs.path = dir:$2
lxc.uts.name = benchlxc
lxc.net.0.type = empty
lxc.mount.auto = proc:mixed sys:ro
lxc.autodev = 1
lxc.tty.max = 0
lxc.pty.max = 16
lxc.apparmor.profile = unconfined
lxc.cgroup.dir.container = $3/payload
lxc.cgroup.dir.monitor = $3/monitor
lxc.log.level = ERROR
CONF
}

bench_setup() {
	[[ -x "$vsd_bin" && -x "$vsctl_bin" ]] || { echo "bench: build first (make)" >&2; exit 1; }
	((EUID == 0)) || { echo "bench: run me as root" >&2; exit 1; }
	tmp=$(mktemp -d "/tmp/vsd-$1-XXXXXX")
	chmod 0755 "$tmp"
	export VSD_SOCKET=$tmp/run/vsd.sock
	cg_parent=vsd-$1-$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
	trap bench_cleanup EXIT
}

bench_vsd_start() {
	mkdir -p "$tmp/root" "$tmp/run" "$tmp/idmaps"
	"$vsd_bin" --root "$tmp/root" --run-dir "$tmp/run" --cgroup-parent "$cg_parent" \
		--idmap-registry "$tmp/idmaps" "$@" >"$tmp/vsd.log" 2>&1 &
	vsd_pid=$!
	for _ in $(seq 100); do [[ -S "$VSD_SOCKET" ]] && break; sleep 0.1; done
	vsctl template build busybox --from busybox >/dev/null 2>&1
}
