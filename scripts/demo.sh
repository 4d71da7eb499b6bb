#!/usr/bin/env bash
# npm run demo: livetree on this host, then on a demo OSTree sysroot built with the real
# ostree CLI, with processes from an old tree, an undeploy + cleanup, and a live overlay.
#   scripts/demo.sh [--reports DIR]   also write the text, JSON and Prometheus reports to DIR
# Needs root: re-runs itself with sudo when not root and sudo is there (scripts/lib/as-root.sh).
set -euo pipefail
. "$(dirname "$0")/lib/as-root.sh"
cd "$(dirname "$0")/.."
reports=""
if [ "${1:-}" = "--reports" ]; then reports=$2; fi

bash scripts/setup.sh >&2
lt() { node bin/livetree.js "$@"; }

base=$(mktemp -d /tmp/livetree-demo.XXXXXX)
S=$base/sysroot
state=$base/state
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	fixtures/sysroot.sh destroy "$S" >/dev/null 2>&1 || true
	rm -rf "$base"
}
trap cleanup EXIT INT TERM

echo "== livetree status on this host"
mkdir -p "$state/host"
lt status --no-systemd --state-dir "$state/host" || true

echo
echo "== building a demo sysroot in $S (real ostree CLI)"
F=fixtures/sysroot.sh
$F init "$S" demo >/dev/null 2>&1
$F commit "$S" demo 1.0 >/dev/null 2>&1
d1=$($F deploy "$S" demo 2>/dev/null | jq -r '.deployments[0].path')
# Two daemons start from 1.0 ...
for i in 1 2; do
	setsid chroot "$d1" /usr/bin/demo-sleep 600 >/dev/null 2>&1 < /dev/null &
	pids+=($!)
done
sleep 0.5
# A demo whose daemons did not start would show an empty deployment and prove nothing.
for p in "${pids[@]}"; do
	kill -0 "$p" 2>/dev/null || { echo "demo: a daemon chrooted into $d1 did not start (is chroot on PATH?)" >&2; exit 1; }
done
# ... a scan records 1.0 in the catalog (livetree-scan.timer does this on a real host) ...
lt status --no-systemd --sysroot "$S" --state-dir "$state" >/dev/null || true
# ... then the upgrade: 2.0 deployed, 1.0 undeployed and pruned.
$F commit "$S" demo 2.0 >/dev/null 2>&1
d2=$($F deploy "$S" demo 2>/dev/null | jq -r '.deployments[0].path')
$F undeploy "$S" 1 >/dev/null 2>&1
$F cleanup "$S" >/dev/null 2>&1
# One process runs 2.0.
setsid chroot "$d2" /usr/bin/demo-sleep 600 >/dev/null 2>&1 < /dev/null &
pids+=($!)
# A live update: 2.1's libdemo overlaid on 2.0's /usr in a private mount namespace; one
# process started before the overlay (it still runs 2.0's library), one after (2.1's).
c21=$($F commit "$S" demo 2.1 2>/dev/null | jq -r '.commit')
upper=$base/upper; work=$base/work; mkdir -p "$upper/lib/livetree-demo" "$work"
ostree --repo="$S/ostree/repo" checkout -U --subpath=/usr/lib/livetree-demo "$c21" "$base/co21" >/dev/null
cp -a "$base/co21/libdemo.so.1" "$upper/lib/livetree-demo/libdemo.so.1"
unshare -m --propagation private sh -c "
	chroot '$d2' /usr/bin/demo-sleep 600 & sleep 0.3
	mount -t overlay overlay -o lowerdir='$d2/usr',upperdir='$upper',workdir='$work' '$d2/usr'
	chroot '$d2' /usr/bin/demo-sleep 601 &
	wait" >/dev/null 2>&1 < /dev/null &
pids+=($!)
sleep 1
# the namespace's sleeps are children of that shell; remember them to kill them too
for p in $(pgrep -P "${pids[-1]}" || true); do pids+=("$p"); done

echo
echo "== livetree status --sysroot $S"
lt status --no-systemd --sysroot "$S" --state-dir "$state" --color "${LIVETREE_COLOR:-auto}" || true

if [ -n "$reports" ]; then
	mkdir -p "$reports"
	lt status --no-systemd --sysroot "$S" --state-dir "$state" --color never --verbose --output "$reports/demo-status.txt" || true
	lt status --no-systemd --sysroot "$S" --state-dir "$state" --json --output "$base/status.json" || true
	jq . "$base/status.json" > "$reports/demo-status.json"   # indented, for readers of the repo
	lt status --no-systemd --sysroot "$S" --state-dir "$state" --format prometheus --output "$reports/demo-metrics.prom" || true
	lt explain "${pids[0]}" --no-systemd --sysroot "$S" --state-dir "$state" --color never > "$reports/demo-explain.txt" || true
	echo "reports written to $reports"
fi
