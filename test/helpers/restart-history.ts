// A unit's restart as `livetree restart` records it in a state directory's catalog: begun
// with the old PID 4242, finished as `verdict` (a failed one with no new PID, any other
// with 4243).
import path from 'node:path';
import {native} from '../../src/native.js';

export function recordRestart(stateDir: string, unit: string, verdict: string): void {
	const catalog = path.join(stateDir, 'catalog.sqlite');
	const id = native.catalogBeginRestart(catalog, {unit, oldPids: [4242], staleFilesJson: '[]'});
	native.catalogFinishRestart(catalog, id, {
		jobResult: verdict === 'failed' ? 'failed' : 'done',
		newPids: verdict === 'failed' ? [] : [4243],
		verdict,
		detailsJson: '{}',
	});
}
