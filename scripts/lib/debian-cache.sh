# shellcheck shell=bash
# Sourced by scripts/debian-userland.sh and scripts/ostree-sid.sh: a Debian root built once
# with debootstrap into a cache outside the repo (a second run takes seconds), one build at
# a time under a lock in the cache.
#   LIVETREE_TEST_CACHE  cache directory (default /var/cache/livetree-test)
#   DEBIAN_MIRROR        mirror (default http://deb.debian.org/debian)
cache=${LIVETREE_TEST_CACHE:-/var/cache/livetree-test}

# reuse_or_lock TEST READY RESULT LOCK: when `[ TEST READY ]` holds (the cache is built),
# print RESULT and exit 0; else take the lock CACHE/LOCK (another build may be under way)
# and look again: the caller builds only when it still does not hold.
reuse_or_lock() {
	local test=$1 ready=$2 result=$3 lock=$4
	if [ "$test" "$ready" ]; then
		echo "$result"
		exit 0
	fi

	mkdir -p "$cache"
	exec 9>"$cache/$lock"
	flock 9
	if [ "$test" "$ready" ]; then
		echo "$result"
		exit 0
	fi
}

# debootstrap_root WORK SUITE PACKAGES: a minbase SUITE root with PACKAGES (comma-separated)
# in WORK/root, without the downloaded .debs; its log in WORK/log, whose tail goes to
# stderr when debootstrap fails (then exit 1).
debootstrap_root() {
	local work=$1 suite=$2 packages=$3
	debootstrap --variant=minbase --include="$packages" \
		"$suite" "$work/root" "${DEBIAN_MIRROR:-http://deb.debian.org/debian}" >"$work/log" 2>&1 || {
		tail -20 "$work/log" >&2
		exit 1
	}
	rm -rf "$work/root/var/cache/apt/archives/"*.deb
}
