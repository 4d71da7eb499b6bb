// The v1 status document: the JSON contract of `livetree status --json`
// (schema/status.schema.json). Field names here are the contract; never rename one.
// tsc checks these types against the ones generated from the schema
// (status-document.generated.ts, `npm run gen:types`) in document.check.ts.

import type {Kernel} from './kernel-document.js';

export type RootKind = 'deployment' | 'host' | 'container' | 'foreign' | 'unknown';
export type ProcessState = 'current' | 'overlay' | 'stale' | 'foreign' | 'unknown';
export type OriginKind = 'deployment' | 'overlay' | 'catalog' | 'layer' | 'untracked';
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
	// Added: whether the deployment has an .origin file (ostree admin status prints
	// "origin: none" without one, "origin: <unknown origin type>" without a refspec in it).
	hasOrigin?: boolean;
	// Added: rpm-ostree apply-live state, null when the deployment was not live-applied.
	liveApply?: {commit: string | null; inprogress: string | null} | null;
	// The contract's composefs state: the EROFS image (null once gone), the expected digest
	// from the commit metadata, and whether a live mount of it was found; null without one.
	composefs?: Composefs | null;
	// The deployment's /etc against its commit's /usr/etc, as `ostree admin config-diff`
	// counts them; null when not readable.
	etc?: EtcCounts | null;
}

export interface EtcCounts {
	modified: number;
	added: number;
	removed: number;
}

export interface Composefs {
	image: string | null;
	digest: string | null;
	mounted: boolean;
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
	// For kind layer: the container image layer that provides the file.
	layer?: Layer | null;
}

/** The contract's origin.layer: the top-most container image layer holding the path. */
export interface Layer {
	id: string;
	diffDigest: string | null;
	inCurrentImage: boolean | null;
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

// Why a file makes its process stale, decided by the core (attribute::stale_reason).
// Known codes; consumers must accept codes added later.
export type StaleReason = 'deleted' | 'superseded' | 'removed-deployment' | 'unlinked' | 'other-commit' | 'image-outdated' | (string & {});

export interface MappedFile {
	path: string;
	dev: string;
	ino: number;
	// The bytes are gone: no link left anywhere (link count 0 through map_files).
	deleted: boolean;
	superseded: boolean;
	origin: Origin;
	pathBase64?: string;
	// The core's verdict for this file: null when it does not make the process stale.
	staleReason: StaleReason | null;
	// Added: the mapped name was unlinked, whether or not another link keeps the bytes.
	pathGone: boolean;
	// Added: a current deployment holding these very bytes at the same tree path.
	identicalIn: string | null;
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
	/** Its systemd cgroup path as /proc/PID/cgroup shows it to us; null when it has none. */
	cgroup?: string | null;
	state: ProcessState;
	needsRestart: boolean;
	files: MappedFile[];
	// For root.kind container: the container it runs in; null otherwise.
	container?: Container | null;
	// When it started (UTC), from /proc/PID/stat and the boot time.
	startedAt?: string | null;
	// Configuration it depends on that changed after it started.
	configChanges?: ConfigChange[];
	needsReload?: boolean;
}

export interface ContainerImage {
	id: string | null;
	digest: string | null;
	name: string | null;
	nameNowResolvesTo?: string | null;
}

export interface Container {
	engine: string;
	id: string;
	name: string | null;
	image: ContainerImage | null;
	imageOutdated: boolean | null;
	storageRoot?: string | null;
	// Added: the systemd service that runs the container (Quadlet, container-NAME.service).
	unit?: string | null;
}

export interface ConfigChange {
	path: string;
	changedAt: string;
	// conffile, open-file, unit-file; consumers must accept sources added later.
	source: string;
	package?: Package | null;
	// open-file: the held file is no longer the one at the path (absent otherwise).
	replaced?: boolean;
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
	// CanReload (ExecReload); null when the manager did not say.
	canReload?: boolean | null;
	needDaemonReload?: boolean;
	fragmentPath?: string | null;
	dropInPaths?: string[];
	// Some process of it has needsReload; how the changes are applied (null: none to apply).
	needsReload?: boolean;
	applyConfigBy?: 'reload' | 'restart' | null;
	// Its last reload (ExecReload), when asked (systemd/outside-reloads.ts); null: none ended.
	lastReload?: {at: string; succeeded: boolean} | null;
}

export interface Summary {
	processes: number;
	processesNeedingRestart: number;
	unitsNeedingRestart: number;
	// Distinct files (device and inode), not (process, file) pairs.
	staleFiles: number;
	overlayFiles: number;
	untrackedFiles: number;
	// kernel.rebootNeeded, when the kernel was inspected (status, exporter; not explain).
	rebootNeeded?: boolean;
	/** Processes whose maps could not be read (not root, exited mid-scan): state unknown. */
	processesUnreadable: number;
	// False when some user-space process could not be read: no verdict may then say that
	// nothing needs a restart.
	complete?: boolean;
	// Kernel threads seen and left out of processes[] and every count.
	kernelThreads?: number;
	containers?: number;
	containersOutdated?: number;
	processesNeedingReload?: number;
}

export type {Kernel, KernelReason, InstalledKernel, Livepatch} from './kernel-document.js';

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
	// The kernel: running, installed, expected after a reboot, live patches, the verdict.
	kernel?: Kernel;
	// Added: how long the scan took, for the exporter and the benchmark.
	scanDurationSeconds?: number;
}
