// The catalog's restart history, for metrics. Reading it must never fail a scan:
// an unreadable catalog leaves the restart metrics out and says why.
import type {Scanner} from './collect.js';
import {native} from './native.js';
import {catalogPath, type CommonOptions} from './options.js';
import type {RestartRecordFacts} from './render/prometheus-fleet.js';

// With a kept `scanner` (the exporter's), through the catalog it holds open rather than a
// new read-only open (and integrity check) of the file on every scrape.
export function readRestartHistory(options: CommonOptions, log?: (message: string) => void, scanner?: Scanner): RestartRecordFacts[] | undefined {
	const file = catalogPath(options);
	try {
		return scanner ? scanner.listRestarts() : native.catalogListRestarts(file);
	} catch (error) {
		log?.(`${file}: cannot read the restart history, restart metrics left out (${error instanceof Error ? error.message : String(error)})`);
		return undefined;
	}
}
