#!/usr/bin/env bats
# The JSON Schemas in config-schemas/ against the shared cases in
# tests/schema-cases/<kind>/{valid,invalid}/*.json (the C parser is held to
# the same cases by a unit test). Needs no daemon.

load helpers

SCHEMA_DIR="$VSD_REPO/config-schemas"
CASES_DIR="$VSD_REPO/tests/schema-cases"

@test "python3-jsonschema is available" {
	run "$PY" -c 'import jsonschema'
	assert_success
}

@test "every schema is itself a valid JSON Schema" {
	local n=0 s
	for s in "$SCHEMA_DIR"/*.json; do
		[[ -f "$s" ]] || continue
		run "$PY" -c '
import json, sys, jsonschema
schema = json.load(open(sys.argv[1]))
jsonschema.validators.validator_for(schema).check_schema(schema)
' "$s"
		[[ "$status" == 0 ]] || fail "$(basename "$s"): $output"
		n=$((n + 1))
	done
	((n > 0)) || fail "no schemas in $SCHEMA_DIR"
}

@test "every case kind has a schema and both valid and invalid cases" {
	local n=0 d kind
	for d in "$CASES_DIR"/*/; do
		[[ -d "$d" ]] || continue
		kind=$(basename "$d")
		[[ -f "$SCHEMA_DIR/$kind.json" ]] || fail "no schema for case kind $kind"
		compgen -G "$d/valid/*.json" >/dev/null || fail "$kind: no valid cases"
		compgen -G "$d/invalid/*.json" >/dev/null || fail "$kind: no invalid cases"
		n=$((n + 1))
	done
	((n > 0)) || fail "no case folders in $CASES_DIR"
}

@test "valid cases validate and invalid cases do not" {
	run "$PY" - "$SCHEMA_DIR" "$CASES_DIR" <<'PYEOF'
import glob, json, os, sys, jsonschema
schema_dir, cases_dir = sys.argv[1:3]
bad, n = [], 0
for kind_dir in sorted(glob.glob(os.path.join(cases_dir, "*", ""))):
    kind = os.path.basename(os.path.dirname(kind_dir))
    schema = json.load(open(os.path.join(schema_dir, kind + ".json")))
    cls = jsonschema.validators.validator_for(schema)
    v = cls(schema, format_checker=cls.FORMAT_CHECKER)
    for expect in ("valid", "invalid"):
        for case in sorted(glob.glob(os.path.join(kind_dir, expect, "*.json"))):
            n += 1
            name = os.path.relpath(case, cases_dir)
            try:
                doc = json.load(open(case))
            except ValueError as e:
                # Malformed JSON can only be an invalid case.
                if expect == "valid":
                    bad.append(f"{name}: not JSON: {e}")
                continue
            errors = list(v.iter_errors(doc))
            if expect == "valid" and errors:
                bad.append(f"{name}: should validate: {errors[0].message}")
            if expect == "invalid" and not errors:
                bad.append(f"{name}: should not validate")
print(f"{n} cases checked")
for b in bad:
    print(b)
sys.exit(1 if bad or n == 0 else 0)
PYEOF
	echo "$output"
	assert_success
}
