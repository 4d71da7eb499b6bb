#!/usr/bin/env bash
# Regenerate reports/ from a fresh demo run (the benchmark writes reports/bench.* itself).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/demo.sh --reports reports
