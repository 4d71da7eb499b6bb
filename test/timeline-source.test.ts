// `timeline --package` by source package: a real .deb built here (binary libdemo-x1 1.2.3-4,
// `Source: demo-src (1.2.3-4)`) installed with the real `dpkg --root` into a host tree of
// this test, a process of its own mapping its shared library, scans recorded into the
// test's own --state-dir. Then the catalog taken back to schema 7 (as the previous livetree
// wrote it) and migrated by the next scan: backfilled from the catalog's packages, or not
// (said as a coverage note, never "nothing was in memory").
import {execFile} from 'node:child_process';
import {mkdir, readFile, writeFile} from 'node:fs/promises';
import {join} from 'node:path';
import {promisify} from 'node:util';
import test from 'ava';
import {collect} from '../src/collect.js';
import {catalogPath, type CommonOptions, readCommon} from '../src/options.js';
import {recordTimeline} from '../src/timeline/record.js';
import {localTime} from '../src/timeline/time.js';
import {livetree} from './helpers/cli.js';
import {dpkgHostRoot} from './helpers/dpkg.js';
import {Fixtures} from './helpers/fixture.js';
import {hostRootScanner} from './helpers/host-scanner.js';
import {timeline} from './helpers/timeline.js';

const run = promisify(execFile);
const t0 = 1_900_000_000;
const iso = (s: number) => new Date(s * 1000).toISOString();

/** libdemo-x1 1.2.3-4 from source demo-src 1.2.3-4, taking over the tree's libdemo.so.1 (Replaces). */
async function installDemoX1(fx: Fixtures, root: string): Promise<void> {
	const work = await fx.tempDir('livetree-deb-');
	const pkg = join(work, 'pkg');
	await mkdir(join(pkg, 'DEBIAN'), {recursive: true});
	await mkdir(join(pkg, 'usr/lib/livetree-demo'), {recursive: true});
	const lib = await readFile(join(root, 'usr/lib/livetree-demo/libdemo.so.1'));
	await writeFile(join(pkg, 'usr/lib/livetree-demo/libdemo.so.1'), Buffer.concat([lib, Buffer.from('libdemo-x1 1.2.3-4')]));
	await writeFile(
		join(pkg, 'DEBIAN/control'),
		'Package: libdemo-x1\nVersion: 1.2.3-4\nArchitecture: amd64\nSource: demo-src (1.2.3-4)\nReplaces: livetree-demo\nMaintainer: livetree tests <root@localhost>\nDescription: livetree demo library from a source package of another name\n for livetree tests.\n',
	);
	await run('dpkg-deb', ['--root-owner-group', '--build', pkg, join(work, 'x1.deb')]);
	await run('dpkg', [`--root=${root}`, '--force-unsafe-io', '-i', join(work, 'x1.deb')]);
}

/** A host tree of the test's (NAME) with libdemo-x1 installed, a process of its own mapping
 * the library, and a --state-dir of its own; all removed at teardown. */
async function demoX1Host(
	t: {teardown(fn: () => Promise<void>): void},
	name: string,
): Promise<{fx: Fixtures; root: string; state: string; options: CommonOptions; p: Awaited<ReturnType<Fixtures['startChrooted']>>}> {
	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const root = await dpkgHostRoot(fx, '1.0', name);
	await installDemoX1(fx, root);
	const state = await fx.tempDir();
	const options = readCommon({sysroot: await fx.tempDir('livetree-no-sysroot-'), 'state-dir': state, 'no-systemd': true});
	const p = await fx.startChrooted(root, ['/usr/bin/demo-sleep', '600']);
	t.teardown(async () => p.stop());
	return {fx, root, state, options, p};
}

/** A whole scan of the test's host tree recorded at AT, as `livetree status` records one. */
async function scanAt(fx: Fixtures, options: CommonOptions, root: string, at: number): Promise<void> {
	const scanner = hostRootScanner(fx, options, root);
	const doc = await collect(options, {observe: true}, scanner);
	process.env['LIVETREE_TEST_SCAN_TIME'] = String(at);
	try {
		recordTimeline(options, doc, scanner, 'status', message => {
			throw new Error(message);
		});
	} finally {
		delete process.env['LIVETREE_TEST_SCAN_TIME'];
	}
}

const range = ['--since', `@${t0}`, '--until', `@${t0 + 120}`];

test.serial('timeline --package by source name and version: the library of libdemo-x1 from demo-src', async t => {
	const {fx, root, state, options, p} = await demoX1Host(t, 'tl-src');
	await scanAt(fx, options, root, t0);
	await scanAt(fx, options, root, t0 + 60);
	await scanAt(fx, options, root, t0 + 120);

	const mine = async (spec: string) => {
		const doc = await timeline(state, ['--package', spec, ...range]);
		return {
			intervals: doc.intervals.filter(i => i.pid === p.pid).map(i => [i.origin.key, i.origin.source, i.origin.sourceVersion, i.firstSeen, i.lastSeen]),
			unsourced: doc.coverage.unsourcedPackageVersions,
		};
	};

	const found = [['libdemo-x1=1.2.3-4', 'demo-src', '1.2.3-4', iso(t0), null]];
	t.deepEqual(await mine('demo-src=1.2.3'), {intervals: found, unsourced: 0});
	t.deepEqual(await mine('demo-src=1.2.3-4'), {intervals: found, unsourced: 0});
	t.deepEqual(await mine('demo-src'), {intervals: found, unsourced: 0});
	t.deepEqual(await mine('libdemo-x1'), {intervals: found, unsourced: null});
	for (const nothing of ['demo-src=1.2', 'demo-src=1.2.3-5', 'demo-src=1.2.30']) {
		t.deepEqual(await mine(nothing), {intervals: [], unsourced: 0}, nothing);
	}

	// Text: the version header names the source it was found through; nothing is nothing.
	const header = `Recorded scans: ${localTime(t0)} … ${localTime(t0 + 120)}; 3 in the asked range`;
	const text = await livetree(['timeline', '--state-dir', state, '--color', 'never', '--package', 'demo-src=1.2.3', ...range]);
	t.is(text.code, 0, text.stderr);
	const lines = text.stdout.split('\n');
	t.is(lines[0], header);
	t.is(lines[2], `libdemo-x1 1.2.3-4 (source demo-src 1.2.3-4): in memory ${localTime(t0)} → the latest scan (still in memory)`);
	t.is(lines[3], `  sleep (no unit): 1 process (PID ${p.pid}), ${localTime(t0)} → now; still running at the latest scan`);
	const byBinary = await livetree(['timeline', '--state-dir', state, '--color', 'never', '--package', 'libdemo-x1', ...range]);
	t.is(byBinary.code, 0, byBinary.stderr);
	t.is(byBinary.stdout.split('\n')[2], `libdemo-x1 1.2.3-4: in memory ${localTime(t0)} → the latest scan (still in memory)`);
	for (const nothing of ['demo-src=1.2', 'demo-src=1.2.3-5', 'demo-src=1.2.30']) {
		const r = await livetree(['timeline', '--state-dir', state, '--color', 'never', '--package', nothing, ...range]);
		t.is(r.code, 0, r.stderr);
		t.is(r.stdout, `${header}\nNothing matching was in memory in the asked range, by every scan recorded there.\n`, nothing);
	}
});

test.serial('a catalog of schema 7: migrated, its package origin backfilled when the catalog knows its source, else said', async t => {
	const {fx, root, state, options, p} = await demoX1Host(t, 'tl-src-mig');
	await scanAt(fx, options, root, t0);
	// Back to schema 7 as the previous livetree wrote it: no source columns, no index.
	const file = catalogPath(options);
	const toSeven =
		'DROP INDEX timeline_origins_source; ALTER TABLE timeline_origins DROP COLUMN source; ALTER TABLE timeline_origins DROP COLUMN source_version; PRAGMA user_version = 7;';
	await run('sqlite3', [file, toSeven]);
	// Another copy whose packages table lost libdemo-x1's row: nothing to backfill it from.
	const bare = await fx.tempDir();
	await run('sqlite3', [file, `VACUUM INTO '${catalogPath(readCommon({'state-dir': bare}))}'`]);
	await run('sqlite3', [catalogPath(readCommon({'state-dir': bare})), "DELETE FROM packages WHERE name = 'libdemo-x1';"]);
	// Schema 7 is not read by this livetree without migrating, which only a writer does.
	const old = await livetree(['timeline', '--state-dir', state, '--package', 'demo-src']);
	t.is(old.code, 2);
	t.regex(old.stderr, /schema version 7 and this livetree reads version 8/);

	// The next scan migrates; the process maps the same version (a heartbeat).
	const bareOptions = readCommon({sysroot: options.sysroot, 'state-dir': bare, 'no-systemd': true});
	await scanAt(fx, options, root, t0 + 60);
	await scanAt(fx, bareOptions, root, t0 + 60);
	const version = async (dir: string) => (await run('sqlite3', [catalogPath(readCommon({'state-dir': dir})), 'PRAGMA user_version;'])).stdout.trim();
	t.is(await version(state), '8');
	t.is(await version(bare), '8');
	const span = ['--since', `@${t0}`, '--until', `@${t0 + 60}`];

	// Backfilled: found by its source.
	const filled = await timeline(state, ['--package', 'demo-src=1.2.3', ...span]);
	t.deepEqual(
		filled.intervals.filter(i => i.pid === p.pid).map(i => [i.origin.key, i.origin.source, i.origin.sourceVersion]),
		[['libdemo-x1=1.2.3-4', 'demo-src', '1.2.3-4']],
	);

	// Not backfilled: the source name matches nothing, and the answer says why it may not.
	const unsourced = await timeline(bare, ['--package', 'demo-src=1.2.3', ...span]);
	t.deepEqual(unsourced.intervals, []);
	// The catalog's own count (SQL) of versions without a source in memory in the range, the
	// scanned host's other processes' included; libdemo-x1's is one of them.
	const sql = async (query: string) => (await run('sqlite3', [catalogPath(bareOptions), query])).stdout.trim();
	const overlapping = `o.kind = 'package' AND o.source IS NULL AND u.first_seen <= ${t0 + 60} AND coalesce(u.ended_at, ${t0 + 60 + 7201}) > ${t0}`;
	const n = Number(await sql(`SELECT count(DISTINCT o.id) FROM timeline_origins o JOIN timeline_uses u ON u.origin_id = o.id WHERE ${overlapping}`));
	t.is(
		await sql(
			`SELECT count(DISTINCT o.id) FROM timeline_origins o JOIN timeline_uses u ON u.origin_id = o.id WHERE ${overlapping} AND o.key = 'libdemo-x1=1.2.3-4'`,
		),
		'1',
	);
	t.is(unsourced.coverage.unsourcedPackageVersions, n);
	const text = await livetree(['timeline', '--state-dir', bare, '--color', 'never', '--package', 'demo-src=1.2.3', ...span]);
	t.is(text.code, 0, text.stderr);
	const lines = text.stdout.trimEnd().split('\n');
	t.is(
		lines[1],
		n === 1
			? '1 package version was recorded without its source package (before livetree recorded it): a source name may not match it'
			: `${n} package versions were recorded without their source package (before livetree recorded it): a source name may not match them`,
	);
	t.is(
		lines[2],
		'Nothing matching was found in the asked range by binary or source name; the versions recorded without their source package (above) may be of this source.',
	);
	t.false(text.stdout.includes('Nothing matching was in memory'));
	// By its binary name it is found, with no note.
	const binary = await timeline(bare, ['--package', 'libdemo-x1', ...span]);
	t.deepEqual(
		binary.intervals.filter(i => i.pid === p.pid).map(i => [i.origin.key, i.origin.source]),
		[['libdemo-x1=1.2.3-4', null]],
	);
	t.is(binary.coverage.unsourcedPackageVersions, null);

	// A process that starts mapping that version records its source on the origin.
	const q = await fx.startChrooted(root, ['/usr/bin/demo-sleep', '600']);
	t.teardown(async () => q.stop());
	await scanAt(fx, bareOptions, root, t0 + 120);
	const later = await timeline(bare, ['--package', 'demo-src=1.2.3', '--since', `@${t0}`, '--until', `@${t0 + 120}`]);
	t.deepEqual(
		later.intervals.filter(i => i.pid === p.pid || i.pid === q.pid).map(i => [i.origin.key, i.pid, i.firstSeen]),
		[
			['libdemo-x1=1.2.3-4', p.pid, iso(t0)],
			['libdemo-x1=1.2.3-4', q.pid, iso(t0 + 120)],
		],
	);
});
