#!/usr/bin/env bash
# Print the path of a cached Debian unstable root with upstream ostree linked with
# libcomposefs (ostree, ostree-boot for ostree-prepare-root, composefs for mount.composefs,
# fsverity), building it with debootstrap the first time. Debian 12's ostree (2022.7) has no
# composefs; the tests run this one with `chroot`, never installing it on the host.
# Cached outside the repo as a tarball; unpacked once per cache into a directory beside it.
#   LIVETREE_TEST_CACHE  cache directory (default /var/cache/livetree-test)
#   DEBIAN_MIRROR        mirror (default http://deb.debian.org/debian)
set -euo pipefail

# shellcheck source=lib/debian-cache.sh
. "$(dirname "$0")/lib/debian-cache.sh"
root=$cache/sid-ostree
stamp=$root/.livetree-ready
reuse_or_lock -e "$stamp" "$root" .lock-sid

work=$(mktemp -d "$cache/build-sid.XXXXXX")
trap 'rm -rf "$work"' EXIT
debootstrap_root "$work" sid ostree,ostree-boot,composefs,fsverity
# The versions it was built with, for the tests' messages and the docs.
chroot "$work/root" ostree --version >"$work/root/.livetree-ostree-version" 2>&1 || true
rm -rf "$root"
mv "$work/root" "$root"
touch "$stamp"
echo "$root"
