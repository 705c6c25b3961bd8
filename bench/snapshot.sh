#!/bin/bash
# Snapshots and checkpoint layer copies: figures, never pass/fail.
#
# A busybox container gets DATA_MB (default 1024) of its own data (half in
# one file, half in 1 MB files, from /dev/urandom) in its layer. Then, with
# the container stopped:
#   snapshot   `vsctl snapshot create` (rsync -aHAX copy of upper/): time,
#              and the space it adds (du of the snapshot)
#   again      a second snapshot with nothing changed (hard links to the
#              first: --link-dest): time and space
#   tar        `tar -cf` of the same upper/ (--xattrs --acls --sparse
#              --numeric-owner) to a file on the same filesystem: time and
#              size; the same files, the floor a copy is compared with
#   restore    `vsctl snapshot restore` (copy back + atomic exchange)
# and, with a usable criu, running:
#   frozen     frozen_ms of `checkpoint --leave-running` of the container
#              with the data, against the same container before the data was
#              written (the frozen time the layer copy adds: its second
#              pass runs at criu's post-dump while frozen); medians of RUNS
#              (default 3)
# Everything lives under /tmp (ext4 on the development hosts: no reflinks).
# Run as root under the shared lock: flock /tmp/vsd-heavy.lock bench/snapshot.sh
# Environment: DATA_MB, RUNS, VSD_CRIU (default /opt/vsd/criu/bin/criu).
set -euo pipefail
DATA_MB=${DATA_MB:-1024}
RUNS=${RUNS:-3}
criu=${VSD_CRIU:-/opt/vsd/criu/bin/criu}
PY=/usr/bin/python3
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
bench_setup snapbench

have_criu=0
if [[ -x "$criu" ]] && "$criu" check >/dev/null 2>&1; then
	have_criu=1
fi
mkdir -p "$tmp/images"
args=()
((have_criu)) && args+=(--criu "$criu")
bench_vsd_start "${args[@]}"

ms_now() { date +%s%3N; }
json() { "$PY" -c 'import json,sys; v=json.load(sys.stdin)
for k in sys.argv[1].split("."): v=v[k]
print(v)' "$1"; }
median() { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
du_mb() { du -sm "$1" | cut -f1; }
drop() { sync; echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true; }

# frozen_runs NAME: median frozen_ms of RUNS checkpoints --leave-running.
frozen_runs() {
	local i
	for i in $(seq "$RUNS"); do
		rm -rf "$tmp/images/$1-$i"
		vsctl checkpoint "$1" --dir "$tmp/images/$1-$i" --leave-running --json 2>/dev/null |
			json frozen_ms
		rm -rf "$tmp/images/$1-$i"
	done | median
}

vsctl create sb --template busybox >/dev/null
vsctl start sb >/dev/null
upper=$tmp/root/containers/sb/upper
f_empty=-
((have_criu)) && f_empty=$(frozen_runs sb)

half=$((DATA_MB / 2))
vsctl exec sb -- sh -c "dd if=/dev/urandom of=/root/big bs=1M count=$half 2>/dev/null;
	mkdir -p /root/small; i=0; while [ \$i -lt $((DATA_MB - half)) ]; do
	dd if=/dev/urandom of=/root/small/f\$i bs=1M count=1 2>/dev/null; i=\$((i + 1)); done"
layer_mb=$(du_mb "$upper")
f_data=-
((have_criu)) && f_data=$(frozen_runs sb)
vsctl stop sb >/dev/null

drop
t0=$(ms_now)
vsctl snapshot create sb s1 >/dev/null 2>&1
snap_ms=$(($(ms_now) - t0))
snap_mb=$(du_mb "$tmp/root/containers/sb/snapshots/s1")
before=$(du -sm "$tmp/root/containers/sb/snapshots" | cut -f1)
t0=$(ms_now)
vsctl snapshot create sb s2 >/dev/null 2>&1
snap2_ms=$(($(ms_now) - t0))
after=$(du -sm "$tmp/root/containers/sb/snapshots" | cut -f1)

drop
t0=$(ms_now)
tar --xattrs --xattrs-include='*' --acls --sparse --numeric-owner -C "$upper" -cf "$tmp/layer.tar" .
tar_ms=$(($(ms_now) - t0))
tar_mb=$(du_mb "$tmp/layer.tar")
rm -f "$tmp/layer.tar"

drop
t0=$(ms_now)
vsctl snapshot restore sb s1 >/dev/null 2>&1
restore_ms=$(($(ms_now) - t0))

printf 'snapshot of a VPS with %s MB of its own data (layer: %s MB), %s\n' "$DATA_MB" "$layer_mb" \
	"$(df -T "$tmp" | awk 'NR == 2 { print $2 }')"
printf '  snapshot create (stopped)     %6d ms   adds %5d MB\n' "$snap_ms" "$snap_mb"
printf '  second snapshot, no change    %6d ms   adds %5d MB (hard links to the first)\n' \
	"$snap2_ms" "$((after - before))"
printf '  tar -cf of the same tree      %6d ms   file %5d MB\n' "$tar_ms" "$tar_mb"
printf '  snapshot / tar time           %6.2f\n' "$(awk -v a="$snap_ms" -v b="$tar_ms" 'BEGIN { print a / b }')"
printf '  snapshot restore (stopped)    %6d ms\n' "$restore_ms"
if ((have_criu)); then
	printf 'checkpoint --leave-running, frozen_ms, median of %d\n' "$RUNS"
	printf '  layer of a few KB             %6s ms\n' "$f_empty"
	printf '  layer of %4s MB              %6s ms   (the post-dump rsync pass over an unchanged tree)\n' \
		"$layer_mb" "$f_data"
else
	echo "checkpoint: skipped (no usable criu at $criu)"
fi
