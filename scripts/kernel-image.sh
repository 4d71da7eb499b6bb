#!/usr/bin/env bash
# A real x86 kernel image (bzImage) for the kernel tests, taken from Debian's own package.
#
# Usage: kernel-image.sh        prints the path of the extracted vmlinuz on stdout
#
# The package linux-image-amd64 depends on (linux-image-6.1.0-NN-amd64) is fetched once with
# `apt-get download` into $LIVETREE_TEST_CACHE (default /var/cache/livetree-test, outside
# the repository: the .deb is ~70 MB) and only its boot/vmlinuz-* is extracted, next to it.
# scripts/install-deps.sh calls this so a fresh CI machine has the image before the tests.
set -euo pipefail

cache=${LIVETREE_TEST_CACHE:-/var/cache/livetree-test}
mkdir -p "$cache/kernel"
cd "$cache/kernel"

# Reuse whatever was fetched before; ask apt only when nothing is there.
deb=$(ls -1 linux-image-*-amd64_*.deb 2>/dev/null | head -n1 || true)
if [ -z "$deb" ]; then
	pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
	if [ -z "$pkg" ]; then
		apt-get update -qq
		pkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
	fi
	[ -n "$pkg" ] || { echo "kernel-image: no linux-image-*-amd64 package known to apt" >&2; exit 2; }
	# apt-get download writes into the current directory; as root it drops to _apt, which
	# may not write here, so download as root explicitly.
	apt-get download -o APT::Sandbox::User=root "$pkg" >&2
	deb=$(ls -1 linux-image-*-amd64_*.deb | head -n1)
fi

image=$(ls -1 boot/vmlinuz-* 2>/dev/null | head -n1 || true)
if [ -z "$image" ]; then
	# Only the image: the package's modules are hundreds of megabytes the tests never read.
	dpkg-deb --fsys-tarfile "$deb" | tar -x --wildcards './boot/vmlinuz-*'
	image=$(ls -1 boot/vmlinuz-* | head -n1)
fi
echo "$cache/kernel/$image"
