// What a whole scan saw, as the timeline records it (native/core/src/catalog/timeline.rs):
// each process by PID and start time, its unit or container, and the distinct origins of
// its code. Pure: a document in, the observation out.
import type {Process, StatusDocument} from '../model/document.js';

export interface ObservedOrigin {
	kind: 'deployment' | 'commit' | 'overlay' | 'package' | 'image' | 'layer';
	key: string;
	label?: string;
}

export interface ObservedProcess {
	pid: number;
	startedAt?: number;
	comm: string;
	unit?: string;
	container?: string;
	readable: boolean;
	origins: ObservedOrigin[];
}

/** Epoch seconds of an ISO time; undefined when there is none or it does not parse. */
export function epochSeconds(iso: string | null | undefined): number | undefined {
	if (!iso) return undefined;
	const ms = Date.parse(iso);
	return Number.isNaN(ms) ? undefined : Math.floor(ms / 1000);
}

export function observeProcess(p: Process, versions: Map<string, string | null>): ObservedProcess {
	const origins = new Map<string, ObservedOrigin>();
	const add = (o: ObservedOrigin) => {
		origins.set(`${o.kind}\u0000${o.key}`, o);
	};

	const label = (v: string | null | undefined) => (v ? {label: v} : {});
	if (p.root.kind === 'deployment' && p.root.deployment) {
		add({kind: 'deployment', key: p.root.deployment, ...label(versions.get(p.root.deployment))});
	}

	const image = p.container?.image;
	if (image && (image.digest ?? image.id)) {
		add({kind: 'image', key: (image.digest ?? image.id)!, ...label(image.name)});
	}

	for (const f of p.files) {
		const o = f.origin;
		// An overlay file as `diff` names it (PATH@OBJECT); its source commit, when known, as a commit.
		if (o.kind === 'overlay') add({kind: 'overlay', key: o.objectChecksum ? `${f.path}@${o.objectChecksum}` : f.path, ...label(o.version)});
		if (o.commit) add({kind: 'commit', key: o.commit, ...label(o.version)});

		if (o.package) add({kind: 'package', key: `${o.package.name}=${o.package.version}`, ...label(o.package.manager)});
		if (o.layer) add({kind: 'layer', key: o.layer.diffDigest ?? o.layer.id});
	}

	const startedAt = epochSeconds(p.startedAt);
	return {
		pid: p.pid,
		...(startedAt === undefined ? {} : {startedAt}),
		comm: p.comm,
		...(p.unit ? {unit: p.unit} : {}),
		...(p.container ? {container: p.container.name ?? p.container.id} : {}),
		readable: !(p.state === 'unknown' && p.files.length === 0),
		origins: [...origins.values()],
	};
}

export function observe(doc: StatusDocument, processes: Process[]): ObservedProcess[] {
	const versions = new Map(doc.deployments.map(d => [d.id, d.version ?? null]));
	return processes.map(p => observeProcess(p, versions));
}
