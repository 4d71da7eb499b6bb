// The processes a systemd unit's ControlGroup holds, read from the cgroup filesystem (the root
// is a parameter so it can be pointed at a captured tree). Which unit a process's
// /proc/PID/cgroup names is decided once, in Rust (native/core/src/proc/cgroup.rs), during the scan.
//
// The files are read synchronously: a cgroup file is produced by the kernel at once, and a
// status asks about hundreds of units, where the thread-pool round trip of each asynchronous
// read cost more than the reads (the D-Bus answers wait in the socket meanwhile).
import {existsSync, readdirSync, readFileSync, type Dirent} from 'node:fs';
import {join} from 'node:path';

/**
 * The directories a systemd ControlGroup path can live under, best first: the cgroup2 root on
 * a unified host, else the hybrid layout's `unified` and the v1 `systemd` hierarchies.
 */
export function cgroupHierarchies(cgroupFsRoot = '/sys/fs/cgroup'): string[] {
	// Asked once per unit of a status: the layout of a host does not change in between.
	let known = hierarchies.get(cgroupFsRoot);
	if (!known || Date.now() - known.at > 1_000) {
		const dirs = existsSync(join(cgroupFsRoot, 'cgroup.controllers'))
			? [cgroupFsRoot]
			: [join(cgroupFsRoot, 'unified'), join(cgroupFsRoot, 'systemd')].filter(d => existsSync(d));
		known = {at: Date.now(), dirs};
		hierarchies.set(cgroupFsRoot, known);
	}

	return known.dirs;
}

const hierarchies = new Map<string, {at: number; dirs: string[]}>();

/**
 * Every PID in a unit's control group, including sub-cgroups a service delegates, sorted.
 * Returns null when no hierarchy holds that cgroup (no cgroup access): callers fall back to MainPID.
 */
export async function readCgroupPids(controlGroup: string, cgroupFsRoot = '/sys/fs/cgroup'): Promise<number[] | null> {
	for (const base of cgroupHierarchies(cgroupFsRoot)) {
		const dir = join(base, controlGroup);
		if (!existsSync(join(dir, 'cgroup.procs'))) continue;
		const pids = new Set<number>();
		await collectPids(dir, pids);
		return [...pids].sort((a, b) => a - b);
	}
	return null;
}

async function collectPids(dir: string, into: Set<number>): Promise<void> {
	let text: string;
	try {
		text = readFileSync(join(dir, 'cgroup.procs'), 'utf8');
	} catch {
		return; // removed while we walked it: its processes are gone too
	}
	for (const line of text.split('\n')) {
		const pid = Number.parseInt(line, 10);
		if (Number.isInteger(pid) && pid > 0) into.add(pid);
	}
	// cgroup2 counts a cgroup's descendants: a leaf (most units) needs no listing.
	if (noDescendants(dir)) return;
	let entries: Dirent[];
	try {
		entries = readdirSync(dir, {withFileTypes: true});
	} catch {
		return;
	}
	for (const e of entries) if (e.isDirectory()) await collectPids(join(dir, e.name), into);
}

// Whether cgroup2's cgroup.stat says `nr_descendants 0`; false when it cannot tell (cgroup v1).
function noDescendants(dir: string): boolean {
	try {
		return /^nr_descendants 0$/m.test(readFileSync(join(dir, 'cgroup.stat'), 'utf8'));
	} catch {
		return false;
	}
}
