#!/bin/bash
# Fuzz every parser of livetree-core for a bounded time and fail on the first crash.
#
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET]   (default 15; 12 targets)
#
# Uses cargo-fuzz (libFuzzer) on the nightly toolchain, installing either when missing:
# `rustup toolchain install nightly` and `cargo install cargo-fuzz` (crates.io). The fuzz
# crate is native/fuzz, outside the native workspace, so normal builds never need nightly.
# Each run starts from seeds copied out of fixtures/captured into a scratch corpus, so the
# corpus that libFuzzer grows never lands in git. A crash leaves its input under
# native/fuzz/artifacts/TARGET/; reproduce with `cargo +nightly fuzz run TARGET FILE`
# and turn it into a unit test in the parser's module.
set -euo pipefail

secs=${1:-15}
[[ $secs =~ ^[0-9]+$ && $secs -gt 0 ]] || { echo "usage: $0 [SECONDS_PER_TARGET]" >&2; exit 2; }
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
fuzz=$root/native/fuzz
cap=$root/fixtures/captured

if ! rustup toolchain list | grep -q '^nightly'; then
  rustup toolchain install nightly --profile minimal
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi

scratch=$(mktemp -d /tmp/livetree-fuzz.XXXXXX)
trap 'rm -rf "$scratch"' EXIT

# seed TARGET FILE...: copy seeds into TARGET's scratch corpus.
seed() {
  local t=$1; shift
  mkdir -p "$scratch/$t"
  local f
  for f in "$@"; do [[ -f $f ]] && cp "$f" "$scratch/$t/$(echo "$f" | tr / _)"; done
  return 0
}
# seed_gv SELECTOR FILE: a gvariant_roundtrip seed is one type-selector byte + the data.
seed_gv() {
  mkdir -p "$scratch/gvariant_roundtrip"
  { printf "\\x$(printf %02x "$1")"; cat "$2"; } >"$scratch/gvariant_roundtrip/$1-$(basename "$2")"
}

seed maps "$cap"/procfs/maps-*.txt "$cap"/procfs/tree/*/maps
seed mountinfo "$cap"/procfs/mountinfo-*.txt "$cap"/procfs/tree/*/mountinfo
seed cgroup "$cap"/procfs/cgroup-*.txt "$cap"/procfs/tree/*/cgroup "$cap"/systemd/*.cgroup
seed commit "$cap"/repo/commit.bin "$cap"/sysroot/staged-deployment
seed dirtree "$cap"/repo/dirtree.bin
seed dirmeta "$cap"/repo/dirmeta.bin "$cap"/repo/filez.bin
seed keyfile "$cap"/hostile/*.origin
seed bootentry "$cap"/hostile/*.conf
seed rpm_header "$cap"/packages/rpm-header.bin
seed dpkg_db "$cap"/packages/dpkg-status.txt
seed escape_roundtrip "$cap"/procfs/mountinfo-overlay.txt
# Indexes into TYPES in fuzz_targets/gvariant_roundtrip.rs: 0 commit, 1 dirtree, 2 dirmeta,
# 5 a{sv}.
seed_gv 0 "$cap/repo/commit.bin"
seed_gv 1 "$cap/repo/dirtree.bin"
seed_gv 2 "$cap/repo/dirmeta.bin"
seed_gv 5 "$cap/sysroot/staged-deployment"

cd "$fuzz"
targets=$(cargo +nightly fuzz list)
cargo +nightly fuzz build >/dev/null
failed=()
for t in $targets; do
  mkdir -p "$scratch/$t"
  echo "fuzz: $t for ${secs}s" >&2
  if ! cargo +nightly fuzz run "$t" "$scratch/$t" -- \
      -max_total_time="$secs" -max_len=65536 -rss_limit_mb=2048 -timeout=10 \
      -print_final_stats=1 >"$scratch/$t.log" 2>&1; then
    echo "fuzz: $t FAILED; last lines of its log:" >&2
    tail -n 40 "$scratch/$t.log" >&2
    failed+=("$t")
  else
    grep -E '^stat::number_of_executed_units' "$scratch/$t.log" | sed "s/^/  $t /" >&2 || true
  fi
done
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "fuzz: crashes in: ${failed[*]} (inputs under native/fuzz/artifacts/)" >&2
  exit 1
fi
echo "fuzz: all $(echo $targets | wc -w) targets ran ${secs}s without a crash" >&2
