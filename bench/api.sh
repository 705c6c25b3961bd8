#!/bin/bash
# REST API throughput and latency: figures, never pass/fail.
#
# A private vsd with 100 created containers (CONTAINERS) serves, over the
# unix socket and over HTTPS (--listen 127.0.0.1:PORT) with an API token:
#   get     COUNT (default 2000) GETs of /v1/containers/{name} by CLIENTS
#           (default 4) kept-alive connections: requests per second, p50
#           and p99 latency
#   cycle   CYCLES (default 50) create+destroy pairs by one client: pairs
#           per second, p50 and p99 of a pair
# The HTTPS/unix ratio is the cost of TLS and token checks. The load comes
# from bench/api-load.c (libcurl), compiled here.
# Run as root under the shared lock: flock /tmp/vsd-heavy.lock bench/api.sh
set -euo pipefail
CONTAINERS=${CONTAINERS:-100}
COUNT=${COUNT:-2000}
CLIENTS=${CLIENTS:-4}
CYCLES=${CYCLES:-50}
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
bench_setup apibench

gcc -O2 -o "$tmp/api-load" "$repo/bench/api-load.c" $(pkg-config --cflags --libs libcurl) -lpthread
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
bench_vsd_start --listen "127.0.0.1:$port"
for i in $(seq "$CONTAINERS"); do
	vsctl create "b$i" --template busybox >/dev/null
done
(umask 077 && vsctl token create bench --scope admin --json |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["secret"])' >"$tmp/token")

unix=(--unix "$VSD_SOCKET")
https=(--url "https://127.0.0.1:$port" --token-file "$tmp/token")
run() { "$tmp/api-load" "$@"; }
field() { awk -v k="$1" '{ for (i = 1; i < NF; i++) if ($i == k) print $(i + 1) }'; }

echo "vsd REST API, $CONTAINERS containers, $(nproc) CPUs, $(uname -r)"
printf '%-28s %10s %9s %9s\n' "what" "req/s" "p50 ms" "p99 ms"
declare -A rps
for t in unix https; do
	declare -n args=$t
	g=$(run "${args[@]}" --clients "$CLIENTS" get "/v1/containers/b$((CONTAINERS / 2))" "$COUNT")
	c=$(run "${args[@]}" --clients 1 cycle busybox "cyc-$t" "$CYCLES")
	rps[get_$t]=$(field rps <<<"$g")
	rps[cycle_$t]=$(field rps <<<"$c")
	printf '%-28s %10s %9s %9s\n' "GET container ($t)" "$(field rps <<<"$g")" \
		"$(field p50_ms <<<"$g")" "$(field p99_ms <<<"$g")"
	printf '%-28s %10s %9s %9s\n' "create+destroy ($t)" "$(field rps <<<"$c")" \
		"$(field p50_ms <<<"$c")" "$(field p99_ms <<<"$c")"
done
awk -v a="${rps[get_https]}" -v b="${rps[get_unix]}" -v c="${rps[cycle_https]}" \
	-v d="${rps[cycle_unix]}" 'BEGIN {
	printf "ratio https/unix: GET %.2f, create+destroy %.2f\n", a / b, c / d }'
