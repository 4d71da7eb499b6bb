#!/usr/bin/env bash
# Print the path of a cached Debian 12 userland tarball (minbase + systemd, dbus, cron),
# building it with debootstrap the first time. The booted-system test turns it into an
# OSTree commit; the cache lives outside the repo so that a second run takes seconds.
#   LIVETREE_TEST_CACHE  cache directory (default /var/cache/livetree-test)
#   DEBIAN_MIRROR        mirror (default http://deb.debian.org/debian)
set -euo pipefail

# shellcheck source=lib/debian-cache.sh
. "$(dirname "$0")/lib/debian-cache.sh"
tarball=$cache/bookworm-systemd-minbase.tar
reuse_or_lock -s "$tarball" "$tarball" .lock

work=$(mktemp -d "$cache/build.XXXXXX")
trap 'rm -rf "$work"' EXIT
debootstrap_root "$work" bookworm systemd,systemd-sysv,dbus,cron
tar -C "$work/root" --numeric-owner -cf "$tarball.tmp" .
mv "$tarball.tmp" "$tarball"
echo "$tarball"
