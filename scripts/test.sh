#!/usr/bin/env bash
# The one test command (npm test): installs what the tests need, builds, lints, tests.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh

# npm ci runs our install script, which compiles the native addon from crates.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
	npm ci --no-audit --no-fund
fi
npm run build:native
npx tsc -p tsconfig.json

echo "== lint"
cargo fmt --manifest-path native/Cargo.toml --all -- --check
cargo clippy --manifest-path native/Cargo.toml --workspace --all-targets --quiet -- -D warnings

echo "== cargo test"
cargo test --manifest-path native/Cargo.toml --workspace --quiet

echo "== ava"
npx ava
