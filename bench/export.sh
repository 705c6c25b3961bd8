#!/bin/bash
# Backup export figures (never pass/fail): a VPS with 1 GB of its own data
# (incompressible and zero-filled halves), exported with `vsctl export`
# while running, against `tar --zstd` of the same upper layer; the time the
# VPS was frozen comes from vsd's log line. Run under the heavy lock:
#   flock /tmp/vsd-heavy.lock bench/export.sh
set -euo pipefail
cd "$(dirname "$0")/.."
# helpers.bash is written for Bats: give it what Bats would.
bats_require_minimum_version() { :; }
BATS_TEST_DIRNAME=$PWD/tests/integration
BATS_TEST_COMPLETED=1
. tests/integration/helpers.bash
VSD_BIN=${VSD_BIN:-$PWD/build/vsd} VSCTL_BIN=${VSCTL_BIN:-$PWD/build/vsctl}
export VSD_BIN VSCTL_BIN
vsd_setup_file
trap 'vsctl destroy bx --force >/dev/null 2>&1 || true; vsd_teardown_file' EXIT
ct_create_started bx
in_ct bx sh -c 'dd if=/dev/urandom of=/root/rand bs=1M count=512 2>/dev/null && dd if=/dev/zero of=/root/zero bs=1M count=512 2>/dev/null && sync'
upper="$VSD_ROOT/containers/bx/upper"
t0=$(now_ms); vsctl export bx "$VSD_TMP/bx.tar.zst"; t1=$(now_ms)
frozen=$(grep -o 'container bx: exported .*frozen [0-9]* ms' "$VSD_TMP/vsd.log" | tail -1 | grep -o '[0-9]* ms$')
t2=$(now_ms); tar --zstd -cf "$VSD_TMP/bx-tar.tar.zst" -C "$upper" .; t3=$(now_ms)
printf 'export  %6d ms  %6d MiB  (frozen %s)\n' $((t1 - t0)) $(($(stat -c %s "$VSD_TMP/bx.tar.zst") >> 20)) "$frozen"
printf 'tar     %6d ms  %6d MiB\n' $((t3 - t2)) $(($(stat -c %s "$VSD_TMP/bx-tar.tar.zst") >> 20))
