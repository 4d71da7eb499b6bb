// Ties scanned processes to systemd units. The scan's cgroup-derived unit name is only a hint:
// the manager confirms it (the PID is in the unit's ControlGroup, or GetUnitByPID names the unit),
// because a name read from a cgroup path can belong to another manager (a user manager's unit
// seen on the system bus is really part of user@UID.service).
import {readCgroupPids} from './cgroup.js';
import type {SystemdClient, UnitProperties} from './client.js';
import type {SystemdError} from './errors/systemd-error.js';
import {toSystemdError} from './errors/to-systemd-error.js';
import {samePidView, type PidView} from './pid-view.js';

export interface ProcessUnitHint {
	pid: number;
	/** Unit name derived from /proc/PID/cgroup by the native scan; null when it named none. */
	cgroupUnit: string | null;
}

/** One entry of `units[]` in status.schema.json, before the caller adds needsRestart and reasons. */
export interface UnitStatus {
	name: string;
	mainPid: number | null;
	activeState: string;
	subState: string;
	result: string | null;
	nRestarts: number | null;
	execMainStatus: number | null;
	activeEnterTimestamp: string | null;
	/** Scanned processes the manager places in this unit, sorted. */
	pids: number[];
}

export interface UnitWarning {
	code: string;
	message: string;
	pid: number | null;
}

export interface CollectUnitsOptions {
	cgroupFsRoot?: string;
	/** How the manager numbers our processes (managerPidView); default: as we do. */
	pidView?: PidView;
}

export interface CollectedUnits {
	units: UnitStatus[];
	warnings: UnitWarning[];
}

/** RFC 3339 (UTC) for a systemd microsecond timestamp; null for 0 (never). */
export function usecToRfc3339(usec: bigint): string | null {
	if (usec <= 0n) return null;
	return new Date(Number(usec / 1000n)).toISOString();
}

export function toUnitStatus(props: UnitProperties, pids: number[]): UnitStatus {
	return {
		name: props.id,
		mainPid: props.mainPid,
		activeState: props.activeState,
		subState: props.subState,
		result: props.result,
		nRestarts: props.nRestarts,
		execMainStatus: props.execMainStatus,
		activeEnterTimestamp: usecToRfc3339(props.activeEnterTimestampUsec),
		pids: [...pids].sort((a, b) => a - b),
	};
}

/**
 * Asks the manager about every unit that holds scanned processes. A SystemdError with code
 * `systemd-unavailable`, `access-denied` or `timeout` is thrown (the caller reports it as a
 * warning and leaves units empty); errors about one unit or one PID become warnings.
 */
export async function collectUnits(client: SystemdClient, processes: readonly ProcessUnitHint[], opts: CollectUnitsOptions = {}): Promise<CollectedUnits> {
	const warnings: UnitWarning[] = [];
	const view = opts.pidView ?? samePidView;
	const byHint = new Map<string, number[]>();
	for (const p of processes) {
		const hint = p.cgroupUnit;
		if (hint === null) continue; // kernel threads, the root cgroup: no unit to ask about
		const list = byHint.get(hint) ?? [];
		list.push(p.pid);
		byHint.set(hint, list);
	}

	const props = new Map<string, UnitProperties>(); // unit name → properties
	const cgroupPids = new Map<string, Set<number> | null>(); // unit name → PIDs of its cgroup
	const unitByPid = new Map<number, string>();

	const load = async (name: string, path?: string): Promise<UnitProperties> => {
		const known = props.get(name);
		if (known) return known;
		const p = path === undefined ? await client.getUnitPropertiesByName(name) : await client.getUnitProperties(path);
		props.set(p.id, p);
		const pids = p.controlGroup === null ? null : await readCgroupPids(p.controlGroup, opts.cgroupFsRoot);
		cgroupPids.set(p.id, pids === null ? null : new Set(pids));
		return p;
	};

	for (const [hint, pids] of byHint) {
		let unconfirmed = pids;
		try {
			const p = await load(hint);
			const members = cgroupPids.get(p.id);
			unconfirmed = [];
			for (const pid of pids) {
				// Without cgroup access the MainPID is the only membership the manager tells us directly.
				// A process outside the manager's PID namespace is never its member, whatever a cgroup
				// of the same name holds.
				const own = view.sameNamespace || (await view.toManager(pid)) !== null;
				if (own && (members ? members.has(pid) : p.mainPid === (await view.toManager(pid)))) unitByPid.set(pid, p.id);
				else unconfirmed.push(pid);
			}
		} catch (err) {
			const e = toSystemdError(err, `unit ${hint}`);
			if (isFatal(e)) throw e;
			if (e.code !== 'no-such-unit') warnings.push(warning(e, null));
		}
		for (const pid of unconfirmed) {
			// Ask the manager about its own number for this process; one it cannot see has no unit
			// there (its cgroup path was only a hint, and the number would name another process).
			const managerPid = await view.toManager(pid);
			if (managerPid === null) continue;
			try {
				const path = await client.getUnitByPid(managerPid);
				const p = await load(nameFromPath(path) ?? path, path);
				unitByPid.set(pid, p.id);
			} catch (err) {
				const e = toSystemdError(err, `PID ${pid}`);
				if (isFatal(e)) throw e;
				// The process may have exited since the scan, or sit outside any unit: not an error.
				if (e.code !== 'no-unit-for-pid') warnings.push(warning(e, pid));
			}
		}
	}

	const pidsByUnit = new Map<string, number[]>();
	for (const [pid, name] of unitByPid) pidsByUnit.set(name, [...(pidsByUnit.get(name) ?? []), pid]);
	const units: UnitStatus[] = [];
	for (const [name, pids] of pidsByUnit) {
		const p = props.get(name) as UnitProperties;
		// MainPID is in the manager's namespace: report the PID of that process as we see it.
		const mainPid =
			p.mainPid === null || view.sameNamespace ? p.mainPid : await view.fromManager(p.mainPid, new Set([...pids, ...(cgroupPids.get(name) ?? [])]));
		units.push(toUnitStatus({...p, mainPid}, pids));
	}
	units.sort((a, b) => a.name.localeCompare(b.name));
	return {units, warnings};
}

function isFatal(e: SystemdError): boolean {
	return e.code === 'systemd-unavailable' || e.code === 'access-denied' || e.code === 'timeout';
}

function warning(e: SystemdError, pid: number | null): UnitWarning {
	const code = e.code === 'systemd-unavailable' ? e.code : `systemd-${e.code}`;
	return {code, message: e.message, pid};
}

/**
 * systemd's object path for a unit escapes every byte outside [A-Za-z0-9] as _XX:
 * /org/freedesktop/systemd1/unit/foo_2eservice → foo.service.
 */
export function nameFromPath(path: string): string | null {
	const prefix = '/org/freedesktop/systemd1/unit/';
	if (!path.startsWith(prefix)) return null;
	return path.slice(prefix.length).replace(/_([0-9a-f]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}
