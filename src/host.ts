// Host facts for the report header. node:os answers from uname(2) and gethostname(2) in
// the process itself; systeminformation's osInfo() spawned about ten child processes per
// scan (hostname -f, dmesg, …), which cost more than the scan of a quiet host (see README).
import {readFile} from 'node:fs/promises';
import os from 'node:os';
import type {Host} from './model/document.js';

export async function hostFacts(): Promise<Host> {
	const bootId = await readFile('/proc/sys/kernel/random/boot_id', 'utf8').then(
		s => s.trim(),
		() => null,
	);
	return {hostname: os.hostname(), kernelRelease: os.release(), bootId};
}

// Whether this process runs as root (effective uid 0): what a process we could not read
// means differs. Not root, reading as root would read it; as root, something else refused
// (a hardened /proc, another user namespace), and the warnings say what.
export function runningAsRoot(): boolean {
	return process.geteuid?.() === 0;
}
