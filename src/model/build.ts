// Build the v1 status document from a native scan, host facts and systemd units.
// Pure: everything it needs is passed in, so tests can build documents from fixtures.
import type {OriginOut, PackageOut, ProcessOut, ScanResult} from '../native.js';
import type {
	Deployment, Host, MappedFile, Origin, OriginKind, Package, Process, ProcessState, RootKind,
	StatusDocument, Unit, Unlocked, Warning,
} from './document.js';

export interface BuildInput {
	scan: ScanResult;
	host: Host;
	units: Unit[];
	warnings?: Warning[];
	generatedAt?: Date;
	scanDurationSeconds?: number;
}

export function buildDocument(input: BuildInput): StatusDocument {
	const {scan} = input;
	// One Origin object per distinct origin, shared by every file that has it.
	const origins = scan.origins.map(toOrigin);
	const processes = scan.processes.map(p => toProcess(p, input.units, scan, origins));
	const files = processes.flatMap(p => p.files);
	const overlayFiles = new Set(scan.overlays.flatMap(o => o.files.map(f => `${o.mountPoint}\0${f.path}`)));
	return {
		schemaVersion: 1,
		generatedAt: (input.generatedAt ?? new Date()).toISOString(),
		host: input.host,
		sysroot: {path: scan.sysrootPath, repoMode: scan.repoMode ?? null, ostreeBooted: scan.ostreeBooted},
		deployments: scan.deployments.map(d => ({
			id: d.id,
			osname: d.osname,
			checksum: d.checksum,
			serial: d.serial,
			version: d.version ?? null,
			refspec: d.refspec ?? null,
			booted: d.booted,
			pending: d.pending,
			rollback: d.rollback,
			staged: d.staged,
			pinned: d.pinned,
			unlocked: d.unlocked as Unlocked,
			processCount: d.processCount,
			path: d.path,
			liveApply: d.liveApply ? {commit: d.liveApply.commit ?? null, inprogress: d.liveApply.inprogress ?? null} : null,
		} satisfies Deployment)),
		overlays: scan.overlays.map(o => ({
			mountPoint: o.mountPoint,
			device: o.device,
			lowerDeployment: o.lowerDeployment ?? null,
			upperDir: o.upperDir ?? null,
			sourceCommits: o.sourceCommits,
			files: o.files.map(f => ({path: f.path, objectChecksum: f.objectChecksum ?? null, commits: f.commits})),
		})),
		processes,
		units: input.units,
		summary: {
			processes: processes.length,
			processesNeedingRestart: processes.filter(p => p.needsRestart).length,
			unitsNeedingRestart: input.units.filter(u => u.needsRestart).length,
			staleFiles: files.filter(f => f.deleted || f.superseded).length,
			overlayFiles: overlayFiles.size,
			untrackedFiles: files.filter(f => f.origin.kind === 'untracked').length,
		},
		warnings: [
			...scan.warnings.map(w => ({code: w.code, message: w.message, pid: w.pid ?? null})),
			...(input.warnings ?? []),
		],
		...(input.scanDurationSeconds === undefined ? {} : {scanDurationSeconds: input.scanDurationSeconds}),
	};
}

function toProcess(p: ProcessOut, units: Unit[], scan: ScanResult, origins: Origin[]): Process {
	const state = p.state as ProcessState;
	const unit = units.find(u => u.pids.includes(p.pid))?.name ?? p.cgroupUnit ?? null;
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
	return {
		path: path.text,
		dev: scan.devs[scan.fileDev[i]!]!,
		ino: scan.fileIno[i]!,
		deleted: (flags & 1) !== 0,
		superseded: (flags & 2) !== 0,
		origin: origins[scan.fileOrigin[i]!]!,
		...(path.base64 ? {pathBase64: path.base64} : {}),
	};
}

/** The same document with systemd's units: each process's unit, and the unit summary. */
export function withUnits(doc: StatusDocument, units: Unit[], warnings: Warning[]): StatusDocument {
	const unitOf = new Map(units.flatMap(u => u.pids.map(pid => [pid, u.name] as const)));
	for (const p of doc.processes) {
		p.unit = unitOf.get(p.pid) ?? p.unit;
	}

	doc.units = units;
	doc.summary.unitsNeedingRestart = units.filter(u => u.needsRestart).length;
	doc.warnings.push(...warnings);
	return doc;
}
