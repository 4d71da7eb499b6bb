#!/usr/bin/env bash
# `npm run bench`: the benchmarks of issues 3 and 13, on real components. Needs root.
#
# 1. ostree: a sysroot built with the real ostree CLI; N processes chrooted into
#    deployment 1.0 run /usr/bin/demo-sleep (which maps usr/lib/livetree-demo/libdemo.so.1);
#    then 2.0 is deployed, 1.0 undeployed and pruned, so every one of the N maps deleted
#    files. For N = 3000, 1000, 200 (processes are killed down between steps), one
#    hyperfine run times the floor (cat every /proc/PID/maps), `livetree status --json`
#    and `needrestart -b -r l -l`. Detection counts come from livetree's JSON and from
#    needrestart's verbose log; peak RSS of livetree from /usr/bin/time -v at N = 3000.
# 2. plain (issue 13's table, no OSTree at all): N processes chrooted into a copy of the
#    host's libraries (sleep, libc.so.6, the dynamic loader) whose libc.so.6 is then
#    replaced the way a package upgrade does (new file renamed over it), so each maps a
#    deleted libc. For N = 10000, 3000, 1000 one hyperfine run times cat of every maps
#    file, a C program that reads every maps file once (built here with gcc) and
#    `livetree status --json`, plus needrestart at N = 3000; at 3000 also the peak RSS of
#    status and `livetree exporter`'s warm scrape (curl, --min-interval 0) against the C
#    floor in one hyperfine run, and status's system calls per process (strace -f -c).
#    Per-process cost = livetree's median / N at each N; `node -e 0` is timed in the same
#    run, so the cost beyond Node's own start-up is reported beside it. A
#    pids limit (cgroup pids.max, kernel pid_max or threads-max) lowers the largest N to
#    what it allows; the report says so.
# 3. index: a repo with 100,000 distinct small objects in one deployed commit; one
#    hyperfine run times `find objects -type f`, `ostree ls -R`, and a native scan with no
#    processes, cold (empty catalog: records every file) and warm.
# 4. containers (issue 21, scripts/bench-containers.sh): 200 podman containers of 5
#    processes each, on an image whose tag a rebuild then moved; one hyperfine run times
#    the floor and `livetree status --json` (BENCH_CONTAINERS, BENCH_CONTAINER_PROCS).
# 5. bus (what asking systemd costs when there is no bus): on this host as it is, one
#    hyperfine run of `status --json --no-systemd`, `status --json` with the system bus at
#    an address where no socket is (DBUS_SYSTEM_BUS_ADDRESS), and `status --json` against a
#    socket that accepts and closes (the D-Bus library loaded, the connection failing). The
#    attempt without a socket should cost under 5 ms.
# 6. systemd (what asking a reachable manager costs): a real `systemd --user` manager on its
#    own bus (scripts/bench-systemd.mjs, test/helpers/systemd-user.ts) with BENCH_UNITS
#    units of BENCH_PER_UNIT processes each (300 × 10), all chrooted on a copy of the host's
#    libc that is then replaced; one hyperfine run of `status --json --no-systemd`,
#    `status --json --user` (XDG_RUNTIME_DIR of the manager: its own socket, as systemctl
#    --user uses) and `status --json --bus-address` (the manager's bus): the unit query's
#    cost against the scan (target: at most 20% at 3000 processes, on `--user`).
# 7. config (issue 24): BENCH_CONFIG_N (3000) processes chrooted in a copy of the host's
#    libraries with an /etc of their own; rounds (BENCH_CONFIG_ROUNDS=4 of BENCH_CONFIG_RUNS=5,
#    the two commands in a rotated order) of `status --json --no-systemd` with and without the
#    configuration pass (LIVETREE_BENCH_SKIP_CONFIG_PASS=1), first with nothing changed under
#    their /etc since they started, then after a change there (every fd directory read): the
#    pass's cost against the scan (target: at most 10%, judged on the second).
# Every livetree command is timed through `run_ok`: exit 0, 1 or 3 (verdicts) count as runs,
# exit 2 (a failed command) fails the benchmark (hyperfine without -i).
# Writes reports/bench.json (raw numbers) and reports/bench.md (ratios, targets).
#
# 5. timeline: scripts/bench-timeline.sh (a simulated month of scans, `timeline --package`
#    over it, the scan cost of recording), reported in reports/bench-timeline.md.
# Environment: BENCH_SECTIONS="ostree plain index containers bus config systemd timeline" (a subset
# runs only those; the report keeps the others' figures from the report it replaces, each
# said to be from the run that measured it, or marks their targets NOT RUN), BENCH_NS="3000 1000 200" (ostree, descending),
# BENCH_PLAIN_NS="10000 3000 1000" (plain, descending), BENCH_PLAIN_AT=3000 (the plain N
# where needrestart, RSS and the exporter are measured; one of BENCH_PLAIN_NS),
# BENCH_OBJECTS=100000, BENCH_RUNS=5, BENCH_BUS_ROUNDS=6 and BENCH_BUS_RUNS=10 (the bus
# section: rounds of runs, as its difference is a few ms), BENCH_UNITS=300,
# BENCH_PER_UNIT=10, BENCH_KEEP=1 keeps the work directory,
# BENCH_OUT=DIR writes the reports there instead of reports/.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
cd "$root"

ns=${BENCH_NS:-"3000 1000 200"}
plain_ns=${BENCH_PLAIN_NS:-"10000 3000 1000"}
plain_at=${BENCH_PLAIN_AT:-3000}
sections=" ${BENCH_SECTIONS:-ostree plain index containers bus config systemd timeline} "
objects=${BENCH_OBJECTS:-100000}
runs=${BENCH_RUNS:-5}
bus_runs=${BENCH_BUS_RUNS:-10}
bus_rounds=${BENCH_BUS_ROUNDS:-6}
sd_units=${BENCH_UNITS:-300}
sd_per_unit=${BENCH_PER_UNIT:-10}
sleep_seconds=3600

section() { [[ $sections == *" $1 "* ]]; }
# How many paths match a glob. Not `ls | wc -l`: a process that exits while ls lists
# /proc makes ls fail, and with pipefail that would end the run.
count_glob() {
  local matches
  shopt -s nullglob
  # shellcheck disable=SC2206 # the glob is meant to expand
  matches=($1)
  shopt -u nullglob
  echo "${#matches[@]}"
}
log() { printf '[bench %s] %s\n' "$(date +%T)" "$*" >&2; }
# run_ok CMD: livetree's verdicts (0, 1, 3) are runs, its failure (2) fails the benchmark.
# shellcheck source=lib/run-ok.sh
. "$here/lib/run-ok.sh"
die() { log "error: $*"; exit 1; }

[[ $(id -u) == 0 ]] || die "needs root (chroot, ostree admin, /proc/PID/map_files)"

# --- dependencies -----------------------------------------------------------------
bash "$here/install-deps.sh"
if [[ ! -f dist/src/cli.js || ! -f dist/test/helpers/systemd-user.js ]] || ! ls native/livetree.*.node >/dev/null 2>&1; then
  log "building livetree"
  npm run build >&2
fi

# --- Node's environment -----------------------------------------------------------
# A shell may set NODE_EXTRA_CA_CERTS (this machine's sets it to the system bundle again, 144
# certificates): every Node process then parses that file at start, before any code of ours
# runs (about 35 ms here). livetree opens no TLS client connection, and a cron job or a unit
# does not inherit a login shell's variable, so every command of this run runs without it;
# `node -e 0` is timed both ways first and the report says so (meta.json nodeExtraCaCerts).
extra_ca=${NODE_EXTRA_CA_CERTS:-}
unset NODE_EXTRA_CA_CERTS

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
if [[ -n $extra_ca ]]; then
  log "node start-up with and without NODE_EXTRA_CA_CERTS=$extra_ca"
  hyperfine -N --style none --warmup 3 --runs 20 --export-json "$res/node-ca.json" \
    -n with "env NODE_EXTRA_CA_CERTS=$extra_ca node -e 0" -n without "node -e 0" >&2
fi
helper=""
plain_helper=""
plain_pidfile=$work/plain-pids
cfg_helper=""
cfg_pidfile=$work/config-pids
exporter=""
sd_driver=""
no_bus_listener=""

# Kill exactly the processes this script started: the PIDs in $pidfile that are still
# children of our helper shell (a PID reused by someone else has another parent).
# kill_own KEEP [HELPER PIDFILE] (default: the ostree section's).
kill_own() {
  local keep=${1:-0} h=${2:-$helper} f=${3:-$pidfile} p ppid rest
  [[ -n $h && -s $f ]] || return 0
  while read -r p; do
    [[ -r /proc/$p/stat ]] || continue
    read -r _ _ _ ppid rest <"/proc/$p/stat" 2>/dev/null || continue
    [[ $ppid == "$h" ]] && kill -KILL "$p" 2>/dev/null || true
  done < <(tail -n +"$((keep + 1))" "$f")
}

# await_children HELPER N LABEL: until HELPER has at most N children left, zombies included
# (killed processes stay in /proc until their parent reaps them, and every scan and floor of
# the next N would read them: a row of N = 3000 measured beside 2700 dying processes of the
# previous N = 10000 is not that row). Two minutes at most, then the benchmark stops.
await_children() {
  local h=$1 n=$2 label=$3 left
  for _ in $(seq 1200); do
    left=$(pgrep -c -P "$h" || true)
    ((left <= n)) && return 0
    sleep 0.1
  done
  die "${label}$left processes of the helper are still there, more than $n"
}

# Stop a helper shell whose children were killed: it reaps them and returns from `wait`.
stop_helper() {
  local h=$1
  [[ -n $h ]] || return 0
  for _ in $(seq 50); do [[ -e /proc/$h ]] || break; sleep 0.1; done
  kill -KILL "$h" 2>/dev/null || true
  wait "$h" 2>/dev/null || true
}

# start_procs DIR N PIDFILE COMMAND...: one helper shell starts N processes chrooted into
# DIR and stays their parent, so killed ones are reaped (PID 1 on some machines does not
# reap orphans); its PID is left in $started. setsid: an interrupt of the terminal
# reaches this script, whose trap kills them by PID.
start_procs() {
  local d=$1 n=$2 out=$3
  shift 3
  setsid bash -c '
    d=$1 n=$2 out=$3
    shift 3
    for ((i = 0; i < n; i++)); do
      chroot "$d" "$@" </dev/null >/dev/null 2>&1 &
      echo $!
    done >"$out.tmp"
    mv "$out.tmp" "$out"
    wait' bench-helper "$d" "$n" "$out" "$@" </dev/null 2>/dev/null &
  started=$!
}

mapping_count() { # how many of the first $1 PIDs of PIDFILE ($3) map PATTERN ($2)
  local n=$1 pattern=$2 f=${3:-$pidfile}
  # grep fails when none match yet or a process exited: a count, not an error.
  head -n "$n" "$f" | sed 's|.*|/proc/&/maps|' | { xargs grep -l -F -- "$pattern" 2>/dev/null || true; } | wc -l
}

# await_pids PIDFILE LABEL: until start_procs's helper has written PIDFILE (5 minutes at
# most, then the benchmark stops; LABEL starts the message, e.g. "plain: ").
await_pids() {
  local f=$1 label=$2
  for _ in $(seq 1500); do [[ -s $f ]] && break; sleep 0.2; done
  [[ -s $f ]] || die "${label}the helper did not start the processes"
}

# await_mapped N PATTERN PIDFILE LABEL [REFRESH]: until the first N PIDs of PIDFILE all map
# PATTERN (2 minutes at most); REFRESH, a command, rewrites PIDFILE before each look.
await_mapped() {
  local n=$1 pattern=$2 f=$3 label=$4 refresh=${5:-} ready=0
  for _ in $(seq 600); do
    [[ -z $refresh ]] || "$refresh" >"$f"
    ready=$(mapping_count "$n" "$pattern" "$f")
    ((ready == n)) && return 0
    sleep 0.2
  done
  die "${label}only $ready of $n processes map $pattern"
}

# end_child PID: a child this script started in the background (exporter, manager, listener),
# ended with SIGTERM and reaped; nothing when PID is empty.
end_child() {
  [[ -n $1 ]] || return 0
  kill -TERM "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  end_child "$exporter"
  end_child "$sd_driver"
  end_child "$no_bus_listener"
  kill_own 0
  kill_own 0 "$plain_helper" "$plain_pidfile"
  kill_own 0 "$cfg_helper" "$cfg_pidfile"
  stop_helper "$helper"
  stop_helper "$plain_helper"
  stop_helper "$cfg_helper"
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

# needrestart: a copy of the stock config without the entries that ignore /tmp.
nrconf=$work/needrestart.conf
sed -e '/^[[:space:]]*qr(^\/tmp\/),/d' -e '/^[[:space:]]*qr#^(\/var)?\/tmp\/#,/d' \
  /etc/needrestart/needrestart.conf >"$nrconf"
grep -q '/tmp/' "$nrconf" && die "could not remove the /tmp entries from the needrestart config"
# -l: library checks only (no kernel or microcode hints), the same question livetree answers.
nr=(needrestart -c "$nrconf" -b -r l -l)

lt() { node "$root/bin/livetree.js" status --json --no-systemd --sysroot "$s" --state-dir "$state" "$@"; }

step() { "$root/fixtures/sysroot.sh" "$@"; }

# --- ostree: deployment 1.0 with processes ----------------------------------------
if section ostree; then
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
start_procs "$d1" "$max" "$pidfile" /usr/bin/demo-sleep "$sleep_seconds"
helper=$started
await_pids "$pidfile" ""
await_mapped "$max" "libdemo.so.1" "$pidfile" ""

log "fixture: commit and deploy 2.0, undeploy 1.0, cleanup"
c2=$(step commit "$s" bench 2.0 | jq -r .commit)
step deploy "$s" bench >/dev/null
step undeploy "$s" 1 >/dev/null
step cleanup "$s" >/dev/null
deleted=$(mapping_count "$max" "libdemo.so.1 (deleted)")
((deleted == max)) || die "only $deleted of $max processes map a deleted libdemo.so.1"

# --- processes: one hyperfine run per N --------------------------------------------
# The floor's cat fails on a process that exits while it reads: that is no failed run.
floor_cmd="bash -c 'cat /proc/[0-9]*/maps > /dev/null 2>&1; true'"
lt_cmd=$(run_ok "node $root/bin/livetree.js status --json --no-systemd --sysroot $s --state-dir $state > /dev/null")
nr_cmd="${nr[*]} > /dev/null 2>&1"
for n in $ns; do
  kill_own "$n"
  for _ in $(seq 100); do
    [[ $(mapping_count "$max" "libdemo.so.1") -le $n ]] && break
    sleep 0.1
  done
  await_children "$helper" "$n" "N=$n: "
  alive=$(mapping_count "$n" "libdemo.so.1 (deleted)")
  ((alive == n)) || die "N=$n: $alive processes map the deleted libdemo"
  total=$(count_glob "/proc/[0-9]*")
  log "N=$n ($total processes on the host): hyperfine"
  hyperfine --style basic --warmup 1 --runs "$runs" --export-json "$res/procs-$n.json" \
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
fi

# libc_root DIR: the host's sleep, libc and dynamic loader copied into DIR at the paths the
# host has them, for processes chrooted there. Sets sleep_bin and libc (the host's paths).
libc_root() {
  local d=$1 f
  mkdir -p "$d"
  sleep_bin=$(command -v sleep)
  for f in "$sleep_bin" $(ldd "$sleep_bin" | grep -oE '/[^ ]+'); do
    cp -L --parents "$f" "$d/"
  done
  libc=$(ldd "$sleep_bin" | awk '$1 == "libc.so.6" {print $3}')
  [[ -f $d$libc ]] || die "no libc.so.6 in the chroot $d"
}

# replace_libc DIR: an upgrade: the new libc is written beside the old and renamed over it,
# so the old inode, still mapped by every process, has no name left.
replace_libc() {
  cp "$1$libc" "$1$libc.new"
  printf 'livetree-bench' >>"$1$libc.new"
  mv -f "$1$libc.new" "$1$libc"
}

# replace_mapped_libc DIR N PIDFILE LABEL: once the first N PIDs of PIDFILE all map DIR's
# libc (await_mapped, with REFRESH as its fifth argument), replace it; then every one of
# them must map it deleted.
replace_mapped_libc() {
  local d=$1 n=$2 f=$3 label=$4 deleted
  await_mapped "$n" "$d$libc" "$f" "$label" "${5:-}"
  replace_libc "$d"
  deleted=$(mapping_count "$n" "$d$libc (deleted)" "$f")
  ((deleted == n)) || die "${label}only $deleted of $n processes map a deleted libc"
}

# --- plain: no OSTree, N processes on a copy of the host's libc, then replaced ------------
# The most processes the limits let us start: the kernel's pid_max and threads-max, and
# cgroup pids.max (v2, or v1's pids controller) of our cgroup and its ancestors, minus
# what runs already and a margin for the tools themselves (node's threads, needrestart).
# Sets room and limit_by.
pid_room() {
  local total lim cur dir rel
  total=$(count_glob "/proc/[0-9]*/task/[0-9]*")
  room=$(($(cat /proc/sys/kernel/pid_max) - total))
  limit_by="kernel.pid_max"
  lim=$(($(cat /proc/sys/kernel/threads-max) - total))
  ((lim < room)) && room=$lim && limit_by="kernel.threads-max"
  while IFS=: read -r _ ctl rel; do
    if [[ -z $ctl ]]; then dir=/sys/fs/cgroup$rel
    elif [[ ,$ctl, == *,pids,* ]]; then dir=/sys/fs/cgroup/pids$rel
    else continue; fi
    while [[ $dir == /sys/fs/cgroup* ]]; do
      if [[ -r $dir/pids.max && $(cat "$dir/pids.max") != max ]]; then
        cur=$(cat "$dir/pids.current" 2>/dev/null || echo 0)
        lim=$(($(cat "$dir/pids.max") - cur))
        ((lim < room)) && room=$lim && limit_by="pids.max of ${dir#/sys/fs/cgroup} ($(cat "$dir/pids.max"))"
      fi
      [[ $dir == /sys/fs/cgroup || $dir == /sys/fs/cgroup/pids ]] && break
      dir=${dir%/*}
    done
  done </proc/self/cgroup
  room=$((room - 300))
}

plain_limit=null
if section plain; then
  [[ " $plain_ns " == *" $plain_at "* ]] || die "BENCH_PLAIN_AT=$plain_at is not one of BENCH_PLAIN_NS ($plain_ns)"
  pid_room
  pmax=0
  for n in $plain_ns; do ((n > pmax)) && pmax=$n; done
  if ((pmax > room)); then
    log "plain: a pids limit ($limit_by) allows $room processes, not $pmax"
    plain_limit=$(jq -n --argjson asked "$pmax" --argjson allowed "$room" --arg by "$limit_by" \
      '{asked: $asked, allowed: $allowed, limitedBy: $by}')
    capped=""
    for n in $plain_ns; do ((n > room)) && n=$room; capped+="$n "; done
    plain_ns=$capped
    pmax=$room
    ((plain_at <= room)) || die "the pids limit does not allow BENCH_PLAIN_AT=$plain_at processes"
  fi

  proot=$work/plain
  psys=$work/plain-sysroot # an empty directory: no OSTree here
  pstate=$work/plain-state
  mkdir -p "$psys" "$pstate"
  libc_root "$proot"

  # The C floor: every /proc/PID/maps read once, nothing parsed.
  cat >"$work/maps-floor.c" <<'C'
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>
#include <stdio.h>

int main(void) {
    static char buf[1 << 16];
    char path[64];
    DIR *d = opendir("/proc");
    struct dirent *e;
    if (!d) return 1;
    while ((e = readdir(d))) {
        if (e->d_name[0] < '1' || e->d_name[0] > '9') continue;
        snprintf(path, sizeof path, "/proc/%s/maps", e->d_name);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) continue;
        while (read(fd, buf, sizeof buf) > 0) {}
        close(fd);
    }
    closedir(d);
    return 0;
}
C
  gcc -O2 -o "$work/maps-floor" "$work/maps-floor.c" || die "gcc could not build the C floor"

  plt() { node "$root/bin/livetree.js" status --json --no-systemd --sysroot "$psys" --state-dir "$pstate" "$@"; }
  log "plain: starting $pmax processes in a copy of the host's libraries"
  start_procs "$proot" "$pmax" "$plain_pidfile" "$sleep_bin" "$sleep_seconds"
  plain_helper=$started
  await_pids "$plain_pidfile" "plain: "
  replace_mapped_libc "$proot" "$pmax" "$plain_pidfile" "plain: "

  floor_cmd="bash -c 'cat /proc/[0-9]*/maps > /dev/null 2>&1; true'"
  cfloor_cmd="$work/maps-floor"
  plt_cmd=$(run_ok "node $root/bin/livetree.js status --json --no-systemd --sysroot $psys --state-dir $pstate > /dev/null")
  nr_cmd="${nr[*]} > /dev/null 2>&1"
  for n in $plain_ns; do
    kill_own "$n" "$plain_helper" "$plain_pidfile"
    for _ in $(seq 200); do
      [[ $(mapping_count "$pmax" "$proot$libc" "$plain_pidfile") -le $n ]] && break
      sleep 0.1
    done
    await_children "$plain_helper" "$n" "plain N=$n: "
    alive=$(mapping_count "$n" "$proot$libc (deleted)" "$plain_pidfile")
    ((alive == n)) || die "plain N=$n: $alive processes map the deleted libc"
    total=$(count_glob "/proc/[0-9]*")
    log "plain N=$n ($total processes on the host): hyperfine"
    extra=()
    [[ $n == "$plain_at" ]] && extra=(-n needrestart "$nr_cmd")
    hyperfine --style basic --warmup 1 --runs "$runs" --export-json "$res/plain-$n.json" \
      -n floor "$floor_cmd" -n c-floor "$cfloor_cmd" -n livetree "$plt_cmd" \
      -n node-start "node -e 0" "${extra[@]}" >&2

    plt >"$res/plain-livetree-$n.json" || true
    head -n "$n" "$plain_pidfile" | jq -s . >"$res/plain-pids-$n.json"
    jq --slurpfile p "$res/plain-pids-$n.json" --arg libc "$proot$libc" --argjson total "$total" '
        ($p[0] | map({(tostring): true}) | add) as $ours
        | [.processes[] | select($ours[.pid | tostring])] as $mine
        | {processesSeen: ($mine | length),
           stale: ([$mine[] | select(.state == "stale")] | length),
           libcDeleted: ([$mine[] | select(any(.files[]; .deleted and .path == $libc))] | length),
           hostProcesses: $total,
           hostProcessesScanned: (.processes | length),
           warnings: [.warnings[].code] | unique}' "$res/plain-livetree-$n.json" >"$res/plain-lt-detect-$n.json"

    if [[ $n == "$plain_at" ]]; then
      "${nr[@]}" -v >"$res/plain-nr-$n.out" 2>"$res/plain-nr-$n.err" || true
      nr_verbose=$(grep -oE '#[0-9]+ uses (deleted|obsolete|non-existing)' "$res/plain-nr-$n.err" |
        grep -oE '[0-9]+' | sort -u | grep -cxF -f <(head -n "$n" "$plain_pidfile") || true)
      jq -n --argjson v "${nr_verbose:-0}" '{verboseOutdated: $v}' >"$res/plain-nr-detect-$n.json"

      log "plain N=$n: peak RSS of livetree status"
      /usr/bin/time -v node "$root/bin/livetree.js" status --json --no-systemd --sysroot "$psys" \
        --state-dir "$pstate" >/dev/null 2>"$res/plain-time-$n.txt" || true
      grep -q 'Maximum resident set size' "$res/plain-time-$n.txt" || die "no RSS from /usr/bin/time"

      # System calls per process: deterministic, unlike times on a shared machine.
      log "plain N=$n: system calls of livetree status (strace -f -c)"
      strace -f -c -o "$res/plain-strace-$n.txt" node "$root/bin/livetree.js" status --json --no-systemd \
        --sysroot "$psys" --state-dir "$pstate" >"$res/plain-strace-$n.json" 2>/dev/null || true
      jq '.processes | length' "$res/plain-strace-$n.json" >"$res/plain-strace-$n.count"

      log "plain N=$n: livetree exporter, warm scrapes against the C floor"
      node "$root/bin/livetree.js" exporter --listen 127.0.0.1:0 --min-interval 0 --no-systemd \
        --sysroot "$psys" --state-dir "$pstate" 2>"$res/exporter.log" &
      exporter=$!
      url=""
      for _ in $(seq 300); do
        url=$(grep -oE 'http://127\.0\.0\.1:[0-9]+' "$res/exporter.log" | head -n 1 || true)
        [[ -n $url ]] && break
        sleep 0.1
      done
      [[ -n $url ]] || die "the exporter did not start: $(cat "$res/exporter.log")"
      # The first scrape loads the addon and JIT-compiles; hyperfine's warm-ups add two more.
      curl -sf -o /dev/null "$url/metrics" || die "the exporter's first scrape failed"
      hyperfine --style basic --warmup 2 --runs "$runs" --export-json "$res/plain-exporter.json" \
        -n c-floor "$cfloor_cmd" -n exporter-scrape "curl -sf -o /dev/null $url/metrics" >&2
      curl -sf "$url/metrics" | grep -c '^livetree_' >"$res/plain-exporter-lines.txt" || true
      end_child "$exporter"
      exporter=""
    fi
  done
  kill_own 0 "$plain_helper" "$plain_pidfile"
fi

# --- bus: a host without a bus ----------------------------------------------------------
if section bus; then
  bsys=$work/bus-sysroot # an empty directory: no OSTree here
  bstate=$work/bus-state
  mkdir -p "$bsys" "$bstate"
  # Something listens here, but no D-Bus server: it accepts and closes.
  dead_sock=$work/dead-bus
  node -e 'require("net").createServer(c => c.destroy()).listen(process.argv[1])' "$dead_sock" &
  no_bus_listener=$!
  for _ in $(seq 100); do [[ -S $dead_sock ]] && break; sleep 0.05; done
  [[ -S $dead_sock ]] || die "bus: the listener did not start"
  bst="node $root/bin/livetree.js status --json --sysroot $bsys --state-dir $bstate"
  # The scan records this host's package files once, before the timed runs.
  node "$root/bin/livetree.js" status --json --no-systemd --sysroot "$bsys" --state-dir "$bstate" >/dev/null || true
  # The difference sought is a few ms in ~100 ms, on a machine others share: the runs are
  # split into rounds, each a hyperfine run of the three commands in a rotated order, so a
  # change of load between commands falls on each of them alike; the report pools the rounds.
  bus_cmds=(
    no-systemd "$(run_ok "$bst --no-systemd > /dev/null")"
    no-socket "$(run_ok "$bst > /dev/null")"
    socket-without-dbus "$(run_ok "$bst --bus-address unix:path=$dead_sock > /dev/null")"
  )
  log "bus: status with no bus, no socket at the address, a socket without D-Bus ($bus_rounds rounds of $bus_runs runs)"
  for ((r = 0; r < bus_rounds; r++)); do
    args=()
    for ((i = 0; i < 3; i++)); do
      j=$(((i + r) % 3))
      args+=(-n "${bus_cmds[2 * j]}" "${bus_cmds[2 * j + 1]}")
    done
    # The system bus is looked for where DBUS_SYSTEM_BUS_ADDRESS says: a path with no socket.
    DBUS_SYSTEM_BUS_ADDRESS="unix:path=$work/no-such-bus" \
      hyperfine --style basic --warmup 2 --runs "$bus_runs" --export-json "$res/bus-$r.json" "${args[@]}" >&2
  done
  echo "$bus_rounds" >"$res/bus-rounds"
  # (Its exit code is a verdict on this host, not asked here.)
  { DBUS_SYSTEM_BUS_ADDRESS="unix:path=$work/no-such-bus" $bst || true; } | jq '[.warnings[] | select(.code | startswith("systemd"))]' >"$res/bus-warnings.json"
  end_child "$no_bus_listener"
  no_bus_listener=""
fi

# --- config: what the configuration pass costs (issue 24) -----------------------------------
# Two phases over the same processes (chrooted in a copy of the host's libraries with an
# /etc of its own): "fresh", nothing under their /etc changed since they started (the pass
# walks that /etc once and reads no fd directory); "changed", a file under their /etc
# changed after they started (every fd directory is read). Each phase: rounds of
# `status --json --no-systemd` with and without the pass, in a rotated order.
if section config; then
  cfg_n=${BENCH_CONFIG_N:-3000}
  cfg_rounds=${BENCH_CONFIG_ROUNDS:-4}
  cfg_runs=${BENCH_CONFIG_RUNS:-5}
  croot=$work/config-root
  csys=$work/config-sysroot # an empty directory: no OSTree here
  cstate=$work/config-state
  mkdir -p "$csys" "$cstate"
  libc_root "$croot"
  mkdir -p "$croot/etc"
  echo 'setting = 1' >"$croot/etc/bench.conf"
  log "config: starting $cfg_n processes in a copy of the host's libraries"
  start_procs "$croot" "$cfg_n" "$cfg_pidfile" "$sleep_bin" "$sleep_seconds"
  cfg_helper=$started
  await_pids "$cfg_pidfile" "config: "
  # The kernel's floor of what the pass reads when every fd directory must be read: for each
  # of these processes, open its /proc/PID/fd, list it (getdents64), readlinkat each fd
  # relative to it, close; nothing judged. Timed beside the scans of the "changed" phase.
  cat >"$work/fd-floor.c" <<'C'
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv) {
    static char dents[32768], link[4096];
    char path[64];
    unsigned pid;
    FILE *pids = argc > 1 ? fopen(argv[1], "r") : NULL;
    if (!pids) return 1;
    while (fscanf(pids, "%u", &pid) == 1) {
        snprintf(path, sizeof path, "/proc/%u/fd", pid);
        int dir = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir < 0) continue;
        long n;
        while ((n = syscall(SYS_getdents64, dir, dents, sizeof dents)) > 0) {
            for (long off = 0; off < n;) {
                unsigned short reclen = *(unsigned short *)(dents + off + 16);
                const char *name = dents + off + 19;
                if (name[0] != '.') readlinkat(dir, name, link, sizeof link);
                off += reclen;
            }
        }
        close(dir);
    }
    return 0;
}
C
  gcc -O2 -o "$work/fd-floor" "$work/fd-floor.c" || die "gcc could not build the fd floor"
  cst="node $root/bin/livetree.js status --json --no-systemd --sysroot $csys --state-dir $cstate"
  # The first scan records this host's package files; the timed ones find them recorded.
  $cst >/dev/null || true
  cfg_cmds=(
    without-pass "$(run_ok "LIVETREE_BENCH_SKIP_CONFIG_PASS=1 $cst > /dev/null")"
    with-pass "$(run_ok "$cst > /dev/null")"
  )
  for phase in fresh changed; do
    if [[ $phase == changed ]]; then
      sleep 0.1
      echo 'setting = 2' >>"$croot/etc/bench.conf"
    fi
    log "config ($phase): status with and without the configuration pass ($cfg_rounds rounds of $cfg_runs runs)"
    for ((r = 0; r < cfg_rounds; r++)); do
      args=()
      for ((i = 0; i < 2; i++)); do
        j=$(((i + r) % 2))
        args+=(-n "${cfg_cmds[2 * j]}" "${cfg_cmds[2 * j + 1]}")
      done
      [[ $phase == changed ]] && args+=(-n fd-floor "$work/fd-floor $cfg_pidfile")
      hyperfine --style basic --warmup 1 --runs "$cfg_runs" --export-json "$res/config-$phase-$r.json" "${args[@]}" >&2
    done
    echo "$cfg_rounds" >"$res/config-$phase-rounds"
  done
  jq -n --argjson n "$cfg_n" --argjson total "$(count_glob '/proc/[0-9]*')" \
    '{processes: $n, hostProcesses: $total}' >"$res/config-setup.json"
  kill_own 0 "$cfg_helper" "$cfg_pidfile"
  stop_helper "$cfg_helper"
  cfg_helper=""
fi

# --- systemd: a reachable systemd --user manager with units -------------------------------
if section systemd; then
  sroot=$work/systemd-root
  ssys=$work/systemd-sysroot # an empty directory: no OSTree here
  sstate=$work/systemd-state
  mkdir -p "$ssys" "$sstate"
  libc_root "$sroot"
  want=$((sd_units * sd_per_unit))
  log "systemd: a systemd --user manager with $sd_units units of $sd_per_unit processes each"
  node "$here/bench-systemd.mjs" "$sd_units" "$sd_per_unit" "$sroot" "$sleep_bin" >"$work/sd.json" 2>"$work/sd.log" &
  sd_driver=$!
  for _ in $(seq 1800); do
    [[ -s $work/sd.json ]] && break
    [[ -e /proc/$sd_driver ]] || die "systemd: the manager did not start: $(tail -n 20 "$work/sd.log")"
    sleep 0.2
  done
  [[ -s $work/sd.json ]] || die "systemd: the units did not start: $(tail -n 20 "$work/sd.log")"
  sd_bus=$(jq -r .busAddress "$work/sd.json")
  sd_rt=$(jq -r .runtimeDir "$work/sd.json")
  sd_cgroup=$(jq -r .cgroupRoot "$work/sd.json")
  # Every unit's processes, from the manager's cgroup tree, once all of them map the libc.
  # (cgroup v2 at /sys/fs/cgroup, or a hybrid host's unified hierarchy; units come and go
  # from neither once started, and a glob that matches nothing is no error.)
  unit_pids() {
    local f
    shopt -s nullglob
    for f in /sys/fs/cgroup"$sd_cgroup"/app.slice/lt-bench-*.service/cgroup.procs \
      /sys/fs/cgroup/unified"$sd_cgroup"/app.slice/lt-bench-*.service/cgroup.procs; do
      cat "$f"
    done | sort -u
    shopt -u nullglob
  }
  replace_mapped_libc "$sroot" "$want" "$work/sd-pids" "systemd: " unit_pids
  total=$(count_glob "/proc/[0-9]*")
  sst="node $root/bin/livetree.js status --json --sysroot $ssys --state-dir $sstate"
  node "$root/bin/livetree.js" status --json --no-systemd --sysroot "$ssys" --state-dir "$sstate" >/dev/null || true
  log "systemd: $want unit processes ($total on the host): hyperfine"
  # `--user` as its user runs it (XDG_RUNTIME_DIR set): livetree talks to the manager on its
  # own socket, as `systemctl --user` does (and, for root, `systemctl` on the system's);
  # `--bus-address` names the bus, so every question goes through dbus-daemon.
  hyperfine --style basic --warmup 1 --runs "$runs" --export-json "$res/systemd.json" \
    -n no-systemd "$(run_ok "$sst --no-systemd > /dev/null")" \
    -n systemd "$(run_ok "env XDG_RUNTIME_DIR=$sd_rt $sst --user > /dev/null")" \
    -n systemd-bus "$(run_ok "$sst --bus-address $sd_bus > /dev/null")" >&2
  # What the manager answered: units tied to our processes, and which need a restart.
  XDG_RUNTIME_DIR=$sd_rt $sst --user >"$res/systemd-status.json" || true
  jq --slurpfile p <(jq -s . "$work/sd-pids") --argjson total "$total" '
      ($p[0] | map({(tostring): true}) | add) as $ours
      | [.processes[] | select($ours[.pid | tostring])] as $mine
      | {processes: ($mine | length),
         inUnits: ([$mine[] | select(.unit != null and (.unit | startswith("lt-bench-")))] | length),
         stale: ([$mine[] | select(.state == "stale")] | length),
         units: ([.units[] | select(.name | startswith("lt-bench-"))] | length),
         unitsNeedingRestart: ([.units[] | select((.name | startswith("lt-bench-")) and .needsRestart)] | length),
         hostProcesses: $total,
         warnings: [.warnings[].code] | unique}' "$res/systemd-status.json" >"$res/systemd-detect.json"
  jq -n --argjson units "$sd_units" --argjson perUnit "$sd_per_unit" '{units: $units, perUnit: $perUnit}' >"$res/systemd-setup.json"
  end_child "$sd_driver"
  sd_driver=""
fi

# --- index: 100,000 objects -----------------------------------------------------------
repo_objects=0 commit_s=0 deploy_s=0 catalog_bytes=0
if section index; then
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
hyperfine --style basic --warmup 1 --runs "$runs" --export-json "$res/index.json" \
  -p true -n find-objects "bash -c 'find $repo/objects -type f | wc -l > /dev/null'" \
  -p true -n ostree-ls-R "ostree --repo=$repo ls -R big/stable > /dev/null" \
  -p true -n node-addon-load "node $here/bench-index.mjs load" \
  -p true -n livetree-warm "node $here/bench-index.mjs scan $big $warm" \
  -p "rm -f $cold $cold-journal $cold-wal $cold-shm" -n livetree-cold "node $here/bench-index.mjs scan $big $cold" >&2
catalog_bytes=$(stat -c %s "$cold")
fi

# --- containers: podman containers on an image whose tag moved ------------------------
if section containers; then
  bash "$here/bench-containers.sh" "$res" "$runs"
fi

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
  --arg sections "$sections" --arg plainNs "$plain_ns" --argjson plainAt "$plain_at" \
  --argjson plainLimit "$plain_limit" --arg extraCa "$extra_ca" \
  '{date: $date, machine: {nproc: $nproc, kernel: $kernel, cpu: $cpu, memMb: $memMb,
    loadAverageAtStart: $loadStart, loadAverageAtEnd: $loadEnd},
    versions: {node: $node, hyperfine: $hyperfine, needrestart: $needrestart, ostree: $ostree, livetree: $commit},
    runs: $runs, index: {files: $objects, repoObjects: $repoObjects, coldCatalogBytes: $catalogBytes,
    ostreeCommitSeconds: $commitSeconds, ostreeDeploySeconds: $deploySeconds},
    sections: ($sections | split(" ") | map(select(. != ""))),
    plain: {ns: ($plainNs | split(" ") | map(select(. != "") | tonumber)), at: $plainAt, pidsLimit: $plainLimit},
    nodeExtraCaCerts: (if $extraCa == "" then null else $extraCa end)}' >"$res/meta.json"
out=${BENCH_OUT:-$root/reports}
node "$here/bench-report.mjs" "$res" "$ns" "$out"
log "wrote $out/bench.md and $out/bench.json"
# The timeline's rows (a simulated month, timeline --package, the cost of recording): their
# own report, reports/bench-timeline.md (scripts/bench-timeline.sh).
if section timeline; then
  BENCH_OUT=$out BENCH_RUNS=$runs bash "$here/bench-timeline.sh"
fi
