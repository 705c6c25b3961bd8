#!/bin/bash
# Node.js tools the tests use, pinned, installed into .tools/ (gitignored)
# so a fresh machine gets the same versions without touching the system:
#   @redocly/cli        lints docs/openapi.json (make lint-openapi)
#   openapi-typescript  generates the client types of tests/integration/openapi-client
# Needs node and npm (Node.js 20: scripts/install-deps.sh). Idempotent:
# nothing is fetched when the pinned versions are already there.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dir="$repo/.tools"
pkgs=("@redocly/cli@2.77.0" "openapi-typescript@7.13.0")

have() { # name@version
	local name=${1%@*} want=${1##*@} got
	got=$(node -p "require('$dir/node_modules/$name/package.json').version" 2>/dev/null) || return 1
	[[ $got == "$want" ]]
}

missing=()
for p in "${pkgs[@]}"; do
	have "$p" || missing+=("$p")
done
if [[ ${1:-} == --check ]]; then
	((${#missing[@]} == 0))
	exit
fi
((${#missing[@]} == 0)) && exit 0
# @redocly/cli 2.x wants Node.js 20.19+ (Debian 12's own nodejs is 18: use
# NodeSource's nodejs 20 package, which brings npm).
if ! node -e 'const [a, b] = process.versions.node.split(".").map(Number);
	process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)' 2>/dev/null || ! command -v npm >/dev/null; then
	echo "install-dev-tools.sh: needs Node.js >= 20.19 with npm (have: $(node --version 2>&1))" >&2
	exit 1
fi
mkdir -p "$dir"
[[ -f $dir/package.json ]] || echo '{"private": true}' >"$dir/package.json"
npm install --prefix "$dir" --no-audit --no-fund --save-exact "${missing[@]}"
