// The packages report: which versions of which packages are in memory, in which
// processes and units, against the version installed in the tree that counts as installed
// (the booted deployment, else the default one, else the host root). Pure.
import type {Package, StatusDocument, Warning} from './document.js';

export interface PackageProcess {
	pid: number;
	comm: string;
	unit: string | null;
}

export interface RunningVersion {
	version: string;
	arch: string | null;
	sourceVersion: string | null;
	/** Whether this version differs from the installed one (or the package is no longer installed). */
	mismatch: boolean;
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
	installed: Array<{version: string; arch: string | null}>;
	mismatch: boolean;
}

export interface PackagesDocument {
	schemaVersion: 1;
	generatedAt: string;
	/** The tree whose versions count as installed: a deployment id, `host`, or null. */
	installedTree: string | null;
	packages: PackageEntry[];
	summary: {packages: number; mismatched: number; processes: number};
	warnings: Warning[];
}

export interface PackagesInput {
	doc: StatusDocument;
	installed: Package[];
	installedTree: string | null;
	/** Only these packages (by binary or source package name). */
	names?: string[];
}

export function buildPackages(input: PackagesInput): PackagesDocument {
	const {doc} = input;
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

			const vkey = `${key}\0${p.version}\0${p.arch ?? ''}`;
			let seen = versions.get(vkey);
			if (!seen) {
				seen = {v: {version: p.version, arch: p.arch, sourceVersion: p.sourceVersion, mismatch: false, processes: [], units: [], files: 0, staleFiles: 0}, pids: new Set()};
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
			.filter(i => i.name === entry.name && i.manager === entry.manager)
			.map(i => ({version: i.version, arch: i.arch}));
		for (const v of entry.running) {
			// Compared per architecture: libc6:amd64 and libc6:i386 are installed separately.
			const same = entry.installed.filter(i => i.arch === v.arch || i.arch === null || v.arch === null);
			v.mismatch = !same.some(i => i.version === v.version);
			v.units.sort();
		}

		entry.running.sort((a, b) => a.version.localeCompare(b.version) || (a.arch ?? '').localeCompare(b.arch ?? ''));
		entry.mismatch = entry.running.some(v => v.mismatch);
	}

	const packages = [...entries.values()].sort((a, b) => a.name.localeCompare(b.name) || a.manager.localeCompare(b.manager));
	return {
		schemaVersion: 1,
		generatedAt: doc.generatedAt,
		installedTree: input.installedTree,
		packages,
		summary: {
			packages: packages.length,
			mismatched: packages.filter(p => p.mismatch).length,
			processes: new Set(packages.flatMap(p => p.running.flatMap(v => v.processes.map(q => q.pid)))).size,
		},
		warnings: doc.warnings,
	};
}
