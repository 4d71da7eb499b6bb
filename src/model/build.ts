// Build the v1 status document from a native scan and host facts; withUnits adds systemd's units.
// The scan's parts (sysroot, deployments, overlays, processes and their files, warnings)
// come from Rust already in the contract's shape (scan-parts.ts); this adds what
// TypeScript owns: host, time, units, summary, the kernel reasons' words.
// Pure: everything it needs is passed in, so tests can build documents from fixtures.
import type {Host, Process, StatusDocument, Unit, Warning} from './document.js';
import {toKernel} from './kernel.js';
import type {ScanParts} from './scan-parts.js';

export interface BuildInput {
	scan: ScanParts;
	host: Host;
	warnings?: Warning[];
	generatedAt?: Date;
	scanDurationSeconds?: number;
}

export function buildDocument(input: BuildInput): StatusDocument {
	const {scan} = input;
	const {processes} = scan;
	const kernel = scan.kernel ? toKernel(scan.kernel) : undefined;
	const files = fileCounts(processes);
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
		summary: {
			processes: processes.length,
			processesNeedingRestart: processes.filter(p => p.needsRestart).length,
			unitsNeedingRestart: 0,
			staleFiles: files.stale,
			overlayFiles: overlayFiles.size,
			untrackedFiles: files.untracked,
			...(kernel ? {rebootNeeded: kernel.rebootNeeded} : {}),
			processesUnreadable: processes.filter(p => p.state === 'unknown').length,
		},
		warnings: [...scan.warnings, ...(input.warnings ?? [])],
		...(kernel ? {kernel} : {}),
		...(input.scanDurationSeconds === undefined ? {} : {scanDurationSeconds: input.scanDurationSeconds}),
	};
}

// Stale and untracked files, counted by (device, inode): one libc mapped by 3000 processes
// is one stale file. One pass over every file of every process.
function fileCounts(processes: Process[]): {stale: number; untracked: number} {
	const stale = new Set<string>();
	const untracked = new Set<string>();
	for (const p of processes) {
		for (const f of p.files) {
			if (f.staleReason !== null) {
				stale.add(`${f.dev}\0${f.ino}`);
			}

			if (f.origin.kind === 'untracked') {
				untracked.add(`${f.dev}\0${f.ino}`);
			}
		}
	}

	return {stale: stale.size, untracked: untracked.size};
}

/**
 * The same document with systemd's units: each process's unit, and the unit summary. When the
 * manager `answered`, its word is the answer: a unit read from a process's own cgroup path was
 * only a hint (it may name another manager's unit), so a process the manager places in no unit
 * has none. Without an answer (no systemd) the hint stays.
 */
export function withUnits(doc: StatusDocument, units: Unit[], warnings: Warning[], answered = true): StatusDocument {
	const unitOf = new Map(units.flatMap(u => u.pids.map(pid => [pid, u.name] as const)));
	for (const p of doc.processes) {
		p.unit = unitOf.get(p.pid) ?? (answered ? null : p.unit);
	}

	doc.units = units;
	doc.summary.unitsNeedingRestart = units.filter(u => u.needsRestart).length;
	doc.warnings.push(...warnings);
	return doc;
}
