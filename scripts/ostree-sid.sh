#!/usr/bin/env bash
# Print the path of a cached Debian unstable root with upstream ostree linked with
# libcomposefs (ostree, ostree-boot for ostree-prepare-root, composefs for mount.composefs,
# fsverity), building it with debootstrap the first time. Debian 12's ostree (2022.7) has no
# composefs; the tests run this one with `chroot`, never installing it on the host.
# Cached outside the repo as a tarball; unpacked once per cache into a directory beside it.
#   LIVETREE_TEST_CACHE  cache directory (default /var/cache/livetree-test)
#   DEBIAN_MIRROR        mirror (default http://deb.debian.org/debian)
set -euo pipefail

cache=${LIVETREE_TEST_CACHE:-/var/cache/livetree-test}
root=$cache/sid-ostree
stamp=$root/.livetree-ready
if [ -e "$stamp" ]; then
	echo "$root"
	exit 0
fi

mkdir -p "$cache"
exec 9>"$cache/.lock-sid"
flock 9
if [ -e "$stamp" ]; then
	echo "$root"
	exit 0
fi

work=$(mktemp -d "$cache/build-sid.XXXXXX")
trap 'rm -rf "$work"' EXIT
debootstrap --variant=minbase --include=ostree,ostree-boot,composefs,fsverity \
	sid "$work/root" "${DEBIAN_MIRROR:-http://deb.debian.org/debian}" >"$work/log" 2>&1 || {
	tail -20 "$work/log" >&2
	exit 1
}
rm -rf "$work/root/var/cache/apt/archives/"*.deb
# The versions it was built with, for the tests' messages and the docs.
chroot "$work/root" ostree --version >"$work/root/.livetree-ostree-version" 2>&1 || true
rm -rf "$root"
mv "$work/root" "$root"
touch "$stamp"
echo "$root"
