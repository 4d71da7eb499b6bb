// Metrics the fleet rules (prometheus/livetree.rules.yml) need beyond the per-host
// summary: stale processes per unit, and the outcome of the restarts livetree did.
// Kept apart from prometheus.ts so the two grow without touching each other.
//
// Bounded like the rest: one series per unit (or unit and verdict, three verdicts),
// plus one counter per verdict; never per PID or per restart attempt.
import type {StatusDocument} from '../model/document.js';
import type {Family} from './exposition.js';
import {processUnits} from '../model/process-units.js';

// What the rules need of one catalog restart record (the native RestartRecord fits).
export interface RestartRecordFacts {
	id: number;
	unit: string;
	// in-progress | done
	state: string;
	verdict?: string;
}

// The verdicts a finished restart can carry (see `livetree restart --help`).
export const restartVerdicts = ['verified', 'still-stale', 'unverified', 'failed'] as const;

export function unitProcessFamilies(doc: StatusDocument): Family[] {
	return [
		{
			name: 'livetree_unit_processes_needing_restart',
			help: "Processes of a systemd unit that map stale code and need a restart (without systemd's answer, the units the processes' cgroups name).",
			type: 'gauge',
			samples: processUnits(doc).map(u => ({labels: {unit: u.name}, value: u.processesNeedingRestart})),
		},
	];
}

// Absent history (catalog unreadable) gives no families: an empty state set would
// wrongly say "no restart failed".
export function restartFamilies(records: readonly RestartRecordFacts[] | undefined): Family[] {
	if (records === undefined) {
		return [];
	}

	const totals = new Map<string, number>(restartVerdicts.map(v => [v, 0]));
	// The newest finished attempt per unit decides; ids grow with time.
	const last = new Map<string, {id: number; verdict: string}>();
	for (const record of records) {
		if (record.state !== 'done' || record.verdict === undefined || !totals.has(record.verdict)) {
			continue;
		}

		totals.set(record.verdict, totals.get(record.verdict)! + 1);
		const seen = last.get(record.unit);
		if (!seen || record.id > seen.id) {
			last.set(record.unit, {id: record.id, verdict: record.verdict});
		}
	}

	return [
		{
			name: 'livetree_restarts_total',
			help: "Restarts livetree finished, by verdict (verified, still-stale, unverified, failed), from the catalog's history.",
			type: 'counter',
			samples: [...totals].map(([verdict, value]) => ({labels: {verdict}, value})),
		},
		{
			name: 'livetree_unit_last_restart_verdict',
			help: 'The verdict of the newest finished livetree restart of a unit: 1 for that verdict, 0 for the others.',
			type: 'gauge',
			samples: [...last].flatMap(([unit, {verdict}]) => restartVerdicts.map(v => ({labels: {unit, verdict: v}, value: v === verdict ? 1 : 0}))),
		},
	];
}
