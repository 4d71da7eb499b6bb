#!/usr/bin/env bash
# The one test command (npm test): installs what the tests need, builds, lints, tests.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh

# npm install runs our install script, which compiles the native addon from crates.
# (Not npm ci: npm 11 leaves other platforms' optional packages of @napi-rs/cli out of
# the lock file and then refuses it as out of sync.)
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
	npm install --no-audit --no-fund
fi
npm run build:native
npx tsc -p tsconfig.json

echo "== lint"
cargo fmt --manifest-path native/Cargo.toml --all -- --check
cargo clippy --manifest-path native/Cargo.toml --workspace --all-targets --quiet -- -D warnings

echo "== cargo test"
cargo test --manifest-path native/Cargo.toml --workspace --quiet

echo "== ava"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
npx ava 2>&1 | tee "$log" || status=$?
# One plain closing line with the counts, whatever ava's reporter prints.
passed=$(grep -oE '[0-9]+ tests? passed' "$log" | tail -1 | grep -oE '^[0-9]+' || true)
failed=$(grep -oE '[0-9]+ (tests? failed|known failures?|uncaught exceptions?)' "$log" | awk '{s+=$1} END {print s+0}' || true)
echo "ava: ${passed:-0} passed, ${failed:-0} failed"
[ "$status" -eq 0 ] || exit "$status"

echo "== fuzz (bounded: 11 targets x ${LIVETREE_FUZZ_SECONDS:-10} s)"
bash scripts/fuzz.sh "${LIVETREE_FUZZ_SECONDS:-10}"

# The closing line again, last, for whoever reads only the end.
echo "ava: ${passed:-0} passed, ${failed:-0} failed"
