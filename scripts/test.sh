#!/usr/bin/env bash
# The one test command (npm test): installs what the tests need, builds, lints, tests.
# Needs root: re-runs itself with sudo when not root and sudo is there (scripts/lib/as-root.sh).
set -euo pipefail
. "$(dirname "$0")/lib/as-root.sh"
cd "$(dirname "$0")/.."

# Debian packages, npm ci (the lock file stays as it is), native addon and dist/.
bash scripts/setup.sh

echo "== lint"
# Biome: the TypeScript's formatting and lint rules (biome.jsonc); writes nothing.
npx biome ci src test
cargo fmt --manifest-path native/Cargo.toml --all -- --check
cargo clippy --manifest-path native/Cargo.toml --workspace --all-targets --quiet -- -D warnings
# The core's modules import each other in no circle (issue 13): prints any cycle, fails.
python3 scripts/rust-cycles.py -q native/core/src

echo "== cargo test"
cargo test --manifest-path native/Cargo.toml --workspace --quiet

echo "== Debian userland for the booted-system test (cached: $(bash scripts/debian-userland.sh))"
echo "== Debian unstable root with upstream ostree + composefs (cached: $(bash scripts/ostree-sid.sh))"

echo "== ava"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
npx ava 2>&1 | tee "$log" || status=$?
# One plain closing line with the counts, whatever ava's reporter prints.
passed=$(grep -oE '[0-9]+ tests? passed' "$log" | tail -1 | grep -oE '^[0-9]+' || true)
# With a failure ava prints no "N tests passed" line: count the passing tests' marks instead.
[ -n "$passed" ] || passed=$(grep -cE '^\s*✔' "$log" || true)
failed=$(grep -oE '[0-9]+ (tests? failed|known failures?|uncaught exceptions?)' "$log" | awk '{s+=$1} END {print s+0}' || true)
echo "ava: ${passed:-0} passed, ${failed:-0} failed"
[ "$status" -eq 0 ] || exit "$status"

echo "== fuzz (bounded: every target in native/fuzz x ${LIVETREE_FUZZ_SECONDS:-10} s)"
bash scripts/fuzz.sh "${LIVETREE_FUZZ_SECONDS:-10}"

# The closing line again, last, for whoever reads only the end.
echo "ava: ${passed:-0} passed, ${failed:-0} failed"
