// The configuration in effect, as far as systemd's units tell it: each unit's `unit-file`
// changes (decided by the core from the manager's FragmentPath, DropInPaths and
// NeedDaemonReload, native/core/src/config/unit_files.rs), added to its processes'
// configChanges, and how each unit's changes are applied (units[].applyConfigBy).
import type {ConfigChange, Process, Unit, Warning} from '../model/document.js';
import type {ScannedProcesses} from '../model/unit-table.js';
import {native} from '../native.js';
import type {UnitStatus} from './units.js';

export interface UnitConfig {
	needsReload: boolean;
	applyConfigBy: 'reload' | 'restart' | null;
}

/** What a unit-file check needs of a unit (a UnitStatus has it all). */
export type UnitFilesOf = Pick<UnitStatus, 'name' | 'mainPid' | 'pids' | 'fragmentPath' | 'dropInPaths' | 'needDaemonReload'>;

/** Each unit's `unit-file` changes, by the core, keyed by unit and main PID (the process whose
 * start they are measured from). `manager` is the manager's own process (our PID), whose root
 * holds the unit files. */
export interface UnitFileChanges {
	byUnit: Map<string, {mainPid: number | null; changes: ConfigChange[]}>;
	warnings: Warning[];
}

/** The scan's starts (`ticks`) of the processes of unit `u`, flat: PID, clock ticks after
 * boot, PID, ticks…; which of them the unit is measured from is the core's rule
 * (`unit_files.rs`). A process the scan did not read is left out (the core reads its `stat`). */
function startsOf(u: UnitFilesOf, ticks: (pid: number) => number | undefined): number[] {
	const out: number[] = [];
	const add = (pid: number): void => {
		const t = ticks(pid);
		if (t !== undefined) out.push(pid, t);
	};

	if (u.mainPid !== null) add(u.mainPid);
	for (const pid of u.pids) add(pid);
	return out;
}

/** `ticks`: each scanned process's start as the scan read it (ScannedProcesses.startTicks). */
export function unitFileChanges(
	units: readonly UnitFilesOf[],
	procRoot: string,
	manager: number | null,
	ticks?: (pid: number) => number | undefined,
): UnitFileChanges {
	const byUnit: UnitFileChanges['byUnit'] = new Map();
	const asked = units.filter(u => u.needDaemonReload || u.fragmentPath !== null || u.dropInPaths.length > 0);
	for (const u of units) byUnit.set(u.name, {mainPid: u.mainPid, changes: []});
	if (asked.length === 0) return {byUnit, warnings: []};
	const input = asked.map(u => ({
		name: u.name,
		...(u.mainPid === null ? {} : {mainPid: u.mainPid}),
		pids: u.pids,
		...(manager === null ? {} : {managerPid: manager}),
		fragment: u.fragmentPath ?? '',
		dropIns: u.dropInPaths,
		needDaemonReload: u.needDaemonReload,
		...(ticks ? {starts: startsOf(u, ticks)} : {}),
	}));
	const out = JSON.parse(native.unitFileChanges(procRoot, input)) as {changes: ConfigChange[][]; warnings: Warning[]};
	for (const [i, u] of asked.entries()) byUnit.set(u.name, {mainPid: u.mainPid, changes: out.changes[i] ?? []});
	return {byUnit, warnings: out.warnings};
}

/**
 * Adds each unit's `unit-file` changes to its scanned processes (every process of the
 * unit runs under its definition), in place, and returns what could not be checked.
 * `early` holds units checked already (while the scan ran), each measured from its main
 * process: taken where that is the unit's main process still; the others are checked now,
 * measured from the scan's starts where `byPid` has them (a unit table), else from `stat`.
 */
export function addUnitFileChanges(
	units: readonly UnitStatus[],
	byPid: Pick<ScannedProcesses, 'get' | 'startTicks'>,
	procRoot: string,
	manager: number | null,
	early?: UnitFileChanges,
): Warning[] {
	const known = (u: UnitStatus) => {
		const e = early?.byUnit.get(u.name);
		return e !== undefined && u.mainPid !== null && e.mainPid === u.mainPid ? e : undefined;
	};
	const now = unitFileChanges(
		units.filter(u => !known(u)),
		procRoot,
		manager,
		byPid.startTicks?.bind(byPid),
	);
	for (const u of units) {
		const changes = (known(u) ?? now.byUnit.get(u.name))?.changes ?? [];
		if (changes.length === 0) continue;
		for (const pid of u.pids) {
			const p = byPid.get(pid);
			if (!p) continue;
			const own = (p.configChanges ?? []).filter(c => !changes.some(n => n.path === c.path));
			p.configChanges = [...own, ...changes].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
			p.needsReload = true;
		}
	}

	// A warning said by both checks (the clock) once.
	const warnings = [...(early && units.some(u => known(u)) ? early.warnings : []), ...now.warnings];
	return warnings.filter((w, i) => warnings.findIndex(o => o.code === w.code && o.message === w.message) === i);
}

/**
 * Whether the unit has a process needing a reload, and how its changes are applied: a reload
 * when the manager can reload it and none is a change of the unit's own files (a reload
 * does not load a new unit definition: daemon-reload and a restart do); else a restart.
 */
export function unitConfig(unit: Pick<Unit, 'canReload'>, processes: readonly Pick<Process, 'needsReload' | 'configChanges'>[]): UnitConfig {
	const changes = processes.filter(p => p.needsReload).flatMap(p => p.configChanges ?? []);
	if (changes.length === 0) return {needsReload: false, applyConfigBy: null};
	const reload = unit.canReload === true && !changes.some(c => c.source === 'unit-file');
	return {needsReload: true, applyConfigBy: reload ? 'reload' : 'restart'};
}
