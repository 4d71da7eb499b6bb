// The exporter records its scans in the catalog's timeline, at most one a minute: a
// simulated host (own PID namespace, test/helpers/sim-host.ts) whose workload runs
// livetree-demo 1.0-1 from an OSTree deployment whose tree has a real dpkg database; its
// exporter (as root) scans on every scrape, and `livetree timeline` then answers from what
// it recorded. Assertions are about this test's own host, state directory and catalog.
import {setTimeout as sleep} from 'node:timers/promises';
import test from 'ava';
import {track, waitFor} from './helpers/children.js';
import {commitWithDb} from './helpers/dpkg-commit.js';
import {Fixtures} from './helpers/fixture.js';
import {freePort, request} from './helpers/http.js';
import {startSimHost} from './helpers/sim-host.js';
import {timeline} from './helpers/timeline.js';

test('the exporter records into the timeline, at most one scan a minute, and timeline answers from it', async t => {
	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const s = await fx.initSysroot();
	const v1 = await commitWithDb(fx, s, '1.0');
	const deployed = (await s.deploy()).deployments[0]!;
	const host = await startSimHost(deployed.path);
	t.teardown(async () => host.stop());
	const state = await fx.tempDir('livetree-tl-exporter-');
	const port = await freePort();
	const exporter = track(
		t,
		host.livetree(['exporter', '--no-systemd', '--min-interval', '1s', '--listen', `127.0.0.1:${port}`, '--sysroot', s.path, '--state-dir', state]),
		'exporter',
	);
	await waitFor(exporter.output(), () => /serving http:\/\/127\.0\.0\.1:\d+\/metrics/.test(exporter.output()));

	// Three scrapes more than --min-interval apart: three scans, within one minute.
	const started = Date.now();
	let metrics = '';
	for (let i = 0; i < 3; i++) {
		if (i > 0) await sleep(1200);
		const reply = await request(`http://127.0.0.1:${port}/metrics`);
		t.is(reply.status, 200);
		metrics = reply.body;
	}

	t.regex(metrics, /^livetree_scans_total 3$/m, exporter.output());
	t.regex(metrics, /^livetree_up 1$/m);
	t.true(Date.now() - started < 60_000, 'the scrapes took less than the minute between recorded scans');

	// One recorded scan; the workload (PID 1 of its namespace) with its package, commit and deployment.
	const all = await timeline(state, []);
	t.is(all.coverage.scans, 1);
	const ours = all.intervals.filter(i => i.pid === 1);
	t.deepEqual(
		ours
			.filter(i => i.origin.kind !== 'package')
			.map(i => [i.origin.kind, i.origin.key, i.origin.label, i.comm, i.endedAt])
			.sort(),
		[
			['commit', v1, '1.0', 'sleep', null],
			['deployment', `${s.osname}/${v1}.0`, '1.0', 'sleep', null],
		],
	);
	// Its packages from the tree's dpkg database (the Debian userland's own, and ours).
	const packages = ours.filter(i => i.origin.kind === 'package');
	t.true(
		packages.every(i => i.origin.label === 'dpkg' && /^[a-z0-9.+-]+=\S+$/.test(i.origin.key)),
		JSON.stringify(packages),
	);
	t.deepEqual(
		packages.filter(i => i.origin.key.startsWith('livetree-demo=')).map(i => i.origin.key),
		['livetree-demo=1.0-1'],
	);
	const first = all.coverage.firstScan;
	t.is(all.coverage.latestScan, first);

	const pkg = await timeline(state, ['--package', 'livetree-demo']);
	t.deepEqual(
		pkg.intervals.map(i => [i.pid, i.origin.key, i.firstSeen, i.lastSeen, i.endedAt]),
		[[1, 'livetree-demo=1.0-1', first, null, null]],
	);
	const at = await timeline(state, ['--at', `@${Date.parse(first!) / 1000}`, '--package', 'livetree-demo']);
	t.deepEqual(
		at.intervals.map(i => i.pid),
		[1],
	);
});
