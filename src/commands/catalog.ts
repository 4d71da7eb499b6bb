// `livetree catalog check|rebuild`: inspect the catalog, or move a damaged one aside and
// salvage what can be read. Nothing recorded is deleted.
import type {CheckReport} from '../../native/binding.js';
import {CatalogError, catalogCommandLine} from '../errors/catalog-error.js';
import {UsageError} from '../errors/usage-error.js';
import {native} from '../native.js';
import {catalogPath, readCommon} from '../options.js';
import {printable} from '../render/reason.js';
import {prepareStateDir} from '../state-dir.js';
import {commandHelp} from './help.js';
import {parseCommand} from './parse.js';
import {commandTable} from './table.js';

export async function catalogCommand(argv: string[]): Promise<number> {
	const {values, positionals} = parseCommand('catalog', commandTable.catalog, argv);
	if (values.help) {
		process.stdout.write(commandHelp('catalog'));
		return 0;
	}

	const options = readCommon(values);
	// check only reads; rebuild writes, but into a state directory that must already exist.
	await prepareStateDir(options, 'read');
	const path = catalogPath(options);
	try {
		if (positionals[0] === 'check' && positionals.length === 1) {
			const r = native.catalogCheck(path);
			process.stdout.write(
				options.json
					? `${JSON.stringify(r, null, 2)}\n`
					: `${printable(r.path)}: ${r.ok ? 'ok' : 'DAMAGED'}; schema ${r.schemaVersion ?? '?'}; ${r.commits ?? '?'} commits, ${r.files ?? '?'} files, ${r.deployments ?? '?'} deployments, ${r.restarts ?? '?'} restarts (${r.restartsInProgress ?? 0} in progress)\n${timelineLine(r.timeline)}${r.problems.map(p => `  ${printable(p)}\n`).join('')}${r.ok ? '' : rebuildHint(path)}`,
			);
			return r.ok ? 0 : 1;
		}

		if (positionals[0] === 'rebuild' && positionals.length === 1) {
			const r = native.catalogRebuild(path);
			process.stdout.write(
				options.json
					? `${JSON.stringify(r, null, 2)}\n`
					: `${printable(r.path)}: rebuilt${r.movedTo ? `; the old file is kept as ${printable(r.movedTo)}` : ''}; salvaged ${r.commitsSalvaged} commits, ${r.deploymentsSalvaged} deployments, ${r.restartsSalvaged} restarts, ${r.hostFilesSalvaged} host files, ${r.packageTablesSalvaged} package tables, ${r.composefsImagesSalvaged} composefs images\n${r.lost.map(l => `  lost: ${printable(l)}\n`).join('')}`,
			);
			return 0;
		}
	} catch (error) {
		throw CatalogError.fromNative(error);
	}

	throw new UsageError('catalog takes check or rebuild');
}

/** What to do about a damaged catalog: rebuild it, with the --state-dir it was checked in. */
function rebuildHint(file: string): string {
	return `Next: run \`${catalogCommandLine('rebuild', file)}\` to move the damaged file aside and rebuild the catalog from what can still be read\n`;
}

/** What `catalog check` says of the timeline (docs/timeline.md): its range, size and prunings. */
function timelineLine(t: CheckReport['timeline']): string {
	if (!t) return '';
	const when = (s: number | null | undefined) => (s === null || s === undefined ? '?' : new Date(s * 1000).toISOString());
	const range = t.scans === 0 ? 'no scan recorded yet' : `${t.scans} scans from ${when(t.firstScan)} to ${when(t.lastScan)}`;
	const clock = t.clockBackScans > 0 ? `; ${t.clockBackScans} with the clock behind the previous scan` : '';
	const pruned =
		t.pruned.length === 0
			? 'nothing pruned'
			: t.pruned
					.map(p => `pruned at ${when(p.at)} (${p.reason}): ${p.scans} scans and ${p.processes} processes that ended before ${when(p.before)}`)
					.join('; ');
	return `timeline: ${range}, ${t.processes} processes, ${t.uses} intervals${clock}; ${pruned}\n`;
}
