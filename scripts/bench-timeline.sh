#!/usr/bin/env bash
# `npm run bench:timeline` (and the `timeline` section of `npm run bench`): what the timeline
# costs, on real components. Needs root.
#
# 1. month: native/core/tests/timeline_month.rs, built --release, writes a simulated 30 days
#    of one scan a minute on a host of 3000 processes (a daily upgrade, 5 units restarted a
#    day, an hourly job) through the catalog's own recorder with a controllable clock, into
#    a kept catalog; its size (target < 50 MB); then one hyperfine run times
#    `livetree timeline --package libc6 --json` and `--package pkg7 --json` over it
#    (target: median < 200 ms).
# 2. scan: N (3000) processes of our own (sleep, started here, killed by PID at the end);
#    one hyperfine run times `livetree status --json --no-systemd` recording the timeline
#    against the same with LIVETREE_TEST_NO_TIMELINE=1 (test-only: records none), same
#    state directory, warmed (target: recording costs at most 10% more).
# Writes reports/bench-timeline.json and reports/bench-timeline.md (BENCH_OUT=DIR: there).
# Environment: BENCH_RUNS=5, BENCH_TIMELINE_N=3000, BENCH_SIM_DAYS=30, BENCH_KEEP=1,
# BENCH_TIMELINE_MONTH=DIR (a month simulated before: DIR/catalog.sqlite and DIR/month.log).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
cd "$root"
runs=${BENCH_RUNS:-5}
n=${BENCH_TIMELINE_N:-3000}
days=${BENCH_SIM_DAYS:-30}
out=${BENCH_OUT:-$root/reports}
log() { printf '[bench-timeline %s] %s\n' "$(date +%T)" "$*" >&2; }
[[ $(id -u) == 0 ]] || { log "needs root"; exit 1; }

work=$(mktemp -d /tmp/livetree-bench-timeline.XXXXXX)
pidfile=$work/pids
helper=""
cleanup() {
  local p
  if [[ -s $pidfile ]]; then
    while read -r p; do kill -KILL "$p" 2>/dev/null || true; done <"$pidfile"
  fi
  [[ -n $helper ]] && { kill -KILL "$helper" 2>/dev/null; wait "$helper" 2>/dev/null; } || true
  [[ ${BENCH_KEEP:-} == 1 ]] || rm -rf "$work"
}
trap cleanup EXIT INT TERM

# --- 1. a simulated month -----------------------------------------------------------
mkdir -p "$work/month"
if [[ -n ${BENCH_TIMELINE_MONTH:-} ]]; then
  # A month simulated before by this same test (its catalog.sqlite and month.log), copied:
  # the simulation takes ten minutes and does not depend on the query being timed.
  log "reusing the simulated month in $BENCH_TIMELINE_MONTH"
  cp "$BENCH_TIMELINE_MONTH/catalog.sqlite" "$work/month/"
  cp "$BENCH_TIMELINE_MONTH/month.log" "$work/month.log"
else
  log "simulating $days days at one scan a minute on 3000 processes (release build)"
  LIVETREE_SIM_DAYS=$days LIVETREE_SIM_OUT=$work/month \
    cargo test --release --manifest-path native/Cargo.toml -p livetree-core --test timeline_month \
    -- --nocapture 2>"$work/month.log" >&2 || { cat "$work/month.log" >&2; exit 1; }
fi
sim=$(grep '^timeline month:' "$work/month.log")
log "$sim"
bytes=$(( $(stat -c %s "$work/month/catalog.sqlite") + $(stat -c %s "$work/month/catalog.sqlite-wal" 2>/dev/null || echo 0) ))
lt="node $root/bin/livetree.js"
hyperfine -i --style basic --warmup 1 --runs "$runs" --export-json "$work/query.json" \
  -n timeline-package-libc6 "$lt timeline --state-dir $work/month --package libc6 --json > /dev/null" \
  -n timeline-package-pkg7 "$lt timeline --state-dir $work/month --package pkg7 --json > /dev/null" \
  -n node-start "node -e 0" >&2

# --- 2. scan cost with and without recording -------------------------------------------
log "starting $n processes"
setsid bash -c 'for ((i = 0; i < $1; i++)); do sleep 3600 </dev/null >/dev/null 2>&1 & echo $!; done >"$2.tmp"; mv "$2.tmp" "$2"; wait' \
  bench-helper "$n" "$pidfile" </dev/null 2>/dev/null &
helper=$!
for _ in $(seq 600); do [[ -s $pidfile ]] && break; sleep 0.1; done
mkdir -p "$work/state"
$lt status --json --no-systemd --state-dir "$work/state" >/dev/null || true
hyperfine -i --style basic --warmup 1 --runs "$runs" --export-json "$work/scan.json" \
  -n status-recording "$lt status --json --no-systemd --state-dir $work/state > /dev/null" \
  -n status-not-recording "LIVETREE_TEST_NO_TIMELINE=1 $lt status --json --no-systemd --state-dir $work/state > /dev/null" >&2
processes=$(ls -d /proc/[0-9]* | wc -l)

mkdir -p "$out"
jq -n --slurpfile q "$work/query.json" --slurpfile s "$work/scan.json" --arg sim "$sim" \
  --argjson bytes "$bytes" --argjson days "$days" --argjson n "$n" --argjson processes "$processes" \
  --arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" --arg commit "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" \
  'def med(r; name): (r[0].results[] | select(.command == name) | .median);
   {date: $date, livetree: $commit, month: {days: $days, bytes: $bytes, simulation: $sim,
     packageLibc6Seconds: med($q; "timeline-package-libc6"), packagePkg7Seconds: med($q; "timeline-package-pkg7"),
     nodeStartSeconds: med($q; "node-start")},
    scan: {ownProcesses: $n, hostProcesses: $processes,
     recordingSeconds: med($s; "status-recording"), notRecordingSeconds: med($s; "status-not-recording")}}' \
  >"$out/bench-timeline.json"
node -e '
const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
const mb = r.month.bytes / 1048576, ms = s => (s * 1000).toFixed(0);
const extra = r.scan.recordingSeconds / r.scan.notRecordingSeconds - 1;
const slow = Math.max(r.month.packageLibc6Seconds, r.month.packagePkg7Seconds);
const ok = b => (b ? "met" : "NOT MET");
process.stdout.write(`# livetree timeline benchmark (${r.date}, ${r.livetree})

| what | measured | target | |
|---|---|---|---|
| catalog after ${r.month.days} simulated days, 1 scan/min, 3000 processes | ${mb.toFixed(1)} MB | < 50 MB | ${ok(mb < 50)} |
| timeline --package libc6 (median) | ${ms(r.month.packageLibc6Seconds)} ms | < 200 ms | ${ok(r.month.packageLibc6Seconds < 0.2)} |
| timeline --package pkg7 (median) | ${ms(r.month.packagePkg7Seconds)} ms | < 200 ms | ${ok(r.month.packagePkg7Seconds < 0.2)} |
| node -e 0 (start-up, for scale) | ${ms(r.month.nodeStartSeconds)} ms | | |
| status --json, ${r.scan.hostProcesses} processes, recording | ${ms(r.scan.recordingSeconds)} ms | | |
| status --json, same, not recording | ${ms(r.scan.notRecordingSeconds)} ms | | |
| cost of recording | ${(extra * 100).toFixed(1)} % | <= 10 % | ${ok(extra <= 0.1)} |

Simulation: ${r.month.simulation}
`);' "$out/bench-timeline.json" >"$out/bench-timeline.md"
cat "$out/bench-timeline.md"
log "wrote $out/bench-timeline.md and $out/bench-timeline.json"
