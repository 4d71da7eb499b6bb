#!/usr/bin/env bash
# Print the path of a cached Debian 12 userland tarball (minbase + systemd, dbus, cron),
# building it with debootstrap the first time. The booted-system test turns it into an
# OSTree commit; the cache lives outside the repo so that a second run takes seconds.
#   LIVETREE_TEST_CACHE  cache directory (default /var/cache/livetree-test)
#   DEBIAN_MIRROR        mirror (default http://deb.debian.org/debian)
set -euo pipefail

cache=${LIVETREE_TEST_CACHE:-/var/cache/livetree-test}
tarball=$cache/bookworm-systemd-minbase.tar
if [ -s "$tarball" ]; then
	echo "$tarball"
	exit 0
fi

mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9
if [ -s "$tarball" ]; then
	echo "$tarball"
	exit 0
fi

work=$(mktemp -d "$cache/build.XXXXXX")
trap 'rm -rf "$work"' EXIT
debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus,cron \
	bookworm "$work/root" "${DEBIAN_MIRROR:-http://deb.debian.org/debian}" >"$work/log" 2>&1 || {
	tail -20 "$work/log" >&2
	exit 1
}
rm -rf "$work/root/var/cache/apt/archives/"*.deb
tar -C "$work/root" --numeric-owner -cf "$tarball.tmp" .
mv "$tarball.tmp" "$tarball"
echo "$tarball"
