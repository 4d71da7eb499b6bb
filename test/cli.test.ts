import {mkdtemp, readFile, rm} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import {livetree} from './helpers/cli.js';
import {schemaErrors} from './helpers/schema.js';

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
});

test('status on a plain host (no OSTree) is a valid document with no deployments', async t => {
	const state = await mkdtemp(path.join(os.tmpdir(), 'livetree-state-'));
	t.teardown(async () => rm(state, {recursive: true, force: true}));
	const r = await livetree(['status', '--json', '--no-systemd', '--state-dir', state]);
	t.true(r.code === 0 || r.code === 1, r.stderr);
	const doc = JSON.parse(r.stdout) as {deployments: unknown[]; sysroot: {repoMode: unknown; path: string}};
	t.deepEqual(schemaErrors(doc), []);
	t.deepEqual(doc.deployments, []);
	t.is(doc.sysroot.repoMode, null);
	const text = await livetree(['status', '--no-systemd', '--color', 'never', '--state-dir', state]);
	t.regex(text.stdout, /not booted from OSTree/);
});
