// The units a status names, one rule for the text report and the Prometheus series: the
// units systemd answered for (doc.units), then the units only the processes' cgroups name
// (--no-systemd, or no bus: a process's unit read from /proc/PID/cgroup, which systemd did
// not confirm). `summary.unitsNeedingRestart` of the JSON contract counts systemd's units
// only; these counts add the cgroup-named ones, as a process's group line names them.
import type {StatusDocument} from './document.js';

export interface UnitCounts {
	name: string;
	// systemd answered for it (doc.units), or only a process's cgroup names it.
	fromSystemd: boolean;
	needsRestart: boolean;
	processesNeedingRestart: number;
	processesNeedingReload: number;
}

/** Every unit of the document, systemd's first (in its order), then those only cgroups name; one entry per name. */
export function processUnits(doc: StatusDocument): UnitCounts[] {
	const byName = new Map<string, UnitCounts>();
	const needing = new Set(doc.processes.filter(p => p.needsRestart).map(p => p.pid));
	for (const u of doc.units) {
		const seen = byName.get(u.name) ?? {name: u.name, fromSystemd: true, needsRestart: false, processesNeedingRestart: 0, processesNeedingReload: 0};
		// A unit name could in principle repeat (two managers): one entry per name.
		seen.needsRestart ||= u.needsRestart;
		seen.processesNeedingRestart += u.pids.filter(pid => needing.has(pid)).length;
		byName.set(u.name, seen);
	}

	for (const p of doc.processes) {
		if (!p.unit) continue;
		let seen = byName.get(p.unit);
		if (!seen) {
			seen = {name: p.unit, fromSystemd: false, needsRestart: false, processesNeedingRestart: 0, processesNeedingReload: 0};
			byName.set(p.unit, seen);
		}

		if (!seen.fromSystemd && p.needsRestart) {
			seen.needsRestart = true;
			seen.processesNeedingRestart++;
		}

		seen.processesNeedingReload += p.needsReload ? 1 : 0;
	}

	return [...byName.values()];
}

/** The units only the cgroups of processes that need a restart name (systemd did not answer for them). */
export function unitsOnlyByCgroup(doc: StatusDocument): string[] {
	return processUnits(doc)
		.filter(u => !u.fromSystemd && u.needsRestart)
		.map(u => u.name);
}

/** The names of the units that need a restart: systemd's (in its order), then those only the
 * cgroups of processes that need a restart name (a process's group line names that unit, so
 * the verdict counts it too). */
export function unitsNeedingRestart(doc: StatusDocument): string[] {
	return [...doc.units.filter(u => u.needsRestart).map(u => u.name), ...unitsOnlyByCgroup(doc)];
}

/** How many units need a restart: `summary.unitsNeedingRestart` (systemd's) and those only cgroups name. */
export function unitsNeedingRestartCount(doc: StatusDocument): number {
	return doc.summary.unitsNeedingRestart + unitsOnlyByCgroup(doc).length;
}
