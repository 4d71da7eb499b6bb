// The exit codes of the commands that give a verdict on what runs (`status`, `explain`,
// and the exporter's metrics say the same in livetree_scan_complete). One table, so the
// help, the README and the code cannot drift apart.
export const exitCodes = {
	// Every process was read and nothing needs a restart (or `explain`: it runs current code).
	clean: 0,
	// Something needs a restart, or the kernel a reboot.
	needed: 1,
	// The command failed (bad arguments, an unreadable sysroot, a failed scan).
	failed: 2,
	// Nothing that could be read needs a restart, but some processes could not be read:
	// what they run is unknown, which is not clean (`explain`: what PID runs is unknown).
	unknown: 3,
} as const;
