// The commands a report suggests next ("Next: livetree explain 227") carry the options that
// chose what this run read: the sysroot, the catalog, /proc, /sys, the run directory and
// which systemd manager (or none). Run as printed, the suggestion reads what this run read.
// Each word is shell-quoted, so a hostile path can neither split the command nor run one.
import {defaultStateDir, type CommonOptions} from '../options.js';
import {commandTable, type CommandName} from './table.js';

/** Writes a suggested command line: `livetree COMMAND ARGS… OPTIONS…`. */
export type Suggest = (command: CommandName, ...args: string[]) => string;

/** A suggestion with no options carried (a run that read every default place). */
export const plainSuggest: Suggest = (command, ...args) => ['livetree', command, ...args].map(shellWord).join(' ');

/** Suggestions carrying these options, each only where the suggested command takes it. */
export function suggestFor(options: CommonOptions): Suggest {
	return (command, ...args) => ['livetree', command, ...args, ...rerunOptions(options, command)].map(shellWord).join(' ');
}

/** The options of this run that change what `command` would read, as arguments. */
export function rerunOptions(options: CommonOptions, command: CommandName): string[] {
	const given: Array<[string, string | undefined]> = [
		['sysroot', options.sysroot === '/' ? undefined : options.sysroot],
		['state-dir', options.stateDirGiven && options.stateDir !== defaultStateDir ? options.stateDir : undefined],
		['proc-root', options.procRoot === '/proc' ? undefined : options.procRoot],
		['sys-root', options.sysRoot === '/sys' ? undefined : options.sysRoot],
		['run-dir', options.runDir === '/run' ? undefined : options.runDir],
	];
	const takes = (name: string) => Object.hasOwn(commandTable[command].options, name);
	const out = given.filter(([name, value]) => value !== undefined && takes(name)).flatMap(([name, value]) => [`--${name}`, value!]);
	const bus = options.bus;
	if (bus === undefined) {
		if (takes('no-systemd')) {
			out.push('--no-systemd');
		}
	} else if (bus.kind === 'user' && takes('user')) {
		out.push('--user');
	} else if (bus.kind === 'address' && takes('bus-address')) {
		out.push('--bus-address', bus.address);
	}

	return out;
}

// Characters that need no quoting in any POSIX shell.
const plain = /^[\w@%+=:,./-]+$/;
// C0 and C1 controls and DEL: printed raw they would break the line or drive the terminal.
const control = /[\u0000-\u001F\u007F-\u009F]/;

/**
 * One shell word that means exactly `arg`: as it is when it holds only safe characters,
 * else in single quotes (a `'` inside written as `'\''`), and with a control character
 * (a newline, an escape) as ANSI-C `$'…'` quoting (bash, zsh, ksh, POSIX.1-2024), so the
 * suggestion stays one printable line.
 */
export function shellWord(arg: string): string {
	if (plain.test(arg)) {
		return arg;
	}

	if (!control.test(arg)) {
		return `'${arg.replaceAll("'", String.raw`'\''`)}'`;
	}

	let out = "$'";
	for (const ch of arg) {
		const code = ch.codePointAt(0)!;
		if (ch === '\\' || ch === "'") {
			out += `\\${ch}`;
		} else if (ch === '\n') {
			out += String.raw`\n`;
		} else if (ch === '\t') {
			out += String.raw`\t`;
		} else if (code < 0x20 || (code >= 0x7f && code <= 0x9f)) {
			// \u, not \x: bash reads \x9b as one byte, not the character U+009B (two bytes in UTF-8).
			out += code < 0x7f ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
		} else {
			out += ch;
		}
	}

	return `${out}'`;
}
