#!/bin/bash
# Bring up vsd on this machine with a demo VPS, idempotently:
#   install missing dependencies, build, start build/vsd in the background
#   (or reuse one already answering on the socket), build the busybox
#   template unless present, create and start the VPS "demo" unless it
#   exists / runs, and say how to enter it.
# Run as root. Environment: VSD_ROOT (default /var/lib/vsd), VSD_RUN_DIR
# (default /run/vsd), VSD_LOG (default /var/log/vsd.log), VSD_DEMO (default
# demo).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

root=${VSD_ROOT:-/var/lib/vsd}
run_dir=${VSD_RUN_DIR:-/run/vsd}
socket=$run_dir/vsd.sock
demo=${VSD_DEMO:-demo}
log=${VSD_LOG:-/var/log/vsd.log}

say() { printf 'up: %s\n' "$*"; }
die() {
	printf 'up: error: %s\n' "$*" >&2
	exit 1
}

((EUID == 0)) || die "run me as root (a root shell, or: su -c $0)"

# 1. Dependencies (only when something is missing) and the build.
if ! scripts/install-deps.sh --check >/dev/null; then
	scripts/install-deps.sh || die "installing dependencies failed"
fi
say "building"
make -s all || die "make failed"

vsctl() { "$repo/build/vsctl" --socket "$socket" "$@"; }
# HTTP status of a GET on the daemon's API ("000" when nothing answers).
api_code() {
	curl -s --max-time 10 --unix-socket "$socket" -o /dev/null -w '%{http_code}' "http://vsd$1" || true
}

# 2. The daemon: reuse one that answers on the socket.
if [[ "$(api_code /v1/node)" == 200 ]]; then
	say "vsd already running on $socket"
else
	mkdir -p "$run_dir" "$root"
	say "starting build/vsd (root $root, run dir $run_dir, log $log)"
	setsid "$repo/build/vsd" --root "$root" --run-dir "$run_dir" --socket "$socket" \
		</dev/null >>"$log" 2>&1 &
	pid=$!
	for _ in $(seq 1 100); do
		[[ "$(api_code /v1/node)" == 200 ]] && break
		if ! kill -0 "$pid" 2>/dev/null; then
			tail -n 20 "$log" >&2 || true
			die "vsd exited; see $log"
		fi
		sleep 0.1
	done
	[[ "$(api_code /v1/node)" == 200 ]] || die "vsd did not answer on $socket within 10 s; see $log"
	say "vsd running, pid $pid"
fi

# 3. The busybox template.
if [[ "$(api_code /v1/templates/busybox)" == 200 ]]; then
	say "template busybox present"
else
	say "building template busybox"
	vsctl template build busybox --from busybox
fi

# 4. The demo VPS.
if [[ "$(api_code "/v1/containers/$demo")" != 200 ]]; then
	say "creating $demo"
	vsctl create "$demo" --template busybox --memory 256M --cpus 1 --pids 256 --disk 1G >/dev/null
fi
state=$(vsctl status "$demo" --json |
	/usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)["state"])')
if [[ "$state" != running ]]; then
	say "starting $demo"
	vsctl start "$demo"
fi
vsctl list
enter="$repo/build/vsctl enter $demo"
[[ "$socket" == /run/vsd/vsd.sock ]] || enter="$repo/build/vsctl --socket $socket enter $demo"
cat <<MSG

vsd is up (socket $socket). Enter the demo VPS with:

    $enter
MSG
