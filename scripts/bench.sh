#!/usr/bin/env bash
# `npm run bench`: the benchmark of issue 3, on real components. Needs root.
#
# 1. Processes: a sysroot built with the real ostree CLI; N processes chrooted into
#    deployment 1.0 run /usr/bin/demo-sleep (which maps usr/lib/livetree-demo/libdemo.so.1);
#    then 2.0 is deployed, 1.0 undeployed and pruned, so every one of the N maps deleted
#    files. For N = 3000, 1000, 200 (processes are killed down between steps), one
#    hyperfine run times the floor (cat every /proc/PID/maps), `livetree status --json`
#    and `needrestart -b -r l -l`. Detection counts come from livetree's JSON and from
#    needrestart's verbose log; peak RSS of livetree from /usr/bin/time -v at N = 3000.
# 2. Index: a repo with 100,000 distinct small objects in one deployed commit; one
#    hyperfine run times `find objects -type f`, `ostree ls -R`, and a native scan with no
#    processes, cold (empty catalog: records every file) and warm.
# Writes reports/bench.json (raw numbers) and reports/bench.md (ratios, targets).
#
# Environment: BENCH_NS="3000 1000 200" (descending), BENCH_OBJECTS=100000,
# BENCH_RUNS=5, BENCH_KEEP=1 keeps the work directory.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
cd "$root"

ns=${BENCH_NS:-"3000 1000 200"}
objects=${BENCH_OBJECTS:-100000}
runs=${BENCH_RUNS:-5}
sleep_seconds=3600

log() { printf '[bench %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

[[ $(id -u) == 0 ]] || die "needs root (chroot, ostree admin, /proc/PID/map_files)"

# --- dependencies -----------------------------------------------------------------
bash "$here/install-deps.sh"
if [[ ! -x /usr/bin/time ]]; then
  log "apt-get install time"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends time >/dev/null
fi
if [[ ! -f dist/src/cli.js ]] || ! ls native/livetree.*.node >/dev/null 2>&1; then
  log "building livetree"
  npm run build >&2
fi

# --- work directory and cleanup ---------------------------------------------------
# Under /tmp on purpose: needrestart's stock config ignores mappings below /tmp, which is
# why the benchmark runs it with a copy of that config without those entries.
work=$(mktemp -d /tmp/livetree-bench.XXXXXX)
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
s=$work/sysroot
big=$work/big
state=$work/state
res=$work/results
pidfile=$work/pids
mkdir -p "$state" "$res"
helper=""

# Kill exactly the processes this script started: the PIDs in $pidfile that are still
# children of our helper shell (a PID reused by someone else has another parent).
kill_own() {
  local keep=${1:-0} p ppid rest
  [[ -n $helper && -s $pidfile ]] || return 0
  while read -r p; do
    [[ -r /proc/$p/stat ]] || continue
    read -r _ _ _ ppid rest <"/proc/$p/stat" 2>/dev/null || continue
    [[ $ppid == "$helper" ]] && kill -KILL "$p" 2>/dev/null || true
  done < <(tail -n +"$((keep + 1))" "$pidfile")
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  kill_own 0
  if [[ -n $helper ]]; then
    # The helper reaps its killed children and then returns from `wait` by itself.
    for _ in $(seq 50); do [[ -e /proc/$helper ]] || break; sleep 0.1; done
    kill -KILL "$helper" 2>/dev/null || true
    wait "$helper" 2>/dev/null || true
  fi
  "$root/fixtures/sysroot.sh" destroy "$s" 2>/dev/null || true
  "$root/fixtures/sysroot.sh" destroy "$big" 2>/dev/null || true
  if [[ ${BENCH_KEEP:-0} == 1 ]]; then
    log "kept $work"
  else
    rm -rf "$work"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

lt() { node "$root/bin/livetree.js" status --json --no-systemd --sysroot "$s" --state-dir "$state" "$@"; }

# --- fixture: deployment 1.0 with processes ---------------------------------------
step() { "$root/fixtures/sysroot.sh" "$@"; }
log "fixture: commit and deploy 1.0"
step init "$s" bench >/dev/null
c1=$(step commit "$s" bench 1.0 | jq -r .commit)
d1=$(step deploy "$s" bench | jq -r '.deployments[0].path')
# livetree has run once while 1.0 was deployed: its catalog knows 1.0's files, which is
# how a deleted file is traced back to its commit later.
lt >/dev/null || true

max=0
for n in $ns; do ((n > max)) && max=$n; done
log "starting $max processes in $d1"
# One helper shell starts them all and stays their parent, so killed ones are reaped
# (PID 1 on some machines does not reap orphans). setsid: an interrupt of the terminal
# reaches this script, whose trap kills them by PID.
setsid bash -c '
  d=$1 n=$2 out=$3 secs=$4
  for ((i = 0; i < n; i++)); do
    chroot "$d" /usr/bin/demo-sleep "$secs" </dev/null >/dev/null 2>&1 &
    echo $!
  done >"$out.tmp"
  mv "$out.tmp" "$out"
  wait' bench-helper "$d1" "$max" "$pidfile" "$sleep_seconds" </dev/null 2>/dev/null &
helper=$!

mapping_count() { # how many of the first $1 PIDs map libdemo (optionally: deleted)
  local n=$1 pattern=$2
  head -n "$n" "$pidfile" | sed 's|.*|/proc/&/maps|' | xargs grep -l -F -- "$pattern" 2>/dev/null | wc -l
}
for _ in $(seq 600); do [[ -s $pidfile ]] && break; sleep 0.2; done
[[ -s $pidfile ]] || die "helper did not start the processes"
for _ in $(seq 300); do
  ready=$(mapping_count "$max" "libdemo.so.1")
  ((ready == max)) && break
  sleep 0.2
done
((ready == max)) || die "only $ready of $max processes map libdemo.so.1"

log "fixture: commit and deploy 2.0, undeploy 1.0, cleanup"
c2=$(step commit "$s" bench 2.0 | jq -r .commit)
step deploy "$s" bench >/dev/null
step undeploy "$s" 1 >/dev/null
step cleanup "$s" >/dev/null
deleted=$(mapping_count "$max" "libdemo.so.1 (deleted)")
((deleted == max)) || die "only $deleted of $max processes map a deleted libdemo.so.1"

# needrestart: a copy of the stock config without the entries that ignore /tmp.
nrconf=$work/needrestart.conf
sed -e '/^[[:space:]]*qr(^\/tmp\/),/d' -e '/^[[:space:]]*qr#^(\/var)?\/tmp\/#,/d' \
  /etc/needrestart/needrestart.conf >"$nrconf"
grep -q '/tmp/' "$nrconf" && die "could not remove the /tmp entries from the needrestart config"
# -l: library checks only (no kernel or microcode hints), the same question livetree answers.
nr=(needrestart -c "$nrconf" -b -r l -l)

# --- processes: one hyperfine run per N --------------------------------------------
floor_cmd="bash -c 'cat /proc/[0-9]*/maps > /dev/null 2>&1'"
lt_cmd="node $root/bin/livetree.js status --json --no-systemd --sysroot $s --state-dir $state > /dev/null"
nr_cmd="${nr[*]} > /dev/null 2>&1"
for n in $ns; do
  kill_own "$n"
  for _ in $(seq 100); do
    [[ $(mapping_count "$max" "libdemo.so.1") -le $n ]] && break
    sleep 0.1
  done
  alive=$(mapping_count "$n" "libdemo.so.1 (deleted)")
  ((alive == n)) || die "N=$n: $alive processes map the deleted libdemo"
  total=$(ls -d /proc/[0-9]* | wc -l)
  log "N=$n ($total processes on the host): hyperfine"
  hyperfine -i --style basic --warmup 1 --runs "$runs" --export-json "$res/procs-$n.json" \
    -n floor "$floor_cmd" -n livetree "$lt_cmd" -n needrestart "$nr_cmd" >&2

  # Detection: livetree's JSON, restricted to our N PIDs.
  lt >"$res/livetree-$n.json" || true
  head -n "$n" "$pidfile" | jq -s . >"$res/pids-$n.json"
  jq --slurpfile p "$res/pids-$n.json" --arg c1 "$c1" '
      ($p[0] | map({(tostring): true}) | add) as $ours
      | [.processes[] | select($ours[.pid | tostring])] as $mine
      | {processesSeen: ($mine | length),
         stale: ([$mine[] | select(.state == "stale")] | length),
         libdemoTraced: ([$mine[] | select(any(.files[];
            .deleted and (.path | endswith("/usr/lib/livetree-demo/libdemo.so.1"))
            and .origin.commit == $c1 and .origin.treePath == "/usr/lib/livetree-demo/libdemo.so.1"))] | length),
         hostProcessesScanned: (.processes | length),
         warnings: [.warnings[].code] | unique}' "$res/livetree-$n.json" >"$res/lt-detect-$n.json"

  # Detection: needrestart's verbose log says which processes it found outdated; its
  # batch output lists services and sessions, and NEEDRESTART-PID lines only in user mode.
  "${nr[@]}" -v >"$res/nr-$n.out" 2>"$res/nr-$n.err" || true
  nr_verbose=$(grep -oE '#[0-9]+ uses (deleted|obsolete|non-existing)' "$res/nr-$n.err" |
    grep -oE '[0-9]+' | sort -u | grep -cxF -f "$pidfile" || true)
  nr_pid_lines=$(grep '^NEEDRESTART-PID:' "$res/nr-$n.out" | sed 's/^[^=]*=//' | tr ',' '\n' |
    grep -cxF -f <(head -n "$n" "$pidfile") || true)
  nr_batch_lines=$(grep -c '^NEEDRESTART-\(SVC\|SESS\|CONT\|PID\)' "$res/nr-$n.out" || true)
  jq -n --argjson v "${nr_verbose:-0}" --argjson p "${nr_pid_lines:-0}" --argjson b "${nr_batch_lines:-0}" \
    --argjson total "$total" \
    '{verboseOutdated: $v, batchPidListed: $p, batchLines: $b, hostProcesses: $total}' >"$res/nr-detect-$n.json"

  if [[ $n == "$max" ]]; then
    log "N=$n: peak RSS of livetree"
    /usr/bin/time -v node "$root/bin/livetree.js" status --json --no-systemd --sysroot "$s" \
      --state-dir "$state" >/dev/null 2>"$res/time-$n.txt" || true
    grep -q 'Maximum resident set size' "$res/time-$n.txt" || die "no RSS from /usr/bin/time"
  fi
done
kill_own 0

# --- index: 100,000 objects -----------------------------------------------------------
log "index: building a commit of $objects files"
step init "$big" big >/dev/null
tree=$work/bigtree
"$root/fixtures/make-tree.sh" "$tree" --version 1.0 >/dev/null
node "$here/bench-index.mjs" files "$tree/usr/share/livetree-bench" "$objects"
t0=$(date +%s%N)
ostree --repo="$big/ostree/repo" commit -b big/stable -s "bench $objects" \
  --add-metadata-string=version=1.0 "$tree" >/dev/null
t1=$(date +%s%N)
ostree admin --sysroot="$big" deploy --os=big big/stable >/dev/null 2>&1
t2=$(date +%s%N)
rm -rf "$tree"
repo=$big/ostree/repo
repo_objects=$(find "$repo/objects" -type f | wc -l)
commit_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", (b - a) / 1e9}')
deploy_s=$(awk -v a="$t1" -v b="$t2" 'BEGIN {printf "%.2f", (b - a) / 1e9}')
log "index: $repo_objects objects (ostree commit $commit_s s, deploy $deploy_s s)"
cold=$work/cold.sqlite
warm=$work/warm.sqlite
node "$here/bench-index.mjs" scan "$big" "$warm" 2>/dev/null ||
  die "native scan of the 100k-object sysroot failed"
hyperfine -i --style basic --warmup 1 --runs "$runs" --export-json "$res/index.json" \
  -p true -n find-objects "bash -c 'find $repo/objects -type f | wc -l > /dev/null'" \
  -p true -n ostree-ls-R "ostree --repo=$repo ls -R big/stable > /dev/null" \
  -p true -n node-addon-load "node $here/bench-index.mjs load" \
  -p true -n livetree-warm "node $here/bench-index.mjs scan $big $warm" \
  -p "rm -f $cold $cold-journal $cold-wal $cold-shm" -n livetree-cold "node $here/bench-index.mjs scan $big $cold" >&2
catalog_bytes=$(stat -c %s "$cold")

# --- reports --------------------------------------------------------------------------
jq -n --arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" --arg kernel "$(uname -r)" \
  --argjson nproc "$(nproc)" --arg cpu "$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)" \
  --argjson memMb "$(awk '/^MemTotal/ {print int($2 / 1024)}' /proc/meminfo)" \
  --arg node "$(node --version)" --arg hyperfine "$(hyperfine --version)" \
  --arg needrestart "$(dpkg-query -W -f '${Version}' needrestart)" \
  --arg ostree "$(dpkg-query -W -f '${Version}' ostree)" \
  --arg commit "$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)" \
  --argjson runs "$runs" --argjson objects "$objects" --argjson repoObjects "$repo_objects" \
  --argjson catalogBytes "$catalog_bytes" \
  --arg loadStart "$load_start" --arg loadEnd "$(cut -d' ' -f1-3 /proc/loadavg)" \
  --argjson commitSeconds "$commit_s" --argjson deploySeconds "$deploy_s" \
  '{date: $date, machine: {nproc: $nproc, kernel: $kernel, cpu: $cpu, memMb: $memMb,
    loadAverageAtStart: $loadStart, loadAverageAtEnd: $loadEnd},
    versions: {node: $node, hyperfine: $hyperfine, needrestart: $needrestart, ostree: $ostree, livetree: $commit},
    runs: $runs, index: {files: $objects, repoObjects: $repoObjects, coldCatalogBytes: $catalogBytes,
    ostreeCommitSeconds: $commitSeconds, ostreeDeploySeconds: $deploySeconds}}' >"$res/meta.json"
node "$here/bench-report.mjs" "$res" "$ns" "$root/reports"
log "wrote reports/bench.md and reports/bench.json"
