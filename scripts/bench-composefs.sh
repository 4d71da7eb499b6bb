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
# attributed to deployment 1.0 with libdemo traced to its commit through the image. Then
# the same N run chrooted into the hard-link deployment directory and are measured the same
# way, back to back, so the two ratios to the floor are comparable on a shared machine.
# Writes reports/bench-composefs.md and reports/bench-composefs.json.
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

# stop_processes: kill exactly ours (PIDs whose parent is still the helper shell; a reused
# PID has another parent), then the helper.
stop_processes() {
  local p ppid rest
  [[ -n $helper ]] || return 0
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
  helper=""
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  stop_processes
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
deploy=$(step deploy "$s" bench | jq -r '.deployments[0].path')
image=$("$root/fixtures/composefs.sh" install "$s" 0)
lt_cmd="node $root/bin/livetree.js status --json --no-systemd --sysroot $s --state-dir $state"
eval "$lt_cmd" >/dev/null || true

# start_processes cfs|hardlink: N demo-sleeps chrooted into the composefs root (in a private
# mount namespace) or into the deployment directory itself. The helper shell starts them
# and stays their parent (unshare execs it), so killed ones are reaped.
start_processes() {
  local mode=$1 ready=0
  rm -f "$pidfile"
  log "starting $n processes ($mode)"
  if [[ $mode == cfs ]]; then
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
  else
    setsid bash -c '
      d=$1 n=$2 out=$3 secs=$4
      for ((i = 0; i < n; i++)); do
        chroot "$d" /usr/bin/demo-sleep "$secs" </dev/null >/dev/null 2>&1 &
        echo $!
      done >"$out.tmp"
      mv "$out.tmp" "$out"
      wait' bench-hl-helper "$deploy" "$n" "$pidfile" "$sleep_seconds" </dev/null 2>/dev/null &
  fi
  helper=$!
  for _ in $(seq 600); do [[ -s $pidfile ]] && break; sleep 0.2; done
  [[ -s $pidfile ]] || die "helper did not start the processes"
  for _ in $(seq 300); do
    ready=$(sed 's|.*|/proc/&/maps|' "$pidfile" | xargs grep -l -F libdemo.so.1 2>/dev/null | wc -l)
    ((ready == n)) && break
    sleep 0.2
  done
  ((ready == n)) || die "only $ready of $n processes map libdemo.so.1"
}

# measure NAME: one hyperfine run (floor and livetree), then livetree's detection.
measure() {
  local name=$1 all=(/proc/[0-9]*)
  local total=${#all[@]}
  log "$name: N=$n ($total processes on the host): hyperfine"
  # Exit 1 (something on the host needs a restart) is a result; 2 (an error) fails the bench.
  hyperfine --style basic --warmup 1 --runs "$runs" --export-json "$res/hyperfine-$name.json" \
    -n floor "bash -c 'cat /proc/[0-9]*/maps > /dev/null 2>&1; true'" \
    -n livetree "bash -c '$lt_cmd > /dev/null; [ \$? -le 1 ]'" >&2
  # What proving the composefs mounts costs: distinct files checksummed by one scan.
  node --input-type=module -e "
    import {native} from '$root/dist/src/native.js';
    const s = new native.Scanner({sysroot: '$s', procRoot: '/proc', runDir: '$work', hostRoot: '/',
      catalogPath: '$state/catalog.sqlite', kernel: false});
    s.scanSync({});
    console.log(JSON.stringify(s.stats()));" >"$res/stats-$name.json"
  eval "$lt_cmd" >"$res/livetree-$name.json" || true
  /usr/bin/time -v node "$root/bin/livetree.js" status --json --no-systemd --sysroot "$s" \
    --state-dir "$state" >/dev/null 2>"$res/time-$name.txt" || true
  awk -F': ' '/Maximum resident set size/ {print $2}' "$res/time-$name.txt" >"$res/rss-$name.txt"
  [[ -s $res/rss-$name.txt ]] || die "no RSS from /usr/bin/time"
  jq -R 'tonumber' "$pidfile" | jq -s . >"$res/pids-$name.json"
  jq --slurpfile p "$res/pids-$name.json" --arg c1 "$c1" '
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
         warnings: [.warnings[].code] | unique}' "$res/livetree-$name.json" >"$res/detect-$name.json"
}

start_processes cfs
measure cfs
stop_processes
start_processes hardlink
measure hardlink
stop_processes

node - "$res" "$n" "$root/reports" "$load_start" "$(cut -d' ' -f1-3 /proc/loadavg)" <<'EOF'
const fs = require('node:fs');
const [res, nText, out, loadStart, loadEnd] = process.argv.slice(2);
const read = f => JSON.parse(fs.readFileSync(`${res}/${f}`, 'utf8'));
const stat = r => ({median: r.median, mean: r.mean, stddev: r.stddev, cpu: r.user + r.system, runs: r.times.length});
const phase = name => {
	const hf = read(`hyperfine-${name}.json`).results;
	const floor = stat(hf.find(r => r.command === 'floor'));
	const livetree = stat(hf.find(r => r.command === 'livetree'));
	const peakRssKb = Number(fs.readFileSync(`${res}/rss-${name}.txt`, 'utf8').trim());
	const filesHashed = read(`stats-${name}.json`).composefsFilesHashed;
	return {floor, livetree, ratio: livetree.median / floor.median, cpuRatio: livetree.cpu / floor.cpu, peakRssKb, filesHashed, detection: read(`detect-${name}.json`)};
};
const doc = {date: new Date().toISOString(), n: Number(nText), loadStart, loadEnd, composefs: phase('cfs'), hardLink: phase('hardlink')};
fs.writeFileSync(`${out}/bench-composefs.json`, JSON.stringify(doc, null, 2) + '\n');
EOF
node "$here/bench-composefs-report.mjs" "$root/reports/bench-composefs.json" "$root/reports/bench-composefs.md"
log "wrote reports/bench-composefs.md and reports/bench-composefs.json"
