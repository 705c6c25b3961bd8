#!/usr/bin/python3
"""cr-phases.py dump|restore LOG...: where the time of CRIU dumps (restores)
goes, from the timestamps of their -v4 logs: the median, over the logs, of
the milliseconds of each phase, one "phase ms" line each, then "total ms".

A phase runs from the first line that matches its start pattern to the start
of the next phase found in the log; patterns are CRIU 4.3's log lines. Gaps
inside a phase that belong to a named sub-step (a tar of a tmpfs, a program
run for the network namespace) are counted apart."""
import re
import statistics
import sys

TS = re.compile(r"^\((\d+)\.(\d+)\) (.*)")

DUMP = [
    ("init: kerndat probes (no cache: /run is not tmpfs)", r"^CRIU run id|^Version:"),
    # vsd freezes the VPS from CRIU's pre-dump action script (its
    # freeze-at-pre-dump), which runs between these two lines; before that
    # change (a build older than 2026-12-07) the phase is empty.
    ("pre-dump script: vsd freezes, node sides down", r"^Dumping processes \(pid"),
    ("freeze check, seize the tasks", r"^irmap: Searching"),
    ("network lock (iptables or nftables)", r"^Running network-lock scripts"),
    ("collect namespaces, mount tree", r"^id_map:"),
    ("tasks: parasite, memory, pages, fds", r"^Dumping task \(pid"),
    ("mounts: tmpfs contents (tar+gzip each)", r"^mnt: Dumping mountpoints"),
    ("pstree, time/uts/ipc namespaces", r"^Dumping file-locks"),
    ("net namespace (ip, iptables-save...)", r"^Dump NET namespace"),
    ("cgroups, images", r"^Namespaces dump complete"),
    ("network unlock (iptables or nftables)", r"^Running network-unlock scripts"),
    ("unfreeze, stats", r"^Unfreezing tasks"),
]

RESTORE = [
    ("init: kerndat probes (no cache: /run is not tmpfs)", r"^CRIU run id|^Version:"),
    ("read images, prepare", r"^Reading image tree"),
    ("fork the root task", r"^Running pre-restore scripts"),
    ("net namespace (ip, iptables-restore...)", r"^Running setup-namespaces scripts"),
    ("mount tree, tmpfs contents (tar each)", r"mnt: Restoring mount namespace"),
    ("tasks: files, memory, sockets", r"^Running post-setup-namespaces scripts"),
    ("network unlock (iptables or nftables)", r"^Running network-unlock scripts"),
    ("resume", r"^Run late stage hook|^Running pre-resume scripts"),
]


def parse(path):
    out = []
    with open(path, errors="replace") as f:
        for line in f:
            m = TS.match(line)
            if m:
                out.append((int(m.group(1)) + int(m.group(2)) / 1e6, m.group(3)))
    return out


def phases(lines, table):
    """{phase: seconds} for one log."""
    starts = []
    for name, pat in table:
        rx = re.compile(pat)
        for t, text in lines:
            if rx.search(text):
                starts.append((t, name))
                break
    starts.sort()
    end = lines[-1][0] if lines else 0.0
    res = {name: 0.0 for name, _ in table}
    for i, (t, name) in enumerate(starts):
        nxt = starts[i + 1][0] if i + 1 < len(starts) else end
        res[name] = nxt - t
    res["total"] = end
    return res


def substeps(lines):
    """Time of the tar runs (tmpfs) and of the network programs: from the
    line announcing each to the next line."""
    tar = net = 0.0
    for i in range(len(lines) - 1):
        t, text = lines[i]
        dt = lines[i + 1][0] - t
        if re.match(r"mnt: \t\d+: [0-9a-f]+:/ @ \./", text) or "tmpfs" in text and "tar" in text:
            tar += dt if dt > 0.003 else 0.0
        elif re.search(r"Running (ip|iptables|ip6tables)", text):
            net += dt
    return tar, net


def frozen_part(lines):
    """Seconds of the run from vsd's freeze on: from the pre-dump script's
    line when vsd's freeze-at-pre-dump script ran, else the whole run."""
    end = lines[-1][0] if lines else 0.0
    for i in range(len(lines) - 1):
        if lines[i][1].startswith("Running pre-dump scripts") and "freeze-at-pre-dump" in lines[i + 1][1]:
            return end - lines[i][0]
    return end


def main():
    kind, logs = sys.argv[1], sys.argv[2:]
    table = DUMP if kind == "dump" else RESTORE
    per = [phases(parse(p), table) for p in logs]
    for name in [n for n, _ in table] + ["total"]:
        print("%-52s %8.1f" % (name, 1000 * statistics.median(r[name] for r in per)))
    if kind == "dump":
        subs = [substeps(parse(p)) for p in logs]
        print("%-52s %8.1f" % ("  of which tmpfs archives (mounts)", 1000 * statistics.median(s[0] for s in subs)))
        print("%-52s %8.1f" % ("  of which ip/iptables programs (net ns)", 1000 * statistics.median(s[1] for s in subs)))
        # Frozen part of CRIU's run: from the freeze on where vsd freezes at
        # the pre-dump script, the whole run where it froze before CRIU.
        frozen = [frozen_part(parse(p)) for p in logs]
        print("%-52s %8.1f" % ("criu's time while the VPS is frozen", 1000 * statistics.median(frozen)))


main()
