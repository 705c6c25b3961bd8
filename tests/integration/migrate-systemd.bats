#!/usr/bin/env bats
# A Debian 12 systemd guest moved between nodes (issue 10, item 6): an
# unprivileged guest with an address on the test LAN, running services
# under load, moves A→B→A... ten times live, and once with --mode stop (a
# restart migration), on the cluster of cluster-helpers.bash.
#
# The guest's services (units written into it by the test, nothing
# installed): vsdt-count writes a counter and fsyncs it every 0.1 s
# (/var/lib/vsdt/count, continuing from the file's value when it starts
# again), vsdt-mem holds 64 MB of memory (perl), vsdt-spawn is a shell
# running commands all the time (dash vforks each), vsdt-echo.socket is a TCP
# echo service on port 7000 (socket activation, one `cat` per connection)
# with which a client on the LAN keeps one conversation through every move.
#
# After every live move: systemd is running (or degraded, with no unit
# failed that had not failed at boot), the services' and systemd's own
# daemons' PIDs are the same (moved, not restarted), the counter and the
# uptime inside kept counting, and exactly one copy exists.
#
# Needs the CRIU of scripts/install-criu.sh and the Debian 12 template
# (helpers.bash: deb12_template, imported on both nodes from the cached
# tarball); the file is skipped without either.

load helpers
load net-helpers
load cluster-helpers
load cr-helpers

MOVES=${VSD_TEST_SD_MOVES:-10}

setup_file() {
	local why
	if why=$(cr_criu_unusable); then
		skip "checkpoint/restore unavailable: $why"
	fi
	cluster_setup_file || return 1
	# The same template (same digest) on both nodes.
	on A deb12_template && on B deb12_template && return 0
	cat "$CL_A_TMP/skip-reason" "$CL_B_TMP/skip-reason" >"$NET_TMP/skip-reason" 2>/dev/null
	[[ -s "$NET_TMP/skip-reason" ]] || echo "no Debian template" >"$NET_TMP/skip-reason"
}
teardown_file() { cluster_teardown_file; }
setup() {
	if [[ -s "$NET_TMP/skip-reason" ]]; then
		skip "$(cat "$NET_TMP/skip-reason")"
	fi
}
# After a failure, the errors of a failed dump's CRIU log too (kept next to
# the container as last-checkpoint.log).
teardown() {
	if [[ -z "${BATS_TEST_COMPLETED:-}" ]]; then
		grep -hs "Error" "$CL_A_ROOT"/containers/*/last-checkpoint.log \
			"$CL_B_ROOT"/containers/*/last-checkpoint.log || true
	fi
	cluster_teardown_test
}

other() { if [[ $1 == A ]]; then echo B; else echo A; fi; }
remote_of() { if [[ $1 == A ]]; then echo nodea; else echo nodeb; fi; }

# move NAME FROM ARGS...: migrate NAME from node FROM to the other node
# (the operation's output on stdout).
move() { cvsctl --socket "$(cl_sock "$2")" migrate "$1" --to "$(remote_of "$(other "$2")")" "${@:3}"; }

# sd_install NODE NAME: the test's units and scripts in the guest, enabled
# and started.
sd_install() {
	on "$1" in_ct "$2" sh -c 'set -e
		mkdir -p /var/lib/vsdt /usr/local/bin
		cat >/usr/local/bin/vsdt-count <<"EOF"
#!/bin/sh
# A counter written aside, fsynced and renamed every 0.1 s.
i=$(cat /var/lib/vsdt/count 2>/dev/null || echo 0)
while :; do
	i=$((i + 1))
	echo $i >/var/lib/vsdt/count.new
	sync /var/lib/vsdt/count.new
	mv /var/lib/vsdt/count.new /var/lib/vsdt/count
	sleep 0.1
done
EOF
		cat >/etc/systemd/system/vsdt-count.service <<"EOF"
[Unit]
Description=vsd test: a counter fsynced every 0.1 s
[Service]
ExecStart=/usr/local/bin/vsdt-count
[Install]
WantedBy=multi-user.target
EOF
		cat >/etc/systemd/system/vsdt-mem.service <<"EOF"
[Unit]
Description=vsd test: 64 MB held in memory
[Service]
ExecStart=/usr/bin/perl -e "$$x = q(v) x (64 << 20); sleep 1 while 1"
[Install]
WantedBy=multi-user.target
EOF
		cat >/etc/systemd/system/vsdt-spawn.service <<"EOF"
[Unit]
Description=vsd test: a shell running commands all the time
[Service]
ExecStart=/bin/sh -c "while :; do /bin/true; sleep 0.01; done"
[Install]
WantedBy=multi-user.target
EOF
		cat >/etc/systemd/system/vsdt-echo.socket <<"EOF"
[Unit]
Description=vsd test: TCP echo on port 7000
[Socket]
ListenStream=7000
Accept=yes
[Install]
WantedBy=sockets.target
EOF
		cat >/etc/systemd/system/vsdt-echo@.service <<"EOF"
[Unit]
Description=vsd test: one echo connection
[Service]
ExecStart=/bin/cat
StandardInput=socket
StandardOutput=socket
EOF
		chmod 0755 /usr/local/bin/vsdt-count
		systemctl daemon-reload
		systemctl enable --now vsdt-count.service vsdt-mem.service vsdt-spawn.service \
			vsdt-echo.socket 2>&1'
}

# sd_boot NODE NAME IP: a Debian guest created, started and booted to
# running or degraded; the units failed at boot in $NET_TMP/NAME-failed.
sd_boot() {
	local n=$1 name=$2 state="" deadline=$((SECONDS + 120))
	on "$n" vsctl create "$name" --template deb12 --ip "$3" >/dev/null || return 1
	on "$n" vsctl start "$name" || return 1
	# Until systemd's bus socket exists systemctl cannot ask: retry.
	while ((SECONDS < deadline)); do
		state=$(sd_state "$n" "$name" --wait) || true
		[[ "$state" == *bus* || -z "$state" ]] || break
		sleep 0.5
	done
	[[ "$state" == running || "$state" == degraded ]] ||
		fail "boot of $name on $n: is-system-running: $state" || return 1
	on "$n" in_ct "$name" systemctl --failed --no-legend --plain | awk '{ print $1 }' \
		>"$NET_TMP/$name-failed"
	echo "# $name booted: $state; failed at boot: $(squash "$(cat "$NET_TMP/$name-failed")")" >&3
}

sd_state() { timeout 60 "$VSCTL_BIN" --socket "$(cl_sock "$1")" exec "$2" -- systemctl is-system-running "${@:3}" 2>&1; }

# sd_facts NODE NAME: one line from inside: "COUNT UPTIME UNIT=PID ...",
# the PIDs of the test's services, of the echo connection's cat and of
# systemd's own daemons. (Not start times: a restored process is a new
# task to the kernel, started at the restore.)
sd_facts() {
	on "$1" in_ct "$2" sh -c 'c=$(cat /var/lib/vsdt/count); u=$(cut -d" " -f1 /proc/uptime)
		p=""
		for s in $(systemctl list-units --plain --no-legend --state=active "vsdt-*.service" \
			systemd-journald.service systemd-logind.service dbus.service | awk "{ print \$1 }" | sort); do
			p="$p $s=$(systemctl show -p MainPID --value "$s")"
		done
		echo "$c $u$p"'
}

# sd_wait_ok NODE NAME WHEN: systemd answers running or degraded within
# 30 s (right after a restore it may need a moment on its bus), and no
# unit failed that had not failed at boot.
sd_wait_ok() {
	local n=$1 name=$2 when=$3 state u deadline=$((SECONDS + 30))
	while :; do
		state=$(sd_state "$n" "$name") || true
		[[ "$state" == running || "$state" == degraded ]] && break
		((SECONDS < deadline)) || fail "$when: is-system-running: $state" || return 1
		sleep 0.5
	done
	for u in $(on "$n" in_ct "$name" systemctl --failed --no-legend --plain | awk '{ print $1 }'); do
		grep -qxF "$u" "$NET_TMP/$name-failed" || fail "$when: unit $u failed" || return 1
	done
}

# assert_only_on NODE NAME STATE: NAME is on NODE in STATE, the other node
# has neither it nor a staging entry of it; neither node has staging left.
assert_only_on() {
	local n=$1 o
	o=$(other "$n")
	cl_has "$n" "$2" || fail "$2 is not on node $n: $(cl_list "$n" | tr '\n' ' ')" || return 1
	assert_eq "$(cl_state "$n" "$2")" "$3" "state of $2 on $n" || return 1
	! cl_has "$o" "$2" || fail "$2 is on node $o too" || return 1
	assert_eq "$(cl_listing "$o" | grep -c "$2" || true)" 0 "entries of $2 under $o's containers/" ||
		return 1
	assert_eq "$(cl_listing "$n" | grep -c "\.$2\." || true)" 0 "staging entries of $2 on $n"
}

# chat_start NODE NAME ADDR: chat_connect (cluster-helpers.bash) to the
# guest's socket-activated echo service.
chat_start() { chat_connect "$3"; }

# check_moved NODE NAME BEFORE T-BEFORE FROZEN-MS WHEN: after a live move to
# NODE, against the facts (sd_facts) read before it at T-BEFORE (ms); the
# move froze the guest for FROZEN-MS.
check_moved() {
	local n=$1 name=$2 before=$3 t0=$4 frozen=$5 when=$6 after c0 c1 u0 u1 wall ok
	assert_only_on "$n" "$name" running || return 1
	sd_wait_ok "$n" "$name" "$when" || return 1
	after=$(sd_facts "$n" "$name") || fail "$when: facts: $after" || return 1
	wall=$(($(now_ms) - t0))
	read -r c0 u0 _ <<<"$before"
	read -r c1 u1 _ <<<"$after"
	# The same processes (the counts and uptimes aside).
	assert_eq "$(cut -d' ' -f3- <<<"$after")" "$(cut -d' ' -f3- <<<"$before")" \
		"$when: the PIDs inside" || return 1
	((c1 > c0)) || fail "$when: the counter went from $c0 to $c1" || return 1
	# The uptime inside went on: CRIU restores the guest's clocks
	# (CLOCK_BOOTTIME, CLOCK_MONOTONIC, in its time namespace) from the
	# values it dumped (runtime/timens.c), so a move may take at most the
	# frozen window out of it, never reset it or make it jump ahead (1 s
	# for the readings, which are execs of their own).
	ok=$("$PY" -c "d = ($u1 - $u0) * 1000; print($wall - $frozen - 1000 <= d <= $wall + 1000)")
	[[ "$ok" == True ]] || fail "$when: uptime inside went from $u0 to $u1 over $wall ms" \
		"of wall time, $frozen ms of it frozen" || return 1
	sleep 0.3
	read -r c0 _ <<<"$(sd_facts "$n" "$name")"
	((c0 > c1)) || fail "$when: the counter stopped at $c1" || return 1
}

@test "a Debian 12 systemd guest with services under load moves A→B→A... $MOVES times live: same PIDs, counting, no new failed unit, one copy" {
	local name=sdm1 ip=192.0.2.101 from=A to i before t0 out res rss pid frozen t_all=$SECONDS
	sd_boot A "$name" "$ip"
	sd_install A "$name"
	wait_for 10 eval "[[ \$(on A in_ct $name cat /var/lib/vsdt/count 2>/dev/null) -gt 2 ]]" ||
		fail "the counter does not count"
	assert_reach client "$ip"
	chat_start A "$name" "$ip"
	for ((i = 1; i <= MOVES; i++)); do
		to=$(other "$from")
		before=$(sd_facts "$from" "$name")
		t0=$(now_ms)
		out=$(move "$name" "$from" --mode live --json 2>"$NET_TMP/move.err") ||
			fail "move $i ($from→$to): $out $(cat "$NET_TMP/move.err")"
		# (a freeze that caught dash in a vfork is tried again: see how often)
		grep -h "frozen again" "$NET_TMP/move.err" | sed "s/^/# move $i: /" >&3 || true
		frozen=$(json_get frozen_ms <<<"$out")
		echo "# move $i $from→$to: frozen $frozen ms, total $(json_get total_ms <<<"$out") ms," \
			"$(json_get bytes <<<"$out") bytes" >&3
		check_moved "$to" "$name" "$before" "$t0" "$frozen" "move $i ($from→$to)"
		from=$to
	done
	# The memory is still held, by the same process.
	pid=$(on "$from" in_ct "$name" systemctl show -p MainPID --value vsdt-mem.service)
	rss=$(on "$from" in_ct "$name" awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status")
	((rss >= 64 * 1024)) || fail "vsdt-mem holds $rss kB"
	res=$(chat_finish)
	[[ "$res" == ok\ * ]] || fail "the client's conversation: $res"
	echo "# conversation across $MOVES moves: $res (answers, longest gap in ms)" >&3
	echo "# $MOVES moves and their checks: $((SECONDS - t_all)) s" >&3
	assert_reach client "$ip"
}

@test "--mode stop: the systemd guest boots again on the other node, reaches running, its services start and the counter goes on" {
	local name=sdm2 ip=192.0.2.102 c0 out state u res deadline=$((SECONDS + 120))
	sd_boot A "$name" "$ip"
	sd_install A "$name"
	wait_for 10 eval "[[ \$(on A in_ct $name cat /var/lib/vsdt/count 2>/dev/null) -gt 2 ]]" ||
		fail "the counter does not count"
	read -r c0 _ <<<"$(sd_facts A "$name")"
	# A mark in /run (a tmpfs): a live move keeps it, a new boot has none.
	on A in_ct "$name" touch /run/vsdt-before-move
	out=$(move "$name" A --mode stop --json) || fail "stop-mode move: $out"
	assert_eq "$(json_get mode <<<"$out")" stop "the migration's mode"
	echo "# stop-mode move: total $(json_get total_ms <<<"$out") ms, $(json_get bytes <<<"$out") bytes" >&3
	assert_only_on B "$name" running
	while ((SECONDS < deadline)); do
		state=$(sd_state B "$name" --wait) || true
		[[ "$state" == *bus* || -z "$state" ]] || break
		sleep 0.5
	done
	[[ "$state" == running || "$state" == degraded ]] || fail "boot on B: is-system-running: $state"
	sd_wait_ok B "$name" "after the stop-mode move"
	for u in vsdt-count.service vsdt-mem.service vsdt-spawn.service vsdt-echo.socket; do
		assert_eq "$(on B in_ct "$name" systemctl is-active "$u")" active "$u on B"
	done
	wait_for 10 eval "[[ \$(on B in_ct $name cat /var/lib/vsdt/count) -gt $c0 ]]" ||
		fail "the counter did not go on from $c0 on B"
	run on B in_ct "$name" test -e /run/vsdt-before-move
	assert_failure 1
	assert_reach client "$ip"
	res=$(printf 'ping\n' | in_client timeout 5 "$PY" -c '
import socket, sys
c = socket.create_connection((sys.argv[1], 7000), timeout=5)
c.sendall(b"ping\n"); print(c.recv(100).decode().strip())' "$ip")
	assert_eq "$res" ping "the echo service on B"
}
