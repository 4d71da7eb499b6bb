// The catalog's restart history, for metrics. Reading it must never fail a scan:
// an unreadable catalog leaves the restart metrics out and says why.
import {native} from './native.js';
import {catalogPath, type CommonOptions} from './options.js';
import type {RestartRecordFacts} from './render/prometheus-fleet.js';

export function readRestartHistory(options: CommonOptions, log?: (message: string) => void): RestartRecordFacts[] | undefined {
	const file = catalogPath(options);
	try {
		return native.catalogListRestarts(file);
	} catch (error) {
		log?.(`${file}: cannot read the restart history, restart metrics left out (${error instanceof Error ? error.message : String(error)})`);
		return undefined;
	}
}
