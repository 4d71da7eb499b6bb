// The part of the status document the native scan decides, as the Rust core writes it:
// one JSON text (the report types' serde shapes, native/core/src/contract.rs), parsed here
// in one go. build.ts adds only what TypeScript owns (host, time, units, summary).
import type {Deployment, Origin, Overlay, Package, Process, Sysroot, Warning} from './document.js';
import type {Kernel} from './kernel-document.js';
import {UnitTable, type UnitTableText} from './unit-table.js';

// A reason code and what its words need; model/kernel.ts makes the words.
export interface KernelReasonCode {
	code: string;
	release?: string | null;
	deployment?: string | null;
	name?: string | null;
}

// The document's kernel, but with codes for reasons, and this boot's id (for `host`).
export interface ScanKernel extends Omit<Kernel, 'reasons'> {
	bootId: string | null;
	reasons: KernelReasonCode[];
}

// The summary counts the processes decide, decided by the core (contract.rs ProcessCounts).
// Kernel threads are no processes: counted apart, in nothing else.
export interface ProcessCounts {
	processes: number;
	processesNeedingRestart: number;
	staleFiles: number;
	untrackedFiles: number;
	processesUnreadable: number;
	// Processes with needsReload (configuration changed since they started).
	processesNeedingReload: number;
	// Of the unreadable, those whose maps we were not permitted to read (EACCES): what
	// running as root reads. Not in the document.
	processesDenied: number;
	// Of the unreadable, those whose maps could not be read for another reason (EIO, …).
	processesReadFailed: number;
	kernelThreads: number;
	// No process is unknown: only then may a verdict say that nothing needs a restart.
	complete: boolean;
	// Distinct containers with a process, and those whose image name moved on.
	containers: number;
	containersOutdated: number;
}

// A kernel thread (PF_KTHREAD, decided by the core): it runs the kernel's code, maps no
// files, and is no process of the document.
export interface KernelThread {
	pid: number;
	comm: string;
}

export interface ScanParts {
	sysroot: Sysroot;
	deployments: Deployment[];
	overlays: Overlay[];
	// Empty when the scan wrote them apart (see processesText, unitTable).
	processes: Process[];
	// The contract's `processes` array as the core wrote it (JSON text, its UTF-8 bytes), when
	// the scan was asked to write the processes apart (`processesApart`): for a caller that
	// prints them unchanged, as they are, without making a string of megabytes and back.
	processesText?: Buffer;
	// The processes apart with the table of what adding systemd's units needs of each, when
	// the scan was asked for it (`unitTable`): printed through it (see unit-table.ts).
	unitTable?: UnitTable;
	counts: ProcessCounts;
	// The kernel threads seen, left out of `processes` (explain names one).
	kernelThreads: KernelThread[];
	warnings: Warning[];
	// Present when the scan was asked for it and the running kernel could be read.
	kernel: ScanKernel | null;
	// Installed versions of the packages in memory, each with the tree it was read from.
	installedPackages: Array<{tree: string; package: Package}>;
	// The container trees (`container:ID`: the image its name resolves to now) read for them.
	comparedTrees?: string[];
}

// The text as written: each distinct origin once, in `origins`, each distinct file once, in
// `files`, naming its origin by index there, and processes naming their files by index in
// `files` (thousands of processes map the same few files from the same few commits).
type FileText = Omit<Process['files'][number], 'origin'> & {origin: number | Origin};
interface ScanText extends Omit<ScanParts, 'processes'> {
	origins: Origin[];
	files: FileText[];
	processes: Array<Omit<Process, 'files'> & {files: Array<number | FileText>}>;
}

// `json`: the scan's JSON text as the core hands it over, its UTF-8 bytes (Scanner.scan).
export function parseScan(json: Buffer): ScanParts {
	// Written in lines (a compact JSON text holds no raw newline): apart, the parts on the
	// first line and the processes' array on the second, and only the small first text is
	// parsed; with the unit table, in the first text too (model/unit-table.ts).
	const cut = json.indexOf(0x0a);
	type First = Partial<ScanText> & Omit<ScanText, 'processes' | 'origins' | 'files'> & {unitTable?: UnitTableText};
	const first = JSON.parse((cut === -1 ? json : json.subarray(0, cut)).toString()) as First;
	if (cut !== -1) {
		const {unitTable, ...parts} = first;
		const processes = json.subarray(cut + 1);
		return unitTable === undefined
			? {...parts, processes: [], processesText: processes}
			: {...parts, processes: [], unitTable: new UnitTable(unitTable, processes)};
	}

	const {origins, files, ...parts} = first as ScanText;
	// Each file gets its origin object back, in the place of the index (key order kept), and
	// each process its files: equal origins share one object, and so do equal files (nothing
	// changes a scanned file afterwards).
	for (const f of files) {
		f.origin = origins[f.origin as number]!;
	}

	for (const p of parts.processes) {
		const ids = p.files;
		for (let i = 0; i < ids.length; i++) {
			ids[i] = files[ids[i] as number]!;
		}
	}

	return parts as unknown as ScanParts;
}
