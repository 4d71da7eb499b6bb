// Containers that tell the same story are one entry of the text report: 200 containers of
// one image whose tag moved, each running 5 × sleep on the same stale layer, read as one
// fact ("5 × sleep in each of 200 containers (image …): …"), not 200 entries that differ
// by a name and five PIDs.
//
// Two containers fold only when their entries would say the same thing but for their name,
// ID and PIDs: the same engine and store, the same image (name, ID, digest) and what its
// name points to now, the same unit situation, and the same processes — command, unit,
// count, whether each needs a restart and every stale file's words (path, layer, package,
// reason), not only the first one a group line names. Anything else keeps a container its
// own entry. An unidentified container's processes are never folded with another's.
import type {Container, Process} from '../model/document.js';
import {groupProcesses} from './groups.js';
import {staleWords} from './reason.js';

export interface ContainerProcs {
	c: Container | null;
	procs: Process[];
}

// The containers of one entry, in order of first appearance; most often one.
export type ContainerEntry = ContainerProcs[];

// What an entry says of a container, without its name, ID or PIDs; undefined: never folds.
function signature(x: ContainerProcs, why: (p: Process) => string): string | undefined {
	const {c} = x;
	if (!c) {
		return undefined;
	}

	const groups = groupProcesses(x.procs, p => JSON.stringify([why(p), p.needsRestart, staleWords(p)]))
		.map(g => JSON.stringify([g.comm, g.unit, g.why, g.pids.length]))
		.sort();
	return JSON.stringify([c.engine, c.storageRoot, c.image, c.imageOutdated, c.unit, groups]);
}

// Entries in order of first appearance, then the largest first (a stable sort: single
// containers keep the order they had).
export function foldContainers(containers: readonly ContainerProcs[], why: (p: Process) => string): ContainerEntry[] {
	const entries: ContainerEntry[] = [];
	const bySignature = new Map<string, ContainerEntry>();
	for (const x of containers) {
		const key = signature(x, why);
		const entry = key === undefined ? undefined : bySignature.get(key);
		if (entry) {
			entry.push(x);
			continue;
		}

		const fresh = [x];
		entries.push(fresh);
		if (key !== undefined) {
			bySignature.set(key, fresh);
		}
	}

	return entries.sort((a, b) => b.length - a.length);
}
