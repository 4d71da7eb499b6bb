// Build the v1 status document from a native scan and host facts; withUnits adds systemd's units.
// The scan's parts (sysroot, deployments, overlays, processes and their files, warnings)
// come from Rust already in the contract's shape (scan-parts.ts); this adds what
// TypeScript owns: host, time, units, summary, the kernel reasons' words.
// Pure: everything it needs is passed in, so tests can build documents from fixtures.
import type {Host, StatusDocument, Unit, Warning} from './document.js';
import {toKernel} from './kernel.js';
import type {ScanParts} from './scan-parts.js';
import type {UnitTable} from './unit-table.js';

export interface BuildInput {
	scan: ScanParts;
	host: Host;
	warnings?: Warning[];
	generatedAt?: Date;
	scanDurationSeconds?: number;
}

export function buildDocument(input: BuildInput): StatusDocument {
	const {scan} = input;
	const {processes, counts} = scan;
	const kernel = scan.kernel ? toKernel(scan.kernel) : undefined;
	const overlayFiles = new Set(scan.overlays.flatMap(o => o.files.map(f => `${o.mountPoint}\0${f.path}`)));
	return {
		schemaVersion: 1,
		generatedAt: (input.generatedAt ?? new Date()).toISOString(),
		// The kernel report reads the same /proc the scan did (--proc-root), so its release
		// and boot id win over the CLI process's own.
		host: scan.kernel ? {...input.host, kernelRelease: scan.kernel.running.release, bootId: scan.kernel.bootId ?? input.host.bootId ?? null} : input.host,
		sysroot: scan.sysroot,
		deployments: scan.deployments,
		overlays: scan.overlays,
		processes,
		units: [],
		// The counts the processes decide come from the core (one rule, one place).
		summary: {
			processes: counts.processes,
			processesNeedingRestart: counts.processesNeedingRestart,
			unitsNeedingRestart: 0,
			staleFiles: counts.staleFiles,
			overlayFiles: overlayFiles.size,
			untrackedFiles: counts.untrackedFiles,
			...(kernel ? {rebootNeeded: kernel.rebootNeeded} : {}),
			processesUnreadable: counts.processesUnreadable,
			processesNeedingReload: counts.processesNeedingReload,
			complete: counts.complete,
			kernelThreads: counts.kernelThreads,
			containers: counts.containers,
			containersOutdated: counts.containersOutdated,
		},
		warnings: [...scan.warnings, ...(input.warnings ?? [])],
		...(kernel ? {kernel} : {}),
		...(input.scanDurationSeconds === undefined ? {} : {scanDurationSeconds: input.scanDurationSeconds}),
	};
}

/**
 * The same document with systemd's units: each process's unit, and the unit summary. When the
 * manager `answered`, its word is the answer: a unit read from a process's own cgroup path was
 * only a hint (it may name another manager's unit), so a process the manager places in no unit
 * has none. Without an answer (no systemd) the hint stays. With `table`, the processes are
 * apart (`doc.processes` is empty) and their units are set in it (model/unit-table.ts).
 */
export function withUnits(doc: StatusDocument, units: Unit[], warnings: Warning[], answered = true, table?: UnitTable): StatusDocument {
	const unitOf = new Map<number, string>();
	for (const u of units) for (const pid of u.pids) unitOf.set(pid, u.name);
	const unitFor = (pid: number, hint: string | null) => unitOf.get(pid) ?? (answered ? null : hint);
	if (table) table.setUnits(unitFor);
	for (const p of doc.processes) {
		p.unit = unitFor(p.pid, p.unit);
	}

	doc.units = units;
	doc.summary.unitsNeedingRestart = units.filter(u => u.needsRestart).length;
	// Units add unit-file changes to their processes (systemd/unit-config.ts): count again
	// (only a manager that answered has units; without one the processes may be apart).
	if (answered && doc.summary.processesNeedingReload !== undefined) {
		doc.summary.processesNeedingReload = table ? table.needingReload() : doc.processes.filter(p => p.needsReload).length;
	}
	doc.warnings.push(...warnings);
	return doc;
}
