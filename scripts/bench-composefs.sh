#!/usr/bin/env bash
# `npm run bench:composefs`: issue 10's variant of the process benchmark, on real components.
# Needs root.
#
# A sysroot built with the real ostree CLI, deployment 1.0's `.ostree.cfs` written by
# fixtures/composefs.sh; in a private mount namespace the image is loop-mounted as erofs,
# overlayfs mounted over it with the repo's objects as data-only layer, the erofs mount
# detached, and N processes (default 3000) chrooted into that composefs root run
# /usr/bin/demo-sleep. One hyperfine run times the floor (cat every /proc/PID/maps) and
# `livetree status --json`; the detection check asserts that every one of the N is
# attributed to deployment 1.0 with libdemo traced to its commit through the image.
# Writes reports/bench-composefs.md and reports/bench-composefs.json; the hard-link
# figures for the same N are read from reports/bench.json when it is there.
#
# Environment: BENCH_N=3000, BENCH_RUNS=5, BENCH_KEEP=1 keeps the work directory.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
cd "$root"

n=${BENCH_N:-3000}
runs=${BENCH_RUNS:-5}
sleep_seconds=3600

log() { printf '[bench-composefs %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

[[ $(id -u) == 0 ]] || die "needs root (mount, chroot, ostree admin)"
bash "$here/install-deps.sh"
if [[ ! -f dist/src/cli.js ]] || ! ls native/livetree.*.node >/dev/null 2>&1; then
  log "building livetree"
  npm run build >&2
fi

work=$(mktemp -d /tmp/livetree-bench-cfs.XXXXXX)
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
s=$work/sysroot
state=$work/state
mnt=$work/mnt
res=$work/results
pidfile=$work/pids
mkdir -p "$state" "$mnt" "$res"
helper=""

# Kill exactly the processes this script started: PIDs in $pidfile whose parent is still
# our helper shell (a reused PID has another parent), then the helper itself.
cleanup() {
  local rc=$? p ppid rest
  trap - EXIT INT TERM
  if [[ -n $helper ]]; then
    if [[ -s $pidfile ]]; then
      while read -r p; do
        [[ -r /proc/$p/stat ]] || continue
        read -r _ _ _ ppid rest <"/proc/$p/stat" 2>/dev/null || continue
        [[ $ppid == "$helper" ]] && kill -KILL "$p" 2>/dev/null || true
      done <"$pidfile"
    fi
    for _ in $(seq 50); do [[ -e /proc/$helper ]] || break; sleep 0.1; done
    kill -KILL "$helper" 2>/dev/null || true
    wait "$helper" 2>/dev/null || true
  fi
  "$root/fixtures/sysroot.sh" destroy "$s" 2>/dev/null || true
  if [[ ${BENCH_KEEP:-0} == 1 ]]; then log "kept $work"; else rm -rf "$work"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

step() { "$root/fixtures/sysroot.sh" "$@"; }
log "fixture: commit and deploy 1.0, write its composefs image"
step init "$s" bench >/dev/null
c1=$(step commit "$s" bench 1.0 | jq -r .commit)
step deploy "$s" bench >/dev/null
image=$("$root/fixtures/composefs.sh" install "$s" 0)
lt_cmd="node $root/bin/livetree.js status --json --no-systemd --sysroot $s --state-dir $state"
eval "$lt_cmd" >/dev/null || true

log "starting $n processes in a composefs root"
# The helper is the namespace's shell: it mounts, starts every process and stays their
# parent (unshare execs it), so killed ones are reaped.
setsid unshare -m --propagation private bash -c '
  img=$1 objects=$2 mnt=$3 n=$4 out=$5 secs=$6
  e=$(mktemp -d /tmp/livetree-cfs-erofs.XXXXXX)
  mount -t erofs -o loop,ro "$img" "$e" 2>/dev/null
  mount -t overlay overlay -o "ro,metacopy=on,redirect_dir=on,lowerdir=$e::$objects" "$mnt"
  umount -l "$e"
  rmdir "$e"
  for ((i = 0; i < n; i++)); do
    chroot "$mnt" /usr/bin/demo-sleep "$secs" </dev/null >/dev/null 2>&1 &
    echo $!
  done >"$out.tmp"
  mv "$out.tmp" "$out"
  wait' bench-cfs-helper "$image" "$s/ostree/repo/objects" "$mnt" "$n" "$pidfile" "$sleep_seconds" \
  </dev/null 2>/dev/null &
helper=$!
for _ in $(seq 600); do [[ -s $pidfile ]] && break; sleep 0.2; done
[[ -s $pidfile ]] || die "helper did not start the processes"
ready=0
for _ in $(seq 300); do
  ready=$(sed 's|.*|/proc/&/maps|' "$pidfile" | xargs grep -l -F libdemo.so.1 2>/dev/null | wc -l)
  ((ready == n)) && break
  sleep 0.2
done
((ready == n)) || die "only $ready of $n processes map libdemo.so.1"

total=$(ls -d /proc/[0-9]* | wc -l)
log "N=$n ($total processes on the host): hyperfine"
hyperfine -i --style basic --warmup 1 --runs "$runs" --export-json "$res/hyperfine.json" \
  -n floor "bash -c 'cat /proc/[0-9]*/maps > /dev/null 2>&1'" \
  -n livetree "$lt_cmd > /dev/null" >&2

eval "$lt_cmd" >"$res/livetree.json" || true
jq -R 'tonumber' "$pidfile" | jq -s . >"$res/pids.json"
jq --slurpfile p "$res/pids.json" --arg c1 "$c1" '
    ($p[0] | map({(tostring): true}) | add) as $ours
    | [.processes[] | select($ours[.pid | tostring])] as $mine
    | {processesSeen: ($mine | length),
       inDeployment: ([$mine[] | select(.root.kind == "deployment" and (.root.deployment | contains($c1)))] | length),
       current: ([$mine[] | select(.state == "current")] | length),
       libdemoTraced: ([$mine[] | select(any(.files[];
          (.path | endswith("/usr/lib/livetree-demo/libdemo.so.1"))
          and .origin.kind == "deployment" and .origin.commit == $c1
          and .origin.treePath == "/usr/lib/livetree-demo/libdemo.so.1"))] | length),
       untrackedFiles: ([$mine[].files[] | select(.origin.kind == "untracked")] | length),
       hostProcessesScanned: (.processes | length),
       warnings: [.warnings[].code] | unique}' "$res/livetree.json" >"$res/detect.json"

node - "$res" "$n" "$root/reports" "$load_start" "$(cut -d' ' -f1-3 /proc/loadavg)" <<'EOF'
const fs = require('node:fs');
const [res, nText, out, loadStart, loadEnd] = process.argv.slice(2);
const n = Number(nText);
const hf = JSON.parse(fs.readFileSync(`${res}/hyperfine.json`, 'utf8')).results;
const by = name => hf.find(r => r.command === name);
const stat = r => ({median: r.median, mean: r.mean, stddev: r.stddev, cpu: r.user + r.system, runs: r.times.length});
const floor = stat(by('floor'));
const livetree = stat(by('livetree'));
const detection = JSON.parse(fs.readFileSync(`${res}/detect.json`, 'utf8'));
let hardLink = null;
try {
	const b = JSON.parse(fs.readFileSync(`${out}/bench.json`, 'utf8'));
	const p = b.processes.find(x => x.n === n);
	if (p) hardLink = {date: b.date, ratio: p.livetree.median / p.floor.median};
} catch {}
const ratio = livetree.median / floor.median;
const ms = s => `${(s * 1000).toFixed(s < 0.1 ? 1 : 0)} ms`;
const doc = {date: new Date().toISOString(), n, loadStart, loadEnd, floor, livetree, ratio, hardLink, detection};
fs.writeFileSync(`${out}/bench-composefs.json`, JSON.stringify(doc, null, 2) + '\n');
const ok = detection.processesSeen === n && detection.inDeployment === n && detection.libdemoTraced === n && detection.untrackedFiles === 0;
const target = hardLink ? Math.max(2, hardLink.ratio) : 2;
const md = `# livetree benchmark: composefs root (issue 10)

Generated by \`npm run bench:composefs\` (scripts/bench-composefs.sh); do not edit by hand.

- Date: ${doc.date}; load average at start ${loadStart}, at end ${loadEnd} (a shared machine:
  wall times are noisy; CPU times are given beside them).
- ${n} processes chrooted into a composefs root (deployment 1.0's \`.ostree.cfs\` loop-mounted
  as erofs, overlayfs with the repo's objects as data-only layer, erofs detached) run
  \`/usr/bin/demo-sleep\`. Each time is hyperfine's median of ${floor.runs} runs after 1 warm-up.

| | floor (cat every /proc/PID/maps) | livetree status --json | livetree / floor |
|---|---:|---:|---:|
| wall (median ± sd) | ${ms(floor.median)} (±${ms(floor.stddev)}) | ${ms(livetree.median)} (±${ms(livetree.stddev)}) | ${ratio.toFixed(2)}x |
| CPU (user + system, mean) | ${ms(floor.cpu)} | ${ms(livetree.cpu)} | ${(livetree.cpu / floor.cpu).toFixed(2)}x |

Hard-link roots, same N (reports/bench.json${hardLink ? `, ${hardLink.date}` : ''}): livetree / floor ${hardLink ? `${hardLink.ratio.toFixed(2)}x` : 'not measured'}.

| Target | Measured | Result |
|---|---|---|
| livetree within ${target.toFixed(2)}x of the floor (the hard-link case's ratio, at least the 2x target) | ${ratio.toFixed(2)}x | ${ratio <= target ? 'PASS' : 'FAIL'} |
| every one of the ${n} processes in deployment 1.0, libdemo traced through the image, no untracked file | ${detection.libdemoTraced} / ${n}, ${detection.untrackedFiles} untracked | ${ok ? 'PASS' : 'FAIL'} |

Detection: ${JSON.stringify(detection)}
`;
fs.writeFileSync(`${out}/bench-composefs.md`, md);
process.stdout.write(md);
EOF
log "wrote reports/bench-composefs.md and reports/bench-composefs.json"
