#!/usr/bin/env python3
"""Check the project's include graph: no cycles, and the layering of
docs/architecture.md (lower layers never include upper ones; a module's
private headers are used only inside its folder). Exit 1 on a violation."""
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
INC = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def sources():
    for top in ALLOWED:
        for dirpath, _, files in os.walk(os.path.join(ROOT, top)):
            for f in files:
                if f.endswith((".c", ".h")):
                    yield os.path.relpath(os.path.join(dirpath, f), ROOT)


def main():
    graph, errors = {}, []
    for src in sources():
        with open(os.path.join(ROOT, src), encoding="utf-8", errors="replace") as fh:
            incs = INC.findall(fh.read())
        graph[src] = incs
        folder = src.split("/")[0]
        allowed = ALLOWED[folder]
        for inc in incs:
            target = inc.split("/")[0] if "/" in inc else folder
            if allowed is not None and target != folder and target not in allowed:
                errors.append(f"{src}: includes {inc} ({folder} may not use {target})")
            if (target != folder and "-private.h" in inc and allowed is not None):
                errors.append(f"{src}: includes another module's private header {inc}")
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
