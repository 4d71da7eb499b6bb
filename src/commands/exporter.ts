// `livetree exporter`: serve Prometheus metrics of fresh scans until SIGINT/SIGTERM.
import {parseArgs} from 'node:util';
import {checkDirectory, collect, openScanner} from '../collect.js';
import {ListenError} from '../errors/listen-error.js';
import {WebConfigError} from '../errors/web-config-error.js';
import {parseDuration} from '../exporter/duration.js';
import {startExporter} from '../exporter/exporter.js';
import {defaultListen} from '../exporter/listen.js';
import {commonOptions, readCommon} from '../options.js';
import {readRestartHistory} from '../restart-history.js';
import {prepareStateDir} from '../state-dir.js';

export const exporterHelp = `Usage: livetree exporter [options]

Serve Prometheus metrics at http://LISTEN/metrics. Each scrape gets the metrics of
a scan at most --min-interval old; scrapes never start two scans at once.

Options:
  --listen HOST:PORT     where to listen (default ${defaultListen}, loopback only)
  --allow-remote         allow a --listen address that is not loopback
  --web.config.file FILE TLS and basic auth, in the format of Prometheus's
                         exporter-toolkit (the file node_exporter reads);
                         read again on SIGHUP (see docs/fleet.md)
  --min-interval TIME    scan at most once per TIME (default 10s; e.g. 30s, 2m)
  --sysroot PATH         the OSTree sysroot to read (default /)
  --state-dir DIR        where the catalog lives (default /var/lib/livetree)
  --user                 ask the user's systemd manager instead of the system's
  --bus-address ADDR     ask the systemd manager on this D-Bus address
  --no-systemd           do not ask systemd at all
  -h, --help             show this help

Runs until SIGINT or SIGTERM; SIGHUP reloads the web configuration file.
Exit codes: 0 stopped by a signal, 2 could not start.
`;

export async function exporterCommand(argv: string[]): Promise<number> {
	const {values} = parseArgs({
		args: argv,
		options: {
			...commonOptions,
			listen: {type: 'string', default: defaultListen},
			'allow-remote': {type: 'boolean', default: false},
			'min-interval': {type: 'string', default: '10s'},
			'web.config.file': {type: 'string'},
		},
		allowPositionals: false,
		strict: true,
	});
	if (values.help) {
		process.stdout.write(exporterHelp);
		return 0;
	}

	const options = readCommon(values);
	// A bad --sysroot or --state-dir is an error at start, not a failed scrape forever after.
	await checkDirectory('sysroot', options.sysroot);
	await prepareStateDir(options, 'record');
	const log = (message: string) => {
		process.stderr.write(`livetree exporter: ${message}\n`);
	};

	// One scanner for the exporter's life: a scrape reloads only what changed on disk.
	const scanner = openScanner(options);
	let exporter;
	try {
		exporter = await startExporter({
			listen: values.listen,
			allowRemote: values['allow-remote'],
			minIntervalSeconds: parseDuration(values['min-interval'], '--min-interval'),
			collect: async () => collect(options, {}, scanner),
			knowledgeLoads: () => scanner.stats().knowledgeLoads,
			restartHistory: () => readRestartHistory(options, log),
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
