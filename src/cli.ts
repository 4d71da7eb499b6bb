// The command line: dispatch to a command, map errors to ripgrep-style exit codes
// (0 all good, 1 something needs attention, 2 the command itself failed).
import {readFileSync} from 'node:fs';
import {commandLine, isCommandName, type CommandName} from './commands/table.js';

// Only the command table loads before a command runs: the help, the errors' classes and the
// rest of a command's modules load when they are used, so that `status` starts its scan
// early (docs/proc-reading.md, "Before the scan").
const help = async () => import('./commands/help.js');

type Command = (argv: string[]) => Promise<number>;

// Commands load on demand: `status --json` from cron need not load the D-Bus client,
// the exporter's HTTP server or the terminal tables (Node's start-up is most of a small scan).
const commands: Record<CommandName, () => Promise<Command>> = {
	status: async () => (await import('./commands/status.js')).statusCommand,
	explain: async () => (await import('./commands/explain.js')).explainCommand,
	which: async () => (await import('./commands/which.js')).whichCommand,
	restart: async () => (await import('./commands/restart.js')).restartCommand,
	history: async () => (await import('./commands/history.js')).historyCommand,
	diff: async () => (await import('./commands/diff.js')).diffCommand,
	timeline: async () => (await import('./commands/timeline.js')).timelineCommand,
	exporter: async () => (await import('./commands/exporter.js')).exporterCommand,
	catalog: async () => (await import('./commands/catalog.js')).catalogCommand,
	packages: async () => (await import('./commands/packages.js')).packagesCommand,
	'config-diff': async () => (await import('./commands/config-diff.js')).configDiffCommand,
};

function version(): string {
	const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {version: string};
	return pkg.version;
}

// The reader of stdout went away (`livetree status --json | head -c 100`): stop quietly with
// 2, "the report was not delivered" — never 0 or 1, which would be a verdict on the host.
function onStdoutError(error: NodeJS.ErrnoException): void {
	if (error.code !== 'EPIPE') {
		process.stderr.write(`livetree: cannot write to standard output (${error.code ?? error.message})\n`);
	}

	process.exit(2);
}

export async function main(argv: string[]): Promise<number> {
	process.stdout.on('error', onStdoutError);
	const [name, rest] = commandLine(argv);

	if (name === 'help' && rest.length > 0) {
		// `livetree help status` is `livetree status --help`.
		const [topic, ...extra] = rest;
		if (extra.length > 0 || !isCommandName(topic!)) {
			const {printable} = await import('./render/reason.js');
			process.stderr.write(`livetree: help takes one command name, not "${printable(rest.join(' '))}" (try livetree --help)\n`);
			return 2;
		}

		process.stdout.write((await help()).commandHelp(topic!));
		return 0;
	}

	if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
		process.stdout.write((await help()).toolHelp());
		return name === undefined ? 2 : 0;
	}

	if (name === '--version' || name === '-V') {
		process.stdout.write(`livetree ${version()}\n`);
		return 0;
	}

	if (!isCommandName(name)) {
		const {printable} = await import('./render/reason.js');
		process.stderr.write(`livetree: unknown command "${printable(name)}" (try --help)\n`);
		return 2;
	}

	try {
		const command = await commands[name]();
		return await command(rest);
	} catch (error) {
		return await reportError(error);
	}
}

async function reportError(error: unknown): Promise<number> {
	// One line, whatever a path or argument in it holds: control characters escaped.
	const [{printable}, {NativeError}, {UsageError}, {catalogHint}] = await Promise.all([
		import('./render/reason.js'),
		import('./errors/native-error.js'),
		import('./errors/usage-error.js'),
		import('./errors/catalog-error.js'),
	]);
	if (error instanceof NativeError) {
		process.stderr.write(`livetree: ${printable(error.code === 'ECATALOG' ? catalogHint(error.message, error.path) : error.message)}\n`);
		return 2;
	}

	if (error instanceof UsageError) {
		process.stderr.write(`livetree: ${printable(error.message)}\n`);
		return 2;
	}

	// parseArgs throws TypeErrors with a code for unknown or malformed options.
	const code = (error as {code?: string}).code;
	if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')) {
		process.stderr.write(`livetree: ${printable((error as Error).message)}\n`);
		return 2;
	}

	process.stderr.write(`livetree: internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
	return 2;
}
