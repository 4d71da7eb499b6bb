// `restart --reload-needed` outcomes, for the terminal: one line per unit reloaded or left alone.
import type {ChalkInstance} from 'chalk';
import type {ReloadResult} from '../commands/reload-needed.js';
import {printable} from './reason.js';
import {pidChange} from './restarts.js';

const words: Record<string, string> = {
	reloaded: 'reloaded, verified (the same process read its configuration again)',
	'reloaded-unverifiable': 'reloaded, unverifiable (the same process; nothing observable tells whether it read its configuration again)',
	'still-stale': 'reloaded, but a change is left',
	failed: 'reload failed',
	'would-reload': 'would reload',
};

export function renderReloads(outcomes: readonly ReloadResult[], style: ChalkInstance): string {
	if (outcomes.length === 0) return 'No unit needs a reload.\n';
	const lines = outcomes.map(o => {
		if (o.verdict === 'skipped') {
			return `${o.unit}: ${style.yellow('not reloaded')}: ${o.skip.reason}; instead: ${o.skip.instead}; PIDs ${o.oldPids.join(' ') || '-'}`;
		}
		const text = words[o.verdict] ?? o.verdict;
		const color = o.verdict === 'reloaded' ? style.green : o.verdict === 'reloaded-unverifiable' || o.verdict === 'would-reload' ? style.yellow : style.red;
		const d = o.details;
		const extra =
			o.verdict === 'failed'
				? ` (job ${o.jobResult ?? 'none'}, result ${d.result ?? '?'}${d.error ? `, ${printable(d.error.message)}` : ''})`
				: o.verdict === 'still-stale'
					? ` (${d.stale.map(c => printable(c.path)).join(', ')})`
					: '';
		return `${o.unit}: ${color(text)}${extra}; ${pidChange(o.oldPids, o.dryRun ? null : o.newPids, o.dryRun)}`;
	});
	return `${lines.join('\n')}\n`;
}
