// Options shared by every command that scans or talks to systemd, with one meaning everywhere.
import path from 'node:path';
import type {ParseArgsConfig} from 'node:util';
import {UsageError} from './errors/usage-error.js';
import type {ColorMode} from './render/style.js';
import {checkBusAddress} from './systemd/bus-address.js';

export const defaultStateDir = '/var/lib/livetree';

export const commonOptions = {
	sysroot: {type: 'string', default: '/'},
	// No parseArgs default: whether the user named a state directory matters (see state-dir.ts).
	'state-dir': {type: 'string'},
	'proc-root': {type: 'string', default: '/proc'},
	'sys-root': {type: 'string', default: '/sys'},
	'run-dir': {type: 'string', default: '/run'},
	user: {type: 'boolean', default: false},
	'bus-address': {type: 'string'},
	'no-systemd': {type: 'boolean', default: false},
	json: {type: 'boolean', default: false},
	verbose: {type: 'boolean', short: 'v', default: false},
	color: {type: 'string', default: 'auto'},
	help: {type: 'boolean', short: 'h', default: false},
} as const satisfies ParseArgsConfig['options'];

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

type Values = {[K in keyof typeof commonOptions]?: string | boolean | undefined};

export function readCommon(values: Values): CommonOptions {
	for (const name of ['sysroot', 'state-dir', 'proc-root', 'run-dir', 'bus-address'] as const) {
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
