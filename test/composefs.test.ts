// composefs roots, for real: each deployment's `.ostree.cfs` written from its commit the way
// ostree writes it (fixtures/composefs.sh: object redirects, mkfs.erofs), loop-mounted as
// erofs, overlayfs with the repo's objects as data-only layer, the erofs mount lazily
// unmounted (detached, as libcomposefs leaves it), all in a private mount namespace, with
// demo-sleep chrooted into the mount. Also deployments checked out from bare-user and archive
// sysroot repos (copies, not hard links of objects).
import test, {type ExecutionContext} from 'ava';
import {execFileSync} from 'node:child_process';
import {existsSync} from 'node:fs';
import {appendFile, mkdir, readFile, stat, truncate, writeFile} from 'node:fs/promises';
import {dirname, join} from 'node:path';
import {keptScanner} from './helpers/kept-scanner.js';
import {Fixtures, FIXTURES} from './helpers/fixture.js';
import {file, idOf, proc} from './helpers/cfs-docs.js';
import {until} from './helpers/children.js';
import {checkoutLibdemo, mountNamespace, type NsProcesses} from './helpers/overlay-ns.js';
import {livetree} from './helpers/cli.js';
import {schemaErrors} from './helpers/schema.js';
import type {StatusDocument} from '../src/model/document.js';
import {parseScan} from '../src/model/scan-parts.js';

const LIB = '/usr/lib/livetree-demo/libdemo.so.1';
const LIBC = '/usr/lib/x86_64-linux-gnu/libc.so.6';
const WAIT_MS = 15_000;

// `before`: with an unlocked /usr, the process started before that overlay was mounted;
// `device`: MAJOR:MINOR of the composefs overlay.
interface CfsNs extends NsProcesses {
	/** The composefs mount point, as the scanner's maps paths show it. */
	mnt: string;
}

function sh(...args: string[]): string {
	return execFileSync(join(FIXTURES, 'composefs.sh'), args, {encoding: 'utf8'}).trim();
}

/** Build deployment INDEX's image into its directory; returns the image path. */
function install(repoSysroot: string, index: number, ...extra: string[]): string {
	return sh('install', repoSysroot, String(index), ...extra);
}

/** Mount IMAGE as a composefs root in a private namespace and chroot demo-sleep into it. */
async function cfsNs(t: ExecutionContext, fx: Fixtures, built: {sysroot: string}, image: string, upper?: {upper: string; work: string}): Promise<CfsNs> {
	const dir = await fx.tempDir('livetree-cfs-');
	const mnt = join(dir, 'mnt');
	await mkdir(mnt);
	const args = [join(FIXTURES, 'composefs.sh'), 'run', image, join(built.sysroot, 'ostree/repo/objects'), mnt, dir];
	if (upper) {
		args.push(upper.upper, upper.work);
	}

	const ns = await mountNamespace(t, dir, args, {what: 'the composefs root', at: '', timeoutMs: WAIT_MS});
	return {...ns, mnt};
}

async function scan(sysroot: string, repo: string, stateDir: string): Promise<{doc: StatusDocument; code: number | null}> {
	const r = await livetree(['status', '--json', '--no-systemd', '--sysroot', sysroot, '--state-dir', stateDir]);
	if (r.code === 2) {
		throw new Error(r.stderr);
	}

	const doc = JSON.parse(r.stdout) as StatusDocument;
	// livetree never writes to the repo: it must still pass fsck after every scan.
	execFileSync('ostree', ['fsck', `--repo=${repo}`], {stdio: 'ignore'});
	return {doc, code: r.code};
}

/** Rewrite a file inside an (immutable) deployment directory. */
async function inDeployment(dir: string, change: () => Promise<void>): Promise<void> {
	execFileSync('chattr', ['-i', dir]);
	try {
		await change();
	} finally {
		execFileSync('chattr', ['+i', dir]);
	}
}

test("two composefs deployments whose images share inode numbers: each process is its own deployment's", async t => {
	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const built = await fx.buildSysroot('two');
	const old = built.deployments.find(d => d.version === '1.0')!;
	const next = built.deployments.find(d => d.version === '2.0')!;
	const oldImage = install(built.sysroot, old.index);
	const nextImage = install(built.sysroot, next.index);
	const a = await cfsNs(t, fx, built, oldImage);
	const b = await cfsNs(t, fx, built, nextImage);

	// The two images number the same paths alike, so inode numbers alone cannot tell them apart.
	const inoA = (await stat(`/proc/${a.pid}/root${LIB}`)).ino;
	const inoB = (await stat(`/proc/${b.pid}/root${LIB}`)).ino;
	t.is(inoA, inoB);
	t.not(a.device, b.device);

	// (No exit-code check here: tests running beside this one leave stale processes on the host.)
	const {doc} = await scan(built.sysroot, built.repo, await fx.tempDir());
	t.deepEqual(schemaErrors(doc), []);
	for (const [ns, d] of [
		[a, old],
		[b, next],
	] as const) {
		const p = proc(doc, ns.pid);
		t.is(p.root.kind, 'deployment');
		t.is(p.root.deployment, idOf(d));
		t.is(p.state, 'current');
		t.false(p.needsRestart);
		const lib = file(p, LIB);
		t.is(lib.path, `${ns.mnt}${LIB}`);
		t.is(lib.origin.kind, 'deployment');
		t.is(lib.origin.deployment, idOf(d));
		t.is(lib.origin.commit, d.checksum);
		t.is(lib.origin.version, d.version);
		t.is(lib.origin.treePath, LIB);
		t.is(lib.origin.objectChecksum, await built.handle.objectChecksum(d.checksum, LIB));
		t.false(lib.deleted);
		t.false(lib.superseded);
		// libc is one object in both commits: it goes to the process's own deployment.
		const libc = file(p, LIBC);
		t.is(libc.origin.commit, d.checksum);
		t.is(libc.origin.objectChecksum, await built.handle.objectChecksum(d.checksum, LIBC));
		t.is(p.files.filter(f => f.origin.kind === 'untracked').length, 0);
	}

	for (const [d, image] of [
		[old, oldImage],
		[next, nextImage],
	] as const) {
		const dep = doc.deployments.find(x => x.id === idOf(d))!;
		t.deepEqual(dep.composefs, {image, digest: null, mounted: true});
		// Counted with the processes rooted in it (tests beside this one may run processes in
		// a deployment of the very same commit id in their own sysroot).
		const rooted = doc.processes.filter(p => p.root.deployment === idOf(d));
		t.is(dep.processCount, rooted.length);
		t.true(rooted.some(p => p.pid === (d === old ? a.pid : b.pid)));
	}

	const text = await livetree(['status', '--no-systemd', '--color', 'never', '--sysroot', built.sysroot, '--state-dir', await fx.tempDir()]);
	t.is(text.stdout.match(/Composefs: runs through composefs/g)?.length, 2, text.stdout);

	// Their files come from overlay devices, none from the repo's: the repo's inode index
	// (every objects/XX directory read) is never built for them.
	const lazy = keptScanner(t, {
		sysroot: built.sysroot,
		procRoot: '/proc',
		runDir: await fx.tempDir(),
		hostRoot: '/',
		catalogPath: join(await fx.tempDir(), 'c.sqlite'),
		kernel: false,
	});
	const parts = parseScan(lazy.scanSync({pids: [a.pid, b.pid]}));
	t.is(parts.processes.find(p => p.pid === a.pid)?.root.deployment, idOf(old));
	t.is(parts.processes.find(p => p.pid === b.pid)?.root.deployment, idOf(next));
	t.is(lazy.stats().indexBuilds, 0);
});

test("this kernel's maps show the composefs overlay's device and the image's inode, not the object's", async t => {
	// Kernels without upstream commit 3efdc78fdc21 (RHEL 9's 5.14 among them) show the backing
	// file there, i.e. the repo object itself; the scan then finds it by the objects' inode
	// index, as on hard-link roots. This machine's kernel is the other kind, stated here.
	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const built = await fx.buildSysroot('one');
	const d = built.deployments[0]!;
	const ns = await cfsNs(t, fx, built, install(built.sysroot, 0));
	const maps = await readFile(`/proc/${ns.pid}/maps`, 'utf8');
	const line = maps.split('\n').find(l => l.endsWith(LIB))!;
	const [, , , devHex, inode] = line.split(/\s+/);
	const [ma, mi] = devHex!.split(':').map(x => Number.parseInt(x, 16));
	const csum = await built.handle.objectChecksum(d.checksum, LIB);
	const object = await stat(join(built.repo, 'objects', csum.slice(0, 2), `${csum.slice(2)}.file`));
	const through = await stat(`/proc/${ns.pid}/root${LIB}`);
	t.is(`${ma}:${mi}`, ns.device);
	t.is(Number(inode), through.ino);
	t.not(Number(inode), object.ino);
	t.log(
		`kernel ${execFileSync('uname', ['-r'], {encoding: 'utf8'}).trim()}: maps shows overlay ${ns.device} inode ${inode}; the object is inode ${object.ino}`,
	);

	const {doc} = await scan(built.sysroot, built.repo, await fx.tempDir());
	t.is(file(proc(doc, ns.pid), LIB).origin.objectChecksum, csum);
});

test('after undeploy and prune, a process on the detached image is stale and its files trace to the old commit', async t => {
	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const built = await fx.buildSysroot('one');
	const old = built.deployments[0]!;
	const ns = await cfsNs(t, fx, built, install(built.sysroot, 0));
	const state = await fx.tempDir();
	// The first scan sees the deployment and records its image's entries.
	const first = await scan(built.sysroot, built.repo, state);
	t.is(proc(first.doc, ns.pid).state, 'current');

	await built.handle.commit('2.0');
	await built.handle.deploy();
	install(built.sysroot, 0);
	await built.handle.undeploy(1);
	await built.handle.cleanup();
	t.false(existsSync(old.path));

	const {doc, code} = await scan(built.sysroot, built.repo, state);
	t.deepEqual(schemaErrors(doc), []);
	t.is(code, 1);
	const p = proc(doc, ns.pid);
	t.is(p.root.kind, 'deployment');
	t.is(p.root.deployment, idOf(old));
	t.is(p.state, 'stale');
	t.true(p.needsRestart);
	const lib = file(p, LIB);
	t.false(lib.deleted);
	t.is(lib.origin.kind, 'catalog');
	t.is(lib.origin.commit, old.checksum);
	t.is(lib.origin.version, '1.0');
	t.is(lib.origin.treePath, LIB);
	t.is(doc.deployments.length, 1);
	t.is(doc.deployments[0]!.composefs?.mounted, false);

	const text = await livetree(['status', '--no-systemd', '--color', 'never', '--sysroot', built.sysroot, '--state-dir', state]);
	t.regex(text.stdout, /\/usr\/\S+ from commit [\da-f]{10}… \(1\.0\), whose deployment was removed/);

	// A catalog that never saw 1.0 (deployed and pruned between two scans): the mount is not
	// mistaken for 2.0's, whose image has the same root inode. The image is read from its
	// loop device and named by the deleted backing file's deployment directory.
	const fresh = await scan(built.sysroot, built.repo, await fx.tempDir());
	t.deepEqual(schemaErrors(fresh.doc), []);
	const q = proc(fresh.doc, ns.pid);
	t.is(q.root.deployment, idOf(old));
	t.is(q.state, 'stale');
	const l = file(q, LIB);
	t.not(l.origin.commit, doc.deployments[0]!.checksum);
	t.is(l.origin.objectChecksum, lib.origin.objectChecksum);
	t.false(q.files.some(f => f.origin.deployment === doc.deployments[0]!.id && f.origin.treePath === LIB));
});

test('a truncated or garbage image is a warning naming it; other deployments are unaffected', async t => {
	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const built = await fx.buildSysroot('two');
	const old = built.deployments.find(d => d.version === '1.0')!;
	const next = built.deployments.find(d => d.version === '2.0')!;
	const bad = install(built.sysroot, old.index);
	const good = install(built.sysroot, next.index);
	const ns = await cfsNs(t, fx, built, good);
	for (const damage of [async () => truncate(bad, 3000), async () => writeFile(bad, Buffer.alloc(8192, 0x5a))]) {
		await inDeployment(dirname(bad), damage);
		const {doc} = await scan(built.sysroot, built.repo, await fx.tempDir());
		t.deepEqual(schemaErrors(doc), []);
		const w = doc.warnings.filter(w => w.code === 'composefs-image-unreadable');
		t.is(w.length, 1);
		t.true(w[0]!.message.includes(bad), w[0]!.message);
		const p = proc(doc, ns.pid);
		t.is(p.root.deployment, idOf(next));
		t.is(p.state, 'current');
		t.is(file(p, LIB).origin.commit, next.checksum);
		t.deepEqual(doc.deployments.find(d => d.id === idOf(old))!.composefs, {image: bad, digest: null, mounted: false});
	}
});

test("the commit's composefs digest is reported; an image that does not match it is warned", async t => {
	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const h = await fx.initSysroot();
	await h.commit('1.0');
	const commit = sh('digest-commit', h.path, 'demo');
	const st = await h.deploy();
	const d = st.deployments[0]!;
	t.is(d.checksum, commit);
	const repo = join(h.path, 'ostree/repo');
	const meta = execFileSync('ostree', [`--repo=${repo}`, 'show', '--print-metadata-key=ostree.composefs.digest.v0', commit], {encoding: 'utf8'});
	const want = meta
		.match(/0x([\da-f]{2})/g)!
		.map(b => b.slice(2))
		.join('');

	// A kept scanner (the exporter's) reads each image once while its file is unchanged,
	// and says the image's warnings on every scan.
	const kept = keptScanner(t, {
		sysroot: h.path,
		procRoot: '/proc',
		runDir: h.run,
		hostRoot: '/',
		catalogPath: join(await fx.tempDir(), 'c.sqlite'),
		kernel: false,
	});
	const keptScan = () => parseScan(kept.scanSync({pids: []}));
	const mismatches = (warnings: Array<{code: string}>) => warnings.filter(w => w.code === 'composefs-digest-mismatch').length;

	// Before its image is written, the commit still says it is made for composefs.
	const noImage = await scan(h.path, repo, await fx.tempDir());
	t.deepEqual(noImage.doc.deployments[0]!.composefs, {image: null, digest: want, mounted: false});
	const image = install(h.path, 0);
	t.is(execFileSync('fsverity', ['digest', '--compact', image], {encoding: 'utf8'}).trim(), want);

	const ok = await scan(h.path, repo, await fx.tempDir());
	t.deepEqual(schemaErrors(ok.doc), []);
	t.deepEqual(ok.doc.deployments[0]!.composefs, {image, digest: want, mounted: false});
	// This sysroot's own (its image is under it; it mounts nothing): the composefs mounts of
	// tests running beside this one are theirs to warn about.
	t.deepEqual(
		ok.doc.warnings.filter(w => w.code.startsWith('composefs') && w.message.includes(h.path)),
		[],
	);

	const first = keptScan();
	t.deepEqual(keptScan().deployments, first.deployments);
	t.is(kept.stats().composefsImageReads, 1, 'an unchanged image is read once');
	t.is(mismatches(first.warnings), 0);

	// Another image in its place (one redirect changed): not what the commit names.
	install(h.path, 0, '--redirect', `${LIB}=/ab/${'c'.repeat(62)}.file`);
	const bad = await scan(h.path, repo, await fx.tempDir());
	t.is(bad.doc.deployments[0]!.composefs?.digest, want);
	const w = bad.doc.warnings.filter(w => w.code === 'composefs-digest-mismatch');
	t.is(w.length, 1);
	t.true(w[0]!.message.includes(image) && w[0]!.message.includes(want), w[0]!.message);
	// The kept scanner sees the new file, reads it once, and warns on every scan.
	t.is(mismatches(keptScan().warnings), 1);
	t.is(mismatches(keptScan().warnings), 1);
	t.is(kept.stats().composefsImageReads, 2);
});

test('a redirect outside the objects directory is ignored and warned', async t => {
	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const built = await fx.buildSysroot('one');
	const d = built.deployments[0]!;
	const image = install(built.sysroot, 0, '--redirect', `${LIB}=/../../../../etc/passwd`);
	const {doc} = await scan(built.sysroot, built.repo, await fx.tempDir());
	t.deepEqual(schemaErrors(doc), []);
	const w = doc.warnings.filter(w => w.code === 'composefs-bad-redirect');
	t.is(w.length, 1);
	t.true(w[0]!.message.includes(image) && w[0]!.message.includes(LIB), w[0]!.message);
	t.is(doc.deployments.find(x => x.id === idOf(d))!.composefs?.image, image);
});

test('an unlocked /usr over composefs: upper files are overlay, composefs files are not superseded', async t => {
	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const built = await fx.buildSysroot('two');
	const old = built.deployments.find(d => d.version === '1.0')!;
	const next = built.deployments.find(d => d.version === '2.0')!;
	const image = install(built.sysroot, old.index);
	const dir = await fx.tempDir('livetree-unlock-');
	const upper = join(dir, 'upper');
	const work = join(dir, 'work');
	await mkdir(work);
	// The newer commit's library, checked out with the real ostree into the upper layer.
	await checkoutLibdemo(built.repo, next.checksum, upper);
	const ns = await cfsNs(t, fx, built, image, {upper, work});
	const {doc, code} = await scan(built.sysroot, built.repo, await fx.tempDir());
	t.deepEqual(schemaErrors(doc), []);
	t.is(code, 1);

	const after = proc(doc, ns.pid);
	t.is(after.root.deployment, idOf(old));
	t.is(after.state, 'overlay');
	t.false(after.needsRestart);
	const lib = file(after, LIB);
	t.is(lib.origin.kind, 'overlay');
	t.is(lib.origin.commit, next.checksum);
	t.is(lib.origin.objectChecksum, await built.handle.objectChecksum(next.checksum, LIB));
	t.is(lib.origin.treePath, LIB);
	t.false(lib.superseded);
	// Served from the composefs layer through the unlocked /usr: the deployment's own.
	const libc = file(after, LIBC);
	t.is(libc.path, `${ns.mnt}${LIBC}`);
	t.is(libc.origin.kind, 'deployment');
	t.is(libc.origin.commit, old.checksum);
	t.false(libc.superseded);
	t.is(after.files.filter(f => f.superseded || f.origin.kind === 'untracked').length, 0);

	const before = proc(doc, ns.before!);
	t.is(before.state, 'stale');
	t.true(before.needsRestart);
	const b = file(before, LIB);
	t.true(b.superseded);
	t.is(b.origin.commit, old.checksum);
	t.deepEqual(
		before.files.filter(f => f.superseded).map(f => f.path),
		[b.path],
	);

	const ov = doc.overlays.filter(o => o.lowerDeployment === idOf(old));
	t.is(ov.length, 1);
	t.is(ov[0]!.upperDir, upper);
	t.deepEqual(ov[0]!.files, [{path: LIB, objectChecksum: await built.handle.objectChecksum(next.checksum, LIB), commits: [next.checksum]}]);
});

for (const mode of ['bare-user', 'archive'] as const) {
	test(`a deployment from a ${mode} sysroot repo is a copy: attributed by tree path, confirmed by checksum`, async t => {
		const fx = new Fixtures();
		t.teardown(async () => fx.cleanup());
		const h = await fx.initSysroot('demo', mode);
		const commit = await h.commit('1.0');
		const st = await h.deploy();
		const d = st.deployments[0]!;
		const repo = join(h.path, 'ostree/repo');
		// A copy: one link, another inode than any object.
		t.is((await stat(join(d.path, LIB))).nlink, 1);
		const p0 = await fx.startChrooted(d.path, ['/usr/bin/demo-sleep', '600']);
		await until('libdemo mapped', async () => (await readFile(`/proc/${p0.pid}/maps`, 'utf8')).includes('libdemo'), WAIT_MS);
		const {doc} = await scan(h.path, repo, await fx.tempDir());
		t.deepEqual(schemaErrors(doc), []);
		t.is(doc.sysroot.repoMode, mode);
		const p = proc(doc, p0.pid);
		t.is(p.root.deployment, idOf(d));
		t.is(p.state, 'current');
		for (const path of [LIB, LIBC, '/usr/bin/sleep']) {
			const f = file(p, path);
			t.is(f.origin.kind, 'deployment', path);
			t.is(f.origin.commit, commit);
			t.is(f.origin.treePath, path);
			t.is(f.origin.objectChecksum, await h.objectChecksum(commit, path));
		}

		// Never by path alone: the same path edited in place is not the commit's file.
		await p0.stop();
		// (ostree makes only the deployment directory itself immutable.)
		await appendFile(join(d.path, LIB), 'edited in place\n');
		const p1 = await fx.startChrooted(d.path, ['/usr/bin/demo-sleep', '600']);
		await until('libdemo mapped', async () => (await readFile(`/proc/${p1.pid}/maps`, 'utf8')).includes('libdemo'), WAIT_MS);
		const after = await scan(h.path, repo, await fx.tempDir());
		const edited = file(proc(after.doc, p1.pid), LIB);
		t.is(edited.origin.kind, 'untracked');
		t.not(edited.origin.objectChecksum, await h.objectChecksum(commit, LIB));
		t.is(file(proc(after.doc, p1.pid), LIBC).origin.commit, commit);

		// Undeployed and pruned: the copies are deleted; their bytes (through map_files) still
		// trace to 1.0 in the catalog, and the process is stale.
		const state = await fx.tempDir();
		await scan(h.path, repo, state);
		await h.commit('2.0');
		await h.deploy();
		await h.undeploy(1);
		await h.cleanup();
		const pruned = await scan(h.path, repo, state);
		t.deepEqual(schemaErrors(pruned.doc), []);
		const gone = proc(pruned.doc, p1.pid);
		t.is(gone.state, 'stale');
		t.true(gone.needsRestart);
		const libc = file(gone, LIBC);
		t.true(libc.deleted);
		t.is(libc.origin.kind, 'catalog');
		t.is(libc.origin.commit, commit);
		t.is(libc.origin.treePath, LIBC);
	});
}
