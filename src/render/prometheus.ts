// Prometheus exposition format. (Interim: the full metric set lands with the exporter.)
import type {StatusDocument} from '../model/document.js';

export function renderPrometheus(doc: StatusDocument): string {
	return [
		'# HELP livetree_processes Processes scanned, by state.',
		'# TYPE livetree_processes gauge',
		...['current', 'overlay', 'stale', 'foreign', 'unknown'].map(state =>
			`livetree_processes{state="${state}"} ${doc.processes.filter(p => p.state === state).length}`),
		'',
	].join('\n');
}
