// What now stands where a process's replaced file was: the overlay layer (and the commit
// that supplied it) or the deployment's own commit. Words only; whether the file is stale
// is the core's decision, carried in the document.
import type {MappedFile, Process, StatusDocument} from '../model/document.js';
import {treePathOf} from './reason.js';
import {short} from './short.js';

export function replacedBy(doc: StatusDocument, p: Process, f: MappedFile): string | undefined {
	if (!f.superseded || p.root.kind !== 'deployment') {
		return undefined;
	}

	const tree = f.origin.treePath ?? treePathOf(f.path);
	const deployment = doc.deployments.find(d => d.id === p.root.deployment);
	for (const o of doc.overlays) {
		const layer = o.lowerDeployment === p.root.deployment ? o.files.find(x => x.path === tree) : undefined;
		if (layer) {
			const mount = deployment?.path && o.mountPoint.startsWith(`${deployment.path}/`) ? o.mountPoint.slice(deployment.path.length) : o.mountPoint;
			const commit = layer.commits[0];
			return commit
				? `now the overlay on ${mount} with commit ${short(commit)}${versionOf(doc, commit)}`
				: `now a hotfix in the overlay on ${mount} (no known commit)`;
		}
	}

	if (deployment && f.origin.commit && f.origin.commit !== deployment.checksum) {
		return `now commit ${short(deployment.checksum)}${deployment.version ? ` (${deployment.version})` : ''}`;
	}

	return undefined;
}

export function versionOf(doc: StatusDocument, commit: string): string {
	const version =
		doc.deployments.find(d => d.checksum === commit)?.version ?? doc.processes.flatMap(p => p.files).find(f => f.origin.commit === commit)?.origin.version;
	return version ? ` (${version})` : '';
}

// A removed deployment's version is its commit's, which its own files still carry
// (`OSNAME/CHECKSUM.SERIAL`: the commit is matched whole, never by substring).
export function removedDeploymentVersion(id: string, files: readonly MappedFile[]): string | undefined {
	const leaf = id.slice(id.indexOf('/') + 1);
	const commit = leaf.slice(0, leaf.indexOf('.'));
	return files.find(f => f.origin.commit === commit)?.origin.version ?? undefined;
}
