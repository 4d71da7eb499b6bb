// `livetree timeline` over real scans recorded by `livetree status` (as root): an OSTree
// upgrade (trees with a real dpkg database) and an audited `livetree restart` of a real unit
// of a real systemd --user manager; a dpkg upgrade on a host without OSTree; a scan by an
// ordinary user (never recorded). Assertions are about this test's own units and processes.
import {execFile, spawn} from 'node:child_process';
import {randomUUID} from 'node:crypto';
import {chmod, readFile, rm, symlink, writeFile} from 'node:fs/promises';
import {join} from 'node:path';
import {promisify} from 'node:util';
import test from 'ava';
import Ajv2020 from 'ajv/dist/2020.js';
import {collect} from '../src/collect.js';
import type {DiffDocument} from '../src/model/diff.js';
import type {StatusDocument} from '../src/model/document.js';
import {readCommon} from '../src/options.js';
import {recordTimeline} from '../src/timeline/record.js';
import {livetree, livetreeAs, projectRoot} from './helpers/cli.js';
import {commitWithDb} from './helpers/dpkg-commit.js';
import {dpkgHostRoot, dpkgUpgrade} from './helpers/dpkg.js';
import {hostRootScanner} from './helpers/host-scanner.js';
import {Fixtures} from './helpers/fixture.js';
import {startUserManager} from './helpers/systemd-user.js';
import {timeline} from './helpers/timeline.js';

const run = promisify(execFile);
const ajv = new Ajv2020.default({allErrors: true, strict: false});
const validateDiff = ajv.compile(JSON.parse(await readFile(join(projectRoot, 'schema/diff.schema.json'), 'utf8')) as object);

test.serial('an OSTree upgrade and an audited restart: which version ran when, and which restart ended it', async t => {
	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const m = await startUserManager();
	t.teardown(async () => m.stop());
	const s = await fx.initSysroot();
	const v1 = await commitWithDb(fx, s, '1.0');
	const d1 = (await s.deploy()).deployments[0]!;
	const current = join(await fx.tempDir(), 'current');
	await symlink(d1.path, current);
	const unit = `lt-tl-${randomUUID().slice(0, 8)}.service`;
	await m.startUnit(unit, ['/usr/sbin/chroot', current, '/usr/bin/demo-sleep', '600'], {properties: ['Restart=no']});
	const state = await fx.tempDir();
	const bus = ['--bus-address', m.busAddress, '--sysroot', s.path, '--state-dir', state];

	const first = await livetree(['status', '--json', ...bus]);
	t.not(first.code, 2, first.stderr);
	const before = JSON.parse(first.stdout) as StatusDocument;
	const oldPid = before.units.find(u => u.name === unit)!.mainPid!;
	const firstAt = before.generatedAt.replace(/\.\d+Z$/, '.000Z');

	const v2 = await commitWithDb(fx, s, '2.0');
	const d2 = (await s.deploy()).deployments[0]!;
	await rm(current);
	await symlink(d2.path, current);
	const restart = await livetree(['restart', unit, '--json', ...bus]);
	t.is(restart.code, 0, restart.stdout + restart.stderr);
	const [outcome] = JSON.parse(restart.stdout) as Array<{verdict: string; newPids: number[]}>;
	t.is(outcome!.verdict, 'verified');
	const [newPid] = outcome!.newPids;
	const history = JSON.parse((await livetree(['history', '--json', '--state-dir', state])).stdout) as Array<{id: number; unit: string}>;
	const restartId = history.find(h => h.unit === unit)!.id;

	const second = await livetree(['status', '--json', ...bus]);
	t.not(second.code, 2, second.stderr);
	const after = JSON.parse(second.stdout) as StatusDocument;
	const secondAt = after.generatedAt.replace(/\.\d+Z$/, '.000Z');

	// Per package: 1.0-1 in the old process until the restart ended it; 2.0-1 in the new one.
	const pkg = await timeline(state, ['--package', 'livetree-demo', '--unit', unit]);
	t.deepEqual(
		pkg.intervals.map(i => [i.origin.key, i.pid, i.firstSeen, i.lastSeen, i.endedAt, i.process.restart]),
		[
			['livetree-demo=1.0-1', oldPid, firstAt, firstAt, secondAt, {id: restartId, verdict: 'verified'}],
			['livetree-demo=2.0-1', newPid, secondAt, null, null, null],
		],
	);
	t.deepEqual(pkg.coverage.gaps, []);
	t.is(pkg.coverage.scans, 2);
	// One version only.
	const one = await timeline(state, ['--package', 'livetree-demo=2.0-1', '--unit', unit]);
	t.deepEqual(
		one.intervals.map(i => i.pid),
		[newPid],
	);
	// Per commit, by a prefix.
	const byCommit = await timeline(state, ['--commit', v1.slice(0, 12), '--unit', unit]);
	t.deepEqual(byCommit.intervals.map(i => [i.origin.kind, i.origin.key, i.origin.label, i.pid]).sort(), [
		['commit', v1, '1.0', oldPid],
		['deployment', `demo/${v1}.0`, '1.0', oldPid],
	]);

	// At the first scan: the old process with 1.0; at the second: the new one with 2.0.
	const atFirst = await timeline(state, ['--at', `@${Date.parse(firstAt) / 1000}`, '--unit', unit]);
	t.deepEqual([...new Set(atFirst.intervals.map(i => i.pid))], [oldPid]);
	t.true(atFirst.intervals.some(i => i.origin.kind === 'commit' && i.origin.key === v1));
	const atSecond = await timeline(state, ['--at', `@${Date.parse(secondAt) / 1000}`, '--unit', unit]);
	t.deepEqual([...new Set(atSecond.intervals.map(i => i.pid))], [newPid]);
	t.true(atSecond.intervals.some(i => i.origin.kind === 'commit' && i.origin.key === v2));

	// Before any scan: said, never "nothing ran".
	const early = await livetree(['timeline', '--state-dir', state, '--at', '2020-01-01 12:00', '--unit', unit]);
	t.is(early.code, 0, early.stderr);
	t.regex(early.stdout, /no scan between 2020-01-01 12:00:00 and \S+ \S+ \(before the first scan\): what ran then is not known/);
	t.notRegex(early.stdout, /Nothing matching was in memory/);

	// Text, per package: each version from when to when, and what ended it.
	const text = await livetree(['timeline', '--state-dir', state, '--package', 'livetree-demo', '--unit', unit, '--color', 'never']);
	t.is(text.code, 0, text.stderr);
	t.regex(
		text.stdout,
		new RegExp(
			`livetree-demo 1\\.0-1: in memory .* → .*\\n  ${unit.replace('.', '\\.')}: 1 process \\(PID ${oldPid}\\), .*; ended by livetree restart #${restartId} \\(verified\\)`,
		),
	);
	t.regex(
		text.stdout,
		new RegExp(
			`livetree-demo 2\\.0-1: in memory .* → the latest scan \\(still in memory\\)\\n  ${unit.replace('.', '\\.')}: 1 process \\(PID ${newPid}\\), .* → now; still running at the latest scan`,
		),
	);

	// diff against the timeline: the document after the upgrade against the first scan's moment.
	const afterFile = join(await fx.tempDir(), 'after.json');
	await writeFile(afterFile, second.stdout);
	const firstEpoch = Date.parse(firstAt) / 1000;
	const d = await livetree(['diff', afterFile, `@${firstEpoch}`, '--state-dir', state, '--json']);
	t.is(d.code, 1, d.stderr);
	const diff = JSON.parse(d.stdout) as DiffDocument;
	t.true(validateDiff(diff), JSON.stringify(validateDiff.errors));
	const app = diff.groups.changed.find(g => g.name === unit)!;
	t.deepEqual(app.commits, {onlyA: [v2], onlyB: [v1]});
	t.deepEqual(app.packages, {onlyA: ['livetree-demo=2.0-1'], onlyB: ['livetree-demo=1.0-1']});
	t.deepEqual(app.needsRestart, {a: false, b: null});
	t.deepEqual(diff.deployments, {added: [], gone: [], changed: []});
	t.deepEqual(diff.notes, ['deployments are not compared: the timeline records what processes ran, not the list of deployments']);
	t.is(diff.b.source, `@${firstEpoch}`);
	// Against the second scan's moment: the unit runs the same code.
	const same = await livetree(['diff', afterFile, `@${Date.parse(secondAt) / 1000}`, '--state-dir', state, '--json']);
	t.not(same.code, 2, same.stderr);
	t.false((JSON.parse(same.stdout) as DiffDocument).groups.changed.some(g => g.name === unit));
	// A moment no scan saw: exit 2, said.
	const unseen = await livetree(['diff', afterFile, '@2020-01-01', '--state-dir', state]);
	t.is(unseen.code, 2);
	t.regex(unseen.stderr, /diff: no scan before \S+ \S+: the timeline does not know what ran at 2020-01-01 00:00:00/);

	// catalog check counts the scans.
	const check = JSON.parse((await livetree(['catalog', 'check', '--json', '--state-dir', state])).stdout) as {timeline: {scans: number; pruned: unknown[]}};
	t.is(check.timeline.scans, 2);
	t.deepEqual(check.timeline.pruned, []);
	const checkText = await livetree(['catalog', 'check', '--state-dir', state]);
	t.regex(checkText.stdout, /timeline: 2 scans from .* to .*, \d+ processes, \d+ intervals; nothing pruned/);

	// An ordinary user's scan reads the catalog but records nothing.
	await chmod(state, 0o755);
	// A process of its own, so that the scan reads something (it may not read root's).
	// Spawned as nobody directly (not through runuser, whose child a kill would leave behind).
	const nobody = Number((await run('id', ['-u', 'nobody'])).stdout.trim());
	const nogroup = Number((await run('id', ['-g', 'nobody'])).stdout.trim());
	const own = spawn('/bin/sleep', ['600'], {stdio: 'ignore', uid: nobody, gid: nogroup});
	t.teardown(() => {
		own.kill('SIGKILL');
	});
	await new Promise(resolve => setTimeout(resolve, 300));
	const asUser = await livetreeAs('nobody', ['status', '--json', '--no-systemd', '--state-dir', state]);
	t.not(asUser.code, 2, asUser.stderr);
	t.regex(asUser.stdout, /read-only to this user/);
	const after2 = JSON.parse((await livetree(['catalog', 'check', '--json', '--state-dir', state])).stdout) as {timeline: {scans: number}};
	t.is(after2.timeline.scans, 2);
});

test('a dpkg upgrade on a host without OSTree: the old version until the process restarted', async t => {
	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const root = await dpkgHostRoot(fx, '5.0', 'tl-host');
	const sysroot = await fx.tempDir('livetree-no-sysroot-');
	const state = await fx.tempDir();
	const options = readCommon({sysroot, 'state-dir': state, 'no-systemd': true});
	// The CLI scans host root `/`; these are its own steps (collect, then the timeline's record,
	// as `livetree status` does) with the test's root as host root and a set scan time.
	const scanner = hostRootScanner(fx, options, root);
	const scanAt = async (at: number): Promise<StatusDocument> => {
		const doc = await collect(options, {observe: true}, scanner);
		process.env['LIVETREE_TEST_SCAN_TIME'] = String(at);
		try {
			recordTimeline(options, doc, scanner, 'status', message => t.fail(message));
		} finally {
			delete process.env['LIVETREE_TEST_SCAN_TIME'];
		}

		return doc;
	};

	const t0 = 1_900_000_000;
	const old = await fx.startChrooted(root, ['/usr/bin/demo-sleep', '600']);
	await scanAt(t0);
	// dpkg replaces the library; the process still maps 5.0 until it restarts.
	await dpkgUpgrade(fx, root, '6.0');
	await scanAt(t0 + 60);
	await old.stop();
	const fresh = await fx.startChrooted(root, ['/usr/bin/demo-sleep', '600']);
	await scanAt(t0 + 120);

	const doc = await timeline(state, ['--package', 'livetree-demo']);
	const mine = doc.intervals.filter(i => i.pid === old.pid || i.pid === fresh.pid);
	const iso = (s: number) => new Date(s * 1000).toISOString();
	t.deepEqual(
		mine.map(i => [i.origin.key, i.pid, i.firstSeen, i.lastSeen, i.endedAt, i.process.endReason]),
		[
			['livetree-demo=5.0-1', old.pid, iso(t0), iso(t0 + 60), iso(t0 + 120), 'gone'],
			['livetree-demo=6.0-1', fresh.pid, iso(t0 + 120), null, null, null],
		],
	);
	// At t0 + 90 (between scans): the old process, last seen at t0 + 60, gone by t0 + 120.
	const between = await timeline(state, ['--at', `@${t0 + 90}`, '--package', 'livetree-demo']);
	t.deepEqual(
		between.intervals.filter(i => i.pid === old.pid || i.pid === fresh.pid).map(i => i.origin.key),
		['livetree-demo=5.0-1'],
	);
	t.is(between.coverage.scanBefore, iso(t0 + 60));
	t.is(between.coverage.scanAfter, iso(t0 + 120));
	// Three hours later: after the latest scan, said as a gap.
	const late = await timeline(state, ['--at', `@${t0 + 3 * 3600}`]);
	t.deepEqual(late.coverage.gaps, [{from: iso(t0 + 120), to: null}]);
	t.deepEqual(late.intervals, []);
	await fresh.stop();
});

test('timeline without a catalog, and bad times: exit 2 with the reason', async t => {
	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const state = await fx.tempDir();
	const none = await livetree(['timeline', '--state-dir', state]);
	t.is(none.code, 2);
	t.regex(none.stderr, /no catalog here, so no scan was recorded/);
	const bad = await livetree(['timeline', '--state-dir', state, '--since', 'yesterday-ish']);
	t.is(bad.code, 2);
	t.regex(bad.stderr, /--since: cannot read "yesterday-ish" as a time/);
	const both = await livetree(['timeline', '--state-dir', state, '--at', 'now', '--since', '1d']);
	t.is(both.code, 2);
	t.regex(both.stderr, /--at asks about one moment/);
});
