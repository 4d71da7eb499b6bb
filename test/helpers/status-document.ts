// A small handwritten status document for renderer and exporter tests, checked
// against the v1 JSON schema so the tests never run on a shape the CLI cannot emit.
// The summary is derived from the processes, not typed in, so it stays consistent.
import type {Deployment, MappedFile, Process, ProcessState, StatusDocument, Unit, Warning} from '../../src/model/document.js';
import {schemaErrors} from './schema.js';

// Both schemas: the shared contract and the copy livetree ships.
export function validateDocument(doc: StatusDocument): string[] {
	return schemaErrors(doc);
}

const checksumA = `${'a'.repeat(63)}1`;
const checksumB = `${'b'.repeat(63)}2`;

export interface DocumentInput {
	states?: ProcessState[];
	deployments?: Array<Partial<Deployment>>;
	units?: Array<Partial<Unit> & {name: string}>;
	warnings?: Warning[];
	overlays?: number;
	scanDurationSeconds?: number;
	generatedAt?: Date;
}

function file(path: string, ino: number, kind: MappedFile['origin']['kind'], stale: boolean): MappedFile {
	return {
		path,
		dev: '0:42',
		ino,
		deleted: stale,
		superseded: false,
		origin: kind === 'untracked' ? {kind} : {kind, deployment: `debian/${checksumA}.0`, commit: checksumA},
		staleReason: stale ? 'deleted' : null,
		pathGone: stale,
		identicalIn: null,
	};
}

export function makeDocument(input: DocumentInput = {}): StatusDocument {
	const states = input.states ?? ['current', 'stale', 'current', 'stale', 'overlay', 'stale', 'unknown'];
	const unitInputs = input.units ?? [{name: 'sshd.service'}, {name: 'cron.service'}];
	const processes: Process[] = states.map((state, index) => {
		const pid = 1000 + index;
		const unit = unitInputs.length > 0 ? unitInputs[index % unitInputs.length]!.name : null;
		const files =
			state === 'unknown'
				? []
				: [
						file('/usr/lib/x86_64-linux-gnu/libc.so.6', 100 + index, 'deployment', state === 'stale'),
						file(`/opt/tool-${index}`, 500 + index, state === 'overlay' ? 'overlay' : 'untracked', false),
					];
		return {
			pid,
			comm: `proc${index}`,
			exe: '/usr/bin/sleep',
			root: {kind: state === 'foreign' ? 'foreign' : 'deployment', deployment: state === 'foreign' ? null : `debian/${checksumA}.0`},
			unit,
			state,
			needsRestart: state === 'stale',
			files,
		};
	});
	const units: Unit[] = unitInputs.map(u => {
		const pids = processes.filter(p => p.unit === u.name).map(p => p.pid);
		return {
			activeState: 'active',
			subState: 'running',
			result: 'success',
			mainPid: pids[0] ?? null,
			pids,
			needsRestart: processes.some(p => p.unit === u.name && p.needsRestart),
			...u,
		};
	});
	const deploymentInputs = input.deployments ?? [
		{osname: 'debian', checksum: checksumA, serial: 0, version: '12.1', booted: true},
		{osname: 'debian', checksum: checksumB, serial: 0, version: '12.2', staged: true, pending: true},
	];
	const deployments: Deployment[] = deploymentInputs.map(d => {
		const osname = d.osname ?? 'debian';
		const checksum = d.checksum ?? checksumA;
		const serial = d.serial ?? 0;
		const id = d.id ?? `${osname}/${checksum}.${serial}`;
		return {
			id,
			osname,
			checksum,
			serial,
			version: null,
			refspec: `${osname}/stable`,
			booted: false,
			pending: false,
			rollback: false,
			staged: false,
			pinned: false,
			unlocked: 'none',
			processCount: processes.filter(p => p.root.deployment === id).length,
			...d,
		};
	});
	const overlays = Array.from({length: input.overlays ?? 1}, (_, index) => ({
		mountPoint: `/usr/local/overlay${index}`,
		device: `0:${50 + index}`,
		lowerDeployment: deployments[0]?.id ?? null,
		upperDir: `/var/lib/overlay${index}/upper`,
		sourceCommits: [],
		files: [{path: `/opt/tool-${index}`, objectChecksum: null, commits: []}],
	}));
	const files = processes.flatMap(p => p.files);
	return {
		schemaVersion: 1,
		generatedAt: (input.generatedAt ?? new Date('2025-01-02T03:04:05.250Z')).toISOString(),
		host: {hostname: 'testhost', kernelRelease: '6.1.0-test', bootId: null},
		sysroot: {path: '/', repoMode: 'bare', ostreeBooted: true},
		deployments,
		overlays,
		processes,
		units,
		summary: {
			processes: processes.length,
			processesNeedingRestart: processes.filter(p => p.needsRestart).length,
			unitsNeedingRestart: units.filter(u => u.needsRestart).length,
			staleFiles: files.filter(f => f.deleted || f.superseded).length,
			overlayFiles: overlays.reduce((n, o) => n + o.files.length, 0),
			untrackedFiles: files.filter(f => f.origin.kind === 'untracked').length,
			processesUnreadable: processes.filter(p => p.state === 'unknown').length,
			complete: processes.every(p => p.state !== 'unknown'),
		},
		warnings: input.warnings ?? [
			{code: 'EACCES', message: 'cannot read maps', pid: 1006},
			{code: 'EACCES', message: 'cannot read maps', pid: 1007},
			{code: 'VANISHED', message: 'process exited during the scan', pid: 1010},
		],
		scanDurationSeconds: input.scanDurationSeconds ?? 0.125,
	};
}

// The strings that break naive exposition writers: quotes, backslashes, newlines,
// a systemd-escaped unit name, non-ASCII text and a brace.
export const hostile = {
	version: 'he said "hi"\nthen left \\o/ {x="y"} — ünïcode',
	unit: 'dev-disk-by\\x2duuid-1234\\x2d5678.device',
	unitQuote: 'weird"unit\nname.service',
	warningCode: 'CODE"WITH\\BACKSLASH\nAND NEWLINE',
};

export function hostileDocument(): StatusDocument {
	return makeDocument({
		deployments: [{osname: 'de"b\\ian', checksum: checksumA, version: hostile.version, booted: true}],
		units: [{name: hostile.unit}, {name: hostile.unitQuote}],
		warnings: [{code: hostile.warningCode, message: 'x'}],
	});
}
