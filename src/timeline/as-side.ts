// The timeline at one moment as a side of `livetree diff A @TIME`: the same groups (unit,
// else container, else command name) and the same spellings of their code as a status
// document gives (model/diff.ts), from the intervals open at that moment.
import {hostname} from 'node:os';
import type {TimelineAnswer} from '../../native/binding.js';
import {groupKey, type GroupKind, type GroupSummary, type Side} from '../model/diff.js';
import {iso} from './time.js';

export function timelineSide(answer: TimelineAnswer, at: number, source: string): Side {
	const members = new Map<
		string,
		{kind: GroupKind; name: string; processes: Set<number>; values: Record<'commits' | 'packages' | 'images' | 'overlayFiles', Set<string>>}
	>();
	const commitVersions = new Map<string, string | null>();
	for (const r of answer.rows) {
		const g: {kind: GroupKind; name: string} = r.unit
			? {kind: 'unit', name: r.unit}
			: r.container
				? {kind: 'container', name: r.container}
				: {kind: 'process', name: r.comm};
		const key = groupKey(g);
		const m = members.get(key) ?? {...g, processes: new Set(), values: {commits: new Set(), packages: new Set(), images: new Set(), overlayFiles: new Set()}};
		m.processes.add(r.processId);
		switch (r.kind) {
			case 'commit': {
				m.values.commits.add(r.key);
				if (!commitVersions.get(r.key)) commitVersions.set(r.key, r.label ?? null);
				break;
			}

			case 'package': {
				m.values.packages.add(r.key);
				break;
			}

			case 'image': {
				m.values.images.add(`image ${r.label ?? '?'} ${r.key}`);
				break;
			}

			case 'layer': {
				m.values.images.add(`layer ${r.key}`);
				break;
			}

			case 'overlay': {
				m.values.overlayFiles.add(r.key);
				break;
			}

			default: {
				break;
			}
		}

		members.set(key, m);
	}

	const groups = new Map<string, GroupSummary>(
		[...members].map(([key, m]) => [
			key,
			{
				kind: m.kind,
				name: m.name,
				processes: m.processes.size,
				needsRestart: null,
				commits: [...m.values.commits].sort(),
				packages: [...m.values.packages].sort(),
				images: [...m.values.images].sort(),
				overlayFiles: [...m.values.overlayFiles].sort(),
			},
		]),
	);
	return {info: {source, hostname: hostname(), generatedAt: iso(answer.scanBefore ?? at)!}, deployments: null, groups, commitVersions};
}
