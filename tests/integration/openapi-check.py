#!/usr/bin/env python3
"""Check one live answer of vsd against the OpenAPI document it serves.

  openapi-check.py DOC METHOD PATTERN STATUS CONTENT-TYPE < BODY
  openapi-check.py DOC --schemas        (every component schema is valid)

PATTERN is the document's path ("/v1/containers/{name}"), STATUS the HTTP
status received. Fails (exit 1, saying why) when the document does not
list that status for the operation, when the content type is not the
documented one, or when the body does not validate against the response's
schema (JSON Schema 2020-12, python3-jsonschema)."""
import json
import sys

import jsonschema


def pointer(*parts):
    return "#/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


def validate(doc, ptr, body):
    # The document itself is the root schema resource: its "$ref"s
    # ("#/components/schemas/...") resolve against it, and the keywords
    # that are not JSON Schema ("paths", ...) are ignored.
    root = dict(doc)
    root["$ref"] = ptr
    v = jsonschema.Draft202012Validator(root)
    errors = sorted(v.iter_errors(body), key=lambda e: list(e.absolute_path))
    for e in errors[:5]:
        where = "/".join(str(p) for p in e.absolute_path) or "(root)"
        print("%s: %s" % (where, e.message[:300]), file=sys.stderr)
    return not errors


def check_schemas(doc):
    ok = True
    for name in doc["components"]["schemas"]:
        try:
            jsonschema.Draft202012Validator.check_schema(doc["components"]["schemas"][name])
        except jsonschema.SchemaError as e:
            print("%s: %s" % (name, e.message), file=sys.stderr)
            ok = False
    return ok


def main():
    with open(sys.argv[1]) as f:
        doc = json.load(f)
    if sys.argv[2] == "--schemas":
        return 0 if check_schemas(doc) else 1
    method, pattern, status, ctype = sys.argv[2].lower(), sys.argv[3], sys.argv[4], sys.argv[5]
    op = doc["paths"].get(pattern, {}).get(method)
    if op is None and status == "405" and pattern in doc["paths"]:
        # A method the path does not have: the shared 405 answer.
        op = {"responses": {"405": {"$ref": "#/components/responses/MethodNotAllowed"}}}
    if op is None:
        print("%s %s is not in the document" % (method.upper(), pattern), file=sys.stderr)
        return 1
    resp = op["responses"].get(status)
    if resp is None:
        print("%s %s: status %s is not documented (has %s)" %
              (method.upper(), pattern, status, ", ".join(op["responses"])),
              file=sys.stderr)
        return 1
    base = ("paths", pattern, method, "responses", status)
    if "$ref" in resp:
        base = tuple(resp["$ref"][2:].split("/"))
        resp = doc["components"]["responses"][base[-1]]
    media = ctype.split(";")[0].strip()
    if media not in resp.get("content", {}):
        print("content type %s is not documented for %s (has %s)" %
              (media, status, ", ".join(resp.get("content", {}))), file=sys.stderr)
        return 1
    raw = sys.stdin.read()
    if media != "application/json":
        return 0
    body = json.loads(raw)
    ptr = pointer(*base, "content", media, "schema")
    return 0 if validate(doc, ptr, body) else 1


if __name__ == "__main__":
    sys.exit(main())
