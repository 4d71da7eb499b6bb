import {mkdir, mkdtemp, readFile, rm} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import {livetree} from './helpers/cli.js';
import {schemaErrors} from './helpers/schema.js';
import {statusExitCode} from './helpers/exit-code.js';
import type {StatusDocument} from '../src/model/document.js';

test('--version prints the package version', async t => {
	const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as {version: string};
	const r = await livetree(['--version']);
	t.is(r.code, 0);
	t.is(r.stdout.trim(), `livetree ${pkg.version}`);
});

test('--help for the tool and for status', async t => {
	const top = await livetree(['--help']);
	t.is(top.code, 0);
	t.regex(top.stdout, /Commands:/);
	const status = await livetree(['status', '--help']);
	t.is(status.code, 0);
	t.regex(status.stdout, /--sysroot PATH/);
	t.regex(status.stdout, /Exit codes/);
});

test('a sysroot that does not exist: one line naming the path, exit 2', async t => {
	const r = await livetree(['status', '--sysroot', '/nonexistent/sysroot', '--no-systemd']);
	t.is(r.code, 2);
	t.is(r.stdout, '');
	t.is(r.stderr.trim().split('\n').length, 1);
	t.regex(r.stderr, /\/nonexistent\/sysroot/);
});

test('bad arguments: exit 2 with a message', async t => {
	const unknown = await livetree(['status', '--frobnicate']);
	t.is(unknown.code, 2);
	t.regex(unknown.stderr, /frobnicate/);
	const color = await livetree(['status', '--color', 'purple']);
	t.is(color.code, 2);
	t.regex(color.stderr, /--color/);
	const cmd = await livetree(['frob']);
	t.is(cmd.code, 2);
	// A command name as typed, control characters and all: one line, escaped.
	const hostile = await livetree(['fr\u001b[31m\nob']);
	t.is(hostile.code, 2);
	t.is(hostile.stderr, 'livetree: unknown command "fr\\x1b[31m\\x0aob" (try --help)\n');
	const help = await livetree(['help', 'st\u001batus']);
	t.is(help.code, 2);
	t.is(help.stderr, 'livetree: help takes one command name, not "st\\x1batus" (try livetree --help)\n');
});

test('status on a plain host (no OSTree) is a valid document with no deployments', async t => {
	const state = await mkdtemp(path.join(os.tmpdir(), 'livetree-state-'));
	t.teardown(async () => rm(state, {recursive: true, force: true}));
	const r = await livetree(['status', '--json', '--no-systemd', '--state-dir', state]);
	const doc = JSON.parse(r.stdout) as StatusDocument;
	t.is(r.code, statusExitCode(doc), r.stderr);
	t.deepEqual(schemaErrors(doc), []);
	t.deepEqual(doc.deployments, []);
	t.is(doc.sysroot.repoMode, null);
	const text = await livetree(['status', '--no-systemd', '--color', 'never', '--state-dir', state]);
	t.regex(text.stdout, /not booted from OSTree/);
});

// An empty directory (a mistyped or not yet captured --proc-root) holds no process at all:
// that is no scan, not a clean host. It read "Nothing needs a restart (0 processes
// checked)" and exited 0; status, packages and explain now fail with one line naming it.
test('a --proc-root with no process directory is no /proc: exit 2, never "Nothing needs a restart"', async t => {
	const dir = await mkdtemp(path.join(os.tmpdir(), 'livetree-proc-'));
	t.teardown(async () => rm(dir, {recursive: true, force: true}));
	await mkdir(path.join(dir, 'proc/sys/kernel'), {recursive: true});
	await mkdir(path.join(dir, 'state'));
	const proc = path.join(dir, 'proc');
	for (const args of [['status'], ['status', '--json'], ['packages']]) {
		const r = await livetree([...args, '--no-systemd', '--proc-root', proc, '--state-dir', path.join(dir, 'state')]);
		t.is(r.code, 2, `${args.join(' ')}: ${r.stdout}`);
		t.is(r.stdout, '', args.join(' '));
		t.is(r.stderr, `livetree: ${proc}: corrupt: no process directory in it: not a /proc, nor a copy of one\n`, args.join(' '));
	}
});

test('exit 2 only when nothing could be scanned', async t => {
	const {mkdir, writeFile} = await import('node:fs/promises');
	const dir = await mkdtemp(path.join(os.tmpdir(), 'livetree-proc-'));
	t.teardown(async () => rm(dir, {recursive: true, force: true}));
	// A proc tree whose only process has a maps that cannot be read (a directory).
	await mkdir(path.join(dir, 'proc/4242/maps'), {recursive: true});
	await mkdir(path.join(dir, 'state'));
	await writeFile(path.join(dir, 'proc/4242/comm'), 'ghost\n');
	const r = await livetree(['status', '--json', '--no-systemd', '--proc-root', path.join(dir, 'proc'), '--state-dir', path.join(dir, 'state')]);
	t.is(r.code, 2, r.stdout);
	t.regex(r.stderr, /no process could be scanned/);
	// One readable process beside it: a partial result, not a failure.
	const self = await import('node:fs/promises').then(async fs => fs.readFile(`/proc/${process.pid}/maps`));
	await mkdir(path.join(dir, 'proc/4243'), {recursive: true});
	await writeFile(path.join(dir, 'proc/4243/maps'), self);
	await writeFile(path.join(dir, 'proc/4243/comm'), 'node\n');
	const {symlink} = await import('node:fs/promises');
	await symlink(process.execPath, path.join(dir, 'proc/4243/exe'));
	await symlink('/', path.join(dir, 'proc/4243/root'));
	const partial = await livetree(['status', '--json', '--no-systemd', '--proc-root', path.join(dir, 'proc'), '--state-dir', path.join(dir, 'state')]);
	// Nothing it could read needs a restart, but one process is unknown: not clean, exit 3.
	t.is(partial.code, 3, partial.stderr);
	const doc = JSON.parse(partial.stdout) as {
		processes: Array<{pid: number; state: string}>;
		warnings: Array<{code: string; pid: number}>;
		summary: {complete: boolean; processesUnreadable: number};
	};
	t.deepEqual(schemaErrors(doc), []);
	t.deepEqual([doc.summary.complete, doc.summary.processesUnreadable], [false, 1]);
	t.is(doc.processes.find(p => p.pid === 4242)?.state, 'unknown');
	t.true(doc.warnings.some(w => w.code === 'process-unreadable' && w.pid === 4242));
	t.not(doc.processes.find(p => p.pid === 4243)?.state, 'unknown');
});
