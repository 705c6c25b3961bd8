#!/usr/bin/env python3
"""Write docs/openapi.json, vsd's REST contract (OpenAPI 3.1), from this
script's description of the routes and the request schemas in
config-schemas/ (embedded, not copied by hand: each schema goes into
components/schemas with its $id and $schema dropped and its "#/$defs/..."
references rewritten to point into the document, so one self-contained
file can be served by the daemon and read by any tool).

  scripts/gen-openapi.py          write docs/openapi.json
  scripts/gen-openapi.py --check  exit 1 when docs/openapi.json is stale
"""
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "docs", "openapi.json")

# config-schemas/X.json -> components/schemas/<Name>
SCHEMAS = {
    "container-config": "ContainerConfig",
    "create-request": "CreateRequest",
    "update-request": "UpdateRequest",
    "state-request": "StateRequest",
    "exec-request": "ExecRequest",
    "empty-request": "EmptyRequest",
    "console-request": "ConsoleRequest",
    "resume-request": "ResumeRequest",
    "checkpoint-request": "CheckpointRequest",
    "restore-request": "RestoreRequest",
    "snapshot-request": "SnapshotRequest",
    "snapshot-restore-request": "SnapshotRestoreRequest",
    "template-request": "TemplateRequest",
    "lock-request": "LockRequest",
    "unlock-request": "UnlockRequest",
    "password-request": "PasswordRequest",
    "ssh-keys-request": "SshKeysRequest",
    "reinstall-request": "ReinstallRequest",
    "migrate-request": "MigrateRequest",
    "migration-reserve-request": "MigrationReserveRequest",
    "migration-sync-request": "MigrationSyncRequest",
    "migration-commit-request": "MigrationCommitRequest",
}


def ref(name):
    return {"$ref": "#/components/schemas/" + name}


def rewrite(node, fn):
    """Apply fn to every "$ref" string under node."""
    if isinstance(node, dict):
        return {k: fn(v) if k == "$ref" and isinstance(v, str) else rewrite(v, fn)
                for k, v in node.items()}
    if isinstance(node, list):
        return [rewrite(v, fn) for v in node]
    return node


def pascal(name):
    return "".join(w[:1].upper() + w[1:] for w in name.split("_"))


def embedded_schemas():
    """The request schemas, each under components/schemas/<Name>, with
    their $defs hoisted beside them (generators such as openapi-typescript
    read only components/schemas): a definition that every schema defining
    it agrees on is one component (Size, Limits...); one that differs
    between schemas is one per schema (CreateRequestLimits...). Returns
    the schemas and a map "Schema/$defs/x" -> component name."""
    loaded, defs = {}, {}
    for fname, name in SCHEMAS.items():
        with open(os.path.join(ROOT, "config-schemas", fname + ".json")) as f:
            s = json.load(f)
        s.pop("$schema", None)
        s.pop("$id", None)
        s["description"] = (s.get("description", "") +
                            " (config-schemas/%s.json)" % fname).strip()
        loaded[name] = s
        for d, body in s.get("$defs", {}).items():
            defs.setdefault(d, {})[name] = body
    hoisted = {}
    for d, by_schema in defs.items():
        bodies = [json.dumps(b, sort_keys=True) for b in by_schema.values()]
        for name in by_schema:
            hoisted[name + "/$defs/" + d] = (
                pascal(d) if len(set(bodies)) == 1 else name + pascal(d))
    out = {}
    for name, s in loaded.items():
        local = lambda r, n=name: "#/components/schemas/" + (
            hoisted[n + r[1:]] if r.startswith("#/$defs/") else n + r[1:])
        for d, body in s.pop("$defs", {}).items():
            out[hoisted[name + "/$defs/" + d]] = rewrite(body, local)
        out[name] = rewrite(s, local)
    return out, hoisted


def nullable(schema):
    return {"anyOf": [schema, {"type": "null"}]}


INT = {"type": "integer"}
INT0 = {"type": "integer", "minimum": 0}
NINT = nullable(INT0)
STR = {"type": "string"}
BOOL = {"type": "boolean"}
STRS = {"type": "array", "items": STR}


def obj(props, required=None, extra=False, desc=None):
    o = {"type": "object", "properties": props,
         "required": list(props) if required is None else required,
         "additionalProperties": extra}
    if desc:
        o["description"] = desc
    return o


STATE = {"enum": ["stopped", "starting", "running", "stopping", "suspended"]}

OBJECTS = {
    "StreamTicket": obj({
        "id": dict(STR, pattern="^[0-9a-f]{32}$"),
        "url": dict(STR, description="Where to open the stream: GET with "
                    "a WebSocket upgrade, /v1/streams/{id}."),
        "secret": dict(STR, pattern="^[0-9a-f]{64}$", description="Shown "
                       "this once: ?secret= or the subprotocol "
                       "vsd.ticket.SECRET."),
        "expires_at": dict(INT0, description="Unix seconds; unredeemed "
                           "after this, the ticket is gone (401)."),
    }, desc="A one-time stream ticket (docs/api.md, \"Browser "
       "terminals\")."),
    "Error": obj({
        "error": obj({
            "code": {"enum": ["invalid", "unauthorized", "forbidden",
                              "not_found", "conflict",
                              "too_large", "method_not_allowed",
                              "precondition_failed",
                              "unsupported", "internal"]},
            "message": {"type": "string", "description":
                        "What failed, naming the field or object."},
        })}, desc="Every error answer (docs/api.md, \"Errors\")."),
    "ErrorDetail": obj({"code": STR, "message": STR}),
    "Deleted": obj({"deleted": {"type": "string",
                                "description": "The name removed."}}),
    "OomRecord": obj({
        "kills": INT0,
        "last_at": nullable(INT),
        "last_command": nullable(STR),
    }, desc="OOM kills by the container's memory limit since it was "
            "created; the victim named from the kernel log when vsd saw it."),
    "ContainerStatus": obj({
        "name": STR,
        "state": STATE,
        "template": STR,
        "hostname": STR,
        "privileged": BOOL,
        "init_pid": dict(INT0, description="Host pid of init; 0 unless running."),
        "monitor_pid": INT0,
        "started_at": dict(INT0, description="Unix seconds; 0 unless running."),
        "created_at": INT0,
        "idmap": ref("ContainerConfig/properties/idmap"),
        "limits": ref("ContainerConfig/$defs/limits"),
        "limits_unenforced": dict(STRS, description=
                                  "Limits the node cannot enforce, one line each."),
        "pool": STR,
        "owner": dict(STR, description="The hosting account it belongs to "
                      "(absent: none)."),
        "idle_reclaim": BOOL,
        "net": ref("ContainerConfig/properties/net"),
        "last_exit": obj({"code": INT, "signal": INT}),
        "start_error": dict(ref("ErrorDetail"), description="Only in the "
                            "answer to a create with \"start\": true whose "
                            "start failed (the container was made and is "
                            "stopped)."),
        "operation": obj({"id": STR, "kind": STR}, desc=
                         "The operation holding the container, while one runs."),
        "oom": ref("OomRecord"),
        "locked": ref("ContainerConfig/properties/locked/anyOf/0"),
    }, required=["name", "state", "template", "hostname", "privileged",
                 "init_pid", "monitor_pid", "started_at", "created_at",
                 "limits", "limits_unenforced", "idle_reclaim", "oom"],
        desc="A container (docs/api.md, \"Status object\")."),
    "CredentialsResult": obj({
        "user": STR,
        "applied": dict(BOOL, description="true: written inside the running "
                        "container; false: queued for its next start."),
    }),
    "ContainerUnreadable": obj({
        "name": STR, "state": {"const": "unknown"}, "error": ref("ErrorDetail"),
    }, desc="A container of GET /v1/containers whose config or state "
            "cannot be read."),
    "ContainerList": obj({"containers": {"type": "array", "items": {"anyOf": [
        ref("ContainerStatus"), ref("ContainerUnreadable")]}}}),
    "Operation": obj({
        "id": dict(STR, pattern="^[1-9][0-9]*$"),
        "kind": {"enum": ["template-build", "template-import",
                          "container-suspend", "container-resume",
                          "container-checkpoint", "container-restore",
                          "container-import", "snapshot-create",
                          "snapshot-restore", "container-migrate",
                          "container-migrate-recover"]},
        "target": STR,
        "owner": dict(STR, description="The owner of the owner-scoped "
                      "credential that started it (absent otherwise)."),
        "status": {"enum": ["running", "success", "failure"]},
        "created_at": INT0,
        "finished_at": dict(nullable(INT0), description="Null while running."),
        "cancellable": dict(BOOL, description="DELETE would cancel it."),
        "cancelled": BOOL,
        "progress": STRS,
        "progress_offset": INT0,
        "error": nullable(ref("ErrorDetail")),
        "result": {"description": "On success: what the kind returns "
                   "(null until then).", "anyOf": [
                       {"type": "null"}, ref("Template"),
                       ref("CheckpointResult"), ref("SnapshotCreateResult"),
                       ref("SnapshotRestoreResult"), ref("ContainerStatus"),
                       ref("MigrateResult"), ref("MigrateRecoverResult")]},
    }, required=["id", "kind", "target", "status", "created_at",
                 "finished_at", "cancellable", "cancelled", "error", "result"],
        desc="Long work (docs/api.md, \"Operations\"); kept 10 minutes "
             "after it ends. The list leaves out progress."),
    "OperationList": obj({"operations": {"type": "array",
                                         "items": ref("Operation")}}),
    "CheckpointResult": obj({
        "frozen_ms": INT0, "criu_ms": INT0, "total_ms": INT0,
        "image_bytes": INT0, "dir": STR, "container": ref("ContainerStatus"),
    }, required=["total_ms", "container"], extra=True,
        desc="Result of suspend, resume, checkpoint and restore."),
    "SnapshotSummary": obj({
        "name": STR, "created_at": dict(STR, format="date-time"),
        "size_bytes": INT0, "with_memory": BOOL, "state": STATE,
    }),
    "Snapshot": obj({
        "name": STR, "container": STR,
        "created_at": dict(STR, format="date-time"),
        "size_bytes": INT0, "with_memory": BOOL, "state": STATE,
        "config": ref("ContainerConfig"),
    }, desc="A snapshot's snapshot.json."),
    "SnapshotList": obj({
        "container": STR,
        "counted_against_disk_quota": {"const": False},
        "note": STR,
        "snapshots": {"type": "array", "items": ref("SnapshotSummary")},
    }),
    "SnapshotCreateResult": obj({"total_ms": INT0, "note": STR,
                                 "snapshot": ref("SnapshotSummary")}),
    "SnapshotRestoreResult": obj({"total_ms": INT0, "snapshot": STR,
                                  "container": ref("ContainerStatus")}),
    "Template": obj({
        "name": STR, "source": STR, "init_system": STR, "init": STRS,
        "stop_signal": STR, "created_at": INT0,
        "size": dict(INT0, description="Bytes."),
    }),
    "TemplateList": obj({"templates": {"type": "array",
                                       "items": ref("Template")}}),
    "Usage": obj({
        "name": STR,
        "since": dict(nullable(INT0), description="The since asked for (null: "
                      "none, since creation)."),
        "from": dict(INT0, description="Unix seconds the figures count from: "
                     "the newest ledger sample at or before since (hourly, "
                     "and at each stop), else the container's creation."),
        "to": dict(INT0, description="Unix seconds of this answer."),
        "cpu_seconds": {"type": "number", "minimum": 0, "description":
                        "CPU time used from..to, over stops, starts and vsd "
                        "restarts."},
        "memory": obj({"current_bytes": nullable(INT0),
                       "peak_bytes": nullable(INT0)}, desc="Now and the "
                      "peak of the current run; null when stopped or "
                      "unknown."),
        "disk": obj({"used_bytes": nullable(INT0),
                     "inodes_used": nullable(INT0)}, desc="Now, of its disk "
                    "quota; null without one."),
        "net": {"type": "object", "description": "Per interface inside the "
                "container: bytes received and sent from..to.",
                "additionalProperties": obj({"rx_bytes": INT0,
                                             "tx_bytes": INT0})},
    }, desc="Usage for billing (docs/api.md, \"Usage for billing\")."),
    "Stats": obj({
        "name": STR, "state": STATE,
        "cpu": obj({"usage_usec": NINT, "user_usec": NINT,
                    "system_usec": NINT, "throttled_usec": NINT,
                    "nr_throttled": NINT,
                    "usage_percent": nullable({"type": "number", "minimum": 0})}),
        "memory": obj({"current": NINT, "peak": NINT, "limit": NINT,
                       "swap": NINT, "file": NINT, "anon": NINT,
                       "pgfault": NINT, "reclaimed": INT0}),
        "pids": obj({"current": NINT, "max": NINT}),
        "io": obj({"read_bytes": NINT, "write_bytes": NINT,
                   "read_ios": NINT, "write_ios": NINT}),
        "disk": nullable(obj({"used": NINT, "total": NINT,
                              "inodes_used": NINT, "inodes_total": NINT})),
        "oom": ref("OomRecord"),
        "net": {"type": "array", "items": obj({
            "interface": STR,
            "egress_bytes": INT0, "egress_packets": INT0, "egress_drops": INT0,
            "ingress_bytes": INT0, "ingress_packets": INT0,
            "ingress_drops": INT0})},
    }, desc="Usage counters (docs/api.md, \"Statistics\"); null: the host "
            "cannot tell."),
    "Node": obj({
        "version": STR, "root": STR, "run_dir": STR, "cgroup_parent": STR,
        "cgroup_mode": {"enum": ["hybrid", "unified", "legacy"]},
        "cgroups": STR, "kernel": STR,
        "criu": obj({
            "path": nullable(STR), "version": nullable(STR),
            "available": BOOL,
            "features": obj({"checkpoint": BOOL, "lazy_pages": BOOL,
                             "mem_tracking": BOOL, "network_lock": BOOL}),
            "network_lock_method": {"enum": ["nftables", "iptables", "none"]},
            "messages": STRS}),
        "views": obj({"active": BOOL, "provider": STR, "mount": STR,
                      "pid": INT0, "error": nullable(STR)},
                     required=["active", "provider", "mount"]),
        "network": obj({
            "id": STR, "uplink": nullable(STR), "bridge": STR,
            "firewall_table": STR,
            "pools": {"type": "array", "items": obj({
                "network": STR, "cidr": nullable(STR),
                "gateway": nullable(STR)})},
            "private_bridges": STRS, "nat": STRS, "nameservers": STRS}),
        "tls": obj({"fingerprint": nullable(STR), "listen": STRS},
                   desc="The HTTPS listener: the SHA-256 of the node's "
                   "certificate (null and no addresses without --listen)."),
    }),
    "PoolRequest": {
        "type": "object", "additionalProperties": False,
        "description": "A pool definition (vsctl(8), \"pool\"). POST needs "
        "name; PATCH names the fields to change (null removes one) and "
        "cannot rename.",
        "properties": {
            "name": ref("CreateRequest/$defs/name"),
            "memory": {"anyOf": [
                {"type": "string", "pattern": "^([1-9][0-9]?|100)%$"},
                ref("CreateRequest/$defs/size"), {"type": "null"}]},
            "cpus": {"anyOf": [
                {"type": "string", "pattern": "^([1-9][0-9]?|100)%$"},
                {"type": "string"}, {"type": "number", "exclusiveMinimum": 0},
                {"type": "null"}]},
            "weight": {"anyOf": [
                {"type": "string", "pattern": "^([1-9][0-9]?|100)%$"},
                {"type": "integer", "minimum": 1, "maximum": 100},
                {"type": "null"}]},
            "cpu_weight": nullable({"type": "integer", "minimum": 1,
                                    "maximum": 10000}),
            "io_weight": nullable({"type": "integer", "minimum": 1,
                                   "maximum": 10000}),
            "pids": nullable({"type": "integer", "minimum": 1,
                              "maximum": 2147483647}),
        }},
    "Pool": obj({
        "name": STR, "memory": STR, "cpus": STR, "weight": STR,
        "cpu_weight": INT0, "io_weight": INT0, "pids": INT0,
        "effective": obj({"memory": INT0, "cpus": nullable(STR),
                          "cpu_weight": INT0, "io_weight": INT0,
                          "pids": INT0}, desc=
                         "What the percentages come to on this node."),
        "members": dict(STRS, description="Containers in the pool."),
    }, required=["name", "effective", "members"]),
    "PoolList": obj({"pools": {"type": "array", "items": ref("Pool")}}),
    "TokenRequest": obj({
        "name": ref("CreateRequest/$defs/name"),
        "scope": {"enum": ["read", "operate", "admin"],
                  "description": "Default operate."},
        "owner": dict(nullable(ref("CreateRequest/$defs/name")),
                      description="Confine the token to this owner's "
                      "containers (not with scope admin: 400)."),
        "expires": {"type": "integer", "minimum": 0,
                    "maximum": 3153600000,
                    "description": "Lifetime in seconds; 0 or absent: "
                    "never expires."},
    }, required=["name"], desc="A new API token (docs/api.md, "
        "\"Credentials\")."),
    "Token": obj({
        "name": STR, "scope": {"enum": ["read", "operate", "admin"]},
        "owner": STR, "created_at": INT0, "expires_at": INT0,
        "expired": BOOL,
    }, required=["name", "scope", "created_at", "expired"],
        desc="An API token as listed: never its secret or hash."),
    "TokenCreated": obj({
        "name": STR, "scope": {"enum": ["read", "operate", "admin"]},
        "owner": STR, "created_at": INT0, "expires_at": INT0,
        "secret": {"type": "string", "pattern": "^vsd_[0-9a-f]{64}$",
                   "description": "The secret, shown this once: send it as "
                   "Authorization: Bearer SECRET. Only its SHA-256 is "
                   "kept."},
    }, required=["name", "scope", "created_at", "secret"]),
    "TokenList": obj({"tokens": {"type": "array", "items": ref("Token")}}),
    "AuditRecord": obj({
        "time": STR, "unix": INT0, "who": STR, "owner": STR,
        "method": STR, "path": STR, "status": INT0, "message": STR,
    }, required=["time", "unix", "who", "method", "path", "status",
                 "message"], desc="One line of <root>/audit.log: who did "
        "what and the result; never a secret or a request body."),
    "AuditList": obj({"records": {"type": "array",
                                  "items": ref("AuditRecord")}}),
}

# Error answers, shared by every operation.
ERRORS = {
    "400": ("Invalid", "invalid",
            "Malformed JSON, wrong type, unknown field, bad name or value "
            "(the message names the field)."),
    "401": ("Unauthorized", "unauthorized",
            "No credential where one is needed (over HTTPS: a trusted "
            "client certificate or an API token), or a Bearer token that is "
            "malformed, unknown, revoked or expired."),
    "403": ("Forbidden", "forbidden",
            "The peer's uid is neither 0 nor the daemon's, or the "
            "credential's scope or owner does not allow this (the message "
            "names what is missing)."),
    "404": ("NotFound", "not_found",
            "No such container, template, pool, snapshot, operation or "
            "migration."),
    "405": ("MethodNotAllowed", "method_not_allowed",
            "The path exists with other methods (in the Allow header)."),
    "409": ("Conflict", "conflict",
            "Already exists, wrong state, in use, or busy with an operation."),
    "412": ("PreconditionFailed", "precondition_failed",
            "If-Match does not match the current ETag: someone changed it."),
    "413": ("TooLarge", "too_large", "Request body larger than 64 KiB."),
    "500": ("Internal", "internal", "Anything else (the message says what)."),
    "501": ("Unsupported", "unsupported",
            "Checkpoint, restore or live migration without a usable CRIU; "
            "post-copy migration (not available yet)."),
}


FP = {"type": "string", "pattern": "^[0-9a-f]{64}$",
      "description": "SHA-256 of the certificate (DER), lowercase hex."}
TRUST_OBJECTS = {
    "TrustedCertificate": obj({"name": STR, "fingerprint": FP,
                               "added_at": INT0}),
    "TrustedCertificateList": obj({"certificates": {
        "type": "array", "items": ref("TrustedCertificate")}}),
    "TrustAddRequest": obj({
        "name": ref("CreateRequest/$defs/name"),
        "certificate": dict(STR, description="The certificate, PEM."),
        "fingerprint": dict(STR, description="Its SHA-256, hex (colons "
                            "allowed)."),
    }, required=["name"], desc="name and one of certificate and "
                               "fingerprint."),
    "TrustAdded": obj({"name": STR, "fingerprint": FP}),
    "JoinTokenRequest": obj({
        "name": ref("CreateRequest/$defs/name"),
        "expires": {"type": "integer", "minimum": 1, "maximum": 31622400,
                    "description": "Seconds it stays valid (default "
                    "86400)."}}, required=["name"]),
    "JoinTokenCreated": obj({
        "name": STR, "expires_in": INT0,
        "token": dict(STR, description="The secret, shown only here.")}),
    "JoinToken": obj({"name": STR, "created_at": INT0,
                      "expires_at": INT0}),
    "JoinTokenList": obj({"tokens": {"type": "array",
                                     "items": ref("JoinToken")}}),
    "JoinRequest": obj({"token": STR}, required=["token"]),
}


MIG_ID = {"type": "string", "pattern": "^[0-9a-f]{32}$",
          "description": "The migration's id, chosen by the source."}
MIG_STATE = {"enum": ["reserved", "copying", "dumped", "committing", "done",
                      "failed", "aborted"]}
BLOCKERS = dict(STRS, description="Every reason the move cannot happen, "
                "one line each (empty when ok).")
MIGRATION_OBJECTS = {
    "MigrateResult": obj({
        "id": MIG_ID,
        "mode": {"enum": ["live", "precopy", "stop", "offline"],
                 "description": "The mode that ran (auto resolved)."},
        "target": dict(STR, description="The target's URL."),
        "frozen_ms": dict(INT0, description="From the freeze (stop mode: "
                          "the stop) to the target's confirmation that it "
                          "runs there; 0 for offline."),
        "total_ms": dict(INT0, description="The whole operation."),
        "bytes": dict(INT0, description="Bytes sent to the target (layer "
                      "rounds and memory image)."),
        "rounds": dict(INT0, description="Rounds of the layer, the last "
                       "one (after the freeze or stop) included."),
        "pages": {"enum": ["page-server", "image", "none"],
                  "description": "How the memory pages went (live): "
                  "page-server: to the target's CRIU page server while "
                  "the container was dumped, never written on this node; "
                  "image: with the memory image (a target of an older "
                  "vsd); none: stop and offline."},
        "pages_bytes": dict(INT0, description="Bytes of the page server's "
                            "stream (included in bytes); 0 unless pages is "
                            "page-server."),
        "memory_rounds": {"type": "array", "items": INT0,
                          "description": "precopy: the pages each memory "
                          "pre-copy round sent, in order ([] otherwise)."},
        "memory_rounds_bytes": dict(INT0, description="Bytes of the memory "
                                    "rounds' streams (included in bytes)."),
        "dump_ms": dict(INT0, description="Part of frozen_ms: the dump "
                        "(with the pages' transfer when they go to the page "
                        "server)."),
        "commit_ms": dict(INT0, description="Part of frozen_ms: the commit "
                          "(the target checks, seals and restores)."),
        "network_lock": nullable(dict(STR, enum=["nftables", "iptables"],
                                 description="How CRIU kept the container's "
                                 "network quiet while it was dumped and "
                                 "restored (live): nftables when both nodes' "
                                 "CRIU can, else iptables; null for stop and "
                                 "offline.")),
        "warning": nullable(dict(STR, description="Moved, with a caveat: "
                           "the copy here that could not be removed after "
                           "the commit, in any mode (vsd keeps its name "
                           "held and tries again; docs/migration.md, \"A "
                           "copy left behind\"), "
                           "or more files changed during the move than the "
                           "final round compares whole (\"The final "
                           "round's second pass\"). Null otherwise.")),
        "container": dict(nullable(ref("ContainerStatus")),
                          description="The container as the target runs it "
                          "(null when the target did not say)."),
    }, desc="Result of a container-migrate operation (docs/api.md, "
            "\"Migration between nodes\"): the container now lives on the "
            "target and is gone from this node."),
    "MigrateRecoverResult": obj({
        "container": STR,
        "migration": MIG_ID,
        "outcome": {"enum": ["recovered", "moved"],
                    "description": "recovered: the frozen copy runs here "
                    "again as it was at its freeze (or, its monitor lost, was "
                    "killed and is stopped here: the message says so); moved: "
                    "the target took every page after all, and the frozen "
                    "copy here was removed, or a copy a move left here "
                    "(its removal had failed) was removed now."},
        "message": STR,
    }, desc="Result of a container-migrate-recover operation (\"recover\": "
            "true; docs/api.md, \"Migration between nodes\"): a failed "
            "post-copy pull settled."),
    "MigrateCheck": obj({
        "container": STR,
        "mode": {"enum": ["live", "precopy", "stop", "offline"],
                 "description": "The mode a move would use."},
        "target": dict(STR, description="The target's URL."),
        "ok": dict(BOOL, description="true: nothing blocks the move."),
        "blockers": BLOCKERS,
    }, desc="The answer to a migrate request with \"check\": true: the "
            "target's reservation check, nothing made."),
    "MigrationReserved": obj({
        "id": MIG_ID,
        "idmap_base": dict(INT0, description="The first host uid and gid "
                           "of the container's id range on the target (the "
                           "source's when free there, else another; the "
                           "layer is shifted into it as it arrives)."),
        "parts": dict(STRS, description="The sync parts this node takes "
                      "besides layer and image: [\"pages\", \"round\"] (a "
                      "CRIU page server for a live dump's pages, and for "
                      "the memory pre-copy rounds before it); absent from an "
                      "older vsd, whose source then sends the pages with "
                      "the image."),
        "network_lock": nullable(dict(STR, enum=["nftables", "iptables"],
                                 description="The network lock (CRIU "
                                 "--network-lock) this node's CRIU restores "
                                 "besides iptables: a source whose CRIU has "
                                 "it too dumps with it (no iptables-restore "
                                 "at the lock and unlock). null, or absent "
                                 "from an older vsd: iptables.")),
    }, desc="A reservation made: containers/.NAME.incoming staged."),
    "MigrationCheck": obj({"ok": BOOL, "blockers": BLOCKERS},
                          desc="A reservation check: nothing made."),
    "Migration": obj({
        "id": MIG_ID,
        "name": dict(STR, description="The container's name."),
        "state": MIG_STATE,
        "mode": {"enum": ["live", "stop", "offline"]},
        "error": dict(STR, description="Why it failed (failed only)."),
        "sync_error": dict(STR, description="The last sync part that "
                           "failed on this node: \"PART: PROGRAM ended "
                           "with status N: LINE\" (its own complaint, "
                           "such as a full disk; control characters "
                           "replaced, at most 511 bytes; where its "
                           "program printed nothing here, where to look): "
                           "what a source whose stream broke names in its "
                           "error."),
        "container": dict(ref("ContainerStatus"), description="In the "
                          "answer to a commit: the container on the "
                          "target."),
    }, required=["id", "name", "state", "mode"],
        desc="A migration as the target records it (docs/migration.md); "
             "kept 7 days."),
}


def error_responses():
    out = {}
    for status, (name, code, desc) in ERRORS.items():
        r = {"description": desc, "content": {"application/json": {
            "schema": ref("Error"),
            "example": {"error": {"code": code, "message": desc}}}}}
        if status == "405":
            r["headers"] = {"Allow": {"description": "The methods the path "
                                      "has, e.g. \"GET, DELETE\".",
                                      "schema": STR}}
        out[name] = r
    return out


def json_resp(desc, schema, status="200"):
    return {status: {"description": desc, "content": {
        "application/json": {"schema": schema}}}}


ACCEPTED = {"202": {"$ref": "#/components/responses/Accepted"}}


def body(schema, desc=None, required=True):
    b = {"required": required,
         "content": {"application/json": {"schema": schema}}}
    if desc:
        b["description"] = desc
    return b


NAME_P = {"$ref": "#/components/parameters/name"}
IF_MATCH = {"$ref": "#/components/parameters/if_match"}
ETAG_H = {"ETag": {"$ref": "#/components/headers/ETag"}}


def with_etag(responses):
    """The responses, the success ones carrying an ETag header."""
    out = {}
    for k, v in responses.items():
        out[k] = dict(v, headers=ETAG_H) if k.startswith("2") else v
    return out

SNAP_P = {"$ref": "#/components/parameters/snap"}
UPGRADE_H = [
    {"name": "Connection", "in": "header", "required": False,
     "description": "Upgrade (absent only when the body asks for a ticket)",
     "schema": {"const": "Upgrade"}},
    {"name": "Upgrade", "in": "header", "required": False,
     "description": "vsd-stream (descriptors, unix socket only) or websocket "
     "(RFC 6455 frames, any transport); absent only with \"ticket\": true "
     "in the body",
     "schema": {"enum": ["vsd-stream", "websocket"]}},
    {"name": "Sec-WebSocket-Version", "in": "header", "required": False,
     "description": "With Upgrade: websocket: must be 13.",
     "schema": {"const": "13"}},
    {"name": "Sec-WebSocket-Key", "in": "header", "required": False,
     "description": "With Upgrade: websocket: the base64 of 16 random "
     "bytes.", "schema": {"type": "string"}},
    {"name": "Sec-WebSocket-Protocol", "in": "header", "required": False,
     "description": "With Upgrade: websocket: may offer vsd.exec.v1.",
     "schema": {"type": "string"}},
]


def op(op_id, summary, tag, responses, errors, params=None, req=None,
       desc=None):
    """An operation: responses plus the shared errors that can answer it.
    Every route can be answered 400 (a malformed request: a NUL in the
    path, duplicate Content-Length), 401 (over HTTPS, or with a bad token:
    no valid credential), 403 (peer), 405 (other methods on the path) and
    500."""
    o = {"operationId": op_id, "summary": summary, "tags": [tag]}
    if desc:
        o["description"] = desc
    if params:
        o["parameters"] = params
    if req:
        o["requestBody"] = req
    resp = dict(responses)
    codes = set(errors) | {"400", "401", "403", "405", "500"}
    if req and "application/json" in req["content"]:
        codes |= {"400", "413"}
    for status in sorted(codes):
        resp[status] = {"$ref": "#/components/responses/" + ERRORS[status][0]}
    o["responses"] = dict(sorted(resp.items()))
    return o


def query(name, desc, schema=None):
    return {"name": name, "in": "query", "required": False,
            "description": desc, "schema": schema or STR}


def bool_query(name, desc):
    return query(name, desc + " `1`/`true` (or the bare name) yes, "
                 "`0`/`false` no; other values are 400.",
                 {"enum": ["", "0", "1", "true", "false"]})


def container_paths():
    C = "containers"
    status = json_resp("The container.", ref("ContainerStatus"))
    tagged = with_etag(status)
    return {
        "/v1/containers": {
            "get": op("listContainers", "List containers, sorted by name", C,
                      json_resp("Every container.", ref("ContainerList")), [],
                      params=[query("owner", "Only this owner's containers "
                                    "(\"\": those of no owner). An "
                                    "owner-scoped token sees only its "
                                    "owner's anyway.")]),
            "post": op("createContainer", "Create a container from a template",
                       C, json_resp("The new container.",
                                    ref("ContainerStatus"), "201"),
                       ["400", "404", "409"], req=body(ref("CreateRequest"))),
        },
        "/v1/containers/import": {
            "post": op("importContainer", "Import a backup (docs/api.md, "
                       "\"Backups\")", "backups", ACCEPTED,
                       ["400", "404", "409"],
                       params=[query("name", "The new container's name "
                                     "(default: the archive's).",
                                     ref("CreateRequest/$defs/name")),
                               bool_query("template_mismatch_ok", "Accept a "
                                          "template of the same name with "
                                          "another digest.")],
                       req={"required": True, "content": {
                           "application/zstd": {"schema": {
                               "type": "string",
                               "contentMediaType": "application/zstd"}}},
                           "description": "A backup as GET .../export "
                           "answers it (any size; streamed to disk)."}),
        },
        "/v1/containers/{name}": {
            "parameters": [NAME_P],
            "get": op("getContainer", "A container's status", C, tagged,
                      ["400", "404"]),
            "patch": op("updateContainer", "Change limits, pool, idle "
                        "reclaim or network, live", C, tagged,
                        ["400", "404", "409", "412"], params=[IF_MATCH],
                        req=body(ref("UpdateRequest"))),
            "delete": op("deleteContainer", "Destroy a container", C,
                         json_resp("Destroyed.", ref("Deleted")),
                         ["400", "404", "409", "412"],
                         params=[IF_MATCH,
                                 bool_query("force", "Stop a running or "
                                            "suspended container first "
                                            "(SIGKILL).")]),
        },
        "/v1/containers/{name}/state": {
            "parameters": [NAME_P],
            "put": op("setContainerState", "Start, stop or restart", C,
                      status, ["400", "404", "409"],
                      req=body(ref("StateRequest"))),
        },
        "/v1/containers/{name}/exec": {
            "parameters": [NAME_P],
            "post": stream_op("execContainer", "Run a command inside",
                              ref("ExecRequest")),
        },
        "/v1/containers/{name}/console": {
            "parameters": [NAME_P],
            "post": stream_op("attachConsole", "Attach to the console",
                              ref("ConsoleRequest")),
        },
        "/v1/containers/{name}/suspend": cr_path(
            "suspendContainer", "Checkpoint into the container's own image "
            "and stop it", ref("EmptyRequest")),
        "/v1/containers/{name}/resume": cr_path(
            "resumeContainer", "Restore a suspended container (or discard "
            "its image)", ref("ResumeRequest")),
        "/v1/containers/{name}/checkpoint": cr_path(
            "checkpointContainer", "Checkpoint into a directory",
            ref("CheckpointRequest"), required=True),
        "/v1/containers/{name}/restore": cr_path(
            "restoreContainer", "Restore from a checkpoint directory",
            ref("RestoreRequest"), required=True),
        "/v1/containers/{name}/lock": {
            "parameters": [NAME_P],
            "post": op("lockContainer", "Lock (a panel's suspension for "
                       "non-payment; not the CRIU suspend): stop it and "
                       "refuse every start until unlocked", "panel", tagged,
                       ["400", "404", "409"],
                       req=body(ref("LockRequest"), required=False,
                                desc="Optional: an empty body is `{}`.")),
        },
        "/v1/containers/{name}/unlock": {
            "parameters": [NAME_P],
            "post": op("unlockContainer", "Unlock (and start if asked)",
                       "panel", tagged, ["400", "404", "409"],
                       req=body(ref("UnlockRequest"), required=False,
                                desc="Optional: an empty body is `{}`.")),
        },
        "/v1/containers/{name}/password": {
            "parameters": [NAME_P],
            "post": op("setContainerPassword", "Set a user's password "
                       "inside the container (now if it runs, else at its "
                       "next start)", "panel",
                       json_resp("Set, or queued.", ref("CredentialsResult")),
                       ["400", "404", "409"], req=body(ref("PasswordRequest"))),
        },
        "/v1/containers/{name}/ssh-keys": {
            "parameters": [NAME_P],
            "post": op("setContainerSshKeys", "Add or replace a user's SSH "
                       "keys inside the container (now if it runs, else at "
                       "its next start)", "panel",
                       json_resp("Set, or queued.", ref("CredentialsResult")),
                       ["400", "404", "409"], req=body(ref("SshKeysRequest"))),
        },
        "/v1/containers/{name}/reinstall": {
            "parameters": [NAME_P],
            "post": op("reinstallContainer", "A new root file system from "
                       "the (or another) template, keeping name, limits, "
                       "disk, networking, hostname; stopped and started "
                       "again if it ran", "panel", tagged,
                       ["400", "404", "409", "412"], params=[IF_MATCH],
                       req=body(ref("ReinstallRequest"), required=False,
                                desc="Optional: an empty body is `{}`.")),
        },
        "/v1/containers/{name}/usage": {
            "parameters": [NAME_P],
            "get": op("getContainerUsage", "Usage for billing since a time",
                      "panel", json_resp("The usage.", ref("Usage")),
                      ["400", "404"],
                      params=[query("since", "Unix seconds (default: since "
                                    "creation).",
                                    {"type": "string", "pattern": "^[0-9]+$"})]),
        },
        "/v1/containers/{name}/stats": {
            "parameters": [NAME_P],
            "get": op("getContainerStats", "Usage counters", "stats",
                      json_resp("The counters.", ref("Stats")),
                      ["400", "404"]),
        },
        "/v1/containers/{name}/export": {
            "parameters": [NAME_P],
            "get": op("exportContainer", "Export a backup", "backups",
                      {"200": {"description": "The backup: a pax tar "
                               "compressed with zstd.", "content": {
                                   "application/zstd": {"schema": {
                                       "type": "string",
                                       "contentMediaType":
                                       "application/zstd"}}}}},
                      ["400", "404", "409"],
                      params=[bool_query("with_template", "Include the "
                                         "template's rootfs.")],
                      desc="Needs operate scope (it freezes a running "
                      "container and hands out its whole disk); a locked "
                      "container only to admin (409 otherwise)."),
        },
    }


def stream_101(desc):
    return {"101": {"description": desc, "headers": {
        "Upgrade": {"description": "as requested",
                    "schema": {"enum": ["vsd-stream", "websocket"]}},
        "Connection": {"schema": {"const": "Upgrade"}},
        "Sec-WebSocket-Accept": {
            "description": "websocket only: base64(SHA-1(key + RFC 6455 GUID))",
            "schema": {"type": "string"}},
        "Sec-WebSocket-Protocol": {
            "description": "websocket only: vsd.exec.v1 when the client "
            "offered it", "schema": {"const": "vsd.exec.v1"}}}}}


def stream_paths():
    return {"/v1/streams/{id}": {"get": op(
        "openStream", "Redeem a stream ticket: the exec or console it holds "
        "as a WebSocket", "containers",
        stream_101("Switching Protocols: the WebSocket stream the ticket "
                   "holds, exactly as POST .../exec or .../console with "
                   "`Upgrade: websocket` (docs/api.md, \"Browser "
                   "terminals\")."),
        ["400", "401", "404", "409"],
        params=[{"name": "id", "in": "path", "required": True,
                 "description": "The ticket's id.", "schema": STR},
                query("secret", "The ticket's secret (or offer the "
                      "subprotocol vsd.ticket.SECRET instead)."),
                {"name": "Connection", "in": "header", "required": True,
                 "schema": {"const": "Upgrade"}},
                {"name": "Upgrade", "in": "header", "required": True,
                 "schema": {"const": "websocket"}}] + UPGRADE_H[2:],
        desc="The ticket's secret is the credential (a browser can set no "
        "Authorization header): wrong, expired or used is 401 and starts "
        "nothing. The stream runs as the credential that made the ticket; "
        "an owner-scoped one must still own the container (else 404).")
        | {"security": [{}]}}}


def stream_op(op_id, summary, schema):
    responses = stream_101(
        "Switching Protocols. With `Upgrade: vsd-stream` the connection then "
        "carries the stream protocol (docs/api.md, \"Stream protocol\"): "
        "descriptors passed with SCM_RIGHTS, then `exit N` (unix socket "
        "only). With `Upgrade: websocket` it carries RFC 6455 frames "
        "(docs/api.md, \"WebSocket streams\"): binary messages whose first "
        "byte is the channel (0 stdin, 1 stdout, 2 stderr), text messages "
        "of JSON control (resize, eof; the server's "
        "{\"type\":\"exit\",\"code\":N,\"signal\":N}), then a close "
        "frame 1000.")
    responses["201"] = {
        "description": "Without Upgrade headers and with `\"ticket\": "
        "true`: a one-time stream ticket (nothing runs until GET "
        "/v1/streams/{id} redeems it; docs/api.md, \"Browser terminals\").",
        "content": {"application/json": {"schema": ref("StreamTicket")}}}
    return op(op_id, summary, "containers", responses,
              ["400", "404", "409"], params=UPGRADE_H,
              req=body(schema, required=False))


def cr_path(op_id, summary, schema, required=False):
    return {"parameters": [NAME_P],
            "post": op(op_id, summary, "checkpoint", ACCEPTED,
                       ["400", "404", "409", "501"],
                       req=body(schema, required=required,
                                desc=None if required else
                                "Optional: an empty body is `{}`."))}


def snapshot_paths():
    S = "snapshots"
    return {
        "/v1/containers/{name}/snapshots": {
            "parameters": [NAME_P],
            "get": op("listSnapshots", "A container's snapshots", S,
                      json_resp("The snapshots.", ref("SnapshotList")),
                      ["400", "404"]),
            "post": op("createSnapshot", "Snapshot the container's layer "
                       "(and memory)", S, ACCEPTED,
                       ["400", "404", "409", "501"],
                       req=body(ref("SnapshotRequest"), required=False)),
        },
        "/v1/containers/{name}/snapshots/{snap}": {
            "parameters": [NAME_P, SNAP_P],
            "get": op("getSnapshot", "One snapshot", S,
                      json_resp("Its snapshot.json.", ref("Snapshot")),
                      ["400", "404"]),
            "delete": op("deleteSnapshot", "Delete a snapshot", S,
                         json_resp("Deleted.", ref("Deleted")),
                         ["400", "404", "409"]),
        },
        "/v1/containers/{name}/snapshots/{snap}/restore": {
            "parameters": [NAME_P, SNAP_P],
            "post": op("restoreSnapshot", "Put a snapshot back", S, ACCEPTED,
                       ["400", "404", "409", "501"],
                       req=body(ref("SnapshotRestoreRequest"),
                                required=False)),
        },
    }


EVENT_TYPES = ["container-created", "container-started", "container-stopped",
               "container-destroyed", "container-oom", "container-updated",
               "container-suspended", "container-resumed",
               "operation-progress", "operation-end"]


def other_paths():
    T = "templates"
    P = "pools"
    pool = with_etag(json_resp("The pool.", ref("Pool")))
    return {
        "/v1/templates": {
            "get": op("listTemplates", "List templates", T,
                      json_resp("Every template.", ref("TemplateList")), []),
            "post": op("buildTemplate", "Build a template", T, ACCEPTED,
                       ["400", "409"], req=body(ref("TemplateRequest"))),
        },
        "/v1/templates/{name}": {
            "parameters": [NAME_P],
            "get": op("getTemplate", "One template", T,
                      json_resp("The template.", ref("Template")),
                      ["400", "404"]),
            "delete": op("deleteTemplate", "Delete a template", T,
                         json_resp("Deleted.", ref("Deleted")),
                         ["400", "404", "409"]),
        },
        "/v1/templates/{name}/archive": {
            "parameters": [NAME_P],
            "put": op("importTemplate", "Import a template from an archive",
                      T, ACCEPTED, ["400", "409"], req={
                          "required": True, "description": "tar, tar.gz, "
                          "tar.xz or tar.zst, any size (streamed to disk).",
                          "content": {"application/octet-stream": {
                              "schema": {"type": "string",
                                         "contentMediaType":
                                         "application/octet-stream"}}}}),
        },
        "/v1/operations": {
            "get": op("listOperations", "Operations running or ended in the "
                      "last 10 minutes, oldest first", "operations",
                      json_resp("The operations (without progress).",
                                ref("OperationList")), []),
        },
        "/v1/operations/{id}": {
            "parameters": [{"$ref": "#/components/parameters/id"}],
            "get": op("getOperation", "An operation's progress and result",
                      "operations",
                      json_resp("The operation.", ref("Operation")),
                      ["400", "404"],
                      params=[query("since", "Only progress lines from this "
                                    "index on.", INT0),
                              query("wait", "Long-poll: answer when the "
                                    "operation ends or after this many "
                                    "seconds.", {"type": "integer",
                                                 "minimum": 0,
                                                 "maximum": 60})]),
            "delete": op("cancelOperation", "Cancel an operation where the "
                         "work allows it", "operations",
                         {"202": {"description": "Cancel requested: the "
                                  "operation as it is; it ends soon after.",
                                  "content": {"application/json": {
                                      "schema": ref("Operation")}}}},
                         ["404", "409"]),
        },
        "/v1/events": {
            "get": op("streamEvents", "Lifecycle and operation events",
                      "events", {"200": {
                          "description": "Server-Sent Events "
                          "(text/event-stream), one per event: `id`, "
                          "`event` (the type) and `data` (JSON), with "
                          "keepalive comments; the stream stays open.",
                          "content": {"text/event-stream": {
                              "schema": STR}}}},
                      ["400", "501"],
                      params=[query("type", "Comma-separated event types "
                                    "to receive (default: all): "
                                    + ", ".join(EVENT_TYPES) + "."),
                              query("last_event_id", "Resume after this "
                                    "event id (as the Last-Event-ID "
                                    "header).", {"type": "string",
                                                 "pattern": "^[0-9]+$"}),
                              {"name": "Last-Event-ID", "in": "header",
                               "required": False,
                               "description": "Resume after this event id.",
                               "schema": {"type": "string",
                                          "pattern": "^[0-9]+$"}}]),
        },
        "/v1/node": {
            "get": op("getNode", "The node: version, cgroups, CRIU, views, "
                      "network", "node", json_resp("The node.", ref("Node")),
                      []),
        },
        "/v1/pools": {
            "get": op("listPools", "List pools", P,
                      json_resp("Every pool.", ref("PoolList")), []),
            "post": op("createPool", "Define a pool", P,
                       with_etag(json_resp("The new pool.", ref("Pool"),
                                           "201")),
                       ["400", "409"], req=body(dict(ref("PoolRequest")))),
        },
        "/v1/pools/{name}": {
            "parameters": [NAME_P],
            "get": op("getPool", "One pool", P, pool, ["400", "404"]),
            "patch": op("updatePool", "Change a pool", P, pool,
                        ["400", "404", "409", "412"], params=[IF_MATCH],
                        req=body(ref("PoolRequest"))),
            "delete": op("deletePool", "Remove a pool", P,
                         json_resp("Removed.", ref("Deleted")),
                         ["400", "404", "409"]),
        },
        "/metrics": {
            "get": op("getMetrics", "Prometheus metrics", "node", {
                "200": {"description": "The Prometheus text exposition "
                        "format (docs/api.md, \"Metrics\").", "content": {
                            "text/plain": {"schema": STR}}}}, []),
        },
        "/v1/tokens": {
            "get": op("listTokens", "List API tokens (admin)", "tokens",
                      json_resp("Every token, never a secret.",
                                ref("TokenList")), []),
            "post": op("createToken", "Create an API token (admin)",
                       "tokens", json_resp("The token with its secret, "
                                           "shown this once.",
                                           ref("TokenCreated"), "201"),
                       ["400", "409"], req=body(ref("TokenRequest"))),
        },
        "/v1/tokens/{name}": {
            "parameters": [NAME_P],
            "delete": op("revokeToken", "Revoke an API token (admin)",
                         "tokens", json_resp("Revoked.", ref("Deleted")),
                         ["400", "404"]),
        },
        "/v1/audit": {
            "get": op("getAudit", "The audit log's newest records (admin)",
                      "tokens", json_resp("Records, oldest first.",
                                          ref("AuditList")), [],
                      params=[query("since", "Only records at or after this "
                                    "unix time.", {"type": "string",
                                                   "pattern": "^[0-9]+$"}),
                              query("limit", "At most this many, the newest "
                                    "(1-10000, default 100).",
                                    {"type": "string",
                                     "pattern": "^[0-9]+$"})]),
        },
        "/v1/openapi.json": {
            "get": op("getOpenAPI", "This document", "node",
                      json_resp("The OpenAPI document the daemon was built "
                                "with.", {"type": "object"}), []),
        },
    }


def trust_paths():
    T = "trust"
    admin = [{"bearerAuth": []}, {"mutualTLS": []}]
    tokens = {
        "get": op("listJoinTokens", "Join tokens not yet redeemed", T,
                  json_resp("The tokens (never their secrets).",
                            ref("JoinTokenList")), ["401"]),
        "post": op("createJoinToken", "A one-time join token", T,
                   json_resp("The token; its secret is shown only here.",
                             ref("JoinTokenCreated"), "201"),
                   ["401", "409"], req=body(ref("JoinTokenRequest"))),
    }
    out = {
        "/v1/trust": {
            "get": op("listTrust", "Trusted client certificates", T,
                      json_resp("The certificates.",
                                ref("TrustedCertificateList")), ["401"]),
            "post": op("addTrust", "Trust a client certificate", T,
                       json_resp("Trusted.", ref("TrustAdded"), "201"),
                       ["401", "409"], req=body(ref("TrustAddRequest"))),
        },
        "/v1/trust/{fingerprint}": {
            "parameters": [{"name": "fingerprint", "in": "path",
                            "required": True, "schema": STR,
                            "description": "SHA-256 of the certificate, "
                            "hex."}],
            "delete": op("removeTrust", "Stop trusting a certificate", T,
                         json_resp("Removed.", ref("Deleted")),
                         ["401", "404"]),
        },
        "/v1/trust/tokens": tokens,
        "/v1/trust/tokens/{name}": {
            "parameters": [NAME_P],
            "delete": op("removeJoinToken", "Withdraw a join token", T,
                         json_resp("Removed.", ref("Deleted")),
                         ["401", "404"]),
        },
        "/v1/trust/join": {
            "post": op("joinTrust", "Redeem a join token", T,
                       json_resp("The certificate presented on this "
                                 "connection is trusted.",
                                 ref("TrustAdded"), "201"),
                       ["401", "409"], req=body(ref("JoinRequest")),
                       desc="Over HTTPS with a client certificate and no "
                       "credential: the token (once only) makes that "
                       "certificate trusted under the token's name. 400 "
                       "without a client certificate."),
        },
    }
    for path, item in out.items():
        for method, o in item.items():
            if method != "parameters":
                o["security"] = ([{}] if path == "/v1/trust/join"
                                 else admin)
    return out


MIG_H = {"$ref": "#/components/parameters/vsd_migration"}
MIG_ID_P = {"name": "id", "in": "path", "required": True,
            "description": "The migration's id (32 lowercase hex digits); "
            "one this node never saw is 404.", "schema": STR}


def migration_paths():
    """The operator's migrate route (on the source) and the node-to-node
    routes the source calls on the target (docs/migration.md)."""
    M = "migration"
    peer = ("Node to node (docs/migration.md): the source calls it on the "
            "target over HTTPS with its node certificate, which the target "
            "trusts (admin). Needs the header Vsd-Migration: 1 (400 "
            "without it or with another version). ")
    record = json_resp("The migration.", ref("Migration"))
    migrate = op(
        "migrateContainer", "Move a container to another node (admin)", M,
        dict(ACCEPTED) | json_resp("With \"check\": true: what would block "
                                   "the move; nothing moves.",
                                   ref("MigrateCheck")),
        ["400", "404", "409", "501"], req=body(ref("MigrateRequest")),
        desc="202: an operation of kind container-migrate whose progress "
        "names the phase (reservation, pre-copy rounds, stop-and-copy, "
        "commit) and whose result is a MigrateResult. 409: busy, "
        "suspended, running with mode offline, or this node has no TLS "
        "identity; 501: no usable CRIU for a live move, or postcopy. "
        "With \"recover\": true, 202: an operation of kind "
        "container-migrate-recover (one look at the target, or one try "
        "of the removal of a copy a move left here) whose result is a "
        "MigrateRecoverResult and whose error is a refusal; 409 at once "
        "when the container has neither a failed post-copy pull nor a "
        "copy left to remove. "
        "docs/api.md, \"Migration between nodes\".")
    sync_out = {"200": {
        "description": "rsync's output as it comes (chunked), until the "
        "target's `rsync --server` ends; its input is the body of "
        "POST .../sync-input naming the same stream.",
        "content": {"application/octet-stream": {"schema": {
            "type": "string", "format": "binary"}}}}}
    sync_in = json_resp("The stream's input ended (rsync's input closed).",
                        obj({"bytes": INT0}))
    return {
        "/v1/containers/{name}/migrate": {"parameters": [NAME_P],
                                          "post": migrate},
        "/v1/migrations": {
            "parameters": [MIG_H],
            "post": op("reserveMigration", "Reserve an incoming container "
                       "(target side)", M,
                       json_resp("Reserved and staged.",
                                 ref("MigrationReserved"), "201")
                       | json_resp("With \"check\": true: every blocker; "
                                   "nothing made.", ref("MigrationCheck")),
                       ["400", "404", "409", "501"],
                       req=body(ref("MigrationReserveRequest")),
                       desc=peer + "The first blocker is the error: 409 "
                       "for a name or an address taken, 404 for a template "
                       "digest missing here, 400/409 for limits this node "
                       "cannot give, 501 for no usable CRIU (live)."),
        },
        "/v1/migrations/{id}": {
            "parameters": [MIG_ID_P, MIG_H],
            "get": op("getMigration", "A migration's record (target side)",
                      M, record, ["400", "404"], desc=peer),
            "delete": op("abortMigration", "Abort a reservation (target "
                         "side): the staged container is removed", M,
                         json_resp("Aborted: the record, state aborted.",
                                   ref("Migration")),
                         ["400", "404", "409"],
                         desc=peer + "409 once it is committing or done."),
        },
        "/v1/migrations/{id}/sync": {
            "parameters": [MIG_ID_P, MIG_H],
            "post": op("syncMigration", "Receive the layer or the image with "
                       "rsync, or a live dump's pages with a CRIU page "
                       "server (target side): its output", M, sync_out,
                       ["400", "404", "409", "501"],
                       req=body(ref("MigrationSyncRequest")),
                       desc=peer + "The arguments must be rsync's server "
                       "mode, receiving only (400 otherwise); the "
                       "destination is the staged part. Part pages takes "
                       "no arguments: the target runs its own `criu "
                       "page-server` on the stream's socket (409 outside a "
                       "live migration, 501 without a usable CRIU); so does "
                       "part round, a memory pre-copy round's page server "
                       "into the next round's directory, numbered by the "
                       "target (409 past 16 rounds). The "
                       "program's protocol runs over this answer and the "
                       "sync-input body, two plain requests "
                       "(docs/migration.md, \"Transport\", \"Pages\")."),
        },
        "/v1/migrations/{id}/sync-input": {
            "parameters": [MIG_ID_P, MIG_H],
            "post": op("syncMigrationInput", "rsync's input for a stream "
                       "(target side)", M, sync_in, ["400", "404"],
                       params=[{"name": "Vsd-Stream", "in": "header",
                                "required": True,
                                "schema": {"type": "string",
                                           "pattern": "^[0-9a-f]{32}$"}}],
                       req={"required": True, "content": {
                           "application/octet-stream": {"schema": {
                               "type": "string", "format": "binary"}}}},
                       desc=peer + "The chunked body is passed to the "
                       "stream's rsync as it arrives; its end is rsync's "
                       "end of input. 404 for a stream that is not open."),
        },
        "/v1/migrations/{id}/commit": {
            "parameters": [MIG_ID_P, MIG_H],
            "post": op("commitMigration", "The commit point (target side): "
                       "restore, start or keep the staged container", M,
                       json_resp("Done: the container is this node's.",
                                 ref("Migration")),
                       ["400", "404", "409", "501"],
                       req=body(ref("MigrationCommitRequest")),
                       desc=peer + "On an error the reservation is gone "
                       "(failed) and the source keeps its copy."),
        },
    }


def document():
    paths = {}
    paths.update(trust_paths())
    paths.update(container_paths())
    paths.update(snapshot_paths())
    paths.update(other_paths())
    paths.update(stream_paths())
    paths.update(migration_paths())
    schemas, hoisted = embedded_schemas()
    schemas.update(OBJECTS)
    schemas.update(TRUST_OBJECTS)
    schemas.update(MIGRATION_OBJECTS)
    # The reservation carries the container's config.json: its schema file
    # can only say "an object" (each file stands alone), the document can
    # name the real one.
    schemas["MigrationReserveRequest"]["properties"]["config"] = dict(
        ref("ContainerConfig"), description=schemas[
            "MigrationReserveRequest"]["properties"]["config"]["description"])
    name_desc = ("A container, template or pool name: 1 to 64 of [a-z0-9-],"
                 " not starting with '-' (400 otherwise).")
    doc = {
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {
            "title": "vsd REST API",
            "version": "1",
            "summary": "Containers (VPSes), templates, snapshots, backups, "
                       "pools and the node, on one host.",
            "description": "The contract of vsd's REST API: "
                           "docs/api.md describes each route in prose; "
                           "this document is generated by "
                           "scripts/gen-openapi.py and is what the daemon "
                           "serves at GET /v1/openapi.json.",
            "license": {"name": "See the repository",
                        "identifier": "LicenseRef-vsd"},
        },
        "servers": [{"url": "http://localhost",
                     "description": "The daemon's unix socket "
                     "(/run/vsd/vsd.sock by default; curl --unix-socket). "
                     "The host name is not used."},
                    {"url": "https://{host}:{port}",
                     "description": "vsd --listen ADDR:PORT (HTTPS; pin "
                     "the certificate's SHA-256 from GET /v1/node).",
                     "variables": {"host": {"default": "127.0.0.1"},
                                   "port": {"default": "8443"}}}],
        # A Bearer token, a trusted client certificate (HTTPS), or
        # none: the unix socket's peers are the node's administrators
        # (docs/api.md, "Credentials").
        "security": [{"bearerAuth": []}, {"mutualTLS": []}, {}],
        "tags": [{"name": t, "description": d} for t, d in [
            ("containers", "Containers and their lifecycle"),
            ("checkpoint", "Suspend, resume, checkpoint and restore"),
            ("panel", "A hosting panel's provisioning cycle: lock and "
             "unlock (not the CRIU suspend), passwords and SSH keys, reinstall, "
             "usage"),
            ("snapshots", "Snapshots of a container's layer"),
            ("backups", "Export and import"),
            ("stats", "Usage counters"),
            ("templates", "Root file systems containers start from"),
            ("operations", "Long work"),
            ("events", "What happens, as it happens"),
            ("pools", "Shared limits for groups of containers"),
            ("node", "The node, its metrics and this contract"),
            ("tokens", "API tokens for panels"),
            ("trust", "Client certificates and join tokens (admin)"),
            ("migration", "Moving containers between nodes: the operator's "
             "request to the source, and the source's requests to the "
             "target (docs/migration.md)"),
        ]],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "responses": dict(error_responses(), Accepted={
                "description": "Accepted: the work runs as an operation; "
                "poll GET /v1/operations/{id}.", "content": {
                    "application/json": {"schema": ref("Operation")}}}),
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer",
                               "description": "An API token (vsctl token "
                               "create): Authorization: Bearer vsd_... Its "
                               "scope (read, operate, admin) and owner decide "
                               "what it may do."},
                "mutualTLS": {"type": "mutualTLS", "description": "A "
                              "client certificate whose SHA-256 is in the "
                              "trust store (GET /v1/trust); an administrator."},
            },
            "headers": {"ETag": {
                "description": "The stored object's version (quoted); send "
                "it back in If-Match to change it only if nobody else did.",
                "schema": STR}},
            "parameters": {
                "if_match": {"name": "If-Match", "in": "header",
                             "required": False,
                             "description": "Change only if the object's "
                             "ETag is this (or `*`); else 412.",
                             "schema": STR},
                "name": {"name": "name", "in": "path", "required": True,
                         "description": name_desc,
                         "schema": ref("CreateRequest/$defs/name")},
                "snap": {"name": "snap", "in": "path", "required": True,
                         "description": "A snapshot name (the container "
                         "name rules).",
                         "schema": ref("CreateRequest/$defs/name")},
                "vsd_migration": {
                    "name": "Vsd-Migration", "in": "header",
                    "required": True, "description": "The node-to-node "
                    "migration protocol's version (docs/migration.md). "
                    "Missing or another version: 400, naming the version "
                    "this node speaks.", "schema": {"const": "1"}},
                "id": {"name": "id", "in": "path", "required": True,
                       "description": "An operation id; anything but a "
                       "positive integer names none (404).",
                       "schema": {"type": "string"}},
            },
        },
    }
    # This script's own references to a request schema's definitions
    # ("CreateRequest/$defs/name") go to the hoisted components.
    pre = "#/components/schemas/"
    return rewrite(doc, lambda r: pre + hoisted[r[len(pre):]]
                   if r[len(pre):] in hoisted else r)


def main():
    text = json.dumps(document(), indent=1, ensure_ascii=False) + "\n"
    if sys.argv[1:] == ["--check"]:
        try:
            with open(OUT) as f:
                cur = f.read()
        except FileNotFoundError:
            cur = ""
        if cur != text:
            print("docs/openapi.json is out of date: run scripts/gen-openapi.py",
                  file=sys.stderr)
            return 1
        return 0
    with open(OUT, "w") as f:
        f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
