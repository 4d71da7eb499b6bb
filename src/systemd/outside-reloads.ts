// Reloads made outside livetree (`systemctl reload`, a package's scripts): the manager keeps
// each service's last reload in its ExecReload (exec-reload.ts). For the units whose processes
// have configuration changes a reload applies, and only for those, livetree asks for it; a
// reload that succeeded after a process started is then its reload time, and the core judges
// that process again knowing it (config::Facts::changed_since: a change before the reload
// counts as applied, one at or after it is still said), as it judges livetree's own reloads.
// TypeScript only finds the time; the core decides what is changed.
import type {Process, Warning} from '../model/document.js';
import type {ScannedProcesses, UnitProcess} from '../model/unit-table.js';
import type {UnitQueries} from './bulk-client.js';
import {lastReload} from './exec-reload.js';
import {pathFromName, type UnitStatus} from './units.js';

/** A reload of process `pid`, which started at `startedAt`, begun at `atMs` (ms since the epoch). */
export interface ReloadSeen {
	pid: number;
	startedAt: string;
	atMs: number;
}

/** Scans these processes again, told of these reloads; their fresh records (a process gone
 * since is absent). */
export type Rejudge = (reloaded: readonly ReloadSeen[]) => Promise<readonly Process[]>;

/** What was seen: each asked unit's last reload (units[].lastReload), and what could not be asked. */
export interface OutsideReloads {
	lastReloads: Map<string, {at: string; succeeded: boolean} | null>;
	warnings: Warning[];
}

/** A change a reload can apply: any but the unit's own files. */
const reloadable = (p: UnitProcess) => (p.configChanges ?? []).some(c => c.source !== 'unit-file');

/**
 * Asks the manager for the ExecReload of each unit that can be reloaded and has a process with
 * changes a reload applies (nothing is asked when there is none), and gives each such process
 * of a unit reloaded successfully since it started its configChanges and needsReload judged
 * again with that reload's time, by assignment (model/unit-table.ts). Returns each asked
 * unit's last reload, and what could not be asked (those processes' changes are then still said).
 */
export async function seeOutsideReloads(
	client: Pick<UnitQueries, 'getExecReloads'>,
	units: readonly Pick<UnitStatus, 'name' | 'pids' | 'canReload'>[],
	byPid: Pick<ScannedProcesses, 'get'>,
	rejudge: Rejudge,
	debug: (line: string) => void = () => {},
): Promise<OutsideReloads> {
	const lastReloads: OutsideReloads['lastReloads'] = new Map();
	const asked = units.flatMap(u => {
		if (u.canReload !== true) return [];
		const own = u.pids.flatMap(pid => {
			const p = byPid.get(pid);
			return p && reloadable(p) && typeof p.startedAt === 'string' ? [p as UnitProcess & {startedAt: string}] : [];
		});
		return own.length > 0 ? [{unit: u, own}] : [];
	});
	if (asked.length === 0) return {lastReloads, warnings: []};
	debug(`asked the manager for ExecReload of ${asked.map(a => a.unit.name).join(', ')}`);
	const warnings: Warning[] = [];
	let answers: Awaited<ReturnType<UnitQueries['getExecReloads']>>;
	try {
		answers = await client.getExecReloads(asked.map(a => ({name: a.unit.name, path: pathFromName(a.unit.name)})));
	} catch (error) {
		const why = error instanceof Error ? error.message : String(error);
		return {
			lastReloads,
			warnings: [{code: 'config-reloads', message: `reloads made outside livetree not checked (${why}): their changes are still said`, pid: null}],
		};
	}

	const reloads: ReloadSeen[] = [];
	for (const {unit, own} of asked) {
		const runs = answers.get(unit.name);
		if (runs instanceof Error || runs === undefined) {
			const why = runs?.message ?? 'no answer';
			warnings.push({
				code: 'config-reloads',
				message: `${unit.name}: its reloads made outside livetree not checked (${why}): its changes are still said`,
				pid: null,
			});
			continue;
		}

		const last = lastReload(runs);
		lastReloads.set(unit.name, last && {at: new Date(Number(last.startUsec / 1000n)).toISOString(), succeeded: last.succeeded});
		if (!last?.succeeded) continue;
		// Whole milliseconds, rounded down: a change within the millisecond before the reload
		// began is still said, never one after it taken as applied.
		const atMs = Number(last.startUsec / 1000n);
		// A reload before a process started is none of its own.
		for (const p of own) if (atMs >= Date.parse(p.startedAt)) reloads.push({pid: p.pid, startedAt: p.startedAt, atMs});
	}

	if (reloads.length === 0) return {lastReloads, warnings};
	debug(`reloads seen: ${reloads.map(r => `PID ${r.pid} at ${new Date(r.atMs).toISOString()}`).join(', ')}`);
	let judged: readonly Process[];
	try {
		judged = await rejudge(reloads);
	} catch (error) {
		const why = error instanceof Error ? error.message : String(error);
		warnings.push({code: 'config-reloads', message: `processes reloaded outside livetree not judged again (${why}): their changes are still said`, pid: null});
		return {lastReloads, warnings};
	}

	for (const fresh of judged) {
		const scanned = byPid.get(fresh.pid);
		// The same process (not another with its PID since), judged again.
		if (!scanned || scanned.startedAt !== fresh.startedAt) continue;
		const changes = fresh.configChanges ?? [];
		if (JSON.stringify(changes) !== JSON.stringify(scanned.configChanges ?? [])) scanned.configChanges = changes;
		if (scanned.needsReload !== fresh.needsReload) scanned.needsReload = fresh.needsReload;
	}

	return {lastReloads, warnings};
}
