// Which units need a restart and why: a unit needs one when any of its processes does,
// and its reasons are those processes' sentences, worded by the caller (the domain does
// not word things: src/render/reason.ts does). Which file makes a process stale is the
// core's decision, carried as files[].staleReason.
import type {Process, StaleReason} from '../model/document.js';
import type {StaleProcess, UnitProcess} from '../model/unit-table.js';
import type {UnitStatus} from './units.js';

/** How the sentences saying why a process needs a restart are worded (src/render/reason.ts
 * `staleWords`, `reasonSentence`): what its stale files map, the same for every process of
 * the same root kind and stale files, and the sentence of one of them for a PID. */
export interface DescribeProcess {
	words(p: StaleProcess): readonly string[];
	sentence(pid: number, what: string): string;
}

/** A mapped file of one process that makes the process stale, as restart records keep it. */
export interface StaleFile {
	pid: number;
	path: string;
	deleted: boolean;
	superseded: boolean;
	/** The core's code for why this file makes the process stale. */
	staleReason: StaleReason;
	/** Commit the file came from, when known. */
	commit: string | null;
	/** That commit's `version` metadata, when known. */
	version: string | null;
}

export interface UnitRestartInfo {
	needsRestart: boolean;
	reasons: string[];
}

/** The files that make a stale process stale, for restart records. */
export function staleFiles(p: Process): StaleFile[] {
	if (!p.needsRestart) return [];
	return p.files
		.filter(f => f.staleReason !== null)
		.map(f => ({
			pid: p.pid,
			path: f.origin.treePath ?? f.path,
			deleted: f.deleted,
			superseded: f.superseded,
			staleReason: f.staleReason!,
			commit: f.origin.commit ?? null,
			version: f.origin.version ?? null,
		}));
}

/** needsRestart and reasons for a unit, from the scanned processes. */
export function unitRestartInfo(unit: Pick<UnitStatus, 'pids'>, processes: readonly UnitProcess[], describe: DescribeProcess): UnitRestartInfo {
	const pids = new Set(unit.pids);
	// Each sentence once, in the order of its first process (a status has thousands: plain
	// loops, no intermediate arrays).
	const reasons = new Set<string>();
	let needsRestart = false;
	// A run of processes sharing their root and stale files (the unit table's stale processes
	// share both objects: thousands map one replaced library) is worded once.
	let root: StaleProcess['root'] | undefined;
	let files: StaleProcess['files'] | undefined;
	let words: readonly string[] = [];
	for (const p of processes) {
		if (!p.needsRestart || !pids.has(p.pid)) continue;
		needsRestart = true;
		if (p.root !== root || p.files !== files) {
			root = p.root;
			files = p.files;
			words = describe.words(p);
		}

		for (const w of words) reasons.add(describe.sentence(p.pid, w));
	}

	return {needsRestart, reasons: [...reasons]};
}
