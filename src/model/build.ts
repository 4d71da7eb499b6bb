// Build the v1 status document from a native scan and host facts; withUnits adds systemd's units.
// Pure: everything it needs is passed in, so tests can build documents from fixtures.
import type {OriginOut, PackageOut, ProcessOut, ScanResult} from '../native.js';
import type {
	Deployment,
	Host,
	MappedFile,
	Origin,
	OriginKind,
	Package,
	Process,
	ProcessState,
	RootKind,
	StatusDocument,
	Unit,
	Unlocked,
	Warning,
} from './document.js';
import {toKernel} from './kernel.js';

export interface BuildInput {
	scan: ScanResult;
	host: Host;
	warnings?: Warning[];
	generatedAt?: Date;
	scanDurationSeconds?: number;
}

export function buildDocument(input: BuildInput): StatusDocument {
	const {scan} = input;
	// One Origin object per distinct origin, shared by every file that has it.
	const origins = scan.origins.map(toOrigin);
	const processes = scan.processes.map(p => toProcess(p, scan, origins));
	const kernel = scan.kernel ? toKernel(scan.kernel) : undefined;
	// Counted by (device, inode): one libc mapped by 3000 processes is one stale file.
	const distinct = (keep: (f: MappedFile) => boolean) => new Set(processes.flatMap(p => p.files.filter(keep).map(f => `${f.dev}\0${f.ino}`))).size;
	const overlayFiles = new Set(scan.overlays.flatMap(o => o.files.map(f => `${o.mountPoint}\0${f.path}`)));
	return {
		schemaVersion: 1,
		generatedAt: (input.generatedAt ?? new Date()).toISOString(),
		// The kernel report reads the same /proc the scan did (--proc-root), so its release
		// and boot id win over the CLI process's own.
		host: scan.kernel ? {...input.host, kernelRelease: scan.kernel.runningRelease, bootId: scan.kernel.bootId ?? input.host.bootId ?? null} : input.host,
		sysroot: {path: scan.sysrootPath, repoMode: scan.repoMode ?? null, ostreeBooted: scan.ostreeBooted},
		deployments: scan.deployments.map(
			d =>
				({
					id: d.id,
					osname: d.osname,
					checksum: d.checksum,
					serial: d.serial,
					version: d.version ?? null,
					refspec: d.refspec ?? null,
					hasOrigin: d.hasOrigin,
					booted: d.booted,
					pending: d.pending,
					rollback: d.rollback,
					staged: d.staged,
					pinned: d.pinned,
					unlocked: d.unlocked as Unlocked,
					processCount: d.processCount,
					path: d.path,
					liveApply: d.liveApply ? {commit: d.liveApply.commit ?? null, inprogress: d.liveApply.inprogress ?? null} : null,
					composefs: d.composefs ? {image: d.composefs.image ?? null, digest: d.composefs.digest ?? null, mounted: d.composefs.mounted} : null,
				}) satisfies Deployment,
		),
		overlays: scan.overlays.map(o => ({
			mountPoint: o.mountPoint,
			device: o.device,
			lowerDeployment: o.lowerDeployment ?? null,
			upperDir: o.upperDir ?? null,
			sourceCommits: o.sourceCommits,
			files: o.files.map(f => ({path: f.path, objectChecksum: f.objectChecksum ?? null, commits: f.commits})),
		})),
		processes,
		units: [],
		summary: {
			processes: processes.length,
			processesNeedingRestart: processes.filter(p => p.needsRestart).length,
			unitsNeedingRestart: 0,
			staleFiles: distinct(f => f.staleReason !== null),
			overlayFiles: overlayFiles.size,
			untrackedFiles: distinct(f => f.origin.kind === 'untracked'),
			...(kernel ? {rebootNeeded: kernel.rebootNeeded} : {}),
			processesUnreadable: processes.filter(p => p.state === 'unknown').length,
		},
		warnings: [...scan.warnings.map(w => ({code: w.code, message: w.message, pid: w.pid ?? null})), ...(input.warnings ?? [])],
		...(kernel ? {kernel} : {}),
		...(input.scanDurationSeconds === undefined ? {} : {scanDurationSeconds: input.scanDurationSeconds}),
	};
}

function toProcess(p: ProcessOut, scan: ScanResult, origins: Origin[]): Process {
	const state = p.state as ProcessState;
	const unit = p.cgroupUnit ?? null;
	const files: MappedFile[] = [];
	for (let i = p.filesStart; i < p.filesStart + p.filesCount; i++) {
		files.push(toFile(scan, i, origins));
	}

	return {
		pid: p.pid,
		comm: p.comm,
		exe: p.exe ?? null,
		root: {kind: p.rootKind as RootKind, deployment: p.rootDeployment ?? null},
		unit,
		state,
		needsRestart: state === 'stale',
		files,
	};
}

function toOrigin(o: OriginOut): Origin {
	return {
		kind: o.kind as OriginKind,
		deployment: o.deployment ?? null,
		commit: o.commit ?? null,
		objectChecksum: o.objectChecksum ?? null,
		treePath: o.treePath ?? null,
		version: o.version ?? null,
		package: o.package ? toPackage(o.package) : null,
	};
}

export function toPackage(p: PackageOut): Package {
	return {
		name: p.name,
		version: p.version,
		arch: p.arch ?? null,
		manager: p.manager as Package['manager'],
		source: p.source ?? null,
		sourceVersion: p.sourceVersion ?? null,
	};
}

// File i of the scan's columns (see ScanResult in native/binding.d.ts).
function toFile(scan: ScanResult, i: number, origins: Origin[]): MappedFile {
	const path = scan.paths[scan.filePath[i]!]!;
	const flags = scan.fileFlags[i]!;
	const stale = scan.fileStale[i]!;
	const identical = scan.fileIdentical[i]!;
	return {
		path: path.text,
		dev: scan.devs[scan.fileDev[i]!]!,
		ino: scan.fileIno[i]!,
		deleted: (flags & 1) !== 0,
		superseded: (flags & 2) !== 0,
		origin: origins[scan.fileOrigin[i]!]!,
		...(path.base64 ? {pathBase64: path.base64} : {}),
		staleReason: stale === 0 ? null : scan.staleCodes[stale - 1]!,
		pathGone: (flags & 4) !== 0,
		identicalIn: identical === 0 ? null : scan.identicalDeployments[identical - 1]!,
	};
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
