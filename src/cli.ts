// The command line: dispatch to a command, map errors to ripgrep-style exit codes
// (0 all good, 1 something needs attention, 2 the command itself failed).
import {readFileSync} from 'node:fs';
import {ScanError} from './errors/scan-error.js';
import {UsageError} from './errors/usage-error.js';

type Command = (argv: string[]) => Promise<number>;

// Commands load on demand: `status --json` from cron need not load the D-Bus client,
// the exporter's HTTP server or the terminal tables (Node's start-up is most of a small scan).
const commands: Record<string, () => Promise<Command>> = {
	status: async () => (await import('./commands/status.js')).statusCommand,
	explain: async () => (await import('./commands/explain.js')).explainCommand,
	which: async () => (await import('./commands/which.js')).whichCommand,
	restart: async () => (await import('./commands/restart.js')).restartCommand,
	history: async () => (await import('./commands/history.js')).historyCommand,
	exporter: async () => (await import('./commands/exporter.js')).exporterCommand,
	catalog: async () => (await import('./commands/catalog.js')).catalogCommand,
	packages: async () => (await import('./commands/packages.js')).packagesCommand,
};

const help = `Usage: livetree <command> [options]

Tells what is running on this host: every mapped file of every process traced
to the OSTree commit it came from, and which processes and units need a restart.

Commands:
  status            what runs, per deployment (also: livetree admin status)
  explain PID       which tree PID runs, file by file, and why it needs a restart
  which DEV:INO|PATH  which commits hold that file, at which paths
  packages [NAME...]  package versions in memory against the installed ones
  restart           restart units that need it (--needed or UNIT...), verify each
  history           restart attempts recorded in the catalog
  exporter          serve Prometheus metrics on 127.0.0.1:9947
  catalog check|rebuild  inspect or repair the catalog database

Run 'livetree <command> --help' for a command's options.
Options: --help, --version
`;

function version(): string {
	const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {version: string};
	return pkg.version;
}

export async function main(argv: string[]): Promise<number> {
	let [name, ...rest] = argv;
	if (name === 'admin' && rest[0] === 'status') {
		[name, ...rest] = rest;
	}

	if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
		process.stdout.write(help);
		return name === undefined ? 2 : 0;
	}

	if (name === '--version' || name === '-V') {
		process.stdout.write(`livetree ${version()}\n`);
		return 0;
	}

	const load = commands[name];
	if (!load) {
		process.stderr.write(`livetree: unknown command "${name}" (try --help)\n`);
		return 2;
	}

	try {
		const command = await load();
		return await command(rest);
	} catch (error) {
		return reportError(error);
	}
}

function reportError(error: unknown): number {
	if (error instanceof UsageError || error instanceof ScanError) {
		process.stderr.write(`livetree: ${error.message}\n`);
		return 2;
	}

	// parseArgs throws TypeErrors with a code for unknown or malformed options.
	const code = (error as {code?: string}).code;
	if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')) {
		process.stderr.write(`livetree: ${(error as Error).message}\n`);
		return 2;
	}

	process.stderr.write(`livetree: internal error: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
	return 2;
}
