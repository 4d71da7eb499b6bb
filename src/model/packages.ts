// The packages report: which versions of which packages are in memory, in which
// processes and units, against the version installed in the tree that counts as installed
// (the booted deployment, else the default one, else the host root; for a container, the
// image its image name resolves to now). Pure.
import {complete} from './complete.js';
import type {Container, Package, Process, StatusDocument, Warning} from './document.js';

export interface PackageProcess {
	pid: number;
	comm: string;
	unit: string | null;
}

/** The container a running version's processes run in, and what its version is compared with. */
export interface RunningContainer {
	engine: string;
	id: string;
	name: string | null;
	/** The image name it was created from (null: created from an image ID). */
	imageName: string | null;
	/** The image it runs. */
	image: string | null;
	/** The image whose own package database gives `installedVersions`: the one its image name resolves to now; null when none is compared (`uncompared` says why). */
	comparedImage: string | null;
	uncompared: string | null;
}

export interface RunningVersion {
	version: string;
	/** The tree its processes count as installed from: a deployment id, `host`, `container:ID` (the image that container's name resolves to now), or null where nothing is compared (foreign roots, a container whose image name resolves to no image). */
	tree: string | null;
	/** For processes in a container: which one (one entry per container). */
	container?: RunningContainer;
	arch: string | null;
	sourceVersion: string | null;
	/** Whether this version differs from the installed one (or the package is no longer installed). */
	mismatch: boolean;
	/** The versions it is compared with: installed in its tree, for its architecture. */
	installedVersions: string[];
	processes: PackageProcess[];
	units: string[];
	/** Mapped files of this version, and how many of them are deleted or replaced on disk. */
	files: number;
	staleFiles: number;
}

export interface PackageEntry {
	name: string;
	manager: Package['manager'];
	source: string | null;
	running: RunningVersion[];
	installed: Array<{version: string; arch: string | null; tree: string}>;
	mismatch: boolean;
}

export interface PackagesDocument {
	schemaVersion: 1;
	generatedAt: string;
	/** The deployment whose versions count as installed for processes in deployments (the booted, else the default one); null without deployments. Processes in the host root count against `host`. */
	installedTree: string | null;
	packages: PackageEntry[];
	summary: {
		packages: number;
		mismatched: number;
		processes: number;
		/** Processes the scan could not read: which packages they run is unknown. */
		processesUnreadable: number;
		/** Every process was read; false means "nothing mismatched" is not a clean answer. */
		complete: boolean;
	};
	warnings: Warning[];
}

export interface PackagesInput {
	doc: StatusDocument;
	installed: Array<{tree: string; package: Package}>;
	/** The container trees (`container:ID`) the scan read a database for. */
	compared?: string[];
	/** Only these packages (by binary or source package name). */
	names?: string[];
}

export function buildPackages(input: PackagesInput): PackagesDocument {
	const {doc} = input;
	const installedTree = (doc.deployments.find(d => d.booted) ?? doc.deployments[0])?.id ?? null;
	const entries = new Map<string, PackageEntry>();
	const versions = new Map<string, {v: RunningVersion; pids: Set<number>}>();
	const wanted = (p: Package) => !input.names?.length || input.names.includes(p.name) || (p.source !== null && input.names.includes(p.source));
	for (const proc of doc.processes) {
		for (const f of proc.files) {
			const p = f.origin.package;
			if (!p || !wanted(p)) {
				continue;
			}

			const key = `${p.manager}\0${p.name}`;
			let entry = entries.get(key);
			if (!entry) {
				entry = {name: p.name, manager: p.manager, source: p.source, running: [], installed: [], mismatch: false};
				entries.set(key, entry);
			}

			const container = proc.container ? runningContainer(proc.container, input.compared ?? []) : undefined;
			const tree = treeOf(proc, installedTree, container);
			const vkey = `${key}\0${p.version}\0${p.arch ?? ''}\0${tree ?? ''}\0${container?.id ?? ''}`;
			let seen = versions.get(vkey);
			if (!seen) {
				seen = {
					v: {
						version: p.version,
						tree,
						arch: p.arch,
						sourceVersion: p.sourceVersion,
						mismatch: false,
						installedVersions: [],
						processes: [],
						units: [],
						files: 0,
						staleFiles: 0,
						...(container ? {container} : {}),
					},
					pids: new Set(),
				};
				versions.set(vkey, seen);
				entry.running.push(seen.v);
			}

			const {v, pids} = seen;

			v.files++;
			if (f.deleted || f.superseded) {
				v.staleFiles++;
			}

			if (!pids.has(proc.pid)) {
				pids.add(proc.pid);
				v.processes.push({pid: proc.pid, comm: proc.comm, unit: proc.unit});
				if (proc.unit && !v.units.includes(proc.unit)) {
					v.units.push(proc.unit);
				}
			}
		}
	}

	for (const entry of entries.values()) {
		entry.installed = input.installed
			.filter(i => i.package.name === entry.name && i.package.manager === entry.manager)
			.map(i => ({version: i.package.version, arch: i.package.arch, tree: i.tree}));
		for (const v of entry.running) {
			// Compared within the tree the processes count against, per architecture
			// (libc6:amd64 and libc6:i386 are installed separately). A foreign root, or a
			// container whose image is not compared, has no installed tree here: never a
			// mismatch.
			const same = entry.installed.filter(i => i.tree === v.tree && (i.arch === v.arch || i.arch === null || v.arch === null));
			v.installedVersions = [...new Set(same.map(i => i.version))];
			v.mismatch = v.tree !== null && !v.installedVersions.includes(v.version);
			v.units.sort();
		}

		entry.running.sort(
			(a, b) =>
				a.version.localeCompare(b.version) ||
				(a.arch ?? '').localeCompare(b.arch ?? '') ||
				(a.container?.name ?? a.container?.id ?? '').localeCompare(b.container?.name ?? b.container?.id ?? ''),
		);
		entry.mismatch = entry.running.some(v => v.mismatch);
	}

	const packages = [...entries.values()].sort((a, b) => a.name.localeCompare(b.name) || a.manager.localeCompare(b.manager));
	return {
		schemaVersion: 1,
		generatedAt: doc.generatedAt,
		installedTree,
		packages,
		summary: {
			packages: packages.length,
			mismatched: packages.filter(p => p.mismatch).length,
			processes: new Set(packages.flatMap(p => p.running.flatMap(v => v.processes.map(q => q.pid)))).size,
			processesUnreadable: doc.summary.processesUnreadable,
			complete: complete(doc),
		},
		warnings: doc.warnings,
	};
}

/** The tree a process's versions count as installed from. */
function treeOf(proc: Process, installedTree: string | null, container: RunningContainer | undefined): string | null {
	if (container) {
		return container.comparedImage === null ? null : `container:${container.id}`;
	}

	return proc.root.kind === 'host' ? 'host' : proc.root.kind === 'deployment' ? installedTree : null;
}

/** A container as the packages report names it, with what its versions are compared with. */
function runningContainer(c: Container, compared: string[]): RunningContainer {
	const now = c.image?.nameNowResolvesTo ?? null;
	const read = compared.includes(`container:${c.id}`);
	let uncompared: string | null = null;
	if (!c.image?.name) {
		uncompared = c.image ? 'created from an image ID: no image name to follow' : 'its image is not known';
	} else if (now === null) {
		uncompared = `its image name ${c.image.name} resolves to no image now`;
	} else if (!read) {
		uncompared = `the package database of image ${now} (what ${c.image.name} resolves to now) could not be read`;
	}

	return {
		engine: c.engine,
		id: c.id,
		name: c.name,
		imageName: c.image?.name ?? null,
		image: c.image?.id ?? null,
		comparedImage: uncompared === null ? now : null,
		uncompared,
	};
}
