// Configuration changed since start, as metrics: how many processes need a reload, and per
// unit whether one of its processes does (units bound the series; never per PID or path).
import type {StatusDocument} from '../model/document.js';
import type {Family} from './exposition.js';
import {processUnits} from '../model/process-units.js';

export function configFamilies(doc: StatusDocument): Family[] {
	return [
		{
			name: 'livetree_processes_needing_reload',
			help: 'Processes whose configuration (package conffiles, files held open under /etc) changed after they started.',
			type: 'gauge',
			samples: [{value: doc.summary.processesNeedingReload ?? 0}],
		},
		{
			name: 'livetree_unit_processes_needing_reload',
			help: "Processes of a systemd unit whose configuration changed after they started (without systemd's answer, the units the processes' cgroups name).",
			type: 'gauge',
			samples: processUnits(doc).map(u => ({labels: {unit: u.name}, value: u.processesNeedingReload})),
		},
	];
}
