// Build the v1 status document from a native scan, host facts and systemd units.
// Pure: everything it needs is passed in, so tests can build documents from fixtures.
import type {ScanResult, FileOut, ProcessOut} from '../native.js';
import type {
	Deployment, Host, MappedFile, Origin, OriginKind, Process, ProcessState, RootKind,
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
	const processes = scan.processes.map(p => toProcess(p, input.units));
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

function toProcess(p: ProcessOut, units: Unit[]): Process {
	const state = p.state as ProcessState;
	const unit = units.find(u => u.pids.includes(p.pid))?.name ?? p.cgroupUnit ?? null;
	return {
		pid: p.pid,
		comm: p.comm,
		exe: p.exe ?? null,
		root: {kind: p.rootKind as RootKind, deployment: p.rootDeployment ?? null},
		unit,
		state,
		needsRestart: state === 'stale',
		files: p.files.map(toFile),
	};
}

function toFile(f: FileOut): MappedFile {
	const origin: Origin = {
		kind: f.origin.kind as OriginKind,
		deployment: f.origin.deployment ?? null,
		commit: f.origin.commit ?? null,
		objectChecksum: f.origin.objectChecksum ?? null,
		treePath: f.origin.treePath ?? null,
		version: f.origin.version ?? null,
	};
	return {
		path: f.path,
		dev: f.dev,
		ino: f.ino,
		deleted: f.deleted,
		superseded: f.superseded,
		origin,
		...(f.pathBase64 ? {pathBase64: f.pathBase64} : {}),
	};
}
