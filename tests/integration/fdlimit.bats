#!/usr/bin/env bats
# vsd past FD_SETSIZE: a daemon holding more than 1,024 descriptors (as it
# does with a few hundred containers running: pidfds of their inits and
# monitors) still serves every connection, because libmicrohttpd polls with
# poll(); with select() it drops each connection whose descriptor is above
# 1,023, and cannot even watch its listening socket.

load helpers

setup_file() {
	local wrap="$BATS_FILE_TMPDIR/with-fds"
	# The daemon inherits 1,100 more open descriptors from this wrapper.
	cat >"$wrap" <<'PY'
#!/usr/bin/python3
import os, resource, sys
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4096)), hard))
for _ in range(1100):
    os.set_inheritable(os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC), True)
os.execvp(sys.argv[1], sys.argv[1:])
PY
	chmod +x "$wrap"
	export VSD_LAUNCH="$wrap"
	vsd_setup_file --no-busybox || return 1
}
teardown_file() { vsd_teardown_file; }

@test "vsd with over 1,024 descriptors open serves its requests" {
	local n
	n=$(find "/proc/$(vsd_pid)/fd" -mindepth 1 -maxdepth 1 | wc -l)
	echo "vsd holds $n descriptors"
	((n > 1100))
	for _ in 1 2 3; do
		run "$VSCTL_BIN" list
		[ "$status" -eq 0 ]
	done
	[[ "$(api_code GET /v1/node)" == 200 ]]
}
