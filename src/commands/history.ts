// `livetree history`: every restart attempt the catalog recorded, newest first.
import {parseArgs} from 'node:util';
import {CatalogError} from '../errors/catalog-error.js';
import {native} from '../native.js';
import {catalogPath, commonOptions, readCommon} from '../options.js';
import {makeStyle} from '../render/style.js';

export const historyHelp = `Usage: livetree history [--json] [--state-dir DIR]

List every restart attempt livetree recorded: unit, time, old and new PIDs, the job's
result and the verdict. An attempt interrupted by a crash shows as in-progress.
`;

export async function historyCommand(argv: string[]): Promise<number> {
	const {values} = parseArgs({args: argv, options: commonOptions, allowPositionals: false, strict: true});
	if (values.help) {
		process.stdout.write(historyHelp);
		return 0;
	}

	const options = readCommon(values);
	let records;
	try {
		records = native.catalogListRestarts(catalogPath(options));
	} catch (error) {
		throw CatalogError.fromNative(error);
	}

	const entries = records.map(r => ({
		id: r.id,
		unit: r.unit,
		startedAt: new Date(r.startedAt * 1000).toISOString(),
		finishedAt: r.finishedAt ? new Date(r.finishedAt * 1000).toISOString() : null,
		state: r.state,
		oldPids: r.oldPids,
		newPids: r.newPids ?? null,
		jobResult: r.jobResult ?? null,
		verdict: r.verdict ?? null,
		staleFiles: JSON.parse(r.staleFilesJson) as unknown,
		details: r.detailsJson ? JSON.parse(r.detailsJson) as unknown : null,
	}));
	if (options.json) {
		process.stdout.write(`${JSON.stringify(entries, null, 2)}\n`);
		return 0;
	}

	const style = makeStyle(options.color);
	if (entries.length === 0) {
		process.stdout.write('No restarts recorded.\n');
		return 0;
	}

	for (const e of entries) {
		const verdict = e.state === 'in-progress' ? style.yellow('in progress (interrupted?)')
			: e.verdict === 'verified' ? style.green(e.verdict) : style.red(e.verdict ?? '?');
		process.stdout.write(`${e.startedAt}  ${e.unit}  ${verdict}  job ${e.jobResult ?? '-'}  PIDs ${e.oldPids.join(' ') || '-'} -> ${e.newPids?.join(' ') ?? '-'}\n`);
	}

	return 0;
}
