// `livetree diff A B`: what runs differently between two status documents (schema/diff.schema.json).
// Pure: documents in, a diff out. Processes are grouped by what names them across scans and
// hosts — their systemd unit, else their container, else their command name — since PIDs
// mean nothing across hosts or restarts. Each group's code is the set of its origins:
// commits, package versions, container images and layers, live-applied (overlay) files.
import type {Deployment, Process, StatusDocument} from './document.js';

/** A dimension of what a group runs: values only in A, only in B. */
export interface SetChange {
	onlyA: string[];
	onlyB: string[];
}

export type GroupKind = 'unit' | 'container' | 'process';

export interface GroupSummary {
	kind: GroupKind;
	name: string;
	processes: number;
	/** Null when the side does not know (the timeline records code, not verdicts). */
	needsRestart: boolean | null;
	commits: string[];
	packages: string[];
	images: string[];
	overlayFiles: string[];
}

export interface GroupChange {
	kind: GroupKind;
	name: string;
	processes: {a: number; b: number};
	needsRestart: {a: boolean | null; b: boolean | null};
	commits?: SetChange;
	packages?: SetChange;
	images?: SetChange;
	overlayFiles?: SetChange;
}

export interface DeploymentChange {
	id: string;
	fields: Array<{field: string; a: unknown; b: unknown}>;
}

export interface DiffSide {
	source: string;
	hostname: string;
	generatedAt: string;
}

export interface DiffDocument {
	schemaVersion: 1;
	a: DiffSide;
	b: DiffSide;
	differ: boolean;
	deployments: {added: Deployment[]; gone: Deployment[]; changed: DeploymentChange[]};
	groups: {added: GroupSummary[]; gone: GroupSummary[]; changed: GroupChange[]};
	/** Commit checksum → version, from either document, for readers of `commits`. */
	commitVersions: Record<string, string | null>;
	/** What was not compared, and why (a side from the timeline has no deployment list). */
	notes: string[];
}

/** One side of a diff: a status document, or the timeline at a time. */
export interface Side {
	info: DiffSide;
	/** Null: not known on this side (not compared). */
	deployments: Deployment[] | null;
	groups: Map<string, GroupSummary>;
	commitVersions: Map<string, string | null>;
}

const dimensions = ['commits', 'packages', 'images', 'overlayFiles'] as const;

/** The name a process goes by in both documents. */
export function groupOf(p: Process): {kind: GroupKind; name: string} {
	if (p.unit) return {kind: 'unit', name: p.unit};
	if (p.container) return {kind: 'container', name: p.container.name ?? p.container.id};
	return {kind: 'process', name: p.comm};
}

function summarise(kind: GroupKind, name: string, processes: Process[]): GroupSummary {
	const commits = new Set<string>();
	const packages = new Set<string>();
	const images = new Set<string>();
	const overlayFiles = new Set<string>();
	for (const p of processes) {
		const image = p.container?.image;
		if (image) images.add(`image ${image.name ?? '?'} ${image.digest ?? image.id ?? '?'}`);
		for (const f of p.files) {
			const o = f.origin;
			if (o.commit) commits.add(o.commit);
			if (o.package) packages.add(`${o.package.name}=${o.package.version}`);
			if (o.layer) images.add(`layer ${o.layer.diffDigest ?? o.layer.id}`);
			if (o.kind === 'overlay') overlayFiles.add(o.objectChecksum ? `${f.path}@${o.objectChecksum}` : f.path);
		}
	}

	const sorted = (s: Set<string>): string[] => [...s].sort();
	return {
		kind,
		name,
		processes: processes.length,
		needsRestart: processes.some(p => p.needsRestart),
		commits: sorted(commits),
		packages: sorted(packages),
		images: sorted(images),
		overlayFiles: sorted(overlayFiles),
	};
}

export function groupKey(g: {kind: GroupKind; name: string}): string {
	return `${g.kind}\u0000${g.name}`;
}

export function groups(doc: StatusDocument): Map<string, GroupSummary> {
	const members = new Map<string, {kind: GroupKind; name: string; processes: Process[]}>();
	for (const p of doc.processes) {
		const g = groupOf(p);
		const key = groupKey(g);
		const entry = members.get(key) ?? {...g, processes: []};
		entry.processes.push(p);
		members.set(key, entry);
	}

	return new Map([...members].map(([key, g]) => [key, summarise(g.kind, g.name, g.processes)]));
}

function setChange(a: string[], b: string[]): SetChange | undefined {
	const onlyA = a.filter(x => !b.includes(x));
	const onlyB = b.filter(x => !a.includes(x));
	return onlyA.length === 0 && onlyB.length === 0 ? undefined : {onlyA, onlyB};
}

const deploymentFields = ['booted', 'pending', 'rollback', 'staged', 'pinned', 'unlocked', 'version', 'refspec'] as const;

function deploymentChange(a: Deployment, b: Deployment): DeploymentChange | undefined {
	const fields: DeploymentChange['fields'] = [];
	for (const field of deploymentFields) {
		if ((a[field] ?? null) !== (b[field] ?? null)) fields.push({field, a: a[field] ?? null, b: b[field] ?? null});
	}

	const liveA = a.liveApply?.commit ?? null;
	const liveB = b.liveApply?.commit ?? null;
	if (liveA !== liveB) fields.push({field: 'liveApply', a: liveA, b: liveB});
	return fields.length === 0 ? undefined : {id: a.id, fields};
}

function side(doc: StatusDocument, source: string): DiffSide {
	return {source, hostname: doc.host.hostname, generatedAt: doc.generatedAt};
}

function byName(x: {kind: string; name: string}, y: {kind: string; name: string}): number {
	return x.kind === y.kind ? (x.name < y.name ? -1 : x.name > y.name ? 1 : 0) : x.kind < y.kind ? 1 : -1;
}

export function documentSide(doc: StatusDocument, source: string): Side {
	const commitVersions = new Map<string, string | null>();
	for (const d of doc.deployments) commitVersions.set(d.checksum, d.version ?? null);
	for (const p of doc.processes) {
		for (const f of p.files) {
			if (f.origin.commit && !commitVersions.get(f.origin.commit)) commitVersions.set(f.origin.commit, f.origin.version ?? null);
		}
	}

	return {info: side(doc, source), deployments: doc.deployments, groups: groups(doc), commitVersions};
}

export function diffDocuments(a: StatusDocument, b: StatusDocument, sources: {a: string; b: string}): DiffDocument {
	return diffSides(documentSide(a, sources.a), documentSide(b, sources.b));
}

export function diffSides(a: Side, b: Side): DiffDocument {
	const notes: string[] = [];
	const deployments: DiffDocument['deployments'] = {added: [], gone: [], changed: []};
	if (a.deployments && b.deployments) {
		const depA = new Map(a.deployments.map(d => [d.id, d]));
		const depB = new Map(b.deployments.map(d => [d.id, d]));
		deployments.added = b.deployments.filter(d => !depA.has(d.id));
		deployments.gone = a.deployments.filter(d => !depB.has(d.id));
		deployments.changed = a.deployments.flatMap(d => {
			const other = depB.get(d.id);
			const change = other ? deploymentChange(d, other) : undefined;
			return change ? [change] : [];
		});
	} else {
		notes.push('deployments are not compared: the timeline records what processes ran, not the list of deployments');
	}

	const ga = a.groups;
	const gb = b.groups;
	const changed: GroupChange[] = [];
	for (const [key, x] of ga) {
		const y = gb.get(key);
		if (!y) continue;
		const change: GroupChange = {
			kind: x.kind,
			name: x.name,
			processes: {a: x.processes, b: y.processes},
			needsRestart: {a: x.needsRestart, b: y.needsRestart},
		};
		// A side that does not know (null) is no difference.
		let differs = x.needsRestart !== null && y.needsRestart !== null && x.needsRestart !== y.needsRestart;
		for (const dimension of dimensions) {
			const c = setChange(x[dimension], y[dimension]);
			if (c) {
				change[dimension] = c;
				differs = true;
			}
		}

		if (differs) changed.push(change);
	}

	const groupsDiff: DiffDocument['groups'] = {
		added: [...gb].filter(([key]) => !ga.has(key)).map(([, g]) => g),
		gone: [...ga].filter(([key]) => !gb.has(key)).map(([, g]) => g),
		changed,
	};
	for (const list of [groupsDiff.added, groupsDiff.gone, groupsDiff.changed]) list.sort(byName);
	const commitVersions: Record<string, string | null> = {};
	for (const side of [a, b]) {
		for (const [commit, version] of side.commitVersions) {
			if (!commitVersions[commit]) commitVersions[commit] = version;
		}
	}

	const differ =
		deployments.added.length + deployments.gone.length + deployments.changed.length + groupsDiff.added.length + groupsDiff.gone.length + changed.length > 0;
	return {schemaVersion: 1, a: a.info, b: b.info, differ, deployments, groups: groupsDiff, commitVersions, notes};
}

/**
 * Whether VALUE is a status document in the shape diff reads (schema/status.schema.json's
 * required parts); the reason when it is not.
 */
export function notStatusDocument(value: unknown): string | undefined {
	if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'not a JSON object';
	const v = value as Record<string, unknown>;
	if (v['schemaVersion'] !== 1) return 'no schemaVersion 1 (not a `livetree status --json` document)';
	if (typeof v['generatedAt'] !== 'string') return 'no generatedAt';
	const host = v['host'] as Record<string, unknown> | undefined;
	if (typeof host !== 'object' || host === null || typeof host['hostname'] !== 'string') return 'no host.hostname';
	for (const key of ['deployments', 'processes', 'units'] as const) {
		if (!Array.isArray(v[key])) return `no ${key} array`;
	}

	for (const p of v['processes'] as unknown[]) {
		const q = p as Record<string, unknown> | null;
		if (typeof q !== 'object' || q === null || typeof q['comm'] !== 'string' || !Array.isArray(q['files'])) {
			return 'a process without comm or files';
		}

		for (const f of q['files'] as unknown[]) {
			const origin = (f as Record<string, unknown> | null)?.['origin'];
			if (typeof origin !== 'object' || origin === null) return `a mapped file of process ${String(q['pid'])} without an origin`;
		}
	}

	for (const d of v['deployments'] as unknown[]) {
		const e = d as Record<string, unknown> | null;
		if (typeof e !== 'object' || e === null || typeof e['id'] !== 'string' || typeof e['checksum'] !== 'string') {
			return 'a deployment without id or checksum';
		}
	}

	return undefined;
}
