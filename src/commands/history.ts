// `livetree history`: every restart attempt the catalog recorded, newest first.
import {CatalogError} from '../errors/catalog-error.js';
import {native} from '../native.js';
import {catalogPath, readCommon} from '../options.js';
import {renderHistory} from '../render/restarts.js';
import {printable} from '../render/reason.js';
import {makeStyle} from '../render/style.js';
import {catalogExists, prepareStateDir} from '../state-dir.js';
import {commandHelp} from './help.js';
import {parseCommand} from './parse.js';
import {commandTable} from './table.js';

export async function historyCommand(argv: string[]): Promise<number> {
	const {values} = parseCommand('history', commandTable.history, argv);
	if (values.help) {
		process.stdout.write(commandHelp('history'));
		return 0;
	}

	const options = readCommon(values);
	// Reading the history creates nothing: no state directory, no catalog file.
	const file = catalogPath(options);
	if (!(await prepareStateDir(options, 'read')) || !catalogExists(file)) {
		process.stderr.write(`livetree: ${printable(file)}: no catalog here yet, so no restart was recorded (a scan or restart creates it)\n`);
		process.stdout.write(options.json ? '[]\n' : 'No restarts recorded.\n');
		return 0;
	}

	let records;
	try {
		records = native.catalogListRestarts(file);
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
		details: r.detailsJson ? (JSON.parse(r.detailsJson) as unknown) : null,
	}));
	if (options.json) {
		process.stdout.write(`${JSON.stringify(entries, null, 2)}\n`);
		return 0;
	}

	process.stdout.write(renderHistory(entries, makeStyle(options.color)));
	return 0;
}
