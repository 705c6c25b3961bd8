#!/usr/bin/env bats
# Usage statistics, /metrics, OOM events and idle reclaim on real
# containers. This file's vsd samples every second (--idle-reclaim-interval
# 1), so a container idle for 3 samples is reclaimed from within seconds.

load helpers

setup_file() {
	export VSD_DAEMON_ARGS="--idle-reclaim-interval 1"
	vsd_setup_file || return 1
	ct_create_started st1 --memory 256M --pids 64 || return 1
}
teardown_file() { vsd_teardown_file; }
# A test's own containers go even when it failed (st1 is the file's).
teardown() {
	vsd_teardown_test
	local d
	for d in "$VSD_ROOT"/containers/*/; do
		[[ -d "$d" && "$(basename "$d")" != st1 ]] || continue
		timeout 60 "$VSCTL_BIN" destroy --force "$(basename "$d")" >/dev/null 2>&1 ||
			echo "teardown: destroy $(basename "$d") failed" >&2
	done
}

# stats_field NAME PATH: one field of GET /v1/containers/NAME/stats.
stats_field() { vsctl stats "$1" --json | json_get "$2"; }

@test "stats: every field is there and plausible for a running container" {
	run vsctl stats st1 --json
	assert_success
	local f
	for f in name state cpu.usage_usec cpu.user_usec cpu.system_usec cpu.throttled_usec \
		cpu.nr_throttled cpu.usage_percent memory.current memory.peak memory.limit \
		memory.swap memory.file memory.anon memory.reclaimed pids.current pids.max \
		io.read_bytes io.write_bytes io.read_ios io.write_ios disk oom.kills oom.last_at \
		oom.last_command; do
		json_get "$f" <<<"$output" >/dev/null || fail "stats lack $f: $output"
	done
	assert_eq "$(json_get state <<<"$output")" running
	(($(json_get memory.current <<<"$output") > 0)) || fail "memory.current: $output"
	assert_eq "$(json_get memory.limit <<<"$output")" 268435456 memory.limit
	(($(json_get pids.current <<<"$output") >= 1)) || fail "pids.current: $output"
	assert_eq "$(json_get pids.max <<<"$output")" 64 pids.max
	assert_eq "$(json_get oom.kills <<<"$output")" 0 oom.kills
}

@test "stats: CPU time grows after a busy loop" {
	local before after
	before=$(stats_field st1 cpu.usage_usec)
	in_ct st1 sh -c 'i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done'
	after=$(stats_field st1 cpu.usage_usec)
	# 300000 shell iterations take well over 100 ms of CPU here.
	((after - before >= 100000)) || fail "cpu.usage_usec grew by $((after - before)) us only"
}

@test "stats: I/O write bytes grow after a direct write" {
	local before after
	before=$(stats_field st1 io.write_bytes)
	in_ct st1 dd if=/dev/zero of=/direct bs=1M count=8 oflag=direct
	after=$(stats_field st1 io.write_bytes)
	in_ct st1 rm -f /direct
	# 8 MiB written with O_DIRECT reach the disk at once.
	((after - before >= 8 * 1024 * 1024)) || fail "io.write_bytes grew by $((after - before))"
}

@test "stats: unknown container is 404, stopped one gives state and nulls" {
	run api_code GET /v1/containers/nosuch/stats
	assert_eq "$output" 404
	vsctl create st-off --template busybox >/dev/null
	run vsctl stats st-off --json
	assert_success
	assert_eq "$(json_get state <<<"$output")" stopped
	assert_eq "$(json_get memory.current <<<"$output")" null
	assert_eq "$(json_get oom.kills <<<"$output")" 0
	vsctl destroy st-off
}

@test "vsctl stats prints key: value lines" {
	run vsctl stats st1
	assert_success
	assert_contains "$output" "state: running"
	assert_contains "$output" "memory.current: "
	assert_contains "$output" "oom.kills: 0"
}

@test "vsctl top --once lists the containers" {
	run vsctl top --once
	assert_success
	assert_contains "$output" "NAME"
	assert_contains "$output" "CPU%"
	echo "$output" | grep -q '^st1 .*running' || fail "st1 not listed: $output"
}

@test "/metrics: Prometheus text format, parsed by prometheus_client" {
	local body
	run curl -sS --unix-socket "$VSD_SOCKET" -D "$VSD_TMP/metrics.head" -o "$VSD_TMP/metrics" \
		http://vsd/metrics
	assert_success
	grep -qi '^content-type: text/plain; version=0.0.4' "$VSD_TMP/metrics.head" ||
		fail "content type: $(cat "$VSD_TMP/metrics.head")"
	run "$PY" -c '
import sys
from prometheus_client.parser import text_string_to_metric_families
fams = {f.name: f for f in text_string_to_metric_families(open(sys.argv[1]).read())}
want = ["vsd_containers", "vsd_node_memory_total_bytes", "vsd_idle_reclaim_bytes",
        "vsd_container_up", "vsd_container_cpu_seconds", "vsd_container_cpu_throttled_seconds",
        "vsd_container_memory_bytes", "vsd_container_memory_limit_bytes",
        "vsd_container_swap_bytes", "vsd_container_pids", "vsd_container_io_read_bytes",
        "vsd_container_io_write_bytes", "vsd_container_oom_kills",
        "vsd_container_memory_reclaimed_bytes"]
missing = [w for w in want if w not in fams]
assert not missing, "missing families: %s" % missing
up = {s.labels["container"]: s.value for s in fams["vsd_container_up"].samples}
assert up.get("st1") == 1.0, up
mem = [s for s in fams["vsd_container_memory_bytes"].samples if s.labels == {"container": "st1"}]
assert mem and mem[0].value > 0, mem
lim = [s for s in fams["vsd_container_memory_limit_bytes"].samples if s.labels["container"] == "st1"]
assert lim[0].value == 268435456, lim
assert fams["vsd_container_cpu_seconds"].type == "counter"
running = [s for s in fams["vsd_containers"].samples if s.labels["state"] == "running"]
assert running[0].value >= 1, running
print("ok")
' "$VSD_TMP/metrics"
	assert_success
	assert_contains "$output" ok
}

oom_kills() { [[ "$(stats_field oomc oom.kills)" == "$1" ]]; }
list_oom_kills() {
	vsctl list --json | "$PY" -c 'import json, sys
print([c["oom"]["kills"] for c in json.load(sys.stdin)["containers"] if c["name"] == sys.argv[1]][0])' "$1"
}

@test "OOM kill: recorded with count, time and command; init, monitor and vsd survive" {
	ct_create_started oomc --memory 32M
	local init monitor
	init=$(ct_init_pid oomc)
	monitor=$(ct_field oomc monitor_pid)
	in_ct oomc sh -c 'sleep 1000 & exit 0'
	# A list reads the counter through a descriptor vsd keeps once the
	# run's state has settled (1 s): the kill must show in the next list.
	sleep 1.2
	assert_eq "$(list_oom_kills oomc)" 0 "list oom.kills before"
	assert_eq "$(list_oom_kills oomc)" 0 "list oom.kills before (kept)"
	ls -l "/proc/$(vsd_pid)/fd" | grep -Eq 'oomc/memory\.(oom_control|events)$' ||
		fail "vsd keeps no descriptor on the OOM counter: $(ls -l "/proc/$(vsd_pid)/fd")"
	run in_ct oomc dd if=/dev/zero of=/dev/null bs=100M count=1
	assert_eq "$status" 137 "dd killed by SIGKILL"
	assert_eq "$(list_oom_kills oomc)" 1 "list oom.kills right after the kill"
	# The kernel log is read every second.
	wait_for 10 oom_kills 1 || fail "oom.kills: $(vsctl stats oomc --json)"
	wait_for 5 eval '[[ "$(stats_field oomc oom.last_command)" == dd ]]' ||
		fail "last_command: $(vsctl stats oomc --json)"
	local at now
	at=$(stats_field oomc oom.last_at)
	now=$(date +%s)
	((at > now - 120 && at <= now + 5)) || fail "last_at $at, now $now"
	assert_eq "$(ct_field oomc oom.kills)" 1 "status oom.kills"
	assert_eq "$(ct_field oomc oom.last_command)" dd "status oom.last_command"
	pid_alive "$init" || fail "init died"
	pid_alive "$monitor" || fail "monitor died"
	pid_alive "$(vsd_pid)" || fail "vsd died"
	in_ct oomc pidof sleep >/dev/null || fail "the other process died"
	# Persisted: a restarted vsd still knows.
	vsd_stop_daemon
	vsd_start_daemon
	assert_eq "$(stats_field oomc oom.kills)" 1 "after a vsd restart"
	assert_eq "$(stats_field oomc oom.last_command)" dd "after a vsd restart"
	vsctl destroy --force oomc
}

reclaimed_positive() { (($(stats_field "$1" memory.reclaimed) > 0)); }

@test "idle reclaim: an idle container's page cache is reclaimed; --idle-reclaim off (create, or set live) is not touched" {
	ct_create_started idle1 --memory 512M || fail "create idle1"
	ct_create_started idle2 --memory 512M --idle-reclaim off || fail "create idle2"
	assert_eq "$(ct_field idle2 idle_reclaim)" false "idle2 status idle_reclaim"
	# idle3 starts with reclaim on (the default) and is switched off live.
	ct_create_started idle3 --memory 512M || fail "create idle3"
	assert_eq "$(ct_field idle3 idle_reclaim)" true "idle3 status idle_reclaim before set"
	local pid3
	pid3=$(ct_init_pid idle3)
	run vsctl set idle3 --idle-reclaim off
	assert_success
	assert_eq "$(ct_field idle3 idle_reclaim)" false "idle3 status idle_reclaim after set"
	assert_eq "$(ct_init_pid idle3)" "$pid3" "idle3 init pid after set"
	# Stored: what a restarted vsd reads back.
	grep -q '"idle_reclaim": *false' "$VSD_ROOT/containers/idle3/config.json" ||
		fail "config.json: $(cat "$VSD_ROOT/containers/idle3/config.json")"
	local c
	for c in idle1 idle2 idle3; do
		in_ct "$c" dd if=/dev/zero of=/fill bs=1M count=100 2>/dev/null
	done
	local before
	before=$(stats_field idle1 memory.current)
	((before > 90 * 1024 * 1024)) || fail "idle1 holds only $before bytes after writing 100 MB"
	# Idle after 3 quiet one-second samples, then 5% per second.
	wait_for 30 reclaimed_positive idle1 || fail "nothing reclaimed: $(vsctl stats idle1 --json)"
	local after
	after=$(stats_field idle1 memory.current)
	((after < before)) || fail "memory.current $before -> $after"
	# idle2 and idle3 filled their cache with idle1 and were as idle: with
	# reclaim on they would have been reclaimed in the same sample. Two
	# more samples to be sure.
	sleep 2
	assert_eq "$(stats_field idle2 memory.reclaimed)" 0 "idle2 (--idle-reclaim off at create)"
	assert_eq "$(stats_field idle3 memory.reclaimed)" 0 "idle3 (--idle-reclaim off set live)"
	# The limit in force is the configured one again (v1 lowers it for
	# a moment; v2 never touches it).
	assert_eq "$(stats_field idle1 memory.limit)" 536870912 "limit restored"
	run curl -sS --unix-socket "$VSD_SOCKET" http://vsd/metrics
	echo "$output" | grep -q '^vsd_container_memory_reclaimed_bytes_total{container="idle1"} [1-9]' ||
		fail "metrics: $(echo "$output" | grep reclaimed)"
	vsctl destroy --force idle1
	vsctl destroy --force idle2
	vsctl destroy --force idle3
}
