// Issue 11, non-root: `status`, `explain`, `which`, `history` and `catalog check` run by an
// ordinary user (runuser -u nobody), against a catalog that user may read but not write and
// against none at all. Nothing may be written; the summary counts what could not be read.
import {execFileSync} from 'node:child_process';
import {chmod, mkdir, mkdtemp, readdir, readFile, rm, stat} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import type {StatusDocument} from '../src/model/document.js';
import {livetree, livetreeAs} from './helpers/cli.js';
import {schemaErrors} from './helpers/schema.js';
import {statusExitCode} from './helpers/exit-code.js';

interface Run {
	code: number;
	stdout: string;
	stderr: string;
}

async function asNobody(args: string[]): Promise<Run> {
	return livetreeAs('nobody', args);
}

// Everything in a directory, with sizes and modification times: what "nothing written" means.
async function snapshot(dir: string): Promise<string[]> {
	const names = (await readdir(dir)).sort();
	return Promise.all(
		names.map(async n => {
			const s = await stat(path.join(dir, n));
			return `${n} ${s.size} ${s.mtimeMs} ${s.mode}`;
		}),
	);
}

async function rootOwnedDir(t: {teardown(fn: () => Promise<void>): void}): Promise<string> {
	const base = await mkdtemp(path.join(os.tmpdir(), 'livetree-nonroot-'));
	t.teardown(async () => rm(base, {recursive: true, force: true}));
	await chmod(base, 0o755);
	const state = path.join(base, 'state');
	await mkdir(state, {mode: 0o755});
	return state;
}

test('status as nobody with a catalog it may only read: runs, uses it read-only, writes nothing', async t => {
	const state = await rootOwnedDir(t);
	// root's scan creates the catalog, as livetree-scan.timer would.
	const root = await livetree(['status', '--json', '--no-systemd', '--state-dir', state]);
	t.is(root.code, statusExitCode(JSON.parse(root.stdout) as StatusDocument), root.stderr);
	const before = await snapshot(state);
	const catalogBytes = await readFile(path.join(state, 'catalog.sqlite'));

	const r = await asNobody(['status', '--json', '--no-systemd', '--state-dir', state]);
	const doc = JSON.parse(r.stdout) as StatusDocument;
	// Root's processes are unread: never 0 (clean), 1 when a process nobody may read is stale.
	t.is(r.code, statusExitCode(doc), r.stderr);
	t.deepEqual(schemaErrors(doc), []);
	t.true(
		doc.warnings.some(w => w.code === 'catalog-read-only' && w.message.includes(state)),
		JSON.stringify(doc.warnings.map(w => w.code)),
	);
	t.false(doc.warnings.some(w => w.code === 'catalog-unavailable'));
	// This test's own worker runs as root: nobody cannot read its maps.
	const self = doc.processes.find(p => p.pid === process.pid);
	t.is(self?.state, 'unknown');
	const unknown = doc.processes.filter(p => p.state === 'unknown').length;
	t.true(unknown > 0);
	t.is(doc.summary.processesUnreadable, unknown);
	t.is(doc.summary.complete, false);

	// The exact codes: what root's process runs, which nobody cannot read, is unknown (3);
	// /bin/sh is a file of a package of the host (0); the rest read what they list (0).
	for (const [args, code] of [
		[['explain', String(process.pid), '--no-systemd'], 3],
		[['which', '/bin/sh'], 0],
		[['history'], 0],
		[['history', '--json'], 0],
		[['catalog', 'check'], 0],
	] as Array<[string[], number]>) {
		const other = await asNobody([...args, '--state-dir', state]);
		t.is(other.code, code, `${args.join(' ')}: ${other.stderr}`);
	}

	t.deepEqual(await snapshot(state), before);
	t.deepEqual(await readFile(path.join(state, 'catalog.sqlite')), catalogBytes);
});

test('status as nobody without any catalog: runs, warns catalog-unavailable, creates nothing', async t => {
	const state = await rootOwnedDir(t);
	const r = await asNobody(['status', '--json', '--no-systemd', '--state-dir', state]);
	t.notRegex(r.stderr, /:memory:|WAL/);
	const doc = JSON.parse(r.stdout) as StatusDocument;
	t.is(r.code, statusExitCode(doc), r.stderr);
	t.deepEqual(schemaErrors(doc), []);
	t.true(
		doc.warnings.some(w => w.code === 'catalog-unavailable' && w.message.includes(state)),
		JSON.stringify(doc.warnings),
	);
	t.deepEqual(await readdir(state), []);
	const history = await asNobody(['history', '--state-dir', state]);
	t.is(history.code, 0, history.stderr);
	t.regex(history.stderr, /no catalog here yet/);
	t.deepEqual(await readdir(state), []);
});

test('the text verdict never says "none needs a restart" over processes it could not read', async t => {
	const state = await rootOwnedDir(t);
	const r = await asNobody(['status', '--no-systemd', '--color', 'never', '--state-dir', state]);
	// Exit 1 only when a process nobody may read needs a restart; otherwise unknown (3).
	t.is(r.code, /^Re(boot|start) needed/.test(r.stdout) ? 1 : 3, `${r.stderr}\n${r.stdout}`);
	t.notRegex(r.stdout, /none needs a restart|Nothing needs a restart/);
	// Root's processes are refused ("run as root"); other tests' processes on this host may be
	// unknown for other reasons (an unproven composefs image), and then the warnings are named.
	const why = String.raw`(: they could not be read \(run as root\)| \(see warnings\))`;
	t.regex(
		r.stdout,
		new RegExp(`^(Reboot needed[^;]*; )?(Unknown for \\d+ of \\d+ processes${why}|Restart needed: .*; unknown for \\d+ other processes${why})`),
		r.stdout,
	);
	t.regex(
		r.stdout,
		/Summary: \d+ processes \(\d+ kernel threads not counted\): (\d+ read, (none of them needs a restart|it needs no restart|\d+ needs? a restart)|none could be read);/,
		r.stdout,
	);
	t.regex(
		r.stdout,
		/^ +\d+ processes (could not be read: what they run is unknown \(run as root\)|unknown: what they run could not be told \(see warnings\))\.$/m,
		r.stdout,
	);
	// As root every process is read, and the verdict is the plain one.
	const asRoot = await livetree(['status', '--json', '--no-systemd', '--state-dir', state]);
	const doc = JSON.parse(asRoot.stdout) as StatusDocument;
	t.is(doc.summary.processesUnreadable, doc.processes.filter(p => p.state === 'unknown').length);
});

test('history and catalog check write nothing, even as root: no -wal or -shm beside the catalog', async t => {
	const state = await rootOwnedDir(t);
	const first = await livetree(['status', '--json', '--no-systemd', '--state-dir', state]);
	t.is(first.code, statusExitCode(JSON.parse(first.stdout) as StatusDocument), first.stderr);
	const before = await snapshot(state);
	t.deepEqual(
		before.map(l => l.split(' ')[0]),
		// The stamp that lets the next open skip quick_check (docs/catalog-check.md).
		['catalog.sqlite', 'catalog.sqlite.verified'],
	);
	for (const args of [['history'], ['history', '--json'], ['catalog', 'check'], ['catalog', 'check', '--json']]) {
		const r = await livetree([...args, '--state-dir', state]);
		t.is(r.code, 0, r.stderr);
		t.deepEqual(await snapshot(state), before, args.join(' '));
	}
});

// A catalog in a directory nobody may not enter: whether it exists cannot be told. `history`
// said "no catalog here yet" and "No restarts recorded." with exit 0 over root's catalog, and
// `timeline` "no catalog here"; each is now the real cause, EACCES, exit 2.
test('history and timeline as nobody, a catalog in a directory it may not enter: EACCES, exit 2, never "no restarts"', async t => {
	const state = await rootOwnedDir(t);
	const first = await livetree(['status', '--json', '--no-systemd', '--state-dir', state]);
	t.is(first.code, statusExitCode(JSON.parse(first.stdout) as StatusDocument), first.stderr);
	await chmod(state, 0o700);
	const file = path.join(state, 'catalog.sqlite');
	for (const args of [['history'], ['history', '--json'], ['timeline'], ['timeline', '--json']]) {
		const r = await asNobody([...args, '--state-dir', state]);
		t.is(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
		t.is(r.stdout, '', args.join(' '));
		t.is(r.stderr, `livetree: ${file}: cannot read the catalog: permission denied (EACCES)\n`, args.join(' '));
	}
});

test('status as nobody with a --state-dir nobody owns: keeps its own catalog there, owned by nobody, and reads it back', async t => {
	const state = await rootOwnedDir(t);
	execFileSync('chown', ['nobody', state]);
	const first = await asNobody(['status', '--json', '--no-systemd', '--state-dir', state]);
	const doc = JSON.parse(first.stdout) as StatusDocument;
	t.is(first.code, statusExitCode(doc), first.stderr);
	t.false(
		doc.warnings.some(w => w.code === 'catalog-unavailable' || w.code === 'catalog-read-only'),
		JSON.stringify(doc.warnings),
	);
	t.deepEqual((await readdir(state)).sort(), ['catalog.sqlite', 'catalog.sqlite.verified']);
	const nobodyUid = Number(execFileSync('id', ['-u', 'nobody'], {encoding: 'utf8'}).trim());
	t.is((await stat(path.join(state, 'catalog.sqlite'))).uid, nobodyUid);
	const check = await asNobody(['catalog', 'check', '--state-dir', state]);
	t.is(check.code, 0, check.stderr);
});
