// What `livetree restart` says about a unit's new processes: a scan of just those PIDs, with
// the scanner of the first scan. A process that could not be read proves nothing: it is
// listed as unknown, never counted as running current code.
import {scanOnly, type Scanner} from '../collect.js';
import {buildDocument} from '../model/build.js';
import type {CommonOptions} from '../options.js';
import {staleFiles, type StaleFile} from '../systemd/reasons.js';
import type {VerifyResult} from '../systemd/restart.js';

export async function verifyProcesses(options: CommonOptions, pids: number[], scanner: Scanner): Promise<VerifyResult<StaleFile>> {
	if (pids.length === 0) {
		return {allCurrent: true, stale: [], unknown: []};
	}

	const scan = await scanOnly(options, {pids}, scanner);
	const doc = buildDocument({scan, host: {hostname: '', kernelRelease: ''}});
	const stale = doc.processes.flatMap(p => staleFiles(p));
	const unknown = doc.processes.filter(p => p.state === 'unknown').map(p => p.pid);
	return {allCurrent: doc.processes.every(p => !p.needsRestart), stale, unknown};
}
