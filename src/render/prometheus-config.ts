// Configuration changed since start, as metrics: how many processes need a reload, and per
// unit whether one of its processes does (units bound the series; never per PID or path).
import type {StatusDocument} from '../model/document.js';
import type {Family} from './exposition.js';

export function configFamilies(doc: StatusDocument): Family[] {
	const units = new Map<string, number>();
	for (const p of doc.processes) {
		if (!p.unit) continue;
		units.set(p.unit, (units.get(p.unit) ?? 0) + (p.needsReload ? 1 : 0));
	}
	return [
		{
			name: 'livetree_processes_needing_reload',
			help: 'Processes whose configuration (package conffiles, files held open under /etc) changed after they started.',
			type: 'gauge',
			samples: [{value: doc.summary.processesNeedingReload ?? 0}],
		},
		{
			name: 'livetree_unit_processes_needing_reload',
			help: 'Processes of a systemd unit whose configuration changed after they started.',
			type: 'gauge',
			samples: [...units].map(([unit, value]) => ({labels: {unit}, value})),
		},
	];
}
