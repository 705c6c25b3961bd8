#!/usr/bin/env bats
# vsd's own directories must be usable by unprivileged containers (issue 9):
# a run directory below a directory that containers' id ranges cannot
# traverse is refused at start, before anything is created.

load helpers

setup() {
	DD_TMP=$(mktemp -d /tmp/vsd-dd.XXXXXX)
	chmod 0755 "$DD_TMP"
}
teardown() { rm -rf "$DD_TMP"; }

@test "vsd refuses a run directory inside a 0700 directory, naming it and the mode, and creates nothing" {
	mkdir -m 0700 "$DD_TMP/locked"
	run --separate-stderr timeout 20 "$VSD_BIN" --root "$DD_TMP/root" --run-dir "$DD_TMP/locked/run" \
		--socket "$DD_TMP/vsd.sock" --idmap-registry "$DD_TMP/idmaps"
	[[ "$status" != 0 ]] || fail "vsd started"
	assert_contains "$stderr" "run directory $DD_TMP/locked/run: $DD_TMP/locked has mode 0700"
	assert_contains "$stderr" "needs o+x"
	[[ ! -e "$DD_TMP/locked/run" && ! -e "$DD_TMP/root" && ! -e "$DD_TMP/idmaps" && ! -e "$DD_TMP/vsd.sock" ]] ||
		fail "created: $(ls -A "$DD_TMP" "$DD_TMP/locked")"
}
