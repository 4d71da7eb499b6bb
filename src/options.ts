// Options shared by every command that scans or talks to systemd, with one meaning everywhere.
import path from 'node:path';
import type {ParseArgsConfig} from 'node:util';
import {UsageError} from './errors/usage-error.js';
import type {ColorMode} from './render/style.js';

export const commonOptions = {
	sysroot: {type: 'string', default: '/'},
	'state-dir': {type: 'string', default: '/var/lib/livetree'},
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
	const color = String(values.color ?? 'auto');
	if (!['always', 'never', 'auto'].includes(color)) {
		throw new UsageError(`--color must be always, never or auto, not "${color}"`);
	}

	let bus: BusChoice | undefined = {kind: 'system'};
	if (values['no-systemd']) {
		bus = undefined;
	} else if (typeof values['bus-address'] === 'string') {
		bus = {kind: 'address', address: values['bus-address']};
	} else if (values.user) {
		bus = {kind: 'user'};
	}

	return {
		sysroot: path.resolve(String(values.sysroot ?? '/')),
		stateDir: path.resolve(String(values['state-dir'] ?? '/var/lib/livetree')),
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
