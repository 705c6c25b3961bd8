# shellcheck shell=bash
# Sourced (at top level) by the benchmarks that run vsd in a node namespace
# (net.sh, lifecycle.sh, density.sh): tests/integration/helpers.bash and
# net-helpers.bash are written for Bats, so give them what Bats would, then
# load them. Needs the repository as the current directory.
bats_require_minimum_version() { :; }
BATS_TEST_DIRNAME=$PWD/tests/integration
BATS_TEST_COMPLETED=1
. tests/integration/helpers.bash
. tests/integration/net-helpers.bash
[[ -x "$VSD_BIN" && -x "$VSCTL_BIN" ]] || { echo "bench: build first (make)" >&2; exit 1; }
