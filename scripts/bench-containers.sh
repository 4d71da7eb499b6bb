#!/usr/bin/env bash
# The containers section of `npm run bench` (issue 21), run by scripts/bench.sh:
#   bench-containers.sh RESULTS_DIR RUNS
# A private podman store (runc, cgroupfs: see test/helpers/podman.ts) with a Debian base
# imported from the cached debootstrap tarball and an image built with `RUN dpkg -i` of a
# .deb made here; BENCH_CONTAINERS containers (default 200) of that image, each running
# BENCH_CONTAINER_PROCS processes (default 5) that map the package's library; then the
# image is rebuilt under the same tag, so every container runs an image its name no
# longer points to and every process maps a file of a layer the new image lacks. One
# hyperfine run times the floor (`cat` of every /proc/PID/maps) and `livetree status
# --json`. When the machine will not start all the containers asked for, the run goes on
# with those that started and says so. Writes RESULTS_DIR/containers.json (hyperfine),
# containers-detect.json and containers-meta.json. Removes every container, image and
# the store at the end, whatever happens.
set -euo pipefail

res=$1
runs=$2
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
asked=${BENCH_CONTAINERS:-200}
per=${BENCH_CONTAINER_PROCS:-5}
log() { printf '[bench %s] %s\n' "$(date +%T)" "$*" >&2; }
# shellcheck source=lib/run-ok.sh
. "$here/lib/run-ok.sh"

work=$(mktemp -d /tmp/livetree-bench-containers.XXXXXX)
conf=$work/containers.conf
cat >"$conf" <<'EOF'
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"

[containers]
default_ulimits = ["nofile=1024:4096", "nproc=4096:4096"]
EOF
p=(env CONTAINERS_CONF="$conf" podman --root "$work/root" --runroot "$work/runroot" --storage-driver overlay)

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  "${p[@]}" rm --all --force --time 0 >/dev/null 2>&1 || true
  "${p[@]}" rmi --all --force >/dev/null 2>&1 || true
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The package: livetree-demo VERSION-1 whose libdemo.so.1 is a real shared library.
deb() {
  local v=$1 d=$work/deb-$1
  mkdir -p "$d/DEBIAN" "$d/usr/lib/livetree-demo"
  printf 'const char *livetree_demo_version(void) { return "%s"; }\n' "$v" >"$work/demo-$v.c"
  gcc -shared -fPIC -o "$d/usr/lib/livetree-demo/libdemo.so.1" "$work/demo-$v.c"
  printf 'Package: livetree-demo\nVersion: %s-1\nArchitecture: amd64\nMaintainer: livetree bench <root@localhost>\nDescription: livetree demo library\n for the benchmark.\n' "$v" >"$d/DEBIAN/control"
  dpkg-deb --root-owner-group --build "$d" "$work/demo-$v.deb" >/dev/null
}
build() { # build VERSION: the image localhost/lt-bench:latest with that package
  local ctx=$work/ctx-$1
  mkdir -p "$ctx"
  cp "$work/demo-$1.deb" "$ctx/demo.deb"
  printf 'FROM localhost/lt-bench-base:1\nCOPY demo.deb /tmp/demo.deb\nRUN dpkg -i /tmp/demo.deb && rm /tmp/demo.deb\n' >"$ctx/Containerfile"
  "${p[@]}" build --network none -q -t localhost/lt-bench:latest "$ctx" >/dev/null
}

log "containers: importing the Debian base, building the image"
"${p[@]}" import --change 'CMD ["/bin/sh"]' "$("$here/debian-userland.sh")" localhost/lt-bench-base:1 >/dev/null
deb 1.0
deb 2.0
build 1.0

# Each container: PER processes, all mapping libdemo (one execs into the last).
lib=/usr/lib/livetree-demo/libdemo.so.1
script="for i in \$(seq $((per - 1))); do sleep 3600 & done; exec sleep 3600"
log "containers: starting $asked containers of $per processes"
started=0
for ((i = 1; i <= asked; i++)); do
  if ! "${p[@]}" run -d --network none --name "lt-bench-$i" -e "LD_PRELOAD=$lib" \
      localhost/lt-bench:latest sh -c "$script" >/dev/null 2>"$work/run.err"; then
    log "containers: container $i would not start ($(tail -n 1 "$work/run.err")); going on with $started"
    break
  fi
  started=$i
done
# Wait until every process of every started container maps the library.
want=$((started * per))
for _ in $(seq 100); do
  have=$(grep -l -F "$lib" /proc/[0-9]*/maps 2>/dev/null | wc -l || true)
  [[ $have -ge $want ]] && break
  sleep 0.2
done
log "containers: $started containers up, $have processes map $lib"

log "containers: rebuilding the image under the same tag"
build 2.0

state=$work/state
sysroot=$work/no-sysroot
mkdir -p "$state" "$sysroot"
lt=(node "$root/bin/livetree.js" status --json --no-systemd --sysroot "$sysroot" --state-dir "$state")
"${lt[@]}" >"$work/first.json" || true
log "containers: hyperfine"
# No -i: livetree's verdicts (0, 1, 3) are runs, its failure (2) fails the benchmark; the
# floor's cat fails on a process that exits while it reads, which is no failed run.
hyperfine --style basic --warmup 1 --runs "$runs" --export-json "$res/containers.json" \
  -n floor "bash -c 'cat /proc/[0-9]*/maps > /dev/null 2>&1; true'" \
  -n livetree "$(run_ok "${lt[*]} > /dev/null")" \
  -n node-start "node -e 0" >&2
"${lt[@]}" >"$work/scan.json" || true
jq '[.processes[] | select((.container.name // "") | startswith("lt-bench-"))] as $ours |
  {hostProcesses: (.summary.processes),
   containers: ($ours | map(.container.id) | unique | length),
   containersOutdated: ($ours | map(select(.container.imageOutdated == true) | .container.id) | unique | length),
   processes: ($ours | length),
   stale: ($ours | map(select(.needsRestart)) | length),
   imageOutdatedFiles: ($ours | map(select(any(.files[]; .staleReason == "image-outdated"))) | length),
   summaryContainers: .summary.containers, summaryContainersOutdated: .summary.containersOutdated}' \
  "$work/scan.json" >"$res/containers-detect.json"
jq -n --argjson asked "$asked" --argjson started "$started" --argjson per "$per" \
  '{asked: $asked, started: $started, processesPerContainer: $per}' >"$res/containers-meta.json"
log "containers: $(jq -c . "$res/containers-detect.json")"
