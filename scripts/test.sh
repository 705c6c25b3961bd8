#!/bin/bash
# The full test run: install missing dependencies, build, then `make test`
# (the OpenAPI lint, unit tests, the same under ASan+UBSan, and the Bats
# integration suite).
# Every lane runs even when an earlier one fails (make -k); the exit status
# is make's. The last line sums up the cmocka and Bats results.
# Run as root from anywhere.
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo" || exit 1

if ! scripts/install-deps.sh --check >/dev/null; then
	scripts/install-deps.sh || exit 1
fi
make all || exit 1

log=$(mktemp /tmp/vsd-test-log.XXXXXX)
trap 'rm -f "$log"' EXIT
make -k test 2>&1 | tee "$log"
status=${PIPESTATUS[0]}

if ((status != 0)); then
	echo "test.sh: make test failed (exit $status)"
fi
# cmocka: "[  PASSED  ] N test(s)." and "[  FAILED  ] N test(s), listed below:"
# Bats (TAP): "ok N ...", "ok N ... # skip ...", "not ok N ...".
awk '
	/^\[  PASSED  \] [0-9]+ test\(s\)\./ { passed += $4 }
	/^\[  FAILED  \] [0-9]+ test\(s\), listed below:/ { failed += $4 }
	/^ok [0-9]+ .*# skip/ { skipped++; next }
	/^ok [0-9]+ / { passed++ }
	/^not ok [0-9]+ / { failed++ }
	END { printf "summary: %d passed, %d failed, %d skipped\n", passed, failed, skipped }
' "$log"
exit "$status"
