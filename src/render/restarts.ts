// Restart outcomes and restart history, for the terminal.
import type {ChalkInstance} from 'chalk';
import type {RestartOutcome} from '../systemd/restart.js';

export function renderRestarts(outcomes: ReadonlyArray<RestartOutcome<unknown, unknown>>, style: ChalkInstance): string {
	if (outcomes.length === 0) {
		return 'Nothing to restart.\n';
	}

	const lines = outcomes.map(o => {
		if (o.verdict === 'skipped' && o.skip) {
			return `${o.unit}: ${style.yellow('skipped')}: ${o.skip.reason}; instead: ${o.skip.instead}; PIDs ${o.oldPids.join(' ') || '-'}`;
		}

		const verdict = o.verdict === 'verified' ? style.green(o.verdict)
			: o.verdict === 'would-restart' ? style.yellow(o.verdict) : style.red(o.verdict);
		const d = o.details;
		const extra = o.verdict === 'failed'
			? ` (job ${o.jobResult ?? 'none'}, result ${d.result ?? '?'}, exit status ${d.execMainStatus ?? '?'}${d.error ? `, ${d.error.message}` : ''})`
			: o.verdict === 'still-stale' ? ` (${d.stale.length} stale files remain)` : '';
		const pids = o.dryRun ? `PIDs ${o.oldPids.join(' ') || '-'}` : `PIDs ${o.oldPids.join(' ') || '-'} -> ${o.newPids.join(' ') || '-'}`;
		return `${o.unit}: ${verdict}${extra}; ${pids}`;
	});
	return `${lines.join('\n')}\n`;
}
