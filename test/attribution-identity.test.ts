// Issue 11, "wrong answers": what a process maps vs what a tree holds, run the way a user
// meets them — real sysroots built with the ostree CLI, processes really chrooted, files
// really unlinked. Equal bytes are not the same file; a path gone is not the bytes gone;
// files are counted once however many processes map them.
import {execFile} from 'node:child_process';
import {readFile, rm} from 'node:fs/promises';
import {join} from 'node:path';
import {promisify} from 'node:util';
import test from 'ava';
import type {MappedFile, Process, StatusDocument} from '../src/model/document.js';
import {livetree} from './helpers/cli.js';
import {parseExposition, valueOf} from './helpers/exposition.js';
import {Fixtures} from './helpers/fixture.js';
import {schemaErrors} from './helpers/schema.js';
import {checkedDocument} from './helpers/exit-code.js';

const run = promisify(execFile);
const LIB = '/usr/lib/livetree-demo/libdemo.so.1';

async function status(sysroot: string, state: string, extra: string[] = []): Promise<{doc: StatusDocument; code: number}> {
	const r = await livetree(['status', '--json', '--no-systemd', '--sysroot', sysroot, '--state-dir', state, ...extra]);
	return {doc: checkedDocument(r), code: r.code};
}

function proc(doc: StatusDocument, pid: number): Process {
	const p = doc.processes.find(q => q.pid === pid);
	if (!p) {
		throw new Error(`PID ${pid} not in the report`);
	}

	return p;
}

function mapped(p: Process, suffix: string): MappedFile {
	const f = p.files.find(x => x.path.endsWith(suffix));
	if (!f) {
		throw new Error(`${suffix} not mapped by ${p.pid}: ${p.files.map(x => x.path).join(', ')}`);
	}

	return f;
}

test("a chroot's deleted library with a commit's bytes keeps its own path and names no deployment", async t => {
	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const s = await fx.initSysroot();
	const v1 = await s.commit('1.0');
	const d1 = (await s.deploy()).deployments[0]!;
	const state = await fx.tempDir();
	// A chroot that is a plain copy of the deployment (its own inodes, no hard links).
	const root = await fx.copyTree(d1.path);
	const p = await fx.startChrooted(root, ['/usr/bin/demo-sleep', '600']);
	// The chroot's library is deleted while mapped: only its bytes are left, and they are
	// exactly commit 1.0's object.
	await rm(join(root, LIB));

	const {doc, code} = await status(s.path, state);
	t.deepEqual(schemaErrors(doc), []);
	t.is(code, 1);
	const q = proc(doc, p.pid);
	t.deepEqual(q.root, {kind: 'foreign', deployment: null});
	t.is(q.state, 'stale');
	const lib = mapped(q, LIB);
	t.is(lib.path, join(root, LIB));
	t.true(lib.deleted);
	t.true(lib.pathGone);
	t.is(lib.staleReason, 'deleted');
	// Equal bytes: the commit that holds them and where, but not a deployment it is not in.
	t.is(lib.origin.kind, 'catalog');
	t.is(lib.origin.deployment, null);
	t.is(lib.origin.commit, v1);
	t.is(lib.origin.treePath, LIB);
	t.is(lib.origin.objectChecksum, await s.objectChecksum(v1, LIB));
	// A foreign process has no deployment whose copy it could be compared with.
	t.is(lib.identicalIn, null);
	t.false(
		q.files.some(f => f.origin.deployment),
		"no file of a foreign process is a deployment's",
	);

	// explain agrees with status: a foreign root, the chroot's own path, no deployment.
	const ex = await livetree(['explain', String(p.pid), '--no-systemd', '--color', 'never', '--sysroot', s.path, '--state-dir', state]);
	t.is(ex.code, 1, ex.stderr);
	t.regex(ex.stdout, /runs in a foreign root/);
	t.false(ex.stdout.includes('deployment demo/'), ex.stdout);
	t.true(ex.stdout.includes(`${join(root, LIB)} (deleted), the same bytes as ${LIB} of commit ${v1.slice(0, 10)}…`), ex.stdout);
	const json = await livetree(['explain', String(p.pid), '--json', '--no-systemd', '--sysroot', s.path, '--state-dir', state]);
	const shown = JSON.parse(json.stdout) as Process & {deployment: unknown};
	t.is(shown.deployment, null);
});

test('a path removed with its deployment while a newer deployment links the same inode is gone, not deleted', async t => {
	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const s = await fx.initSysroot();
	const v1 = await s.commit('1.0');
	const d1 = (await s.deploy()).deployments[0]!;
	// Two processes in 1.0 map the same files: counts are of files, not of pairs.
	const a = await fx.startChrooted(d1.path, ['/usr/bin/demo-sleep', '600']);
	const b = await fx.startChrooted(d1.path, ['/usr/bin/demo-sleep', '600']);
	const state = await fx.tempDir();
	await status(s.path, state);
	const v2 = await s.commit('2.0');
	await s.deploy();
	await s.undeploy(1);
	await s.cleanup();
	const d2 = `demo/${v2}.0`;

	// The JSON and the textfile metrics of one and the same scan.
	const textfile = join(await fx.tempDir(), 'livetree.prom');
	const {doc} = await status(s.path, state, ['--textfile', textfile]);
	t.deepEqual(schemaErrors(doc), []);
	for (const pid of [a.pid, b.pid]) {
		const p = proc(doc, pid);
		t.is(p.root.deployment, `demo/${v1}.0`);
		t.is(p.state, 'stale');
		// /usr/bin/sleep is the same object in 1.0 and 2.0: 1.0's path is gone, the inode
		// lives on as 2.0's file (a bare repo hard-links both to the object).
		const sleep = mapped(p, '/usr/bin/sleep');
		t.true(sleep.pathGone);
		t.false(sleep.deleted);
		t.is(sleep.staleReason, 'removed-deployment');
		t.is(sleep.origin.commit, v1);
		t.is(sleep.identicalIn, d2);
		const {stdout: links} = await run('stat', ['-L', '-c', '%h', `/proc/${pid}/exe`]);
		t.true(Number(links) > 0, 'the kernel still counts links to it');
		// libdemo differs between 1.0 and 2.0: pruned with 1.0, its bytes are gone.
		const lib = mapped(p, LIB);
		t.true(lib.deleted);
		t.true(lib.pathGone);
		t.is(lib.staleReason, 'deleted');
		t.is(lib.identicalIn, null);
	}

	// The two processes map the same stale files: each is one file, not two.
	const key = (f: MappedFile) => `${f.dev}:${f.ino}`;
	const ours = [a.pid, b.pid].map(pid => proc(doc, pid).files.filter(f => f.staleReason));
	t.is(ours[0]!.length, ours[1]!.length);
	t.deepEqual(ours[0]!.map(key).sort(), ours[1]!.map(key).sort());
	// Over the whole host (other tests' processes run too): distinct files, not pairs.
	const stale = new Set(doc.processes.flatMap(p => p.files.filter(f => f.staleReason).map(key)));
	t.is(doc.summary.staleFiles, stale.size);
	const untracked = new Set(doc.processes.flatMap(p => p.files.filter(f => f.origin.kind === 'untracked').map(key)));
	t.is(doc.summary.untrackedFiles, untracked.size);
	const prom = await readFile(textfile, 'utf8');
	t.is(valueOf(parseExposition(prom), 'livetree_stale_files'), stale.size);
	t.regex(prom, /# HELP livetree_stale_files Distinct mapped files/);

	// The words say it too.
	const ex = await livetree(['explain', String(a.pid), '--no-systemd', '--color', 'never', '--sysroot', s.path, '--state-dir', state]);
	t.true(
		ex.stdout.includes(
			`/usr/bin/sleep from commit ${v1.slice(0, 10)}… (1.0), whose deployment was removed; deployment demo/${v2.slice(0, 10)}….0 has identical bytes there`,
		),
		ex.stdout,
	);
	t.regex(ex.stdout, /\/usr\/bin\/sleep \(path gone, bytes still linked elsewhere; identical in deployment demo\//);
	t.true(ex.stdout.includes(`from commit ${v1.slice(0, 10)}… (1.0) at /usr/bin/sleep, a commit no longer deployed`), ex.stdout);
	t.regex(ex.stdout, new RegExp(`runs from deployment demo/${v1}\\.0 \\(version 1\\.0\\), which has since been removed from the sysroot`));
});

test('a file unlinked in a live deployment while another link keeps it is stale as unlinked', async t => {
	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const s = await fx.initSysroot();
	const v1 = await s.commit('1.0');
	const d1 = (await s.deploy()).deployments[0]!;
	const p = await fx.startChrooted(d1.path, ['/usr/bin/demo-sleep', '600']);
	// The deployment's libdemo is a hard link of the repo object; removing the
	// deployment's name leaves the object (and so the bytes) in place.
	await rm(join(d1.path, LIB));
	const {doc} = await status(s.path, await fx.tempDir());
	t.deepEqual(schemaErrors(doc), []);
	const q = proc(doc, p.pid);
	const lib = mapped(q, LIB);
	t.true(lib.pathGone);
	t.false(lib.deleted);
	t.is(lib.staleReason, 'unlinked');
	t.is(lib.origin.commit, v1);
	// Its own deployment's path is the one that is gone: no deployment has it there now.
	t.is(lib.identicalIn, null);
	t.is(q.state, 'stale');
	await run('ostree', ['fsck', `--repo=${join(s.path, 'ostree/repo')}`]);
});

test("a process in another sysroot's removed deployment is foreign to this sysroot", async t => {
	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const ours = await fx.initSysroot();
	await ours.commit('1.0');
	await ours.deploy();
	const theirs = await fx.initSysroot();
	const v1 = await theirs.commit('1.0', 'theirs');
	const d1 = (await theirs.deploy()).deployments[0]!;
	const p = await fx.startChrooted(d1.path, ['/usr/bin/demo-sleep', '600']);
	await theirs.commit('2.0', 'theirs');
	await theirs.deploy();
	await theirs.undeploy(1);
	await theirs.cleanup();
	// Named like a deployment and marked deleted, but in the other sysroot's deploy directory.
	const here = await status(ours.path, await fx.tempDir());
	t.deepEqual(schemaErrors(here.doc), []);
	t.deepEqual(proc(here.doc, p.pid).root, {kind: 'foreign', deployment: null});
	const there = await status(theirs.path, await fx.tempDir());
	t.deepEqual(proc(there.doc, p.pid).root, {kind: 'deployment', deployment: `demo/${v1}.0`});
});
