// The command table (src/commands/table.ts): every command's --help is made from it, every
// option it lists is accepted and shown, and every other option is refused with exit 2.
import {existsSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import test from 'ava';
import {commandHelp, toolHelp} from '../src/commands/help.js';
import {parseCommand} from '../src/commands/parse.js';
import type {CommandSpec} from '../src/commands/spec.js';
import {commandTable, type CommandName} from '../src/commands/table.js';
import {UsageError} from '../src/errors/usage-error.js';
import {optionTable, type OptionName} from '../src/options.js';
import {livetree} from './helpers/cli.js';

const commands = Object.keys(commandTable) as CommandName[];
const allOptions = Object.keys(optionTable) as OptionName[];
const spec = (command: CommandName): CommandSpec => commandTable[command];
const takes = (command: CommandName, option: string): boolean => Object.hasOwn(spec(command).options, option);

function golden(t: import('ava').ExecutionContext, name: string, actual: string): void {
	const file = fileURLToPath(new URL(`../../test/golden/help/${name}`, import.meta.url));
	if (process.env['UPDATE_GOLDEN'] === '1' || !existsSync(file)) {
		if (process.env['CI']) {
			t.fail(`${name} is missing; run UPDATE_GOLDEN=1 npx ava and commit it`);
			return;
		}

		mkdirSync(path.dirname(file), {recursive: true});
		writeFileSync(file, actual);
	}

	t.is(actual, readFileSync(file, 'utf8'), name);
}

test("livetree --help and every command's --help, as the CLI prints them, match their golden files", async t => {
	const top = await livetree(['--help']);
	t.is(top.code, 0);
	t.is(top.stdout, toolHelp());
	golden(t, 'livetree.txt', top.stdout);
	for (const command of commands) {
		t.true(top.stdout.includes(`\n  ${command}`), `livetree --help lists ${command}`);
		t.true(top.stdout.includes(commandTable[command].summary), command);
		// -h as well as --help, and help wins over everything else on the line.
		const r = await livetree([command, command === 'explain' ? '-h' : '--help']);
		t.is(r.code, 0, command);
		t.is(r.stderr, '', command);
		t.is(r.stdout, commandHelp(command), command);
		golden(t, `${command}.txt`, r.stdout);
	}
});

test("`livetree help CMD` prints that command's help, as `CMD --help` does; help of no command is a usage error", async t => {
	for (const command of commands) {
		const r = await livetree(['help', command]);
		t.is(r.code, 0, command);
		t.is(r.stderr, '', command);
		t.is(r.stdout, commandHelp(command), command);
	}

	t.is((await livetree(['help'])).stdout, toolHelp());
	for (const args of [
		['help', 'frob'],
		['help', 'status', 'explain'],
	]) {
		const r = await livetree(args);
		t.is(r.code, 2, args.join(' '));
		t.is(r.stdout, '');
		t.regex(r.stderr, /^livetree: help takes one command name, not "[^"]+" \(try livetree --help\)\n$/);
	}
});

test('every option a command takes is in its --help, with its value and short form; no other is', t => {
	for (const command of commands) {
		const help = commandHelp(command);
		const optionsSection = help.slice(help.indexOf('\nOptions:\n'));
		for (const [name, option] of Object.entries(commandTable[command].options)) {
			const shown = `${'short' in option ? `-${option.short}, ` : ''}--${name}${'value' in option ? ` ${option.value}` : ''}`;
			t.true(optionsSection.includes(`\n  ${shown} `), `${command} --help shows "${shown}"`);
		}

		const listed = [...optionsSection.matchAll(/^ {2}(?:-\w, )?--([\w.-]+)/gm)].map(m => m[1]);
		t.deepEqual(listed, Object.keys(commandTable[command].options), command);
	}
});

test('every option is taken by some command, and every command takes --help', t => {
	for (const option of allOptions) {
		t.true(
			commands.some(command => takes(command, option)),
			`--${option} is taken by no command`,
		);
	}

	for (const command of commands) {
		t.true(takes(command, 'help'), command);
	}
});

test('every command refuses every option it does not take, naming it, before doing anything', t => {
	let refused = 0;
	for (const command of commands) {
		for (const option of allOptions.filter(o => !takes(command, o))) {
			const error = t.throws(() => parseCommand(command, spec(command), [`--${option}`]), {instanceOf: UsageError}, `${command} --${option}`);
			t.is(error?.message, `${command} does not take --${option} (see livetree ${command} --help)`);
			refused++;
		}

		const unknown = t.throws(() => parseCommand(command, spec(command), ['--frobnicate']), {instanceOf: UsageError});
		t.is(unknown?.message, `${command}: unknown option --frobnicate (see livetree ${command} --help)`);
	}

	// history --user was accepted and ignored before the table existed.
	t.throws(() => parseCommand('history', commandTable.history, ['--user']), {message: /history does not take --user/});
	t.throws(() => parseCommand('history', commandTable.history, ['-v']), {message: /history does not take -v/});
	t.true(refused > 40, `only ${refused} refusals checked`);
	// What a command takes parses as before.
	const {values} = parseCommand('restart', commandTable.restart, ['--needed', '--exclude', 'a*', '--exclude', 'b', '--json']);
	t.deepEqual(values.exclude, ['a*', 'b']);
	t.true(values.needed);
	t.is(parseCommand('exporter', commandTable.exporter, []).values.listen, '127.0.0.1:9947');
});

test('through the CLI: an option the command does not take is one line on stderr, exit 2, nothing on stdout', async t => {
	// [command, arguments it takes, the option it refuses]
	const cases: Array<[CommandName, string[], string]> = [
		['history', [], '--user'],
		['status', [], '--listen'],
		['explain', [String(process.pid)], '--needed'],
		['which', ['/bin/sh'], '--no-systemd'],
		['restart', ['--needed'], '--no-systemd'],
		['exporter', [], '--json'],
		['catalog', ['check'], '--sysroot'],
		['packages', [], '--needed'],
		['diff', ['a.json', 'b.json'], '--sysroot'],
		['timeline', [], '--sysroot'],
		['config-diff', [], '--no-systemd'],
	];
	t.deepEqual(cases.map(c => c[0]).sort(), [...commands].sort());
	for (const [command, args, refused] of cases) {
		const value = optionTable[refused.slice(2) as OptionName].type === 'string' ? ['/'] : [];
		const r = await livetree([command, ...args, refused, ...value, '--state-dir', '/nonexistent/livetree-state']);
		t.is(r.code, 2, command);
		t.is(r.stdout, '', command);
		t.is(r.stderr, `livetree: ${command} does not take ${refused} (see livetree ${command} --help)\n`);
	}

	const positional = await livetree(['history', 'extra']);
	t.is(positional.code, 2);
	t.is(positional.stderr, 'livetree: history takes no arguments, not "extra" (see livetree history --help)\n');
	const missing = await livetree(['history', '--state-dir', '--json']);
	t.is(missing.code, 2);
	t.is(missing.stderr.trim().split('\n').length, 1, missing.stderr);
	t.regex(missing.stderr, /--state-dir/);
});
