// PIDs as the asked manager sees them. A systemd manager in its own PID namespace (a booted
// container, audited from the host over its bus) answers MainPID and GetUnitByPID in that
// namespace, while livetree's processes carry the PIDs of /proc it scanned. Translating through
// /proc/PID/status `NSpid` keeps the two apart: a host PID is never handed to a container's
// manager (where the same number is another process), and a container's MainPID is reported as
// the host PID of that very process.
import {readFile, readlink} from 'node:fs/promises';
import {join} from 'node:path';
import type {UnitQueries} from './bulk-client.js';
import {readCgroupPids} from './cgroup.js';
import type {UnitProperties} from './unit-properties.js';

export interface PidView {
	/** The manager sees our PIDs as they are (the usual case, and the fallback when unsure). */
	readonly sameNamespace: boolean;
	/** The PID the manager knows `pid` by, or null when the process is not in its namespace. */
	toManager(pid: number): Promise<number | null>;
	/** Which of `candidates` (our PIDs) the manager calls `managerPid`; null when none is. */
	fromManager(managerPid: number, candidates: Iterable<number>): Promise<number | null>;
	/** The manager's own process (our PID), when init.scope named it: its root is where its
	 * unit files are. */
	readonly manager?: number | null;
}

export const samePidView: PidView = {
	sameNamespace: true,
	toManager: async pid => pid,
	fromManager: async pid => pid,
};

/** `NSpid` of /proc/PID/status: the PID in each namespace from ours inwards; null if unreadable. */
export function parseNsPid(status: string): number[] | null {
	const line = status.split('\n').find(l => l.startsWith('NSpid:'));
	if (!line) return null;
	const pids = line.slice('NSpid:'.length).trim().split(/\s+/).map(Number);
	return pids.length > 0 && pids.every(n => Number.isInteger(n) && n > 0) ? pids : null;
}

async function nsPid(procRoot: string, pid: number): Promise<number[] | null> {
	return readFile(join(procRoot, String(pid), 'status'), 'utf8').then(parseNsPid, () => null);
}

async function pidNamespace(procRoot: string, pid: number | 'self'): Promise<string | null> {
	return readlink(join(procRoot, String(pid), 'ns/pid')).catch(() => null);
}

/**
 * Find the manager's PID namespace from its own process: a manager's `init.scope` holds the
 * manager itself (PID 1 of a system manager). Read that cgroup's processes (our PIDs), and
 * compare their PID namespace with ours. When any of this cannot be read (no cgroup access,
 * not root), the manager is taken to share our namespace, as before.
 */
export async function managerPidView(
	client: Pick<UnitQueries, 'getUnitPropertiesByName'>,
	// `init`: init.scope's properties, asked already (a status asks them with the other active
	// scopes'); without them, they are asked here.
	opts: {procRoot?: string; cgroupFsRoot?: string; init?: Pick<UnitProperties, 'controlGroup'>} = {},
): Promise<PidView> {
	const procRoot = opts.procRoot ?? '/proc';
	let members: number[] | null = null;
	try {
		const init = opts.init ?? (await client.getUnitPropertiesByName('init.scope'));
		members = init.controlGroup === null ? null : await readCgroupPids(init.controlGroup, opts.cgroupFsRoot);
	} catch {
		return samePidView;
	}
	const ours = await pidNamespace(procRoot, 'self');
	// init.scope holds the manager itself and what it forked there ((sd-pam) of a user
	// manager, in its root): the lowest PID is the manager.
	const manager = members && members.length > 0 ? Math.min(...members) : null;
	const same = {...samePidView, manager};
	if (!members || members.length === 0 || ours === null) return same;
	let theirs: string | null = null;
	for (const pid of members) {
		const ns = await pidNamespace(procRoot, pid);
		if (ns === ours) return same;
		const chain = await nsPid(procRoot, pid);
		// The manager's own process: PID 1 inside its namespace (a system manager).
		if (ns !== null && chain !== null && chain[chain.length - 1] === 1) theirs = ns;
	}
	if (theirs === null) return samePidView;
	const managerNs = theirs;
	const inside = async (pid: number): Promise<number | null> => {
		if ((await pidNamespace(procRoot, pid)) !== managerNs) return null;
		const chain = await nsPid(procRoot, pid);
		return chain === null ? null : (chain[chain.length - 1] as number);
	};
	return {
		sameNamespace: false,
		manager,
		toManager: inside,
		async fromManager(managerPid, candidates) {
			for (const pid of candidates) if ((await inside(pid)) === managerPid) return pid;
			return null;
		},
	};
}
