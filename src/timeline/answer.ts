// The timeline's answer as `livetree timeline --json` prints it (schema/timeline.schema.json):
// the native rows with times as UTC ISO strings, and what the recorded scans cover.
import type {TimelineAnswer, TimelineFilter} from '../../native/binding.js';
import {iso} from './time.js';

export interface TimelineInterval {
	pid: number;
	startedAt: string | null;
	comm: string;
	unit: string | null;
	container: string | null;
	process: {
		firstSeen: string;
		lastSeen: string | null;
		endedAt: string | null;
		endReason: string | null;
		restart: {id: number; verdict: string | null} | null;
	};
	origin: {kind: string; key: string; label: string | null};
	firstSeen: string;
	lastSeen: string | null;
	endedAt: string | null;
}

export interface TimelineDocument {
	schemaVersion: 1;
	query: {
		since: string | null;
		until: string | null;
		at: string | null;
		unit: string | null;
		package: string | null;
		packageVersion: string | null;
		commit: string | null;
		container: string | null;
	};
	coverage: {
		firstScan: string | null;
		latestScan: string | null;
		scans: number;
		scanBefore: string | null;
		scanAfter: string | null;
		gaps: Array<{from: string | null; to: string | null}>;
		clockBack: string[];
	};
	intervals: TimelineInterval[];
}

export function timelineDocument(answer: TimelineAnswer, filter: TimelineFilter, at: number | undefined): TimelineDocument {
	return {
		schemaVersion: 1,
		query: {
			since: at === undefined ? iso(filter.since) : null,
			until: at === undefined ? iso(filter.until) : null,
			at: iso(at),
			unit: filter.unit ?? null,
			package: filter.package ?? null,
			packageVersion: filter.packageVersion ?? null,
			commit: filter.commit ?? null,
			container: filter.container ?? null,
		},
		coverage: {
			firstScan: iso(answer.firstScan),
			latestScan: iso(answer.latestScan),
			scans: answer.scans,
			scanBefore: iso(answer.scanBefore),
			scanAfter: iso(answer.scanAfter),
			gaps: answer.gaps.map(g => ({from: iso(g.from), to: iso(g.to)})),
			clockBack: answer.clockBack.map(t => iso(t)!),
		},
		intervals: answer.rows.map(r => ({
			pid: r.pid,
			startedAt: iso(r.startedAt),
			comm: r.comm,
			unit: r.unit ?? null,
			container: r.container ?? null,
			process: {
				firstSeen: iso(r.processFirstSeen)!,
				lastSeen: iso(r.processLastSeen),
				endedAt: iso(r.processEndedAt),
				endReason: r.endReason ?? null,
				restart: r.restartId === undefined || r.restartId === null ? null : {id: r.restartId, verdict: r.restartVerdict ?? null},
			},
			origin: {kind: r.kind, key: r.key, label: r.label ?? null},
			firstSeen: iso(r.firstSeen)!,
			lastSeen: iso(r.lastSeen),
			endedAt: iso(r.endedAt),
		})),
	};
}
