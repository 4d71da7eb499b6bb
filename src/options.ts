// Every option livetree knows, once: how it parses, how --help shows it, and what it means.
// Commands take a subset (see commands/table.ts); an option means the same in each of them.
import path from 'node:path';
import type {ParseArgsConfig} from 'node:util';
import {UsageError} from './errors/usage-error.js';
import type {ColorMode} from './render/style.js';
import {checkBusAddress} from './systemd/bus-address.js';

// The exporter's address unless --listen says otherwise (parsed by exporter/listen.ts, which
// loads node:net: kept out of every other command's start-up).
const defaultListen = '127.0.0.1:9947';

export const defaultStateDir = '/var/lib/livetree';

type ParseConfig = NonNullable<ParseArgsConfig['options']>[string];

/** One option: its parseArgs configuration, the value's name in --help, and one line of help. */
export type OptionSpec = ParseConfig & {
	/** The placeholder --help shows after a string option: `--sysroot PATH`. */
	value?: string;
	/** What it does, for --help; more lines are indented under the first. */
	help: string;
};

export const optionTable = {
	sysroot: {type: 'string', default: '/', value: 'PATH', help: 'the OSTree sysroot to read (default /)'},
	// No parseArgs default: whether the user named a state directory matters (see state-dir.ts).
	'state-dir': {type: 'string', value: 'DIR', help: `where the catalog lives (default ${defaultStateDir})`},
	// The three roots let a captured host (or a container's view of one) be audited from elsewhere.
	'proc-root': {type: 'string', default: '/proc', value: 'DIR', help: 'read processes and the running kernel from DIR (default /proc)'},
	'sys-root': {type: 'string', default: '/sys', value: 'DIR', help: 'read live patches from DIR/kernel/livepatch (default /sys)'},
	'run-dir': {type: 'string', default: '/run', value: 'DIR', help: 'read ostree-booted, the staged deployment and live-apply\nstate from DIR (default /run)'},
	user: {type: 'boolean', default: false, help: "ask the user's systemd manager instead of the system's"},
	'bus-address': {type: 'string', value: 'ADDR', help: 'ask the systemd manager on this D-Bus address'},
	'no-systemd': {type: 'boolean', default: false, help: 'do not ask systemd at all'},
	json: {type: 'boolean', default: false, help: 'print JSON'},
	format: {type: 'string', value: 'FORMAT', help: 'text (default), json or prometheus'},
	output: {type: 'string', value: 'FILE', help: 'write the report to FILE atomically instead of stdout'},
	textfile: {type: 'string', value: 'FILE', help: "also write Prometheus metrics to FILE atomically\n(for node_exporter's textfile collector)"},
	needed: {type: 'boolean', default: false, help: 'restart every unit that needs a restart (and is safe to)'},
	'reload-needed': {
		type: 'boolean',
		default: false,
		help: 'reload every unit whose configuration changed since it\nstarted and that can be reloaded (ExecReload); verify each',
	},
	'dry-run': {type: 'boolean', default: false, help: 'say what would be restarted; change nothing'},
	'fail-on-reload': {type: 'boolean', default: false, help: 'also exit 1 when a process needs a reload\n(configuration changed since it started)'},
	exclude: {type: 'string', multiple: true, value: 'UNIT', help: "never restart UNIT with --needed (repeatable; globs: 'postgresql@*')"},
	'restart-config': {type: 'string', value: 'FILE', help: 'site policy file (default /etc/livetree/restart.conf):\nlines "exclude UNIT-PATTERN…", # comments'},
	listen: {type: 'string', default: defaultListen, value: 'HOST:PORT', help: `where to listen (default ${defaultListen}, loopback only)`},
	'allow-remote': {type: 'boolean', default: false, help: 'allow a --listen address that is not loopback'},
	'web.config.file': {
		type: 'string',
		value: 'FILE',
		help: "TLS and basic auth, in the format of Prometheus's\nexporter-toolkit (the file node_exporter reads);\nread again on SIGHUP (see docs/fleet.md)",
	},
	'min-interval': {type: 'string', default: '10s', value: 'TIME', help: 'scan at most once per TIME (default 10s; e.g. 30s, 2m)'},
	since: {
		type: 'string',
		value: 'TIME',
		help: 'from TIME: 2026-12-01, "2026-12-01 14:00" (local),\nan ISO time with a zone, @EPOCH, or 3h / 7d /\n"7 days ago" (ago)',
	},
	until: {type: 'string', value: 'TIME', help: 'up to TIME (as --since)'},
	at: {type: 'string', value: 'TIME', help: 'what was in memory at TIME (as --since)'},
	unit: {type: 'string', value: 'UNIT', help: 'only the processes of this systemd unit'},
	package: {
		type: 'string',
		value: 'NAME[=VER]',
		help: 'only this package (a binary or source package\nname), or the versions VER names (whole, or\nupstream: 3.0.11 names 3.0.11-1~deb12u2)',
	},
	commit: {type: 'string', value: 'CHECKSUM', help: 'only this OSTree commit (a prefix of 4 or more digits)'},
	container: {type: 'string', value: 'NAME', help: 'only the processes of this container (name, else id)'},
	color: {type: 'string', default: 'auto', value: 'WHEN', help: 'always, never or auto (default; honours NO_COLOR)'},
	verbose: {type: 'boolean', short: 'v', default: false, help: 'list everything; do not summarise long lists'},
	help: {type: 'boolean', short: 'h', default: false, help: 'show this help'},
} as const satisfies Record<string, OptionSpec>;

export type OptionName = keyof typeof optionTable;

/** The options a command takes, in the order its --help lists them. */
export function pick<const N extends OptionName>(...names: N[]): Pick<typeof optionTable, N> {
	return Object.fromEntries(names.map(name => [name, optionTable[name]])) as Pick<typeof optionTable, N>;
}

/** The options every command that scans processes takes, in --help order. */
export const scanOptionNames = ['sysroot', 'state-dir', 'proc-root', 'sys-root', 'run-dir', 'user', 'bus-address', 'no-systemd'] as const;

export interface CommonOptions {
	sysroot: string;
	stateDir: string;
	/** --state-dir was given: it must exist, since a typo must not create directories. */
	stateDirGiven: boolean;
	procRoot: string;
	sysRoot: string;
	runDir: string;
	bus: BusChoice | undefined;
	json: boolean;
	verbose: boolean;
	color: ColorMode;
}

export type BusChoice = {kind: 'system'} | {kind: 'user'} | {kind: 'address'; address: string};

type Values = {[K in OptionName]?: string | boolean | string[] | undefined};

/** The shared options as the rest of livetree uses them; what a command does not take is its default. */
export function readCommon(values: Values): CommonOptions {
	for (const name of ['sysroot', 'state-dir', 'proc-root', 'sys-root', 'run-dir', 'bus-address'] as const) {
		if (values[name] === '') {
			throw new UsageError(`--${name} needs a value, not an empty string`);
		}
	}

	const color = String(values.color ?? 'auto');
	if (!['always', 'never', 'auto'].includes(color)) {
		throw new UsageError(`--color must be always, never or auto, not "${color}"`);
	}

	let bus: BusChoice | undefined = {kind: 'system'};
	if (values['no-systemd']) {
		bus = undefined;
	} else if (typeof values['bus-address'] === 'string') {
		const problem = checkBusAddress(values['bus-address']);
		if (problem) {
			throw new UsageError(`--bus-address "${values['bus-address']}": ${problem}`);
		}

		bus = {kind: 'address', address: values['bus-address']};
	} else if (values.user) {
		bus = {kind: 'user'};
	}

	return {
		sysroot: path.resolve(String(values.sysroot ?? '/')),
		stateDir: path.resolve(String(values['state-dir'] ?? defaultStateDir)),
		stateDirGiven: typeof values['state-dir'] === 'string',
		procRoot: path.resolve(String(values['proc-root'] ?? '/proc')),
		sysRoot: path.resolve(String(values['sys-root'] ?? '/sys')),
		runDir: path.resolve(String(values['run-dir'] ?? '/run')),
		bus,
		json: Boolean(values.json),
		verbose: Boolean(values.verbose),
		color: color as ColorMode,
	};
}

export function catalogPath(options: CommonOptions): string {
	return path.join(options.stateDir, 'catalog.sqlite');
}
