// Issue 11, non-root: `status`, `explain`, `which`, `history` and `catalog check` run by an
// ordinary user (runuser -u nobody), against a catalog that user may read but not write and
// against none at all. Nothing may be written; the summary counts what could not be read.
import {chmod, mkdir, mkdtemp, readdir, readFile, rm, stat} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import type {StatusDocument} from '../src/model/document.js';
import {livetree, livetreeAs} from './helpers/cli.js';
import {schemaErrors} from './helpers/schema.js';

interface Run {
	code: number;
	stdout: string;
	stderr: string;
}

// The exit code a document calls for: 1 something needs a restart, 3 nothing that could be
// read does but some process could not be read, 0 clean.
function verdict(doc: StatusDocument): number {
	const s = doc.summary;
	return s.processesNeedingRestart > 0 || s.rebootNeeded === true ? 1 : s.complete === false ? 3 : 0;
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
	t.not(root.code, 2, root.stderr);
	const before = await snapshot(state);
	const catalogBytes = await readFile(path.join(state, 'catalog.sqlite'));

	const r = await asNobody(['status', '--json', '--no-systemd', '--state-dir', state]);
	const doc = JSON.parse(r.stdout) as StatusDocument;
	// Root's processes are unread: never 0 (clean), 1 when a process nobody may read is stale.
	t.is(r.code, verdict(doc), r.stderr);
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

	for (const args of [['explain', String(process.pid), '--no-systemd'], ['which', '/bin/sh'], ['history'], ['history', '--json'], ['catalog', 'check']]) {
		const other = await asNobody([...args, '--state-dir', state]);
		t.not(other.code, 2, `${args.join(' ')}: ${other.stderr}`);
	}

	t.deepEqual(await snapshot(state), before);
	t.deepEqual(await readFile(path.join(state, 'catalog.sqlite')), catalogBytes);
});

test('status as nobody without any catalog: runs, warns catalog-unavailable, creates nothing', async t => {
	const state = await rootOwnedDir(t);
	const r = await asNobody(['status', '--json', '--no-systemd', '--state-dir', state]);
	t.notRegex(r.stderr, /:memory:|WAL/);
	const doc = JSON.parse(r.stdout) as StatusDocument;
	t.is(r.code, verdict(doc), r.stderr);
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
		/Summary: \d+ processes \(\d+ kernel threads not counted\), (none of \d+ read needs one|none could be read|\d+ needs? a restart);/,
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
	t.not((await livetree(['status', '--json', '--no-systemd', '--state-dir', state])).code, 2);
	const before = await snapshot(state);
	t.deepEqual(
		before.map(l => l.split(' ')[0]),
		['catalog.sqlite'],
	);
	for (const args of [['history'], ['history', '--json'], ['catalog', 'check'], ['catalog', 'check', '--json']]) {
		const r = await livetree([...args, '--state-dir', state]);
		t.is(r.code, 0, r.stderr);
		t.deepEqual(await snapshot(state), before, args.join(' '));
	}
});
