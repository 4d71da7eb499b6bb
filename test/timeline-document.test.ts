// `livetree timeline --json` is written by the core as JSON text (catalog/timeline_document.rs).
// Over a catalog this test records (real scans of a real dpkg host tree, its own processes,
// set scan times with a gap and a clock going back), each answer is byte for byte what the
// TypeScript mapping that wrote it before produced from the same native rows (kept here as
// the reference), validates against schema/timeline.schema.json, and its numbers are the
// catalog's own, counted with SQL.
import {execFile} from 'node:child_process';
import {promisify} from 'node:util';
import test from 'ava';
import type {TimelineAnswer, TimelineFilter} from '../native/binding.js';
import {collect} from '../src/collect.js';
import {native} from '../src/native.js';
import {catalogPath, readCommon} from '../src/options.js';
import type {TimelineDocument} from '../src/timeline/answer.js';
import {recordTimeline} from '../src/timeline/record.js';
import {livetree} from './helpers/cli.js';
import {dpkgHostRoot} from './helpers/dpkg.js';
import {Fixtures} from './helpers/fixture.js';
import {hostRootScanner} from './helpers/host-scanner.js';
import {validateTimeline} from './helpers/timeline.js';

const run = promisify(execFile);
const iso = (s: number | null | undefined) => (s === null || s === undefined ? null : new Date(s * 1000).toISOString());

/** The mapping src/timeline/answer.ts did before the core wrote the document (the reference). */
function reference(answer: TimelineAnswer, filter: TimelineFilter, at: number | undefined): TimelineDocument {
	return {
		schemaVersion: 1,
		query: {
			since: at === undefined ? iso(filter.since) : null,
			until: at === undefined ? iso(filter.until) : null,
			at: iso(at),
			unit: filter.unit ?? null,
			package: filter.package ?? null,
			packageVersion: filter.packageVersion ?? null,
			commit: filter.commit ?? null,
			container: filter.container ?? null,
		},
		coverage: {
			firstScan: iso(answer.firstScan),
			latestScan: iso(answer.latestScan),
			scans: answer.scans,
			scanBefore: iso(answer.scanBefore),
			scanAfter: iso(answer.scanAfter),
			gaps: answer.gaps.map(g => ({from: iso(g.from), to: iso(g.to)})),
			clockBack: answer.clockBack.map(t => iso(t)!),
			// Added with the source package of package origins (catalog schema 8).
			unsourcedPackageVersions: answer.unsourced ?? null,
		},
		intervals: answer.rows.map(r => ({
			pid: r.pid,
			startedAt: iso(r.startedAt),
			comm: r.comm,
			unit: r.unit ?? null,
			container: r.container ?? null,
			process: {
				firstSeen: iso(r.processFirstSeen)!,
				lastSeen: iso(r.processLastSeen),
				endedAt: iso(r.processEndedAt),
				endReason: r.endReason ?? null,
				restart: r.restartId === undefined || r.restartId === null ? null : {id: r.restartId, verdict: r.restartVerdict ?? null},
			},
			origin: {kind: r.kind, key: r.key, label: r.label ?? null, source: r.source ?? null, sourceVersion: r.sourceVersion ?? null},
			firstSeen: iso(r.firstSeen)!,
			lastSeen: iso(r.lastSeen),
			endedAt: iso(r.endedAt),
		})),
	};
}

/** One number from the catalog, by SQL (python3's sqlite3, read-only). */
async function sql(file: string, query: string): Promise<number> {
	const {stdout} = await run('python3', [
		'-c',
		'import sqlite3, sys\nc = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True)\nprint(c.execute(sys.argv[2]).fetchone()[0])',
		file,
		query,
	]);
	return Number(stdout.trim());
}

test('timeline --json: the core writes what the TypeScript mapping wrote, byte for byte, and the catalog counts it', async t => {
	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const root = await dpkgHostRoot(fx, '5.0', 'tl-doc');
	const sysroot = await fx.tempDir('livetree-no-sysroot-');
	const state = await fx.tempDir();
	const options = readCommon({sysroot, 'state-dir': state, 'no-systemd': true});
	const file = catalogPath(options);
	const scanner = hostRootScanner(fx, options, root);
	const scanAt = async (at: number) => {
		const doc = await collect(options, {observe: true}, scanner);
		process.env['LIVETREE_TEST_SCAN_TIME'] = String(at);
		try {
			recordTimeline(options, doc, scanner, 'status', message => t.fail(message));
		} finally {
			delete process.env['LIVETREE_TEST_SCAN_TIME'];
		}
	};

	// Scans at t0 and t0+60; three hours without one (a gap); then one whose clock went back
	// ten minutes; then one more. A ran for the first two scans, B from the third on.
	const t0 = 1_950_000_000;
	const late = t0 + 3 * 3600;
	const a = await fx.startChrooted(root, ['/usr/bin/demo-sleep', '600']);
	await scanAt(t0);
	await scanAt(t0 + 60);
	await a.stop();
	const b = await fx.startChrooted(root, ['/usr/bin/demo-sleep', '600']);
	await scanAt(late);
	await scanAt(late - 600);
	await scanAt(late + 60);
	await b.stop();

	const queries: Array<{args: string[]; filter: TimelineFilter; at?: number}> = [
		{args: [], filter: {}},
		{args: ['--package', 'livetree-demo'], filter: {package: 'livetree-demo'}},
		{args: ['--package', 'livetree-demo=5.0-1'], filter: {package: 'livetree-demo', packageVersion: '5.0-1'}},
		{args: ['--at', `@${t0 + 30}`], filter: {since: t0 + 30, until: t0 + 30}, at: t0 + 30},
		{args: ['--at', `@${t0 + 3600}`], filter: {since: t0 + 3600, until: t0 + 3600}, at: t0 + 3600},
		{args: ['--since', `@${t0 - 600}`, '--until', `@${late + 3 * 3600}`], filter: {since: t0 - 600, until: late + 3 * 3600}},
		{args: ['--unit', 'no-such.service'], filter: {unit: 'no-such.service'}},
	];
	const docs: TimelineDocument[] = [];
	for (const q of queries) {
		const r = await livetree(['timeline', '--state-dir', state, '--json', ...q.args]);
		t.is(r.code, 0, r.stderr);
		const expected = reference(native.catalogQueryTimeline(file, q.filter), q.filter, q.at);
		t.is(r.stdout, `${JSON.stringify(expected)}\n`, q.args.join(' '));
		const doc = JSON.parse(r.stdout) as TimelineDocument;
		t.true(validateTimeline(doc), JSON.stringify(validateTimeline.errors));
		docs.push(doc);
	}

	const [all, pkg, version, atStart, , range, none] = docs as [
		TimelineDocument,
		TimelineDocument,
		TimelineDocument,
		TimelineDocument,
		TimelineDocument,
		TimelineDocument,
		TimelineDocument,
	];
	// The catalog's own numbers.
	t.is(all.coverage.scans, 5);
	t.is(await sql(file, 'SELECT count(*) FROM timeline_scans'), 5);
	t.is(all.intervals.length, await sql(file, 'SELECT count(*) FROM timeline_uses'));
	const demoUses = await sql(
		file,
		"SELECT count(*) FROM timeline_uses u JOIN timeline_origins o ON o.id = u.origin_id WHERE o.kind = 'package' AND o.key LIKE 'livetree-demo=%'",
	);
	t.is(pkg.intervals.length, demoUses);
	// Other processes on this host may map other versions; 5.0-1 is this test's tree's.
	t.is(
		version.intervals.length,
		await sql(
			file,
			"SELECT count(*) FROM timeline_uses u JOIN timeline_origins o ON o.id = u.origin_id WHERE o.kind = 'package' AND o.key = 'livetree-demo=5.0-1'",
		),
	);
	t.deepEqual([...new Set(version.intervals.map(i => i.origin.key))], ['livetree-demo=5.0-1']);
	// A's one interval; B's two: the clock going back closes open intervals at the scan before
	// it (docs/timeline.md), and the scan after starts new ones, not merged.
	const mine = pkg.intervals.filter(i => i.pid === a.pid || i.pid === b.pid);
	t.deepEqual(
		mine.map(i => [i.pid, i.origin.key, i.firstSeen, i.lastSeen, i.endedAt]),
		[
			[a.pid, 'livetree-demo=5.0-1', iso(t0), iso(t0 + 60), iso(late)],
			[b.pid, 'livetree-demo=5.0-1', iso(late), iso(late), iso(late)],
			[b.pid, 'livetree-demo=5.0-1', iso(late - 600), null, null],
		],
	);
	t.deepEqual(all.coverage.gaps, [{from: iso(t0 + 60), to: iso(late)}]);
	t.deepEqual(all.coverage.clockBack, [iso(late - 600)]);
	t.is(all.coverage.firstScan, iso(t0));
	t.is(all.coverage.latestScan, iso(late + 60));
	// At t0 + 30, A ran (each of its origins an interval) and B did not yet.
	t.deepEqual([...new Set(atStart.intervals.filter(i => i.pid === a.pid || i.pid === b.pid).map(i => i.pid))], [a.pid]);
	t.is(atStart.query.at, iso(t0 + 30));
	t.is(atStart.query.since, null);
	t.deepEqual(range.coverage.gaps, [
		{from: null, to: iso(t0)},
		{from: iso(t0 + 60), to: iso(late)},
		{from: iso(late + 60), to: null},
	]);
	t.is(range.coverage.scans, 5);
	t.deepEqual(none.intervals, []);

	// The text report reads the same document.
	const text = await livetree(['timeline', '--state-dir', state, '--package', 'livetree-demo', '--color', 'never']);
	t.is(text.code, 0, text.stderr);
	t.regex(text.stdout, /livetree-demo 5\.0-1/);
});
