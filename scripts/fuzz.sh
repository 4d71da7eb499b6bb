#!/bin/bash
# Fuzz every parser of livetree-core for a bounded time and fail on the first crash.
#
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET]   (default 15; 16 targets)
#
# Uses cargo-fuzz (libFuzzer) on the nightly toolchain, installing either when missing:
# `rustup toolchain install nightly` and `cargo install cargo-fuzz` (crates.io). The fuzz
# crate is native/fuzz, outside the native workspace, so normal builds never need nightly.
#
# What costs time is kept in a cache outside the repo, LIVETREE_CACHE (default
# ${XDG_CACHE_HOME:-~/.cache}/livetree), so a fresh clone or a CI job that restores it
# does not pay again: cargo-fuzz installed under $LIVETREE_CACHE/cargo-fuzz (compiling it
# takes minutes) and the fuzz targets' build under $LIVETREE_CACHE/fuzz-target
# (sanitizer-instrumented builds of livetree-core and its dependencies, once per target).
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
cache=${LIVETREE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/livetree}
mkdir -p "$cache"
export PATH=$cache/cargo-fuzz/bin:$PATH
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  echo "fuzz: cargo install cargo-fuzz into $cache/cargo-fuzz (once; a few minutes)" >&2
  cargo install cargo-fuzz --locked --root "$cache/cargo-fuzz"
fi
target_dir=$cache/fuzz-target

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
seed dbus_message "$cap"/dbus/*.bin
seed cgroup "$cap"/procfs/cgroup-*.txt "$cap"/procfs/tree/*/cgroup "$cap"/systemd/*.cgroup
seed commit "$cap"/repo/commit.bin "$cap"/sysroot/staged-deployment
seed dirtree "$cap"/repo/dirtree.bin
seed dirmeta "$cap"/repo/dirmeta.bin "$cap"/repo/filez.bin
seed keyfile "$cap"/hostile/*.origin
seed bootentry "$cap"/hostile/*.conf
seed kernel "$cap"/kernel/*.txt
# The bzImage seed is cut from the real Debian image the kernel tests fetch (not kept in
# git): its first 32 KiB hold the whole setup header and the version string.
kimage=$("$root/scripts/kernel-image.sh")
mkdir -p "$scratch/kernel"
head -c 32768 "$kimage" >"$scratch/kernel/bzimage-head"
seed rpm_header "$cap"/packages/rpm-header*.bin
seed dpkg_db "$cap"/packages/dpkg-status.txt
seed containers "$cap"/containers/*.json "$cap"/containers/*.txt "$cap"/containers/storage.conf
seed escape_roundtrip "$cap"/procfs/mountinfo-overlay.txt
mkdir -p "$scratch/erofs" && gunzip -c "$cap"/composefs/small.cfs.gz >"$scratch/erofs/small.cfs"
# Indexes into TYPES in fuzz_targets/gvariant_roundtrip.rs: 0 commit, 1 dirtree, 2 dirmeta,
# 5 a{sv}.
seed_gv 0 "$cap/repo/commit.bin"
seed_gv 1 "$cap/repo/dirtree.bin"
seed_gv 2 "$cap/repo/dirmeta.bin"
seed_gv 5 "$cap/sysroot/staged-deployment"

cd "$fuzz"
# The committed Cargo.lock is what the fuzz targets build with. cargo-fuzz has no --locked
# of its own, so cargo checks it first, resolving exactly as the build will: a lock that
# would need a change (a dependency of livetree-core added without updating it) fails here
# instead of being rewritten by the build. Update it with `cargo update --manifest-path
# native/fuzz/Cargo.toml -p livetree-core`, pinning the versions native/Cargo.lock has.
cargo +nightly metadata --locked --format-version 1 >/dev/null ||
  { echo "fuzz: native/fuzz/Cargo.lock is not current (see scripts/fuzz.sh)" >&2; exit 1; }
targets=$(cargo +nightly fuzz list)
# One checkout at a time builds into the shared target directory and runs what it built:
# another checkout's build between ours and our runs would replace the binaries with its own
# code (two checkouts' `npm test` at once on one machine).
exec 9>"$cache/fuzz.lock"
if ! flock -n 9; then
  echo "fuzz: waiting for another checkout's fuzzing to finish ($cache/fuzz.lock)" >&2
  flock 9
fi
if ! cargo +nightly fuzz build --target-dir "$target_dir" >"$scratch/build.log" 2>&1; then
  echo "fuzz: building the targets failed; last lines:" >&2
  tail -n 60 "$scratch/build.log" >&2
  exit 1
fi
# Each build of changed sources leaves the previous version's hashed artifacts beside the new
# ones in deps/ (the core and 16 targets under AddressSanitizer: about 500 MB a version, 22 GB
# after some weeks of checkouts here): keep the newest few versions of each, for checkouts
# that take turns, and remove the rest.
deps=$target_dir/$(rustc +nightly -vV | sed -n 's/^host: //p')/release/deps
if [[ -d $deps ]]; then
  for name in livetree_core $targets; do
    ls -t "$deps" | sed -n "s/^\(lib\)\{0,1\}${name}-\([0-9a-f]\{16\}\)\(\..*\)\{0,1\}\$/\2/p" |
      awk '!seen[$0]++' | tail -n +5 | while read -r h; do
      rm -f "$deps/lib$name-$h" "$deps/lib$name-$h".* "$deps/$name-$h" "$deps/$name-$h".*
    done
  done
fi
failed=()
for t in $targets; do
  mkdir -p "$scratch/$t"
  echo "fuzz: $t for ${secs}s" >&2
  if ! cargo +nightly fuzz run --target-dir "$target_dir" "$t" "$scratch/$t" -- \
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
