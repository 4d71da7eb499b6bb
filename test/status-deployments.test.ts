// livetree's deployment list, field by field, against what `ostree admin status` prints
// (fixtures/sysroot.sh parses the real CLI's text) for real sysroots.
import test from 'ava';
import {Fixtures, type Scenario, type SysrootState} from './helpers/fixture.js';
import {livetree} from './helpers/cli.js';
import {schemaErrors} from './helpers/schema.js';
import {checkedDocument} from './helpers/exit-code.js';
import type {StatusDocument} from '../src/model/document.js';

async function status(sysroot: string, stateDir: string): Promise<StatusDocument> {
	return checkedDocument(await livetree(['status', '--json', '--no-systemd', '--sysroot', sysroot, '--state-dir', stateDir]));
}

// What `ostree admin status` tells of a deployment, from livetree's list or the fixture's.
const TOLD = ['osname', 'checksum', 'serial', 'version', 'refspec', 'booted', 'pending', 'rollback', 'staged', 'pinned', 'path'] as const;
const told = (d: Partial<Record<(typeof TOLD)[number], unknown>>) => Object.fromEntries(TOLD.map(k => [k, d[k]]));

function compare(t: import('ava').ExecutionContext, doc: StatusDocument, expected: SysrootState): void {
	t.deepEqual(schemaErrors(doc), []);
	t.is(doc.sysroot.repoMode, 'bare');
	t.deepEqual(doc.deployments.map(told), expected.deployments.map(told));
	for (const d of doc.deployments) {
		t.is(d.id, `${d.osname}/${d.checksum}.${d.serial}`);
		t.is(d.unlocked, 'none');
	}
}

for (const scenario of ['one', 'two', 'three', 'undeployed', 'reserial'] as Scenario[]) {
	test(`deployments match ostree admin status: ${scenario}`, async t => {
		const fx = new Fixtures();
		t.teardown(async () => fx.cleanup());
		const built = await fx.buildSysroot(scenario);
		const state = await fx.tempDir();
		const doc = await status(built.sysroot, state);
		t.true(doc.deployments.length > 0);
		compare(t, doc, built);
		if (scenario === 'three') {
			t.true(doc.deployments.some(d => d.pinned));
		}
	});
}

test('a corrupt .origin file is a warning; the rest is still reported', async t => {
	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const built = await fx.buildSysroot('two');
	const victim = built.deployments[1]!;
	const {writeFile} = await import('node:fs/promises');
	const {execFileSync} = await import('node:child_process');
	const originFile = `${victim.path}.origin`;
	execFileSync('chattr', ['-i', originFile], {stdio: 'ignore'});
	await writeFile(originFile, Buffer.from([0x5b, 0xff, 0x0a, 0x6b]));
	const doc = await status(built.sysroot, await fx.tempDir());
	t.deepEqual(schemaErrors(doc), []);
	t.is(doc.deployments.length, 2);
	t.true(
		doc.warnings.some(w => w.code === 'origin-corrupt' && w.message.includes(originFile)),
		JSON.stringify(doc.warnings),
	);
});

// Damage the catalog cannot hide: what an earlier scan recorded is no evidence that the
// sysroot is whole now.
test('a missing .origin and a vanished commit already in the catalog are warnings naming the file', async t => {
	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const built = await fx.buildSysroot('two');
	const state = await fx.tempDir();
	// The first scan records both commits in the catalog.
	const first = await status(built.sysroot, state);
	// About this sysroot and catalog: other tests' mounts and processes on the host are theirs.
	t.deepEqual(
		first.warnings.filter(w => w.pid === null && (w.message.includes(built.sysroot) || w.message.includes(state))),
		[],
	);
	const {rm} = await import('node:fs/promises');
	const {execFileSync} = await import('node:child_process');
	const victim = built.deployments[1]!;
	const originFile = `${victim.path}.origin`;
	execFileSync('chattr', ['-i', originFile], {stdio: 'ignore'});
	await rm(originFile);
	const commitFile = `${built.repo}/objects/${victim.checksum.slice(0, 2)}/${victim.checksum.slice(2)}.commit`;
	await rm(commitFile);
	const doc = await status(built.sysroot, state);
	t.deepEqual(schemaErrors(doc), []);
	t.is(doc.deployments.length, 2);
	t.true(
		doc.warnings.some(w => w.code === 'origin-missing' && w.message.includes(originFile)),
		JSON.stringify(doc.warnings),
	);
	t.true(
		doc.warnings.some(w => w.code === 'commit-unreadable' && w.message.includes(commitFile)),
		JSON.stringify(doc.warnings),
	);
	// The other deployment is whole: nothing is said about it.
	const whole = built.deployments[0]!;
	t.false(
		doc.warnings.some(w => w.message.includes(whole.checksum)),
		JSON.stringify(doc.warnings),
	);
	t.is(doc.deployments.find(d => d.checksum === victim.checksum)!.refspec, null);
});

test('a sysroot whose repository is gone says so', async t => {
	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const built = await fx.buildSysroot('one');
	const {rename} = await import('node:fs/promises');
	await rename(built.repo, `${built.repo}.gone`);
	t.teardown(async () => rename(`${built.repo}.gone`, built.repo));
	const doc = await status(built.sysroot, await fx.tempDir());
	t.deepEqual(schemaErrors(doc), []);
	t.is(doc.deployments.length, 1);
	t.true(
		doc.warnings.some(w => w.code === 'repo-unreadable' && w.message.includes(built.repo)),
		JSON.stringify(doc.warnings),
	);
});

test('a recorded deployment commit whose root tree vanished, and a ref to a missing commit, are warnings', async t => {
	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const built = await fx.buildSysroot('one');
	const state = await fx.tempDir();
	await status(built.sysroot, state);
	const {rm} = await import('node:fs/promises');
	const {execFileSync} = await import('node:child_process');
	const d = built.deployments[0]!;
	const listing = execFileSync('ostree', [`--repo=${built.repo}`, 'ls', '-C', '-d', d.checksum, '/'], {encoding: 'utf8'});
	const tree = listing.trim().split(/\s+/)[4]!;
	t.regex(tree, /^[0-9a-f]{64}$/);
	const treeFile = `${built.repo}/objects/${tree.slice(0, 2)}/${tree.slice(2)}.dirtree`;
	await rm(treeFile);
	// A ref naming a commit the repo does not have.
	const missing = 'f'.repeat(64);
	const {writeFile} = await import('node:fs/promises');
	await writeFile(`${built.repo}/refs/heads/demo/broken`, `${missing}\n`);
	const doc = await status(built.sysroot, state);
	t.deepEqual(schemaErrors(doc), []);
	t.is(doc.deployments.length, 1);
	t.true(
		doc.warnings.some(w => w.code === 'commit-unreadable' && w.message.includes(treeFile)),
		JSON.stringify(doc.warnings),
	);
	t.true(
		doc.warnings.some(w => w.code === 'commit-unreadable' && w.message.includes('demo/broken') && w.message.includes(missing)),
		JSON.stringify(doc.warnings),
	);
});
