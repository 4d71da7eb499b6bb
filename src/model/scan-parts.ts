// The part of the status document the native scan decides, as the Rust core writes it:
// one JSON text (the report types' serde shapes, native/core/src/contract.rs), parsed here
// in one go. build.ts adds only what TypeScript owns (host, time, units, summary).
import type {Deployment, Origin, Overlay, Package, Process, Sysroot, Warning} from './document.js';
import type {Kernel} from './kernel-document.js';

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
	// Empty when the scan wrote them apart (see processesText).
	processes: Process[];
	// The contract's `processes` array as the core wrote it, when the scan was asked to
	// write the processes apart (`processesApart`): for a caller that prints them unchanged.
	processesText?: string;
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

// The text as written: each distinct origin once, in `origins`, and files naming theirs by
// index there (thousands of processes map the same few files from the same few commits).
interface ScanText extends Omit<ScanParts, 'processes'> {
	origins: Origin[];
	processes: Array<Omit<Process, 'files'> & {files: Array<{origin: number | Origin}>}>;
}

export function parseScan(json: string): ScanParts {
	// Written apart: the parts on the first line, the processes' array on the second (a
	// compact JSON text holds no raw newline). Only the small first text is parsed.
	const cut = json.indexOf('\n');
	if (cut !== -1) {
		const parts = JSON.parse(json.slice(0, cut)) as Omit<ScanParts, 'processes'>;
		return {...parts, processes: [], processesText: json.slice(cut + 1)};
	}

	const {origins, ...parts} = JSON.parse(json) as ScanText;
	// Each file gets its origin object back, in the place of the index (key order kept);
	// files with equal origins share one object.
	for (const p of parts.processes) {
		for (const f of p.files) {
			f.origin = origins[f.origin as number]!;
		}
	}

	return parts as ScanParts;
}
