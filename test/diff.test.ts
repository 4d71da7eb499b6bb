// `livetree diff A B` over real `status --json` documents: an OSTree upgrade (trees carrying a
// real dpkg database) with a real unit restarted by a real systemd --user manager, and two
// "hosts" (two sysroots, two managers). Assertions are about this test's own units only: the
// documents also hold every other process on the machine.
import {randomUUID} from 'node:crypto';
import {readFileSync} from 'node:fs';
import {rm, symlink, writeFile} from 'node:fs/promises';
import {join} from 'node:path';
import test from 'ava';
import Ajv2020 from 'ajv/dist/2020.js';
import type {DiffDocument} from '../src/model/diff.js';
import type {StatusDocument} from '../src/model/document.js';
import {livetree, projectRoot} from './helpers/cli.js';
import {commitWithDb} from './helpers/dpkg-commit.js';
import {Fixtures} from './helpers/fixture.js';
import {schemaErrors} from './helpers/schema.js';
import {startUserManager, type UserManager} from './helpers/systemd-user.js';

const ajv = new Ajv2020.default({allErrors: true, strict: false});
const validateDiff = ajv.compile(JSON.parse(readFileSync(join(projectRoot, 'schema/diff.schema.json'), 'utf8')) as object);

/** `livetree status --json` against SYSROOT and manager M, saved to a file; the file and its document. */
async function scanTo(fx: Fixtures, m: UserManager, sysroot: string, state: string): Promise<{file: string; doc: StatusDocument}> {
	const r = await livetree(['status', '--json', '--bus-address', m.busAddress, '--sysroot', sysroot, '--state-dir', state]);
	if (r.code === 2) throw new Error(r.stderr);
	const doc = JSON.parse(r.stdout) as StatusDocument;
	const file = join(await fx.tempDir('livetree-diff-doc-'), 'status.json');
	await writeFile(file, r.stdout);
	return {file, doc};
}

async function diff(a: string, b: string): Promise<{code: number; json: DiffDocument; text: string}> {
	const j = await livetree(['diff', a, b, '--json']);
	const t = await livetree(['diff', a, b, '--color', 'never']);
	if (j.code === 2) throw new Error(j.stderr);
	if (t.code !== j.code) throw new Error(`text exit ${t.code}, json exit ${j.code}`);
	return {code: j.code, json: JSON.parse(j.stdout) as DiffDocument, text: t.stdout};
}

test.serial('before and after an OSTree upgrade and a restart: the unit runs the new commit and package version', async t => {
	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const m = await startUserManager();
	t.teardown(async () => m.stop());
	const s = await fx.initSysroot();
	const v1 = await commitWithDb(fx, s, '1.0');
	const d1 = (await s.deploy()).deployments[0]!;
	const base = await fx.tempDir();
	const current = join(base, 'current');
	await symlink(d1.path, current);
	const unit = `lt-diff-${randomUUID().slice(0, 8)}.service`;
	await m.startUnit(unit, ['/usr/sbin/chroot', current, '/usr/bin/demo-sleep', '600'], {properties: ['Restart=no']});
	const state = await fx.tempDir();
	const before = await scanTo(fx, m, s.path, state);
	t.deepEqual(schemaErrors(before.doc), []);

	const v2 = await commitWithDb(fx, s, '2.0');
	const d2 = (await s.deploy()).deployments[0]!;
	await rm(current);
	await symlink(d2.path, current);
	await m.systemctl(['restart', unit]);
	const after = await scanTo(fx, m, s.path, state);
	t.deepEqual(schemaErrors(after.doc), []);

	const r = await diff(before.file, after.file);
	t.is(r.code, 1);
	t.true(validateDiff(r.json), JSON.stringify(validateDiff.errors));
	t.true(r.json.differ);
	t.deepEqual(
		r.json.deployments.added.map(d => [d.id, d.version]),
		[[`demo/${v2}.0`, '2.0']],
	);
	t.deepEqual(r.json.deployments.gone, []);
	// Deployment 1.0 stays, no longer the default: ostree put 2.0 first; nothing else changed on it.
	t.deepEqual(r.json.deployments.changed, []);
	const app = r.json.groups.changed.find(g => g.name === unit);
	t.truthy(app, JSON.stringify(r.json.groups.changed.map(g => g.name)));
	t.is(app!.kind, 'unit');
	t.deepEqual(app!.processes, {a: 1, b: 1});
	t.deepEqual(app!.commits, {onlyA: [v1], onlyB: [v2]});
	t.deepEqual(app!.packages, {onlyA: ['livetree-demo=1.0-1'], onlyB: ['livetree-demo=2.0-1']});
	t.is(app!.images, undefined);
	t.is(app!.overlayFiles, undefined);
	t.is(r.json.commitVersions[v1], '1.0');
	t.is(r.json.commitVersions[v2], '2.0');
	t.false(r.json.groups.added.some(g => g.name === unit));
	t.false(r.json.groups.gone.some(g => g.name === unit));
	t.regex(r.text, new RegExp(`~ ${unit.replace('.', '\\.')}\\n\\s+commit\\s+${v1.slice(0, 10)}… \\(1\\.0\\) → ${v2.slice(0, 10)}… \\(2\\.0\\)`));
	t.regex(r.text, /package\s+livetree-demo 1\.0-1 → livetree-demo 2\.0-1/);
	t.regex(r.text, new RegExp(`\\+ demo/${v2.slice(0, 10)}…\\.0 \\(2\\.0\\)`));

	// A document against itself: no difference, exit 0.
	const same = await diff(after.file, after.file);
	t.is(same.code, 0);
	t.false(same.json.differ);
	t.true(validateDiff(same.json), JSON.stringify(validateDiff.errors));
	t.regex(same.text, /No difference/);

	// The unit stopped: gone on the B side.
	await m.systemctl(['stop', unit]);
	const stopped = await scanTo(fx, m, s.path, state);
	const gone = await diff(after.file, stopped.file);
	t.is(gone.code, 1);
	const g = gone.json.groups.gone.find(x => x.name === unit);
	t.like(g, {kind: 'unit', processes: 1, commits: [v2]});
	t.true(g!.packages.includes('livetree-demo=2.0-1'), JSON.stringify(g));
	t.regex(gone.text, new RegExp(`- ${unit.replace('.', '\\.')}: 1 process, commit ${v2.slice(0, 10)}… \\(2\\.0\\)`));
});

test.serial("two hosts' documents: a unit on both running other versions, a unit on one only", async t => {
	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const [ma, mb] = [await startUserManager(), await startUserManager()];
	t.teardown(async () => {
		await ma.stop();
		await mb.stop();
	});
	const sa = await fx.initSysroot('hosta');
	const sb = await fx.initSysroot('hostb');
	const va = await commitWithDb(fx, sa, '3.0');
	const vb = await commitWithDb(fx, sb, '3.1');
	const da = (await sa.deploy()).deployments[0]!;
	const db = (await sb.deploy()).deployments[0]!;
	const web = `lt-web-${randomUUID().slice(0, 8)}.service`;
	const extra = `lt-extra-${randomUUID().slice(0, 8)}.service`;
	await ma.startUnit(web, ['/usr/sbin/chroot', da.path, '/usr/bin/demo-sleep', '600'], {properties: ['Restart=no']});
	await mb.startUnit(web, ['/usr/sbin/chroot', db.path, '/usr/bin/demo-sleep', '600'], {properties: ['Restart=no']});
	await mb.startUnit(extra, ['/usr/sbin/chroot', db.path, '/usr/bin/demo-sleep', '601'], {properties: ['Restart=no']});
	const a = await scanTo(fx, ma, sa.path, await fx.tempDir());
	const b = await scanTo(fx, mb, sb.path, await fx.tempDir());

	const r = await diff(a.file, b.file);
	t.is(r.code, 1);
	t.true(validateDiff(r.json), JSON.stringify(validateDiff.errors));
	t.deepEqual(
		r.json.deployments.added.map(d => d.id),
		[`hostb/${vb}.0`],
	);
	t.deepEqual(
		r.json.deployments.gone.map(d => d.id),
		[`hosta/${va}.0`],
	);
	const w = r.json.groups.changed.find(g => g.name === web)!;
	t.deepEqual(w.commits, {onlyA: [va], onlyB: [vb]});
	t.deepEqual(w.packages, {onlyA: ['livetree-demo=3.0-1'], onlyB: ['livetree-demo=3.1-1']});
	t.deepEqual(w.needsRestart, {a: false, b: false});
	const e = r.json.groups.added.find(g => g.name === extra);
	t.like(e, {kind: 'unit', processes: 1, needsRestart: false, commits: [vb]});
	t.true(e!.packages.includes('livetree-demo=3.1-1'), JSON.stringify(e));
	t.false(r.json.groups.gone.some(g => g.name === extra));
	t.regex(r.text, new RegExp(`\\+ ${extra.replace('.', '\\.')}: 1 process, commit ${vb.slice(0, 10)}… \\(3\\.1\\)`));
});

test('bad input: exit 2 with the file named', async t => {
	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const dir = await fx.tempDir();
	const notJson = join(dir, 'not.json');
	await writeFile(notJson, 'hello');
	const other = join(dir, 'other.json');
	await writeFile(other, JSON.stringify({schemaVersion: 2, processes: []}));
	const missing = join(dir, 'missing.json');

	const r1 = await livetree(['diff', notJson, other]);
	t.is(r1.code, 2);
	t.regex(r1.stderr, new RegExp(`${notJson} is not JSON`));
	const r2 = await livetree(['diff', other, other]);
	t.is(r2.code, 2);
	t.regex(r2.stderr, new RegExp(`${other} is not a status document: no schemaVersion 1`));
	const r3 = await livetree(['diff', missing, other]);
	t.is(r3.code, 2);
	t.regex(r3.stderr, new RegExp(`cannot read ${missing}: ENOENT`));
	const r4 = await livetree(['diff', other]);
	t.is(r4.code, 2);
	t.regex(r4.stderr, /diff takes two status documents/);
	const broken = join(dir, 'broken.json');
	await writeFile(
		broken,
		JSON.stringify({
			schemaVersion: 1,
			generatedAt: 'x',
			host: {hostname: 'h'},
			deployments: [],
			units: [],
			processes: [{pid: 5, comm: 'x', files: [{path: '/a'}]}],
		}),
	);
	const r5 = await livetree(['diff', broken, broken]);
	t.is(r5.code, 2);
	t.regex(r5.stderr, /a mapped file of process 5 without an origin/);
});

// The header's times were the locale's ("12/7/2026, 8:52:44 AM": 12 July or 7 December?);
// they are local time as everywhere else in text, "2026-12-07 08:52:44".
test('the header names each side with its host and its time as every text report writes it', async t => {
	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const dir = await fx.tempDir();
	const doc = join(dir, 'now.json');
	const scan = await livetree(['status', '--json', '--no-systemd', '--state-dir', dir, '--output', doc]);
	t.true([0, 1, 3].includes(scan.code), scan.stderr);
	const written = JSON.parse(readFileSync(doc, 'utf8')) as StatusDocument;
	const r = await livetree(['diff', doc, doc], {TZ: 'UTC'});
	t.is(r.code, 0, r.stderr);
	const at = written.generatedAt.replace('T', ' ').replace(/\.\d+Z$/, '');
	t.is(r.stdout.split('\n').slice(0, 2).join('\n'), `A: ${doc} (${written.host.hostname}, ${at})\nB: ${doc} (${written.host.hostname}, ${at})`);
});
