// Recording a whole scan in the catalog's timeline: `status` every scan, the exporter at
// most once a minute. Only root records (a scan by another user never writes the catalog);
// a catalog that cannot be written leaves the scan as it is and says so on stderr.
import type {Process, StatusDocument} from '../model/document.js';
import {native} from '../native.js';
import {catalogPath, type CommonOptions} from '../options.js';
import {epochSeconds, observe} from './observe.js';

/** Kept this long, pruned oldest first (docs/timeline.md). */
export const retentionDays = 400;
/** At most this many process and origin intervals together (about 100 MB). */
export const maxRows = 2_000_000;

/**
 * LIVETREE_TEST_SCAN_TIME (epoch seconds or an ISO time) sets the time a scan is recorded
 * at: for tests and the benchmark, which write months of scans without waiting. Test-only.
 */
export function scanTime(doc: StatusDocument): number {
	const forced = process.env['LIVETREE_TEST_SCAN_TIME'];
	if (forced) {
		const n = /^\d+$/.test(forced) ? Number(forced) : epochSeconds(forced);
		if (n !== undefined) return n;
	}

	return epochSeconds(doc.generatedAt) ?? Math.floor(Date.now() / 1000);
}

export function recordTimeline(
	options: CommonOptions,
	doc: StatusDocument,
	processes: Process[],
	source: 'status' | 'exporter',
	warn: (message: string) => void,
): void {
	// LIVETREE_TEST_NO_TIMELINE=1: test-only, the benchmark's baseline scan without recording.
	if (process.geteuid?.() !== 0 || process.env['LIVETREE_TEST_NO_TIMELINE']) return;
	try {
		native.catalogRecordTimeline(catalogPath(options), {
			at: scanTime(doc),
			source,
			bootId: doc.host.bootId ?? undefined,
			processes: observe(doc, processes),
			minInterval: source === 'exporter' ? 60 : 0,
			retentionDays,
			maxRows,
		});
	} catch (error) {
		warn(`the timeline was not recorded: ${error instanceof Error ? error.message : String(error)}`);
	}
}
