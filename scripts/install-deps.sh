#!/usr/bin/env bash
# Install what livetree's tests need on a fresh Debian machine; a no-op when all is there.
# The tests use real components (ostree CLI, systemd --user on dbus-daemon, promtool,
# needrestart, hyperfine), so they must be installed, never skipped.
set -euo pipefail

need=()
have() { command -v "$1" >/dev/null 2>&1; }
have ostree || need+=(ostree)
have jq || need+=(jq)
have needrestart || [ -x /usr/sbin/needrestart ] || need+=(needrestart)
have promtool || need+=(prometheus)
# The fleet test serves `livetree status --textfile` through the real node_exporter.
have prometheus-node-exporter || need+=(prometheus-node-exporter)
have openssl || need+=(openssl)
have hyperfine || need+=(hyperfine)
have dbus-daemon || need+=(dbus-daemon dbus)
[ -x /lib/systemd/systemd ] || need+=(systemd)
have systemd-run || need+=(systemd)
have chattr || need+=(e2fsprogs)
have unshare || need+=(util-linux)
have nsenter || need+=(util-linux)
have setfattr || need+=(attr)
have mkfs.erofs || need+=(erofs-utils)
have fsverity || need+=(fsverity)
have gcc || need+=(gcc)
have file || need+=(file)
# The booted-system test builds a Debian userland (scripts/debian-userland.sh).
have debootstrap || [ -x /usr/sbin/debootstrap ] || need+=(debootstrap)
# The benchmarks measure peak memory with GNU time (/usr/bin/time -v).
[ -x /usr/bin/time ] || need+=(time)
# The benchmark scrapes the exporter with curl.
have curl || need+=(curl)
# ... and counts livetree's system calls per process with strace.
have strace || need+=(strace)
# Package databases (issue 15): rpmbuild and rpm --root make real rpmdb.sqlite files;
# dpkg-deb and dpkg --root come with dpkg itself.
have rpmbuild || need+=(rpm)
# config-diff on a plain host is compared with debsums -ce (test/config-diff.test.ts).
have debsums || need+=(debsums)
# The container tests run real podman with runc (crun fails on these hosts' hybrid cgroups:
# test/helpers/podman.ts points CONTAINERS_CONF at runc), and fuse-overlayfs for its mounts.
have podman || need+=(podman)
have runc || need+=(runc)
have fuse-overlayfs || need+=(fuse-overlayfs)
# scripts/rust-cycles.py checks the core's module graph.
have python3 || need+=(python3)

if [ ${#need[@]} -gt 0 ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "install-deps: missing ${need[*]}; run as root or install them" >&2
		exit 2
	fi
	echo "install-deps: apt-get install ${need[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# The prometheus and node_exporter packages would start servers on :9090 and :9100
	# from their postinst on a systemd host; tests start their own on loopback, so keep
	# services down.
	printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
	apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
	rm -f /usr/sbin/policy-rc.d
fi

# The kernel tests read a real bzImage from Debian's linux-image package: fetch it once
# (cached in /var/cache/livetree-test, outside the repository).
"$(dirname "${BASH_SOURCE[0]}")/kernel-image.sh" >/dev/null
