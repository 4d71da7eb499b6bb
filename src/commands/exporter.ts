// `livetree exporter`: serve Prometheus metrics of fresh scans until SIGINT/SIGTERM.
import {checkDirectory, collect, openScanner} from '../collect.js';
import {ListenError} from '../errors/listen-error.js';
import {WebConfigError} from '../errors/web-config-error.js';
import {parseDuration} from '../exporter/duration.js';
import {startExporter} from '../exporter/exporter.js';
import {readCommon} from '../options.js';
import {printable} from '../render/reason.js';
import {readRestartHistory} from '../restart-history.js';
import {prepareStateDir} from '../state-dir.js';
import {commandHelp} from './help.js';
import {parseCommand} from './parse.js';
import {commandTable} from './table.js';

export async function exporterCommand(argv: string[]): Promise<number> {
	const {values} = parseCommand('exporter', commandTable.exporter, argv);
	if (values.help) {
		process.stdout.write(commandHelp('exporter'));
		return 0;
	}

	const options = readCommon(values);
	// A bad --sysroot or --state-dir is an error at start, not a failed scrape forever after.
	await checkDirectory('sysroot', options.sysroot);
	await prepareStateDir(options, 'record');
	const log = (message: string) => {
		process.stderr.write(`livetree exporter: ${printable(message)}\n`);
	};

	// One scanner for the exporter's life: a scrape reloads only what changed on disk.
	const scanner = openScanner(options);
	let exporter;
	try {
		exporter = await startExporter({
			listen: values.listen,
			allowRemote: values['allow-remote'],
			minIntervalSeconds: parseDuration(values['min-interval'], '--min-interval'),
			collect: async () => {
				const {willRecord, recordTimeline} = await import('../timeline/record.js');
				const doc = await collect(options, {observe: willRecord()}, scanner);
				// At most one scan a minute goes into the catalog's timeline (docs/timeline.md).
				recordTimeline(options, doc, scanner, 'exporter', log);
				return doc;
			},
			knowledgeLoads: () => scanner.stats().knowledgeLoads,
			restartHistory: () => readRestartHistory(options, log, scanner),
			webConfigFile: values['web.config.file'],
			log,
		});
	} catch (error) {
		if (error instanceof ListenError || error instanceof WebConfigError) {
			log(error.message);
			return 2;
		}

		throw error;
	}

	log(`serving ${exporter.url}/metrics`);
	const reload = () => {
		exporter.reload().then(
			() => {
				log('SIGHUP: web configuration reloaded');
			},
			(error: unknown) => {
				log(`SIGHUP: ${error instanceof Error ? error.message : String(error)}`);
			},
		);
	};

	process.on('SIGHUP', reload);
	const signal = await new Promise<NodeJS.Signals>(resolve => {
		const stop = (name: NodeJS.Signals) => {
			process.off('SIGINT', stop);
			process.off('SIGTERM', stop);
			resolve(name);
		};
		process.on('SIGINT', stop);
		process.on('SIGTERM', stop);
	});
	process.off('SIGHUP', reload);
	log(`${signal}: closing`);
	await exporter.close();
	return 0;
}
