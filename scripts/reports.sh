#!/usr/bin/env bash
# Regenerate reports/ from a fresh demo run (the benchmark writes reports/bench.* itself).
# The demo runs in a PID namespace of its own (with its own /proc), so the reports show the
# demo's processes, not whatever else happens to run on the machine that regenerates them.
set -euo pipefail
. "$(dirname "$0")/lib/as-root.sh"
cd "$(dirname "$0")/.."
exec unshare --pid --fork --mount-proc bash scripts/demo.sh --reports reports
