// Recording a whole scan in the catalog's timeline: `status` every scan, the exporter at
// most once a minute. Only root records (a scan by another user never writes the catalog);
// a catalog that cannot be written leaves the scan as it is and says so on stderr.
// What is recorded of each process (its unit or container, the origins of its code) is
// built by the core during the scan (native/core/src/timeline_observe.rs), asked for with
// `collect(…, {observe: willRecord()}, scanner)`: recording parses no JSON here.
import type {Scanner} from '../collect.js';
import type {StatusDocument} from '../model/document.js';
import type {UnitTable} from '../model/unit-table.js';
import {catalogPath, type CommonOptions} from '../options.js';

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

/** Epoch seconds of an ISO time; undefined when there is none or it does not parse. */
export function epochSeconds(iso: string | null | undefined): number | undefined {
	if (!iso) return undefined;
	const ms = Date.parse(iso);
	return Number.isNaN(ms) ? undefined : Math.floor(ms / 1000);
}

/** Whether a scan now is recorded: only root's, and not with LIVETREE_TEST_NO_TIMELINE=1. */
export function willRecord(): boolean {
	// LIVETREE_TEST_NO_TIMELINE=1: test-only, the benchmark's baseline scan without recording.
	return process.geteuid?.() === 0 && !process.env['LIVETREE_TEST_NO_TIMELINE'];
}

/** The processes' units for the core, which keeps the unit it read from a process's cgroup
 * for a process not listed: with the unit table (`status --json` with units), only those
 * whose unit is not that one; undefined when the processes are apart without units. */
function processUnits(doc: StatusDocument, table: UnitTable | undefined): Array<{pid: number; unit?: string}> | undefined {
	const changed = table ? table.changedUnits() : doc.processes.length > 0 ? doc.processes : undefined;
	return changed?.map(p => ({pid: p.pid, unit: p.unit ?? undefined}));
}

/**
 * Records the scan `scanner` just made (a whole scan collected with `observe: willRecord()`)
 * and whose document is `doc`. The processes' units are the document's when systemd answered
 * (its processes are then objects here, or apart with `table`); written apart without one,
 * they are the ones the core read from the cgroups, which is what the document says too.
 */
export function recordTimeline(
	options: CommonOptions,
	doc: StatusDocument,
	scanner: Scanner,
	source: 'status' | 'exporter',
	warn: (message: string) => void,
	table?: UnitTable,
): void {
	if (!willRecord()) return;
	try {
		scanner.recordTimeline(catalogPath(options), {
			at: scanTime(doc),
			source,
			bootId: doc.host.bootId ?? undefined,
			units: processUnits(doc, table),
			minInterval: source === 'exporter' ? 60 : 0,
			retentionDays,
			maxRows,
		});
	} catch (error) {
		warn(`the timeline was not recorded: ${error instanceof Error ? error.message : String(error)}`);
	}
}
