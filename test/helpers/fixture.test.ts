// The fixtures themselves, checked against the real system: each scenario builds with the
// real ostree CLI, and a chrooted process really maps the deployment's files, which are
// the repo's objects (one inode in a bare repo).
import test from 'ava';
import type {ExecutionContext} from 'ava';
import {lstat, readdir, readlink, stat} from 'node:fs/promises';
import {join} from 'node:path';

import {Fixtures, devMajorMinor, mappedFiles} from './fixture.js';
import type {Scenario} from './fixture.js';

/** The repo object file with this (dev, ino), searched in objects/XX/. */
async function repoObjectFor(repo: string, dev: bigint, ino: bigint): Promise<string | undefined> {
	const objects = join(repo, 'objects');
	for (const sub of await readdir(objects)) {
		for (const name of await readdir(join(objects, sub))) {
			if (!name.endsWith('.file')) continue;
			const p = join(objects, sub, name);
			const st = await lstat(p, {bigint: true});
			if (st.ino === ino && st.dev === dev) return p;
		}
	}
	return undefined;
}

const expected: Record<Scenario, {count: number; versions: Array<string | null>}> = {
	empty: {count: 0, versions: []},
	one: {count: 1, versions: ['1.0']},
	two: {count: 2, versions: ['2.0', '1.0']},
	three: {count: 3, versions: ['3.0', '2.0', '1.0']},
	undeployed: {count: 1, versions: ['2.0']},
	reserial: {count: 2, versions: ['1.0', '1.0']},
};

async function checkScenario(t: ExecutionContext, scenario: Scenario): Promise<void> {
	const fx = new Fixtures();
	t.teardown(() => fx.cleanup());
	const s = await fx.buildSysroot(scenario);
	t.is(s.deployments.length, expected[scenario].count);
	t.deepEqual(
		s.deployments.map(d => d.version),
		expected[scenario].versions,
	);
	if (scenario === 'three')
		t.deepEqual(
			s.deployments.map(d => d.pinned),
			[false, false, true],
		);
	if (scenario === 'reserial')
		t.deepEqual(
			s.deployments.map(d => d.serial),
			[1, 0],
		);
	const d = s.deployments[0];
	if (!d) return;
	t.true(s.commits.includes(d.checksum));

	const p = await fx.startChrooted(d.path);
	t.is(await readlink(`/proc/${p.pid}/root`), d.path);
	const sleepPath = join(d.path, 'usr/bin/sleep');
	const st = await stat(sleepPath, {bigint: true});
	const [major, minor] = devMajorMinor(st.dev);
	const sleepMap = (await mappedFiles(p.pid)).find(m => m.path === sleepPath);
	t.truthy(sleepMap, 'sleep is mapped from the deployment path');
	t.is(sleepMap?.inode, st.ino);
	t.deepEqual([sleepMap?.major, sleepMap?.minor], [major, minor]);
	// A bare repo: the deployment's file is the object itself.
	const obj = await repoObjectFor(s.repo, st.dev, st.ino);
	t.truthy(obj, 'a repo object shares the inode of the deployed sleep');
	await p.stop();
	await t.throwsAsync(stat(`/proc/${p.pid}/maps`));
}

for (const scenario of Object.keys(expected) as Scenario[]) {
	test(`scenario ${scenario}: builds, and a chrooted sleep maps the repo object`, t => checkScenario(t, scenario));
}

test('live update: a process started from 1.0 keeps mapping deleted 1.0 files after undeploy+cleanup', async t => {
	const fx = new Fixtures();
	t.teardown(() => fx.cleanup());
	const h = await fx.initSysroot('demo');
	const c1 = await h.commit('1.0');
	const s1 = await h.deploy();
	const d1 = s1.deployments[0];
	if (!d1) return t.fail('no deployment after first deploy');
	const p = await fx.startChrooted(d1.path, ['/usr/bin/demo-sleep', '600']);
	const lib1 = join(d1.path, 'usr/lib/livetree-demo/libdemo.so.1');
	const before = (await mappedFiles(p.pid)).find(m => m.path === lib1);
	t.truthy(before, 'demo-sleep maps libdemo from the deployment');
	t.false(before?.deleted);

	const c2 = await h.commit('2.0');
	t.not(c1, c2);
	// Versions differ in their objects, not only in their commits.
	for (const path of ['/usr/lib/livetree-demo/libdemo.so.1', '/usr/share/livetree-demo/version', '/usr/lib/os-release']) {
		t.not(await h.objectChecksum(c1, path), await h.objectChecksum(c2, path), path);
	}
	t.is(await h.objectChecksum(c1, '/usr/bin/sleep'), await h.objectChecksum(c2, '/usr/bin/sleep'));

	const s2 = await h.deploy();
	t.deepEqual(
		s2.deployments.map(d => d.checksum),
		[c2, c1],
	);
	await h.undeploy(1);
	const s3 = await h.cleanup();
	t.deepEqual(
		s3.deployments.map(d => d.checksum),
		[c2],
	);
	const after = (await mappedFiles(p.pid)).find(m => m.path === lib1);
	t.truthy(after, 'the old mapping is still there');
	t.true(after?.deleted, 'and now marked (deleted)');
	t.is(after?.inode, before?.inode);
});

test('stage while fake-booted: ostree lists the staged deployment first', async t => {
	const fx = new Fixtures();
	t.teardown(() => fx.cleanup());
	const s = await fx.buildSysroot('two');
	const booted = await s.handle.bootedStatus(1);
	t.deepEqual(
		booted.deployments.map(d => [d.booted, d.pending, d.rollback]),
		[
			[false, true, false],
			[true, false, false],
		],
	);
	const staged = await s.handle.stage(1);
	t.is(staged.deployments.length, 3);
	t.true(staged.deployments[0]?.staged);
	t.true(staged.deployments[2]?.booted);
	// Seen from outside (not booted), ostree ignores the staged record.
	t.is((await s.handle.status()).deployments.length, 2);
});
