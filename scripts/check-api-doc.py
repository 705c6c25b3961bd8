#!/usr/bin/env python3
"""Hold docs/api.md (the API in prose) to docs/openapi.json (the contract):
every operation of the contract is named in api.md as "METHOD /v1/PATH",
and every such mention in api.md is an operation of the contract.
Placeholders compare by position, not name ({name} matches {container});
query strings and optional parts in brackets are ignored. Exit 1 with the
differences."""
import json
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
MENTION = re.compile(r"\b(GET|POST|PUT|PATCH|DELETE) +(/(?:v1|metrics)[^\s`|),]*)")


def norm(path):
    path = re.split(r"[\[?]", path, maxsplit=1)[0].rstrip("/.:;")
    return re.sub(r"\{[^}]*\}", "{}", path)


def main():
    with open(os.path.join(ROOT, "docs/openapi.json")) as f:
        doc = json.load(f)
    with open(os.path.join(ROOT, "docs/api.md")) as f:
        prose = f.read()
    contract = {(m.upper(), norm(p)) for p, ops in doc["paths"].items()
                for m in ops if m.upper() in METHODS}
    mentioned = {(m, norm(p)) for m, p in MENTION.findall(prose)}
    missing = sorted(contract - mentioned)
    unknown = sorted(mentioned - contract)
    for m, p in missing:
        print(f"check-api-doc: docs/api.md does not describe {m} {p}")
    for m, p in unknown:
        print(f"check-api-doc: docs/api.md names {m} {p}, which docs/openapi.json lacks")
    if missing or unknown:
        return 1
    print(f"check-api-doc: docs/api.md names all {len(contract)} operations, and no others")
    return 0


if __name__ == "__main__":
    sys.exit(main())
