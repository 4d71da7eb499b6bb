// The configuration in effect, as far as systemd's units tell it: each unit's `unit-file`
// changes (decided by the core from the manager's FragmentPath, DropInPaths and
// NeedDaemonReload, native/core/src/config/unit_files.rs), added to its processes'
// configChanges, and how each unit's changes are applied (units[].applyConfigBy).
import type {ConfigChange, Process, Unit, Warning} from '../model/document.js';
import {native} from '../native.js';
import type {UnitStatus} from './units.js';

export interface UnitConfig {
	needsReload: boolean;
	applyConfigBy: 'reload' | 'restart' | null;
}

/**
 * Adds each unit's `unit-file` changes to its scanned processes (every process of the
 * unit runs under its definition), in place, and returns what could not be checked.
 * `manager` is the manager's own process (our PID), whose root holds the unit files.
 */
export function addUnitFileChanges(units: readonly UnitStatus[], byPid: ReadonlyMap<number, Process>, procRoot: string, manager: number | null): Warning[] {
	const asked = units.filter(u => u.needDaemonReload || u.fragmentPath !== null || u.dropInPaths.length > 0);
	if (asked.length === 0) return [];
	const input = asked.map(u => ({
		name: u.name,
		...(u.mainPid === null ? {} : {mainPid: u.mainPid}),
		pids: u.pids,
		...(manager === null ? {} : {managerPid: manager}),
		fragment: u.fragmentPath ?? '',
		dropIns: u.dropInPaths,
		needDaemonReload: u.needDaemonReload,
	}));
	const out = JSON.parse(native.unitFileChanges(procRoot, input)) as {changes: ConfigChange[][]; warnings: Warning[]};
	for (const [i, u] of asked.entries()) {
		const changes = out.changes[i] ?? [];
		if (changes.length === 0) continue;
		for (const pid of u.pids) {
			const p = byPid.get(pid);
			if (!p) continue;
			const own = (p.configChanges ?? []).filter(c => !changes.some(n => n.path === c.path));
			p.configChanges = [...own, ...changes].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
			p.needsReload = true;
		}
	}
	return out.warnings;
}

/**
 * Whether the unit has a process needing a reload, and how its changes are applied: a reload
 * when the manager can reload it and none is a change of the unit's own files (a reload
 * does not load a new unit definition: daemon-reload and a restart do); else a restart.
 */
export function unitConfig(unit: Pick<Unit, 'canReload'>, processes: readonly Process[]): UnitConfig {
	const changes = processes.filter(p => p.needsReload).flatMap(p => p.configChanges ?? []);
	if (changes.length === 0) return {needsReload: false, applyConfigBy: null};
	const reload = unit.canReload === true && !changes.some(c => c.source === 'unit-file');
	return {needsReload: true, applyConfigBy: reload ? 'reload' : 'restart'};
}
