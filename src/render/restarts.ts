// Restart outcomes and restart history, for the terminal.
import type {ChalkInstance} from 'chalk';
import type {RestartOutcome} from '../systemd/restart.js';
import {printable} from './reason.js';

// "PIDs 1 2 -> 3 4"; a side with no process is said in words, never a dangling "-".
export function pidChange(oldPids: readonly number[], newPids: readonly number[] | null, dryRun = false): string {
	const before = oldPids.length > 0 ? `PIDs ${oldPids.join(' ')}` : 'no process before';
	if (dryRun || newPids === null) {
		return before;
	}

	return newPids.length > 0 ? `${before} -> ${newPids.join(' ')}` : `${before}, no process after`;
}

export interface RestartsTextOptions {
	/** `--needed`: how many processes that need a restart belong to no unit (no restart of livetree's reaches them). */
	outside?: number;
	/** The command that lists them, with the options of this run (`livetree status --sysroot …`). */
	listCommand?: string;
}

export function renderRestarts(outcomes: ReadonlyArray<RestartOutcome<unknown, unknown>>, style: ChalkInstance, options: RestartsTextOptions = {}): string {
	const outside = options.outside ?? 0;
	// Processes in no unit need a restart too: "nothing to restart" must not hide them.
	const note =
		outside > 0
			? style.yellow(
					`${outside === 1 ? '1 process that needs a restart is' : `${outside} processes that need a restart are`} in no unit: whoever started ${outside === 1 ? 'it restarts it' : 'them restarts them'}${options.listCommand ? ` (${options.listCommand} lists ${outside === 1 ? 'it' : 'them'})` : ''}.`,
				)
			: undefined;
	if (outcomes.length === 0) {
		return note ? `No unit needs a restart.\n${note}\n` : 'Nothing to restart.\n';
	}

	const lines = outcomes.map(o => {
		if (o.verdict === 'skipped' && o.skip) {
			return `${o.unit}: ${style.yellow('skipped')}: ${o.skip.reason}; instead: ${o.skip.instead}; PIDs ${o.oldPids.join(' ') || '-'}`;
		}

		const verdict = o.verdict === 'verified' ? style.green(o.verdict) : o.verdict === 'would-restart' ? style.yellow(o.verdict) : style.red(o.verdict);
		const d = o.details;
		const extra =
			o.verdict === 'failed'
				? ` (job ${o.jobResult ?? 'none'}, result ${d.result ?? '?'}, exit status ${d.execMainStatus ?? '?'}${d.error ? `, ${printable(d.error.message)}` : ''})`
				: o.verdict === 'still-stale'
					? ` (${d.stale.length} stale files remain)`
					: o.verdict === 'unverified'
						? ` (what ${d.unknown?.length === 1 ? `PID ${d.unknown[0]} runs` : `PIDs ${d.unknown?.join(' ') ?? '?'} run`} is unknown: ${d.unknown?.length === 1 ? 'it' : 'they'} could not be read)`
						: '';
		return `${o.unit}: ${verdict}${extra}; ${pidChange(o.oldPids, o.newPids, o.dryRun)}`;
	});
	return `${[...lines, ...(note ? [note] : [])].join('\n')}\n`;
}

export interface HistoryRow {
	startedAt: string;
	unit: string;
	state: string;
	verdict: string | null;
	jobResult: string | null;
	oldPids: number[];
	newPids: number[] | null;
}

// `livetree history`: a header, then one aligned row per attempt.
export function renderHistory(rows: readonly HistoryRow[], style: ChalkInstance): string {
	if (rows.length === 0) {
		return 'No restarts recorded.\n';
	}

	const cells = rows.map(r => [
		r.startedAt,
		r.unit,
		r.state === 'in-progress' ? 'in progress (interrupted?)' : (r.verdict ?? '?'),
		r.jobResult ?? '-',
		pidChange(r.oldPids, r.state === 'in-progress' ? null : r.newPids),
	]);
	const head = ['STARTED (UTC)', 'UNIT', 'VERDICT', 'JOB', 'PROCESSES'];
	const widths = head.map((h, i) => Math.max(h.length, ...cells.map(c => c[i]!.length)));
	const line = (c: string[], color: (s: string) => string = s => s) =>
		c
			.map((v, i) => {
				const padded = i === c.length - 1 ? v : v.padEnd(widths[i]!);
				return i === 2 ? color(padded) : padded;
			})
			.join('  ');
	const out = [style.bold(line(head))];
	for (const [i, c] of cells.entries()) {
		const r = rows[i]!;
		const color =
			r.state === 'in-progress' || r.verdict === 'reloaded-unverifiable'
				? style.yellow
				: r.verdict === 'verified' || r.verdict === 'reloaded'
					? style.green
					: style.red;
		out.push(line(c, s => color(s)));
	}

	return `${out.join('\n')}\n`;
}
