// Container metrics: how many containers run, which run an image their name no longer
// points to, and how many of each container's processes need a restart. One series per
// container, labelled by engine and name (a container's ID changes each time it is
// created again; its name does not), so the series stay bounded and survive a recreate.
import type {Container, StatusDocument} from '../model/document.js';
import {containerName} from './containers-text.js';
import type {Family} from './exposition.js';

interface Seen {
	c: Container;
	processes: number;
	needing: number;
}

export function containerFamilies(doc: StatusDocument): Family[] {
	const seen = new Map<string, Seen>();
	for (const p of doc.processes) {
		const c = p.container;
		if (!c) {
			continue;
		}

		const key = `${c.engine}\0${containerName(c)}`;
		const s = seen.get(key) ?? {c, processes: 0, needing: 0};
		s.processes += 1;
		s.needing += p.needsRestart ? 1 : 0;
		seen.set(key, s);
	}

	const labels = (c: Container) => ({engine: c.engine, container: containerName(c)});
	const all = [...seen.values()];
	return [
		{
			name: 'livetree_containers',
			help: 'Containers with at least one scanned process.',
			type: 'gauge',
			samples: [{value: doc.summary.containers ?? all.length}],
		},
		{
			name: 'livetree_containers_image_outdated',
			help: 'Containers whose image name now points to another image (the tag moved on) or to none.',
			type: 'gauge',
			samples: [{value: doc.summary.containersOutdated ?? all.filter(s => s.c.imageOutdated === true).length}],
		},
		{
			name: 'livetree_container_image_outdated',
			help: 'Whether the container runs an image its image name no longer points to (1) or not (0); absent when unknown.',
			type: 'gauge',
			samples: all
				.filter(s => s.c.imageOutdated !== null)
				.map(s => ({labels: {...labels(s.c), image: s.c.image?.name ?? ''}, value: s.c.imageOutdated ? 1 : 0})),
		},
		{
			name: 'livetree_container_processes',
			help: 'Scanned processes of the container.',
			type: 'gauge',
			samples: all.map(s => ({labels: labels(s.c), value: s.processes})),
		},
		{
			name: 'livetree_container_processes_needing_restart',
			help: 'Processes of the container that map stale code (deleted, replaced, or from an image layer its name no longer includes).',
			type: 'gauge',
			samples: all.map(s => ({labels: labels(s.c), value: s.needing})),
		},
	];
}
