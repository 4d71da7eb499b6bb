// Ties scanned processes to systemd units. The scan's cgroup-derived unit name is only a hint:
// the manager confirms it (the PID is in the unit's ControlGroup, or GetUnitByPID names the unit),
// because a name read from a cgroup path can belong to another manager (a user manager's unit
// seen on the system bus is really part of user@UID.service).
import {readCgroupPids} from './cgroup.js';
import type {UnitQueries} from './bulk-client.js';
import type {ListedUnit} from './client.js';
import type {UnitProperties} from './unit-properties.js';
import type {SystemdError} from './errors/systemd-error.js';
import {toSystemdError} from './errors/to-systemd-error.js';
import {samePidView, type PidView} from './pid-view.js';
import {sortByUnitName} from './unit-order.js';
import {groupHints, type UnitHintGroup} from '../model/unit-table.js';

export interface ProcessUnitHint {
	pid: number;
	/** Unit name derived from /proc/PID/cgroup by the native scan; null when it named none. */
	cgroupUnit: string | null;
	/** Its systemd cgroup path as the scan read it (processes[].cgroup); null or absent: unknown. */
	cgroup?: string | null;
}

/** Whether `path` is the cgroup `group` or one below it (a service's delegated sub-cgroups). */
export function inCgroup(path: string | null | undefined, group: string | null): boolean {
	if (path === null || path === undefined || group === null) return false;
	return path === group || path.startsWith(group.endsWith('/') ? group : `${group}/`);
}

interface Loaded {
	props: UnitProperties;
	/** The PIDs the unit's control group holds, read once when first asked; null without cgroup access. */
	members(): Promise<Set<number> | null>;
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
	/** The unit can be reloaded (CanReload: a service with ExecReload); null when not said. */
	canReload: boolean | null;
	/** systemd's NeedDaemonReload. */
	needDaemonReload: boolean;
	/** FragmentPath (null: none) and DropInPaths. */
	fragmentPath: string | null;
	dropInPaths: string[];
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
	/** The unit list and units' properties, asked already (while the scan ran). */
	prefetched?: Prefetched;
}

/** What was asked of the manager before the processes were known: its unit list, and the
 * properties of some units (each a UnitProperties or the error asking it gave). */
export interface Prefetched {
	listed: Map<string, ListedUnit>;
	answered: ReadonlyMap<string, UnitProperties | Error>;
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
		canReload: props.canReload,
		needDaemonReload: props.needDaemonReload,
		fragmentPath: props.fragmentPath,
		dropInPaths: props.dropInPaths,
	};
}

/** How many questions are in flight on the connection at once: the manager answers them in
 * turn, but their round trips through the bus overlap instead of adding up. */
const IN_FLIGHT = 16;

/**
 * Asks the manager about every unit that holds scanned processes. A SystemdError with code
 * `systemd-unavailable`, `access-denied` or `timeout` is thrown (the caller reports it as a
 * warning and leaves units empty); errors about one unit or one PID become warnings.
 * Questions go out IN_FLIGHT at a time; the answer does not depend on their order.
 */
export async function collectUnits(client: UnitQueries, processes: readonly ProcessUnitHint[], opts: CollectUnitsOptions = {}): Promise<CollectedUnits> {
	return collectUnitGroups(client, groupHints(processes), opts);
}

/** collectUnits of processes grouped by their `[cgroup, unit]` pair (groupHints). */
export async function collectUnitGroups(client: UnitQueries, groups: readonly UnitHintGroup[], opts: CollectUnitsOptions = {}): Promise<CollectedUnits> {
	const view = opts.pidView ?? samePidView;
	// Each hinted unit's groups, in the order of the hint's first process.
	const byHint = new Map<string, UnitHintGroup[]>();
	for (const g of groups) {
		const hint = g.cgroupUnit;
		if (hint === null) continue; // kernel threads, the root cgroup: no unit to ask about
		const list = byHint.get(hint);
		if (list) list.push(g);
		else byHint.set(hint, [g]);
	}

	// Every loaded unit's id, states and object path in one call; what a unit's properties
	// add is asked per unit (a unit the list lacks, an alias, is looked up by name).
	const listed = opts.prefetched?.listed ?? (await client.listUnits());
	// The hinted units the list has, asked all at once where the client can (each unit's
	// answer, or the error asking it gave, is then taken by load below).
	const early = new Map<string, UnitProperties | Error>(opts.prefetched?.answered ?? []);
	if (client.getUnitsProperties) {
		const wanted = [...byHint.keys()].flatMap(hint => (early.has(hint) ? [] : (listed.get(hint) ?? [])));
		if (wanted.length > 0) for (const [name, got] of await client.getUnitsProperties(wanted)) early.set(name, got);
	}

	// One question per unit, however many hints or PIDs lead to it (by name and by path).
	const loading = new Map<string, Promise<Loaded>>();
	const loaded = new Map<string, Loaded>();
	// The units taken from the answers in hand, by the name they were loaded by (no promise).
	const ready = new Map<string, Loaded>();
	const loadedOf = (props: UnitProperties): Loaded => {
		let read: Promise<Set<number> | null> | undefined;
		const members = async () => {
			read ??= (async () => {
				const pids = props.controlGroup === null ? null : await readCgroupPids(props.controlGroup, opts.cgroupFsRoot);
				return pids === null ? null : new Set(pids);
			})();
			return read;
		};
		const unit = {props, members};
		loaded.set(props.id, unit);
		return unit;
	};
	const load = async (name: string, path?: string) => {
		const now = ready.get(name);
		if (now) return now;
		let pending = loading.get(name);
		if (!pending) {
			pending = (async () => {
				const known = listed.get(name);
				const answered = early.get(name);
				if (answered instanceof Error) throw answered;
				const props =
					answered ??
					(known
						? await client.getUnitProperties(known.path, known)
						: path === undefined
							? await client.getUnitPropertiesByName(name)
							: await client.getUnitProperties(path));
				return loadedOf(props);
			})();
			loading.set(name, pending);
		}

		return pending;
	};

	// Each hinted unit, asked about; its PIDs that the manager places in it are confirmed:
	// a group's all at once where its cgroup path lies in the unit's ControlGroup. A unit
	// answered already whose groups all lie there (nearly every unit of a status) is settled
	// here, without a question, a promise or an async function of its own.
	type Hinted = {confirmed: Array<{unit: string; pids: number[]}>; unconfirmed: Array<{pid: number; at: number}>; problem: SystemdError | null};
	const settled = new Map<string, Hinted>();
	if (view.sameNamespace) {
		for (const [hint, list] of byHint) {
			const answered = early.get(hint);
			if (answered === undefined || answered instanceof Error) continue;
			if (!list.every(g => inCgroup(g.cgroup, answered.controlGroup))) continue;
			const unit = loadedOf(answered);
			ready.set(hint, unit);
			settled.set(hint, {confirmed: list.map(g => ({unit: answered.id, pids: g.pids})), unconfirmed: [], problem: null});
		}
	}

	const inFlight = client.concurrency ?? IN_FLIGHT;
	const rest = await mapLimit(
		[...byHint].filter(([hint]) => !settled.has(hint)),
		inFlight,
		async ([hint, list]): Promise<Hinted> => {
			const confirmed: Array<{unit: string; pids: number[]}> = [];
			let unconfirmed: Array<{pid: number; at: number}> = [];
			let problem: SystemdError | null = null;
			let asking = true;
			try {
				const unit = await load(hint);
				const p = unit.props;
				asking = false;
				for (const g of list) {
					// In the manager's PID namespace, the cgroup path the scan read confirms the
					// group where it lies in the unit's ControlGroup.
					if (view.sameNamespace && inCgroup(g.cgroup, p.controlGroup)) {
						confirmed.push({unit: p.id, pids: g.pids});
						continue;
					}

					const own: number[] = [];
					for (const [k, pid] of g.pids.entries()) {
						// A process outside the manager's PID namespace is never its member, whatever a
						// cgroup of the same name holds. In it, the group's processes are read, and
						// without cgroup access the MainPID is the only membership the manager tells
						// us directly.
						const mine = view.sameNamespace || (await view.toManager(pid)) !== null;
						const members = mine ? await unit.members() : null;
						if (mine && (members ? members.has(pid) : p.mainPid === (await view.toManager(pid)))) own.push(pid);
						else unconfirmed.push({pid, at: g.at[k]!});
					}

					if (own.length > 0) confirmed.push({unit: p.id, pids: own});
				}
			} catch (err) {
				const e = toSystemdError(err, `unit ${hint}`);
				if (isFatal(e)) throw e;
				if (e.code !== 'no-such-unit') problem = e;
				// The unit could not be asked about: each of its processes is asked about by PID.
				if (asking) unconfirmed = list.flatMap(g => g.pids.map((pid, k) => ({pid, at: g.at[k]!})));
			}

			// In the order of the scan, as when the questions went one PID at a time.
			if (list.length > 1) unconfirmed.sort((a, b) => a.at - b.at);
			return {confirmed, unconfirmed, problem};
		},
	);
	// In the hints' order, as asked.
	let other = 0;
	const hinted = [...byHint.keys()].map(hint => settled.get(hint) ?? rest[other++]!);

	// The rest: ask the manager about its own number for each process; one it cannot see has
	// no unit there (its cgroup path was only a hint, and the number would name another process).
	const unconfirmed = hinted.flatMap(h => h.unconfirmed);
	const asked = await mapLimit(unconfirmed, inFlight, async ({pid}) => {
		const managerPid = await view.toManager(pid);
		if (managerPid === null) return {unit: null, problem: null};
		try {
			const path = await client.getUnitByPid(managerPid);
			const {props: p} = await load(nameFromPath(path) ?? path, path);
			return {unit: p.id, problem: null};
		} catch (err) {
			const e = toSystemdError(err, `PID ${pid}`);
			if (isFatal(e)) throw e;
			// The process may have exited since the scan, or sit outside any unit: not an error.
			return {unit: null, problem: e.code === 'no-unit-for-pid' ? null : e};
		}
	});

	// In the order the processes were hinted, as when the questions went one by one.
	const warnings: UnitWarning[] = [];
	const pidsByUnit = new Map<string, number[]>();
	const add = (name: string, pids: readonly number[]) => {
		const list = pidsByUnit.get(name);
		if (list) for (const pid of pids) list.push(pid);
		else pidsByUnit.set(name, [...pids]);
	};
	let next = 0;
	for (const h of hinted) {
		for (const c of h.confirmed) add(c.unit, c.pids);
		if (h.problem) warnings.push(warning(h.problem, null));
		for (const {pid} of h.unconfirmed) {
			const a = asked[next++]!;
			if (a.unit !== null) add(a.unit, [pid]);
			if (a.problem) warnings.push(warning(a.problem, pid));
		}
	}

	const units: UnitStatus[] = [];
	for (const [name, pids] of pidsByUnit) {
		const {props: p, members: read} = loaded.get(name)!;
		// MainPID is in the manager's namespace: report the PID of that process as we see it.
		const mainPid = p.mainPid === null || view.sameNamespace ? p.mainPid : await view.fromManager(p.mainPid, new Set([...pids, ...((await read()) ?? [])]));
		units.push(toUnitStatus({...p, mainPid}, pids));
	}
	// In the order a.name.localeCompare(b.name) gives (unit-order.ts).
	sortByUnitName(units);
	return {units, warnings};
}

/** `fn` over `items`, at most `limit` at once; the results in the items' order. The first
 * rejection rejects the whole (what is in flight still settles, and is ignored). */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
	const results: R[] = new Array<R>(items.length);
	let next = 0;
	const worker = async (): Promise<void> => {
		while (next < items.length) {
			const i = next++;
			results[i] = await fn(items[i]!);
		}
	};
	await Promise.all(Array.from({length: Math.min(limit, items.length)}, worker));
	return results;
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

/**
 * The object path systemd gives unit `name` (its bus_label_escape): every byte of the name's
 * UTF-8 outside [A-Za-z0-9], and a leading digit, as _XX. The inverse of nameFromPath.
 */
export function pathFromName(name: string): string {
	let label = '';
	for (const [i, byte] of Buffer.from(name, 'utf8').entries()) {
		const c = String.fromCharCode(byte);
		const plain = /[A-Za-z]/.test(c) || (i > 0 && /[0-9]/.test(c));
		label += plain ? c : `_${byte.toString(16).padStart(2, '0')}`;
	}

	return `/org/freedesktop/systemd1/unit/${label || '_'}`;
}
