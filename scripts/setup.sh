#!/usr/bin/env bash
# What the README's two commands do first: the Debian packages the tests and the demo use,
# the npm dependencies exactly as package-lock.json says (npm ci: it never rewrites the
# lock file), then the build (native addon with napi, TypeScript with tsc into dist/).
# Incremental: npm ci only when node_modules is missing or older than the lock file.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
	# --ignore-scripts: our postinstall would build too; the build follows here anyway.
	npm ci --ignore-scripts --no-audit --no-fund
fi
npm run build:native
npx tsc -p tsconfig.json
