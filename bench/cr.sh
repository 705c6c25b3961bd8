#!/bin/bash
# Checkpoint/restore times of vsd against the bare CRIU floor: figures and
# ratios, never a pass/fail. Run as root after `make`.
#
# For each memory size (default 0, 100 and 500 MB of touched anonymous
# memory, held by bench/cr-memhog.c compiled static):
#   vsd    a busybox container (unprivileged: user namespace, id-mapped
#          template under overlay) running cr-memhog beside its busybox
#          init; `vsctl suspend --json` and `vsctl resume --json`, figures
#          from the operation's result: frozen_ms (freeze .. kill), criu_ms,
#          total_ms (the whole operation, in the container's monitor)
#   floor  cr-memhog as pid 1 of its own pid, mount, uts and ipc namespaces
#          (unshare), pivot_root'ed into a root holding only itself;
#          `criu dump` and `criu restore --restore-detached` with the
#          generic options vsd passes (-v4 --tcp-established --file-locks).
#          frozen = CRIU's own freezing + frozen time (stats-dump), total =
#          the criu command's wall time; a restore is frozen all along
#          (as vsd reports it), so both are its wall time
# The two alternate run by run. Everything (the vsd root with the
# container's layers and suspend image, the floor's root and image) is on a
# private tmpfs, so images are written to memory for both. Medians of
# CR_BENCH_RUNS runs (default 5).
#
# Environment: CR_BENCH_RUNS (default 5), CR_BENCH_SIZES (MB, default
# "0 100 500"), VSD_CRIU (default /opt/vsd/criu/bin/criu).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$repo/bench/lib.sh" # wait_file
runs=${CR_BENCH_RUNS:-5}
sizes=${CR_BENCH_SIZES:-"0 100 500"}
criu=${VSD_CRIU:-/opt/vsd/criu/bin/criu}
vsd_bin=$repo/build/vsd
vsctl_bin=$repo/build/vsctl
PY=/usr/bin/python3
[[ -x "$PY" ]] || PY=python3

die() {
	echo "bench: $*" >&2
	exit 1
}
((EUID == 0)) || die "run me as root"
for b in "$vsd_bin" "$vsctl_bin"; do
	[[ -x "$b" ]] || die "$b missing: run make"
done
[[ -x "$criu" ]] || die "no criu at $criu (scripts/install-criu.sh)"
"$criu" check >/dev/null 2>&1 || die "$criu check fails here"
command -v gcc >/dev/null || die "gcc missing"
command -v unshare >/dev/null || die "unshare missing"
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || die "CR_BENCH_RUNS: expected a positive number, got '$runs'"
for mb in $sizes; do
	[[ "$mb" =~ ^[0-9]+$ ]] || die "CR_BENCH_SIZES: expected sizes in MB, got '$mb'"
done

tmp=$(mktemp -d /tmp/vsd-crbench-XXXXXX)
rand=$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
cg_parent=vsd-crbench-$rand
export VSD_SOCKET=$tmp/run/vsd.sock
vsd_pid=""
floor_pid="" # the floor tree's pid 1 (host pid), when one runs

vsctl() { "$vsctl_bin" "$@"; }

# ------------------------------------------------------------------ cleanup

cg_dirs() {
	local d
	for d in /sys/fs/cgroup/*/"$cg_parent" /sys/fs/cgroup/"$cg_parent"; do
		[[ -d "$d" ]] && echo "$d"
	done
}

# our_mounts: "LENGTH PATH" of the mounts at or under $tmp.
our_mounts() {
	awk -v p="$tmp" '$5 == p || index($5, p "/") == 1 { print length($5) " " $5 }' /proc/self/mountinfo
}

cleanup() {
	local d f pid m
	trap - EXIT INT TERM
	set +e
	exec 1>&8 2>&9
	echo "bench: cleaning up" >&2
	[[ -n "$floor_pid" ]] && kill -KILL "$floor_pid" 2>/dev/null
	if [[ -n "$vsd_pid" ]] && kill -0 "$vsd_pid" 2>/dev/null; then
		for d in "$tmp"/root/containers/*/; do
			[[ -d "$d" ]] && timeout 30 "$vsctl_bin" destroy --force "$(basename "$d")" >/dev/null 2>&1
		done
		kill "$vsd_pid" 2>/dev/null
		for _ in $(seq 50); do kill -0 "$vsd_pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$vsd_pid" 2>/dev/null
	fi
	# Whatever still runs in our cgroups, then processes naming our dir
	# (monitors, a floor tree's unshare parent).
	for _ in 1 2 3 4 5; do
		m=""
		for d in $(cg_dirs); do
			m+=" $(find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null)"
		done
		[[ -z "${m// /}" ]] && break
		for pid in $m; do kill -KILL "$pid" 2>/dev/null; done
		sleep 0.2
	done
	for f in /proc/[0-9]*/cmdline; do
		pid=${f#/proc/}
		pid=${pid%/cmdline}
		[[ "$pid" == "$$" ]] && continue
		if { tr '\0' ' ' <"$f"; } 2>/dev/null | grep -qF "$tmp/"; then
			kill -KILL "$pid" 2>/dev/null
		fi
	done
	sleep 0.2
	for d in $(cg_dirs); do
		find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
	done
	for d in $(cg_dirs); do echo "bench: cgroup $d could not be removed" >&2; done
	# Mounts under our dir (container roots, then the tmpfs), deepest first.
	for _ in 1 2 3; do
		m=$(our_mounts |
			sort -rn | cut -d' ' -f2-)
		[[ -z "$m" ]] && break
		while read -r d; do umount -l "$d" 2>/dev/null; done <<<"$m"
	done
	if [[ -z "$(our_mounts)" ]]; then
		rm -rf --one-file-system "$tmp"
	else
		echo "bench: mounts left under $tmp" >&2
	fi
}
exec 8>&1 9>&2
on_int() { exit 130; }
on_term() { exit 143; }
trap cleanup EXIT
trap on_int INT
trap on_term TERM

# ------------------------------------------------------------------ helpers

now_ns() { date +%s%N; }

# median of the numbers on stdin (one per line), printed with one decimal
median() {
	sort -n | awk '{ v[NR] = $1 } END {
		if (NR == 0) { print "-"; exit }
		m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf "%.1f\n", m }'
}

# json_field KEY: a top-level number of the JSON on stdin
json_field() { "$PY" -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

# criu_stats FILE: "freezing_us frozen_us" from a CRIU stats-dump image (a
# protobuf stats_entry { dump_stats_entry dump = 1 } after two magics and a
# size), or "- -" when there is none.
criu_stats() { "$PY" "$repo/bench/criu-stats.py" "$1"; }

# ---------------------------------------------------------------- the setup

# One tmpfs for everything: the vsd root (template, layers, suspend
# images), the floor's root and images. 0755: the containers' mapped root
# must reach its layers.
mount -t tmpfs -o mode=0755,size=8g vsd-crbench "$tmp"
mkdir -p "$tmp/root" "$tmp/run" "$tmp/idmaps" "$tmp/floor/root" "$tmp/floor/img" "$tmp/data"
gcc -O2 -static -o "$tmp/cr-memhog" "$repo/bench/cr-memhog.c"
cp "$tmp/cr-memhog" "$tmp/floor/root/cr-memhog"

echo "bench: starting vsd (root $tmp/root on tmpfs, criu $criu)" >&2
(
	setsid "$vsd_bin" --root "$tmp/root" --run-dir "$tmp/run" --socket "$VSD_SOCKET" \
		--cgroup-parent "$cg_parent" --idmap-registry "$tmp/idmaps" --criu "$criu" \
		</dev/null >>"$tmp/vsd.log" 2>&1 &
	echo $! >"$tmp/vsd.pid"
)
vsd_pid=$(cat "$tmp/vsd.pid")
for _ in $(seq 200); do
	vsctl node info >/dev/null 2>&1 && break
	kill -0 "$vsd_pid" 2>/dev/null || die "vsd exited: $(tail -n 5 "$tmp/vsd.log")"
	sleep 0.05
done
vsctl node info >/dev/null || die "vsd does not answer"
vsctl template build busybox --from busybox >"$tmp/template.log" 2>&1 ||
	die "template build: $(tail -n 3 "$tmp/template.log")"

# vsd_setup MB: container crbMB running cr-memhog MB.
vsd_setup() {
	local name=crb$1
	vsctl create "$name" --template busybox >/dev/null
	vsctl start "$name" >/dev/null
	vsctl exec "$name" -- sh -c 'cat >/cr-memhog && chmod 0755 /cr-memhog' <"$tmp/cr-memhog"
	vsctl exec "$name" -- sh -c "/cr-memhog $1 /root/ready </dev/null >/dev/null 2>&1 &"
	wait_file "$tmp/root/containers/$name/upper/root/ready" 60
}

# vsd_round MB: one suspend and one resume; appends to data/vsd-MB.
vsd_round() {
	local name=crb$1 out st
	out=$(vsctl suspend "$name" --json 2>/dev/null) || die "suspend $name failed"
	st=$(criu_stats "$tmp/root/containers/$name/checkpoint/stats-dump")
	echo "dump $(json_field frozen_ms <<<"$out") $(json_field total_ms <<<"$out") $(json_field criu_ms <<<"$out") $(json_field image_bytes <<<"$out") $st" >>"$tmp/data/vsd-$1"
	out=$(vsctl resume "$name" --json 2>/dev/null) || die "resume $name failed"
	echo "restore $(json_field frozen_ms <<<"$out") $(json_field total_ms <<<"$out") $(json_field criu_ms <<<"$out") $(json_field image_bytes <<<"$out") - -" >>"$tmp/data/vsd-$1"
}

# floor_setup MB: the bare tree; sets floor_pid.
floor_setup() {
	rm -f "$tmp/floor/root/ready"
	(
		setsid unshare --fork --pid --mount --uts --ipc "$tmp/floor/root/cr-memhog" --pivot \
			"$tmp/floor/root" "$1" /ready </dev/null >>"$tmp/floor.log" 2>&1 &
		echo $! >"$tmp/floor/unshare.pid"
	)
	wait_file "$tmp/floor/root/ready" 60
	floor_pid=$(pgrep -P "$(cat "$tmp/floor/unshare.pid")")
	[[ -n "$floor_pid" ]] || die "floor tree not found"
}

# floor_round MB: criu dump (kills the tree) and restore; appends to
# data/floor-MB.
floor_round() {
	local img=$tmp/floor/img t0 t1 st
	rm -rf "$img" && mkdir "$img"
	t0=$(now_ns)
	"$criu" dump -t "$floor_pid" -D "$img" -o dump.log -v4 --tcp-established --file-locks ||
		die "floor dump failed: $(grep Error "$img/dump.log" | tail -n 3)"
	t1=$(now_ns)
	floor_pid=""
	st=$(criu_stats "$img/stats-dump")
	read -r fz fr <<<"$st"
	echo "dump $(((${fz/-/0} + ${fr/-/0}) / 1000)) $(((t1 - t0) / 1000000)) $(((t1 - t0) / 1000000)) $(du -sb "$img" | cut -f1) $st" >>"$tmp/data/floor-$1"
	rm -f "$tmp/floor/pid"
	t0=$(now_ns)
	"$criu" restore -D "$img" -o restore.log -v4 --tcp-established --file-locks \
		--root "$tmp/floor/root" --restore-detached --pidfile "$tmp/floor/pid" ||
		die "floor restore failed: $(grep Error "$img/restore.log" | tail -n 3)"
	t1=$(now_ns)
	floor_pid=$(cat "$tmp/floor/pid")
	echo "restore $(((t1 - t0) / 1000000)) $(((t1 - t0) / 1000000)) $(((t1 - t0) / 1000000)) - - -" >>"$tmp/data/floor-$1"
}

# rss_mb PID: resident memory of PID in MB.
rss_mb() { awk '/^VmRSS:/ { print int($2 / 1024) }' "/proc/$1/status"; }

for mb in $sizes; do
	echo "bench: $mb MB: setting up" >&2
	vsd_setup "$mb"
	floor_setup "$mb"
	for i in $(seq "$runs"); do
		echo "bench: $mb MB: run $i/$runs" >&2
		vsd_round "$mb"
		floor_round "$mb"
	done
	# The memory is really there after the last restore, on both sides.
	hog=$(while read -r p; do
		[[ "$(cat "/proc/$p/comm" 2>/dev/null)" == cr-memhog ]] && echo "$p"
	done <"/sys/fs/cgroup/pids/$cg_parent/crb$mb/cgroup.procs" 2>/dev/null | head -n 1) || true
	echo "$mb MB: after the last restore, cr-memhog RSS: vsd ${hog:+$(rss_mb "$hog")} MB, floor $(rss_mb "$floor_pid") MB" >>"$tmp/data/notes"
	vsctl destroy --force "crb$mb" >/dev/null
	kill -KILL "$floor_pid" 2>/dev/null || true
	floor_pid=""
	sleep 0.2
done

# ------------------------------------------------------------------- report

# col FILE OP N: median of column N for OP lines of FILE
col() { awk -v op="$2" -v n="$3" '$1 == op && $n != "-" { print $n }' "$1" | median; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0 && a != "-") printf "%.2f", a / b; else print "-" }'; }

echo
echo "Checkpoint/restore: vsd suspend/resume vs bare criu dump/restore (the floor)"
echo "kernel $(uname -r), criu $("$criu" --version | awk '/Version/ { print $2 }'), $(nproc) CPUs; images on tmpfs;"
echo "medians of $runs runs, milliseconds"
echo
printf '%-7s %-8s | %10s %10s %9s %11s | %12s %11s | %8s %8s\n' size op "vsd frozen" "vsd total" "vsd criu" "criu frozen" "floor frozen" "floor total" "frozen x" "total x"
printf '%s\n' "--------------------------------------------------------------------------------------------------------------"
for mb in $sizes; do
	v=$tmp/data/vsd-$mb
	f=$tmp/data/floor-$mb
	for op in dump restore; do
		vf=$(col "$v" "$op" 2)
		vt=$(col "$v" "$op" 3)
		vc=$(col "$v" "$op" 4)
		# CRIU's own freezing + frozen time inside vsd's dump (stats-dump)
		vcf=$(awk -v op="$op" '$1 == op && $6 != "-" { print ($6 + $7) / 1000 }' "$v" | median)
		ff=$(col "$f" "$op" 2)
		ft=$(col "$f" "$op" 3)
		[[ "$op" == restore ]] && vcf="-"
		printf '%-7s %-8s | %10s %10s %9s %11s | %12s %11s | %8s %8s\n' "$mb MB" \
			"$([[ $op == dump ]] && echo suspend || echo resume)" "$vf" "$vt" "$vc" "$vcf" "$ff" "$ft" \
			"$(ratio "$vf" "$ff")" "$(ratio "$vt" "$ft")"
	done
done
echo
echo "image size (median bytes): $(for mb in $sizes; do printf '%s MB: vsd %s, floor %s; ' "$mb" \
	"$(col "$tmp/data/vsd-$mb" dump 5 | cut -d. -f1)" "$(col "$tmp/data/floor-$mb" dump 5 | cut -d. -f1)"; done)"
cat "$tmp/data/notes"
echo "vsd frozen: cgroup freeze .. the tree killed (suspend), or the whole restore (resume);"
echo "criu frozen: CRIU's own freezing + frozen time from its stats-dump; floor frozen: the same"
echo "for the bare tree; x: vsd / floor."
