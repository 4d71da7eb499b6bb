# Sourced first by the README's commands (scripts/demo.sh, scripts/test.sh), before they
# change directory ("$0" is the script as it was called): they need root
# (chroot, mounts, apt-get, every process's /proc). As root: nothing to do, which is the
# case of a root-only Debian image without sudo. Otherwise re-run the calling script
# through sudo when there is one, else stop with a message saying so.
#
# sudo resets PATH (secure_path) and HOME: PATH is passed on so root finds the same node,
# npm and cargo, and RUSTUP_HOME so a rustup toolchain installed in the user's home keeps
# working (rustup's cargo proxy looks for its toolchains under $HOME/.rustup otherwise).
# CARGO_HOME stays root's: cargo's download cache then belongs to root, not to files in
# the user's home.
if [ "$(id -u)" != 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		rustup_home=${RUSTUP_HOME:-}
		if [ -z "$rustup_home" ] && [ -d "$HOME/.rustup" ]; then rustup_home=$HOME/.rustup; fi
		echo "$(basename "$0"): needs root; running it with sudo" >&2
		# A user's PATH lacks the sbin directories (chroot, mkfs.erofs, losetup, …):
		# root's tools are added after the user's own node and cargo.
		exec sudo env "PATH=$PATH:/usr/local/sbin:/usr/sbin:/sbin" ${rustup_home:+"RUSTUP_HOME=$rustup_home"} bash "$0" "$@"
	fi
	echo "$(basename "$0"): needs root (chroot, mounts, apt-get, /proc of every process), and there is no sudo: run it as root" >&2
	exit 2
fi
