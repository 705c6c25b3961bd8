#!/usr/bin/env python3
"""Check the project's include graph: no cycles, and the layering of
docs/architecture.md (lower layers never include upper ones; a module's
private headers are used only inside its folder). Inside daemon/, every file
belongs to one layer (DAEMON_LAYERS, the order of daemon/daemon.h's comment)
and includes only daemon headers of its layer and those below, so two files
that call each other across layers show up as a layer cycle. Exit 1 on a
violation."""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Which module folders each folder may include from (besides itself).
ALLOWED = {
    "lib": set(),
    "cgroups": {"lib"},
    "netns": {"lib"},
    "fs-cow": {"lib"},
    "migrate": {"lib"},
    "runtime": {"lib", "cgroups", "netns", "fs-cow", "migrate"},
    "daemon": {"lib", "cgroups", "netns", "fs-cow", "migrate", "runtime"},
    "cli": {"lib"},
    "tests": None,  # tests may include anything
    "bench": None,
}
# migrate/'s monitor side: the checkpoint/restore code that runs inside a
# container's monitor and works on its container (paths, cgroups, console,
# network). These files sit above runtime/ and may include its headers, the
# private one too; the rest of migrate/ stays below runtime/. Their header,
# migrate/mig-monitor.h, is what runtime/ (the monitor) calls them by: the
# one migrate/ header besides vs_migrate.h that runtime/ may include.
MIG_MONITOR_SIDE = {"migrate/checkpoint.c", "migrate/cr-verify.c", "migrate/imgsec.c"}
MIG_MONITOR_HDR = "migrate/mig-monitor.h"
MIG_MONITOR_MAY_USE = {"lib", "cgroups", "netns", "fs-cow", "migrate", "runtime"}
# daemon/ layers, bottom up: the layer's header and the files in it.
DAEMON_LAYERS = [
    ("log.h", ["log.c"]),
    ("events.h", ["events.c"]),
    ("http.h", ["routes.c"]),
    ("ops.h", ["ops.c"]),
    ("store.h", ["store.c", "locks.c", "index.c"]),
    ("auth.h", ["authn.c", "tls.c", "trust.c", "tokens.c", "audit.c",
              "tickets.c"]),
    ("daemon.h", ["network.c", "sampler.c", "oom.c", "criu.c", "emit.c", "authstate.c", "usage.c",
                  "status.c", "peer.c"]),
    ("handlers.h", ["access.c", "api.c", "backup.c", "checkpoint.c", "containers.c", "eventsapi.c",
                    "exec.c", "limits.c", "node.c", "openapi.c", "pools.c", "snapshots.c", "stats.c",
                    "templates.c", "tokensapi.c", "trustapi.c", "creds.c", "panel.c", "reinstall.c",
                    "migrate.c", "migrate-in.c", "migrate-out.c", "migrate-pull.c",
                    "migrate-out.h", "migrate-pages.c"]),
    ("server.h", ["server.c", "listen.c", "recover.c", "vsd.c", "main.c", "helper-main.c"]),
]
INC = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def sources():
    for top in ALLOWED:
        for dirpath, _, files in os.walk(os.path.join(ROOT, top)):
            for f in files:
                if f.endswith((".c", ".h")):
                    yield os.path.relpath(os.path.join(dirpath, f), ROOT)


def daemon_layers(graph):
    """Layer of every daemon/ file; an include of a higher layer's header,
    and any cycle in the graph of layers, is a problem."""
    errors, layer = [], {}
    for rank, (hdr, files) in enumerate(DAEMON_LAYERS):
        layer["daemon/" + hdr] = rank
        for f in files:
            layer["daemon/" + f] = rank
    edges = {}
    for src, incs in graph.items():
        if not src.startswith("daemon/"):
            continue
        if src not in layer:
            errors.append(f"{src}: not in a daemon layer (add it to DAEMON_LAYERS)")
            continue
        for inc in incs:
            if not inc.startswith("daemon/"):
                continue
            if inc not in layer:
                errors.append(f"{src}: includes {inc}, which is not a layer header")
                continue
            a, b = layer[src], layer[inc]
            if a != b:
                edges.setdefault(a, set()).add(b)
            if b > a:
                errors.append(f"{src}: includes {inc} from a higher daemon layer "
                              f"({DAEMON_LAYERS[a][0]} below {DAEMON_LAYERS[b][0]})")
    # A cycle between layers (only possible through an upward include,
    # but named here as the circle it makes).
    state = {}

    def visit(n, stack):
        state[n] = 1
        for m in sorted(edges.get(n, ())):
            if state.get(m) == 1:
                cyc = stack[stack.index(m):] + [m]
                errors.append("daemon layer cycle: " +
                              " -> ".join(DAEMON_LAYERS[i][0] for i in cyc))
            elif state.get(m) is None:
                visit(m, stack + [m])
        state[n] = 2

    for n in sorted(edges):
        if state.get(n) is None:
            visit(n, [n])
    return errors


def main():
    graph, errors = {}, []
    for src in sources():
        with open(os.path.join(ROOT, src), encoding="utf-8", errors="replace") as fh:
            incs = INC.findall(fh.read())
        graph[src] = incs
        folder = src.split("/")[0]
        allowed = ALLOWED[folder]
        monitor_side = src in MIG_MONITOR_SIDE
        if monitor_side or src == MIG_MONITOR_HDR:
            allowed = MIG_MONITOR_MAY_USE
        for inc in incs:
            target = inc.split("/")[0] if "/" in inc else folder
            if allowed is not None and target != folder and target not in allowed:
                errors.append(f"{src}: includes {inc} ({folder} may not use {target})")
            if (target != folder and "-private.h" in inc and allowed is not None and
                    not (monitor_side and inc == "runtime/rt-private.h")):
                errors.append(f"{src}: includes another module's private header {inc}")
            if (inc == MIG_MONITOR_HDR and allowed is not None and not monitor_side and
                    folder != "runtime" and src != MIG_MONITOR_HDR):
                errors.append(f"{src}: includes {inc} (only runtime/ and migrate/'s "
                              "monitor side call the monitor side)")
    errors += daemon_layers(graph)
    # Cycle detection over headers.
    state = {}

    def visit(node, stack):
        state[node] = 1
        for nxt in graph.get(node, []):
            if nxt not in graph:
                continue
            if state.get(nxt) == 1:
                cyc = stack[stack.index(nxt):] + [nxt] if nxt in stack else [node, nxt]
                errors.append("include cycle: " + " -> ".join(cyc))
            elif state.get(nxt) is None:
                visit(nxt, stack + [nxt])
        state[node] = 2

    for node in graph:
        if state.get(node) is None:
            visit(node, [node])
    for e in errors:
        print(e)
    print(f"check-includes: {len(graph)} files, {len(errors)} problem(s)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
