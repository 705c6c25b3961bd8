#!/bin/bash
# vsd against its peers on this machine: figures and ratios, never a
# pass/fail. Run as root after `make` (or via `make bench`).
#
# All three run /bin/true from the same busybox rootfs (taken from a vsd
# busybox template built in a private vsd instance under /tmp), with the
# same namespaces, alternating run by run:
#   vsd    create, start (returns once init has been exec'd), exec of true,
#          stop, destroy; unprivileged (user namespace 0 -> 1000000+, an
#          id-mapped overlay over the template), a busybox init inside
#   lxc    lxc-execute -- /bin/true (LXC 5, privileged: no user namespace;
#          its own init.lxc, no container init, rootfs used in place)
#   crun   crun run of /bin/true with an OCI config (pid, mount, uts, ipc,
#          network, cgroup and user namespaces, uid/gid map 0 -> 1000000
#          x 65536), inside a private mount namespace where cgroup2 is
#          mounted over /sys/fs/cgroup (crun refuses hybrid hosts), with
#          --cgroup-manager=disabled: no cgroup at all
# Then the create time on a small and a 200 MB template (copy-on-write:
# should not depend on the template's size).
#
# Environment: BENCH_RUNS (default 20), BENCH_BIG_MB (default 200).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$repo/bench/lib.sh" # bench_lxc_conf, bench_median_p90
runs=${BENCH_RUNS:-20}
big_mb=${BENCH_BIG_MB:-200}
vsd_bin=$repo/build/vsd
vsctl_bin=$repo/build/vsctl

((EUID == 0)) || {
	echo "bench: run me as root" >&2
	exit 1
}
for b in "$vsd_bin" "$vsctl_bin"; do
	[[ -x "$b" ]] || {
		echo "bench: $b missing: run make" >&2
		exit 1
	}
done
have_lxc=0 have_crun=0
command -v lxc-execute >/dev/null && have_lxc=1
command -v crun >/dev/null && command -v unshare >/dev/null && have_crun=1

tmp=$(mktemp -d /tmp/vsd-bench-XXXXXX)
chmod 0755 "$tmp" # the containers' mapped root must reach its layers
rand=$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
cg_parent=vsd-bench-$rand
lxc_cg=vsd-bench-$rand-lxc
export VSD_SOCKET=$tmp/run/vsd.sock
vsd_pid=""

vsctl() { "$vsctl_bin" "$@"; }

# ------------------------------------------------------------------ cleanup

cleanup() {
	local rc=$? d pid f m
	trap - EXIT INT TERM
	set +e
	# The signal may have come while a timed function ran with its output
	# redirected (t_us): talk to the original stdout/stderr again.
	exec 1>&8 2>&9
	echo "bench: cleaning up" >&2
	if [[ -n "$vsd_pid" ]] && kill -0 "$vsd_pid" 2>/dev/null; then
		for d in "$tmp"/root/containers/*/; do
			[[ -d "$d" ]] && timeout 20 "$vsctl_bin" destroy --force "$(basename "$d")" >/dev/null 2>&1
		done
		kill "$vsd_pid" 2>/dev/null
		for _ in $(seq 50); do kill -0 "$vsd_pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$vsd_pid" 2>/dev/null
	fi
	if ((have_lxc)) && [[ -d "$tmp/lxcpath" ]]; then
		for d in "$tmp"/lxcpath/*/; do
			[[ -d "$d" ]] && lxc-stop -k -P "$tmp/lxcpath" -n "$(basename "$d")" >/dev/null 2>&1
		done
	fi
	if ((have_crun)) && [[ -d "$tmp/crun" ]]; then
		for f in "$tmp"/crun/*/; do
			[[ -d "$f" ]] && crun --root "$tmp/crun" delete -f "$(basename "$f")" >/dev/null 2>&1
		done
	fi
	# Processes still in our cgroups (only ours: named after $rand).
	for _ in 1 2 3 4 5; do
		m=0
		while read -r f; do
			while read -r pid; do
				[[ -n "$pid" ]] && kill -KILL "$pid" 2>/dev/null && m=1
			done <"$f"
		done < <(find /sys/fs/cgroup/*/"$cg_parent" /sys/fs/cgroup/*/"$lxc_cg" \
			/sys/fs/cgroup/"$cg_parent" /sys/fs/cgroup/"$lxc_cg" -name cgroup.procs 2>/dev/null)
		((m)) || break
		sleep 0.2
	done
	# Processes named after our temp dir (vsd monitors).
	for f in /proc/[0-9]*/cmdline; do
		pid=${f#/proc/}
		pid=${pid%/cmdline}
		[[ "$pid" == "$$" ]] && continue
		{ tr '\0' ' ' <"$f"; } 2>/dev/null | grep -qF "$tmp/" && kill -KILL "$pid" 2>/dev/null
	done
	sleep 0.2
	# Mounts under our temp dir, deepest first.
	awk -v p="$tmp/" 'index($5, p) == 1 { print length($5) " " $5 }' /proc/self/mountinfo |
		sort -rn | cut -d' ' -f2- | while read -r m; do umount -l "$m"; done
	for d in /sys/fs/cgroup/*/"$cg_parent" /sys/fs/cgroup/*/"$lxc_cg" \
		/sys/fs/cgroup/"$cg_parent" /sys/fs/cgroup/"$lxc_cg"; do
		[[ -d "$d" ]] && find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
	done
	rm -rf --one-file-system "$tmp"
	exit "$rc"
}
exec 8>&1 9>&2 # see cleanup
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ------------------------------------------------------------------ timing

# t_us VAR CMD...: run CMD (output discarded), store its wall time in
# microseconds in VAR. Fails if CMD fails.
t_us() {
	local __var=$1 t0 t1
	shift
	t0=${EPOCHREALTIME/./}
	"$@" >/dev/null 2>>"$tmp/errors.log" || {
		echo "bench: failed: $* (see below)" >&2
		tail -n 5 "$tmp/errors.log" >&2
		return 1
	}
	t1=${EPOCHREALTIME/./}
	printf -v "$__var" '%s' $((t1 - t0))
}

# record SERIES MICROSECONDS
record() { echo "$2" >>"$tmp/series.$1"; }

# stats SERIES: "median p90" in ms with two decimals.
stats() { bench_median_p90 "$tmp/series.$1" 2; }
median_ms() { stats "$1" | cut -d' ' -f1; }

# ------------------------------------------------------------------ setup

echo "bench: private vsd instance in $tmp (cgroup parent $cg_parent)"
mkdir -p "$tmp/root" "$tmp/run" "$tmp/idmaps"
setsid "$vsd_bin" --root "$tmp/root" --run-dir "$tmp/run" --socket "$VSD_SOCKET" \
	--cgroup-parent "$cg_parent" --idmap-registry "$tmp/idmaps" \
	</dev/null >>"$tmp/vsd.log" 2>&1 8>&- 9>&- &
vsd_pid=$!
for _ in $(seq 100); do
	curl -s --max-time 2 --unix-socket "$VSD_SOCKET" -o /dev/null http://vsd/v1/node && break
	sleep 0.1
done
vsctl list >/dev/null || {
	echo "bench: vsd did not come up:" >&2
	tail -n 20 "$tmp/vsd.log" >&2
	exit 1
}
vsctl template build busybox --from busybox >/dev/null 2>&1
tpl_rootfs=$tmp/root/templates/busybox/rootfs
[[ -x "$tpl_rootfs/bin/busybox" ]] || {
	echo "bench: busybox template has no /bin/busybox" >&2
	exit 1
}

# The peers get a copy of the same rootfs (LXC and crun may write into the
# root they are given; the template stays vsd's).
cp -a "$tpl_rootfs" "$tmp/rootfs"
[[ -e "$tmp/rootfs/bin/true" || -L "$tmp/rootfs/bin/true" ]] || ln -s busybox "$tmp/rootfs/bin/true"

if ((have_lxc)); then
	mkdir -p "$tmp/lxcpath"
	bench_lxc_conf "$tmp/lxc.conf" "$tmp/rootfs" "$lxc_cg"
	lxc_run() { lxc-execute -n benchlxc -P "$tmp/lxcpath" -f "$tmp/lxc.conf" -- /bin/true; }
	lxc_run >/dev/null 2>&1 || {
		echo "bench: lxc-execute does not work here; skipping LXC" >&2
		have_lxc=0
	}
fi

if ((have_crun)); then
	mkdir -p "$tmp/bundle" "$tmp/crun"
	ln -s ../rootfs "$tmp/bundle/rootfs"
	cat >"$tmp/bundle/config.json" <<'JSON'
{
  "ociVersion": "1.0.2",
  "process": {
    "terminal": false, "user": {"uid": 0, "gid": 0}, "args": ["/bin/true"],
    "env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"], "cwd": "/", "noNewPrivileges": true,
    "capabilities": {
      "bounding": ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_NET_BIND_SERVICE"],
      "effective": ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_NET_BIND_SERVICE"],
      "permitted": ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_NET_BIND_SERVICE"]
    }
  },
  "root": {"path": "rootfs", "readonly": true},
  "hostname": "benchcrun",
  "mounts": [
    {"destination": "/proc", "type": "proc", "source": "proc"},
    {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
    {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]},
    {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
    {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]}
  ],
  "linux": {
    "uidMappings": [{"containerID": 0, "hostID": 1000000, "size": 65536}],
    "gidMappings": [{"containerID": 0, "hostID": 1000000, "size": 65536}],
    "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"},
                   {"type": "mount"}, {"type": "cgroup"}, {"type": "user"}],
    "maskedPaths": ["/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/sched_debug", "/sys/firmware"],
    "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
  }
}
JSON
	# The private mount namespace dies with the command; the host's
	# mounts are never changed.
	crun_run() {
		# shellcheck disable=SC2016 # expanded by the inner sh
		unshare -m --propagation private sh -c \
			'mount -t cgroup2 none /sys/fs/cgroup && exec crun --root "$1" --cgroup-manager=disabled run -b "$2" benchcrun' \
			sh "$tmp/crun" "$tmp/bundle"
	}
	crun_run >/dev/null 2>&1 || {
		echo "bench: crun does not work here; skipping crun" >&2
		have_crun=0
	}
fi

# ------------------------------------------------------------------ runs

# One vsd round on container b<n>: create, start, exec, graceful stop,
# then start, exec and a forced stop (SIGKILL at once), destroy. The
# graceful stop of a busybox init takes about 2 s by itself (its shutdown
# sleeps between SIGTERM and SIGKILL to all processes), so both are shown.
vsd_cycle() {
	local n=$1 c s e p s2 e2 f d
	t_us c vsctl create "b$n" --template busybox || return 1
	t_us s vsctl start "b$n" || return 1
	t_us e vsctl exec "b$n" -- /bin/true || return 1
	t_us p vsctl stop "b$n" || return 1
	t_us s2 vsctl start "b$n" || return 1
	t_us e2 vsctl exec "b$n" -- /bin/true || return 1
	t_us f vsctl stop --force "b$n" || return 1
	t_us d vsctl destroy "b$n" || return 1
	if [[ "$n" != warm ]]; then
		record vsd.create "$c"
		record vsd.start "$s"
		record vsd.start "$s2"
		record vsd.exec "$e"
		record vsd.exec "$e2"
		record vsd.stop "$p"
		record vsd.stopforce "$f"
		record vsd.destroy "$d"
		record vsd.cycle $((s + e + p))
		record vsd.cycleforce $((s2 + e2 + f))
	fi
}

x=0
echo "bench: $runs runs each, alternating vsd / lxc / crun (plus one warm-up)"
vsd_cycle warm
for i in $(seq 1 "$runs"); do
	vsd_cycle "$i"
	if ((have_lxc)); then
		t_us x lxc_run && record lxc.execute "$x"
	fi
	if ((have_crun)); then
		t_us x crun_run && record crun.run "$x"
	fi
	printf '.' >&2
done
echo >&2

# Create time on a small and a big template.
echo "bench: importing a ${big_mb} MB template"
mkdir -p "$tmp/big/srv/ballast"
cp -a "$tpl_rootfs/." "$tmp/big/"
for i in $(seq 1 "$big_mb"); do
	head -c 1048576 /dev/urandom >"$tmp/big/srv/ballast/f$i"
done
tar -C "$tmp/big" --numeric-owner -cf "$tmp/big.tar" .
rm -rf "$tmp/big"
vsctl template import big "$tmp/big.tar" >/dev/null 2>&1
rm -f "$tmp/big.tar"
for i in $(seq 1 "$runs"); do
	t_us x vsctl create "s$i" --template busybox && record create.small "$x"
	t_us x vsctl create "l$i" --template big && record create.big "$x"
done
for i in $(seq 1 "$runs"); do
	vsctl destroy "s$i" >/dev/null
	vsctl destroy "l$i" >/dev/null
done

# ------------------------------------------------------------------ report

row() {
	local label=$1 series=$2 m p
	read -r m p < <(stats "$series")
	printf '  %-34s %10s %10s\n' "$label" "$m" "$p"
}
ratio() {
	awk -v a="$(median_ms "$1")" -v b="$(median_ms "$2")" \
		'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "-" }'
}

echo
echo "vsd bench on $(uname -r), $(nproc) CPUs; $runs runs; times in ms (median, p90)"
printf '  %-34s %10s %10s\n' "step" "median" "p90"
row "vsd create" vsd.create
row "vsd start (until init exec'd)" vsd.start
row "vsd exec true" vsd.exec
row "vsd stop (graceful, busybox init)" vsd.stop
row "vsd stop --force" vsd.stopforce
row "vsd destroy" vsd.destroy
row "vsd start+exec+stop" vsd.cycle
row "vsd start+exec+stop --force" vsd.cycleforce
((have_lxc)) && row "lxc-execute /bin/true (privileged)" lxc.execute
((have_crun)) && row "crun run /bin/true (userns)" crun.run
echo
echo "ratios of medians, a vsd start+exec+stop against one whole run of the peer"
echo "(graceful stop / forced stop):"
((have_lxc)) && echo "  vsd/lxc:  $(ratio vsd.cycle lxc.execute) / $(ratio vsd.cycleforce lxc.execute)"
((have_crun)) && echo "  vsd/crun: $(ratio vsd.cycle crun.run) / $(ratio vsd.cycleforce crun.run)"
echo "  (vsd boots a busybox init, unprivileged on an id-mapped overlay, with"
echo "   cgroups, and each step is a vsctl process and a REST call; lxc-execute"
echo "   runs true under its own init.lxc, privileged (no user namespace);"
echo "   crun runs true directly, without cgroups)"
echo
echo "create time, copy-on-write (should not depend on the template's size):"
row "create on busybox template" create.small
row "create on ${big_mb} MB template" create.big
echo "  big/small: $(ratio create.big create.small)"
