// The v1 status document: the JSON contract of `livetree status --json`
// (schema/status.schema.json). Field names here are the contract; never rename one.

export type RootKind = 'deployment' | 'host' | 'foreign' | 'unknown';
export type ProcessState = 'current' | 'overlay' | 'stale' | 'foreign' | 'unknown';
export type OriginKind = 'deployment' | 'overlay' | 'catalog' | 'untracked';
export type Unlocked = 'none' | 'development' | 'hotfix' | 'transient';

export interface Warning {
	code: string;
	message: string;
	pid?: number | null;
}

export interface Host {
	hostname: string;
	kernelRelease: string;
	bootId?: string | null;
}

export interface Sysroot {
	path: string;
	repoMode: string | null;
	ostreeBooted: boolean;
}

export interface Deployment {
	id: string;
	osname: string;
	checksum: string;
	serial: number;
	version?: string | null;
	refspec?: string | null;
	booted: boolean;
	pending: boolean;
	rollback: boolean;
	staged: boolean;
	pinned: boolean;
	unlocked: Unlocked;
	processCount: number;
	// Added by livetree beyond v1's required set: where the deployment lives.
	path?: string;
	// Added: rpm-ostree apply-live state, null when the deployment was not live-applied.
	liveApply?: {commit: string | null; inprogress: string | null} | null;
}

export interface OverlayFile {
	path: string;
	objectChecksum: string | null;
	commits: string[];
}

export interface Overlay {
	mountPoint: string;
	device: string;
	lowerDeployment: string | null;
	upperDir: string | null;
	sourceCommits: string[];
	files: OverlayFile[];
}

export interface Origin {
	kind: OriginKind;
	deployment?: string | null;
	commit?: string | null;
	objectChecksum?: string | null;
	treePath?: string | null;
	// Added: the commit's version, so a reader need not look it up.
	version?: string | null;
	package?: Package | null;
}

/** The contract's origin.package: who installed the file in the tree it came from. */
export interface Package {
	name: string;
	version: string;
	arch: string | null;
	manager: 'dpkg' | 'rpm';
	source: string | null;
	sourceVersion: string | null;
}

export interface MappedFile {
	path: string;
	dev: string;
	ino: number;
	deleted: boolean;
	superseded: boolean;
	origin: Origin;
	pathBase64?: string;
}

export interface ProcessRoot {
	kind: RootKind;
	deployment: string | null;
}

export interface Process {
	pid: number;
	comm: string;
	exe?: string | null;
	root: ProcessRoot;
	unit: string | null;
	state: ProcessState;
	needsRestart: boolean;
	files: MappedFile[];
}

export interface Unit {
	name: string;
	mainPid?: number | null;
	activeState: string;
	subState: string;
	result: string | null;
	nRestarts?: number | null;
	execMainStatus?: number | null;
	activeEnterTimestamp?: string | null;
	pids: number[];
	needsRestart: boolean;
	reasons?: string[];
}

export interface Summary {
	processes: number;
	processesNeedingRestart: number;
	unitsNeedingRestart: number;
	staleFiles: number;
	overlayFiles: number;
	untrackedFiles: number;
}

export interface StatusDocument {
	schemaVersion: 1;
	generatedAt: string;
	host: Host;
	sysroot: Sysroot;
	deployments: Deployment[];
	overlays: Overlay[];
	processes: Process[];
	units: Unit[];
	summary: Summary;
	warnings: Warning[];
	// Added: how long the scan took, for the exporter and the benchmark.
	scanDurationSeconds?: number;
}
