#!/bin/bash
# Migration between two nodes (issue 10, item 7): frozen time, total time
# and bytes on the wire against memory plus disk changed, per case and
# mode, beside the floor. Figures and ratios, never a pass/fail.
#
# The rig is the migration tests' own (tests/integration/cluster-helpers.bash):
# two vsd nodes A and B in network namespaces of their own on one test LAN
# bridge, nothing routed off the machine. Every case moves a container from
# A to B with `vsctl migrate --json` and takes the migration's own result
# (frozen_ms, total_ms, bytes):
#   busybox  a routed busybox VPS holding MB of touched anonymous memory
#            (bench/cr-memhog.c, static, started beside its init), in each
#            mode of --modes that the daemon accepts (live, stop; a mode it
#            refuses, such as postcopy while there is none, is skipped
#            with the daemon's reason), a fresh container per run
#   offline  a stopped busybox VPS (disk only), once per run
#   systemd  the Debian 12 guest of tests/integration/systemd.bats (the
#            template imported from its cache, or built), booted, moved
#            live A -> B, B -> A, ... (skipped with the reason when there
#            is no template)
#   floor    per size: cr-memhog as pid 1 of its own pid, mount, uts and
#            ipc namespaces (as bench/cr.sh), `criu dump` on A's side, the
#            image sent to B over the same LAN (rsync to an rsync daemon in
#            B's namespace), `criu restore` there. Frozen = CRIU's freezing
#            + frozen time (its stats-dump) + transfer + restore; total =
#            from the dump's start to the restore's end; bytes = what
#            rsync sent.
# Memory is what the container's memory cgroup holds as rss + shmem just
# before the move; disk changed is the size of its layer (upper dir).
# Medians of --reps runs (default 3). Run as root after `make`, under the
# heavy lock: flock /tmp/vsd-heavy.lock bench/migrate.sh
#
# Options: --reps N, --sizes "MB ..." (default "0 100 500"), --modes
# "live stop postcopy" (busybox modes; default all three), --cases
# "busybox offline systemd floor" (default all).
set -euo pipefail
cd "$(dirname "$0")/.."

reps=3
sizes="0 100 500"
modes="live stop postcopy"
cases="busybox offline systemd floor"
criu=${VSD_CRIU:-/opt/vsd/criu/bin/criu}

usage() {
	sed -n '/^# Options:/,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
	exit 2
}
die() {
	echo "bench: $*" >&2
	exit 1
}
while (($#)); do
	case $1 in
	--reps) reps=${2:-} && shift 2 ;;
	--sizes) sizes=${2:-} && shift 2 ;;
	--modes) modes=${2:-} && shift 2 ;;
	--cases) cases=${2:-} && shift 2 ;;
	-h | --help) usage ;;
	*) echo "bench: unknown option '$1'" >&2 && usage ;;
	esac
done
[[ "$reps" =~ ^[1-9][0-9]*$ ]] || die "--reps: expected a positive number, got '$reps'"
for mb in $sizes; do
	[[ "$mb" =~ ^[0-9]+$ ]] || die "--sizes: expected sizes in MB, got '$mb'"
done
for c in $cases; do
	[[ " busybox offline systemd floor " == *" $c "* ]] ||
		die "--cases: expected busybox, offline, systemd or floor, got '$c'"
done
for m in $modes; do
	[[ "$m" =~ ^[a-z]+$ ]] || die "--modes: expected mode names, got '$m'"
done
has() { [[ " $cases " == *" $1 "* ]]; }
((EUID == 0)) || die "run me as root"
command -v gcc >/dev/null || die "gcc missing"
if has floor; then
	[[ -x "$criu" ]] || die "no criu at $criu (scripts/install-criu.sh)"
	command -v rsync >/dev/null || die "rsync missing (scripts/install-deps.sh)"
fi

. bench/lib.sh # wait_file
. bench/bats-env.sh
. tests/integration/cluster-helpers.bash

floor_pid="" # the floor tree's pid 1 (host pid), while one runs
cleanup() {
	trap - EXIT INT TERM
	set +e
	[[ -n "$floor_pid" ]] && kill -KILL "$floor_pid" 2>/dev/null
	cluster_teardown_file >/dev/null 2>&1
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "bench: two nodes on a test LAN" >&2
cluster_setup_file || die "cluster setup failed"
data=$NET_TMP/data
mkdir -p "$data" "$NET_TMP/floor/root" "$NET_TMP/floor/b"
gcc -O2 -static -o "$NET_TMP/cr-memhog" bench/cr-memhog.c
cp "$NET_TMP/cr-memhog" "$NET_TMP/floor/root/cr-memhog"
: >"$data/notes"

# ---------------------------------------------------------------- helpers

# mig_json FROM TO NAME MODE: the migration's JSON result on stdout; its
# progress and any error in $data/err.
mig_json() {
	local to=nodeb
	[[ $2 == A ]] && to=nodea
	cvsctl --socket "$(cl_sock "$1")" migrate "$3" --to "$to" --mode "$4" --json 2>"$data/err"
}

# ct_mem_disk NODE NAME: "MEMORY DISK" bytes: rss + shmem of the
# container's memory cgroup, and the size of its layer.
ct_mem_disk() {
	local dir mem
	dir=$(on "$1" ct_cgroup_dir "$2" memory) || die "no memory cgroup for $2"
	mem=$(awk '$1 == "total_rss" || $1 == "total_shmem" { s += $2 } END { print s + 0 }' \
		"$dir/memory.stat")
	echo "$mem $(du -sb "$(cl_root "$1")/containers/$2/upper" | cut -f1)"
}

# record FILE MEM DISK JSON: one line "frozen total bytes mem disk rounds".
record() {
	local j=$4
	echo "$(json_get frozen_ms <<<"$j") $(json_get total_ms <<<"$j") $(json_get bytes <<<"$j")" \
		"$2 $3 $(json_get rounds <<<"$j")" >>"$1"
}

# busybox_run MODE MB I: a fresh VPS on A holding MB, moved to B in MODE.
# Status 2 (and the reason in $data/skip-MODE) when the daemon refuses the
# mode.
busybox_run() {
	local mode=$1 mb=$2 name="bb$1$2r$3" out md
	on A ct_create_started "$name" --ip 192.0.2.80 >/dev/null || die "create $name"
	on A in_ct "$name" sh -c 'cat >/cr-memhog && chmod 0755 /cr-memhog' <"$NET_TMP/cr-memhog"
	on A in_ct "$name" sh -c "setsid /cr-memhog $mb /root/ready </dev/null >/dev/null 2>&1 &"
	wait_file "$(cl_root A)/containers/$name/upper/root/ready" 60
	md=$(ct_mem_disk A "$name")
	if ! out=$(mig_json A B "$name" "$mode"); then
		on A vsctl destroy --force "$name" >/dev/null
		if grep -q "^vsctl: .*mode" "$data/err"; then
			grep "^vsctl: " "$data/err" | sed 's/^vsctl: //' >"$data/skip-$mode"
			return 2
		fi
		die "migrate $name ($mode): $(cat "$data/err")"
	fi
	# shellcheck disable=SC2086 # md is "MEMORY DISK"
	record "$data/$mode-$mb" $md "$out"
	on B vsctl destroy --force "$name" >/dev/null
}

# offline_run I: a stopped VPS (its layer holding the memhog binary) moved.
offline_run() {
	local name="off$1" out
	on A vsctl create "$name" --template busybox --ip 192.0.2.80 >/dev/null || die "create $name"
	cp "$NET_TMP/cr-memhog" "$(cl_root A)/containers/$name/upper/cr-memhog" 2>/dev/null || true
	out=$(mig_json A B "$name" offline) || die "migrate $name (offline): $(tail -n 3 "$data/err")"
	record "$data/offline-0" 0 "$(du -sb "$(cl_root B)/containers/$name/upper" | cut -f1)" "$out"
	on B vsctl destroy --force "$name" >/dev/null
}

# systemd_case: the deb12 template on both nodes, one guest booted on A,
# moved back and forth --reps times.
systemd_case() {
	local n from=A to=B out md state deadline
	for n in A B; do
		if ! on "$n" deb12_template; then
			echo "systemd: skipped: $(cat "$(cl_root "$n")/../skip-reason" 2>/dev/null)" >>"$data/notes"
			return 0
		fi
	done
	on A vsctl create sd1 --template deb12 --ip 192.0.2.81 >/dev/null || die "create sd1"
	on A vsctl start sd1 >/dev/null || die "start sd1"
	deadline=$((SECONDS + 90)) state=""
	while ((SECONDS < deadline)); do
		state=$(timeout 60 "$VSCTL_BIN" --socket "$CL_A_SOCKET" exec sd1 -- \
			systemctl is-system-running --wait 2>&1) || true
		[[ "$state" == *bus* || -z "$state" ]] || break
		sleep 0.5
	done
	echo "systemd: the guest's state before the first move: $state" >>"$data/notes"
	for i in $(seq "$reps"); do
		echo "bench: systemd live run $i/$reps ($from -> $to)" >&2
		md=$(ct_mem_disk "$from" sd1)
		out=$(mig_json "$from" "$to" sd1 live) || die "migrate sd1 $from -> $to: $(tail -n 3 "$data/err")"
		# shellcheck disable=SC2086
		record "$data/systemd-live" $md "$out"
		if [[ $from == A ]]; then from=B to=A; else from=A to=B; fi
	done
	on "$from" vsctl destroy --force sd1 >/dev/null
}

# floor_run MB I: the bare tree dumped on A's side, sent over the LAN,
# restored; appends "frozen total bytes mem 0 - dump_ms transfer_ms
# restore_ms".
floor_run() {
	local mb=$1 img=$NET_TMP/floor/a rcv=$NET_TMP/floor/b/r$2 t0 t1 t2 t3 fz fr sent
	rm -rf "$img" "$NET_TMP/floor/root/ready" && mkdir "$img"
	(
		setsid unshare --fork --pid --mount --uts --ipc "$NET_TMP/floor/root/cr-memhog" --pivot \
			"$NET_TMP/floor/root" "$mb" /ready </dev/null >>"$NET_TMP/floor.log" 2>&1 &
		echo $! >"$NET_TMP/floor/unshare.pid"
	)
	wait_file "$NET_TMP/floor/root/ready" 60
	floor_pid=$(pgrep -P "$(cat "$NET_TMP/floor/unshare.pid")") || die "floor tree not found"
	t0=$(date +%s%N)
	"$criu" dump -t "$floor_pid" -D "$img" -o dump.log -v4 --tcp-established --file-locks ||
		die "floor dump failed: $(grep Error "$img/dump.log" | tail -n 3)"
	t1=$(date +%s%N)
	floor_pid=""
	read -r fz fr < <("$PY" bench/criu-stats.py "$img/stats-dump")
	sent=$(nsenter --net="/run/netns/$CL_NS_A" rsync -a --stats "$img/" \
		"rsync://${CL_ADDR4[B]}:8873/img/r$2/" | awk '/^Total bytes sent:/ { gsub(",", "", $4); print $4 }')
	t2=$(date +%s%N)
	"$criu" restore -D "$rcv" -o restore.log -v4 --tcp-established --file-locks \
		--root "$NET_TMP/floor/root" --restore-detached --pidfile "$rcv/pid" ||
		die "floor restore failed: $(grep Error "$rcv/restore.log" | tail -n 3)"
	t3=$(date +%s%N)
	floor_pid=$(cat "$rcv/pid")
	echo "$(((${fz/-/0} + ${fr/-/0}) / 1000 + (t3 - t1) / 1000000)) $(((t3 - t0) / 1000000)) $sent" \
		"$((mb << 20)) 0 - $(((t1 - t0) / 1000000)) $(((t2 - t1) / 1000000)) $(((t3 - t2) / 1000000))" \
		>>"$data/floor-$mb"
	kill -KILL "$floor_pid"
	floor_pid=""
	rm -rf "$rcv"
}

# floor_daemon: the rsync daemon in B's namespace that receives the floor's
# images (plain TCP on the LAN; killed with the cluster's background
# processes).
floor_daemon() {
	cat >"$NET_TMP/rsyncd.conf" <<CONF
pid file = $NET_TMP/rsyncd.pid
use chroot = no
[img]
path = $NET_TMP/floor/b
read only = false
uid = root
gid = root
CONF
	net_bg "$NET_TMP/rsyncd.log" nsenter --net="/run/netns/$CL_NS_B" rsync --daemon --no-detach \
		--config="$NET_TMP/rsyncd.conf" --address="${CL_ADDR4[B]}" --port=8873 >/dev/null
	for _ in $(seq 50); do
		nsenter --net="/run/netns/$CL_NS_A" rsync "rsync://${CL_ADDR4[B]}:8873/" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	die "the floor's rsync daemon does not answer: $(cat "$NET_TMP/rsyncd.log")"
}

# ------------------------------------------------------------------- runs

has floor && floor_daemon
for mb in $sizes; do
	for i in $(seq "$reps"); do
		if has busybox; then
			for mode in $modes; do
				[[ -e "$data/skip-$mode" ]] && continue
				echo "bench: busybox $mb MB $mode run $i/$reps" >&2
				busybox_run "$mode" "$mb" "$i" || [[ $? == 2 ]] || die "busybox $mode"
			done
		fi
		if has floor; then
			echo "bench: floor $mb MB run $i/$reps" >&2
			floor_run "$mb" "$i"
		fi
	done
done
if has offline; then
	for i in $(seq "$reps"); do
		echo "bench: offline run $i/$reps" >&2
		offline_run "$i"
	done
fi
has systemd && systemd_case

# ----------------------------------------------------------------- report

# col FILE N [DIV]: median of column N of FILE (divided by DIV), or "-".
col() {
	[[ -s "$1" ]] || { echo -; return; }
	awk -v n="$2" -v d="${3:-1}" '$n != "-" { print $n / d }' "$1" | sort -n | awk '
		{ v[NR] = $1 }
		END {
			if (NR == 0) { print "-"; exit }
			m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
			printf "%.1f\n", m }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0 && a != "-" && b != "-") printf "%.2f", a / b; else print "-" }'; }
MB=1048576
fmt='%-10s %-8s | %8s %8s %6s | %7s %7s %6s %6s | %8s %9s %8s | %6s %6s\n'

# row CASE SIZE FILE [FLOOR-FILE]
row() {
	local f=$3 fl=${4:-} vf vt vb mem disk wire fz ft fw
	[[ -s "$f" ]] || return 0
	vf=$(col "$f" 1) vt=$(col "$f" 2) vb=$(col "$f" 3 $MB)
	mem=$(col "$f" 4 $MB) disk=$(col "$f" 5 $MB)
	wire=$(ratio "$vb" "$(awk -v a="$mem" -v b="$disk" 'BEGIN { print a + b }')")
	fz="-" ft="-" fw="-"
	if [[ -n "$fl" && -s "$fl" ]]; then
		fz=$(col "$fl" 1) ft=$(col "$fl" 2) fw=$(col "$fl" 3 $MB)
	fi
	# shellcheck disable=SC2059 # one format for the header and the rows
	printf "$fmt" "$1" "$2" "$vf" "$vt" "$(col "$f" 6)" "$vb" "$mem" "$disk" "$wire" "$fz" "$ft" "$fw" \
		"$(ratio "$vf" "$fz")" "$(ratio "$vt" "$ft")"
}

echo
echo "Migration A -> B over a test LAN (veth + bridge, HTTPS between the nodes)"
echo "kernel $(uname -r), criu $("$criu" --version 2>/dev/null | awk '/Version/ { print $2 }'), $(nproc) CPUs;" \
	"medians of $reps runs; ms and MB"
echo
# shellcheck disable=SC2059
printf "$fmt" case mode "frozen" "total" rounds "wire" "memory" "disk" "wire/" "floor fz" "floor tot" \
	"floor MB" "fz x" "tot x"
# shellcheck disable=SC2059
printf "$fmt" "" "" "" "" "" "" "" "" "mem+dk" "" "" "" "" ""
printf '%s\n' "------------------------------------------------------------------------------------------------------------------------"
for mb in $sizes; do
	for mode in $modes; do
		[[ "$mode" == live ]] && fl=$data/floor-$mb || fl=""
		row "bb $mb" "$mode" "$data/$mode-$mb" "$fl"
	done
	has busybox || row "floor $mb" - /dev/null
done
row "bb stopped" offline "$data/offline-0"
row "debian12" live "$data/systemd-live"
if ! has busybox && has floor; then
	for mb in $sizes; do
		printf 'floor %s MB: frozen %s ms, total %s ms, %s MB sent\n' "$mb" "$(col "$data/floor-$mb" 1)" \
			"$(col "$data/floor-$mb" 2)" "$(col "$data/floor-$mb" 3 $MB)"
	done
fi
echo
for mb in $sizes; do
	[[ -s "$data/floor-$mb" ]] || continue
	printf 'floor %s MB, medians: criu dump %s ms, rsync %s ms, criu restore %s ms\n' "$mb" \
		"$(col "$data/floor-$mb" 7)" "$(col "$data/floor-$mb" 8)" "$(col "$data/floor-$mb" 9)"
done
for mode in $modes; do
	[[ -e "$data/skip-$mode" ]] && echo "$mode: skipped: $(cat "$data/skip-$mode")"
done
cat "$data/notes"
echo "frozen, total, wire: the migration's own frozen_ms, total_ms and bytes (vsctl migrate --json);"
echo "memory: the container's rss + shmem before the move; disk: its layer; floor: bare criu dump,"
echo "rsync over the same LAN, criu restore (frozen: CRIU's freezing + frozen + transfer + restore);"
echo "x: vsd / floor (live rows only)."
