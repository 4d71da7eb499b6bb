// Dynamic overlays, for real: overlayfs mounted on a deployment's /usr inside a private
// mount namespace (fixtures/overlay-ns.sh), with processes chrooted into that deployment
// started before and after the mount. The upper layers hold files checked out with the real
// `ostree checkout` from the same repo, or hand-made hotfix bytes.
import test from 'ava';
import {execFileSync} from 'node:child_process';
import {existsSync} from 'node:fs';
import {appendFile, copyFile, mkdir, readFile} from 'node:fs/promises';
import {join} from 'node:path';
import {Fixtures, type BuiltSysroot} from './helpers/fixture.js';
import {checkoutLibdemo, overlayNs, rootOverlayNs} from './helpers/overlay-ns.js';
import {livetree} from './helpers/cli.js';
import {schemaErrors} from './helpers/schema.js';
import {checkedDocument} from './helpers/exit-code.js';
import type {Process, StatusDocument} from '../src/model/document.js';

const LIB = '/usr/lib/livetree-demo/libdemo.so.1';

async function status(built: BuiltSysroot, stateDir: string, extra: string[] = []): Promise<StatusDocument> {
	const r = await livetree(['status', '--json', '--no-systemd', '--sysroot', built.sysroot, '--state-dir', stateDir, ...extra]);
	const doc = checkedDocument(r);
	// livetree never writes to the repo: it must still pass fsck after every scan.
	execFileSync('ostree', ['fsck', `--repo=${built.repo}`], {stdio: 'ignore'});
	return doc;
}

function proc(doc: StatusDocument, pid: number): Process {
	const p = doc.processes.find(p => p.pid === pid);
	if (!p) {
		throw new Error(`PID ${pid} not in the scan`);
	}

	return p;
}

function lib(p: Process) {
	const f = p.files.find(f => f.path.endsWith(LIB));
	if (!f) {
		throw new Error(`PID ${p.pid} maps no ${LIB}: ${p.files.map(f => f.path).join(', ')}`);
	}

	return f;
}

// One sysroot for the file: 1.0 and 2.0 deployed, processes run in 1.0 (deployments[1]),
// 2.0 is what a live update applies; 3.0 is committed to the ref but never deployed.
async function setup(fx: Fixtures) {
	const built = await fx.buildSysroot('two');
	const old = built.deployments.find(d => d.version === '1.0')!;
	const next = built.deployments.find(d => d.version === '2.0')!;
	return {built, old, next};
}

test('processes before and after a live overlay: stale vs overlay, with the source commit', async t => {
	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const {built, old, next} = await setup(fx);
	const ns = await overlayNs(t, fx, old.path, [`${old.path}/usr`], async upper => checkoutLibdemo(built.repo, next.checksum, upper));
	const doc = await status(built, await fx.tempDir());
	t.deepEqual(schemaErrors(doc), []);
	const want = await built.handle.objectChecksum(next.checksum, LIB);

	const after = proc(doc, ns.after);
	t.is(after.root.deployment, `demo/${old.checksum}.${old.serial}`);
	t.is(after.state, 'overlay');
	t.false(after.needsRestart);
	const a = lib(after);
	t.is(a.dev, ns.device);
	t.is(a.origin.kind, 'overlay');
	t.is(a.origin.commit, next.checksum);
	t.is(a.origin.objectChecksum, want);
	t.is(a.origin.treePath, LIB);
	t.false(a.superseded);
	// What the overlay passes through from the deployment is still the deployment's own.
	const libc = after.files.find(f => /libc\.so/.test(f.path))!;
	t.is(libc.dev, ns.device);
	t.is(libc.origin.kind, 'deployment');
	t.is(libc.origin.commit, old.checksum);

	const before = proc(doc, ns.before);
	t.is(before.state, 'stale');
	t.true(before.needsRestart);
	const b = lib(before);
	t.true(b.superseded);
	t.is(b.origin.kind, 'deployment');
	t.is(b.origin.commit, old.checksum);
	t.not(b.dev, ns.device);
	// Files the overlay does not replace are not superseded for the earlier process.
	t.deepEqual(
		before.files.filter(f => f.superseded).map(f => f.path),
		[b.path],
	);

	const ov = doc.overlays.filter(o => o.device === ns.device);
	t.is(ov.length, 1);
	t.is(ov[0]!.mountPoint, `${old.path}/usr`);
	t.is(ov[0]!.lowerDeployment, `demo/${old.checksum}.${old.serial}`);
	t.is(ov[0]!.upperDir, ns.upper);
	t.deepEqual(ov[0]!.files, [{path: LIB, objectChecksum: want, commits: [next.checksum]}]);
	t.deepEqual(ov[0]!.sourceCommits, [next.checksum]);

	const text = await livetree(['status', '--no-systemd', '--color', 'never', '--sysroot', built.sysroot, '--state-dir', await fx.tempDir()]);
	t.regex(text.stdout, /Dynamic overlays:\n\s+\/usr \(overlay \d+:\d+, upper /);
	t.true(text.stdout.includes(`${next.checksum.slice(0, 6)}`), text.stdout);
	t.true(text.stdout.includes(LIB), text.stdout);
});

test('a hand-made hotfix in the upper layer: origin overlay with no commit', async t => {
	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const {built, old} = await setup(fx);
	const ns = await overlayNs(t, fx, old.path, [`${old.path}/usr`], async upper => {
		await mkdir(join(upper, 'lib/livetree-demo'), {recursive: true});
		const f = join(upper, 'lib/livetree-demo/libdemo.so.1');
		await copyFile(`${old.path}${LIB}`, f);
		await appendFile(f, '\nHOTFIX by hand\n');
	});
	const doc = await status(built, await fx.tempDir());
	t.deepEqual(schemaErrors(doc), []);
	const after = proc(doc, ns.after);
	t.is(after.state, 'overlay');
	const a = lib(after);
	t.is(a.origin.kind, 'overlay');
	t.is(a.origin.commit ?? null, null);
	t.regex(a.origin.objectChecksum ?? '', /^[0-9a-f]{64}$/);
	const ov = doc.overlays.find(o => o.device === ns.device)!;
	t.deepEqual(
		ov.files.map(f => [f.path, f.commits]),
		[[LIB, []]],
	);
	t.deepEqual(ov.sourceCommits, []);
	t.is(ov.files[0]!.objectChecksum, a.origin.objectChecksum ?? null);
	const text = await livetree(['status', '--no-systemd', '--color', 'never', '--sysroot', built.sysroot, '--state-dir', await fx.tempDir()]);
	t.regex(text.stdout, /hotfix/);
});

test('overlays in two mount namespaces at once, one from a commit no deployment holds', async t => {
	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const {built, old, next} = await setup(fx);
	const third = await built.handle.commit('3.0');
	const one = await overlayNs(t, fx, old.path, [`${old.path}/usr`], async upper => checkoutLibdemo(built.repo, next.checksum, upper));
	const two = await overlayNs(t, fx, old.path, [`${old.path}/usr`], async upper => checkoutLibdemo(built.repo, third, upper));
	t.not(one.device, two.device);
	const doc = await status(built, await fx.tempDir());
	t.deepEqual(schemaErrors(doc), []);
	t.is(lib(proc(doc, one.after)).origin.commit, next.checksum);
	t.is(lib(proc(doc, two.after)).origin.commit, third);
	t.is(lib(proc(doc, two.after)).origin.version, '3.0');
	t.is(proc(doc, two.after).state, 'overlay');
	for (const ns of [one, two]) {
		t.is(proc(doc, ns.before).state, 'stale');
	}

	const seen = doc.overlays.filter(o => o.device === one.device || o.device === two.device);
	t.is(seen.length, 2);
	t.deepEqual(seen.find(o => o.device === two.device)!.sourceCommits, [third]);
});

test('several lower layers: a file from a layer above the deployment', async t => {
	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const {built, old, next} = await setup(fx);
	const hot = await fx.tempDir('livetree-ovl-lower-');
	await checkoutLibdemo(built.repo, next.checksum, hot);
	const ns = await overlayNs(t, fx, old.path, [hot, `${old.path}/usr`], async () => {});
	const doc = await status(built, await fx.tempDir());
	t.deepEqual(schemaErrors(doc), []);
	const after = proc(doc, ns.after);
	t.is(after.state, 'overlay');
	t.is(lib(after).origin.kind, 'overlay');
	t.is(lib(after).origin.commit, next.checksum);
	t.true(lib(proc(doc, ns.before)).superseded);
	const ov = doc.overlays.find(o => o.device === ns.device)!;
	t.is(ov.lowerDeployment, `demo/${old.checksum}.${old.serial}`);
	t.deepEqual(ov.files, []);
});

test('an upper file deleted while mapped is stale but still traced to its commit', async t => {
	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const {built, old, next} = await setup(fx);
	const ns = await overlayNs(t, fx, old.path, [`${old.path}/usr`], async upper => checkoutLibdemo(built.repo, next.checksum, upper));
	// Delete it through the overlay, inside its namespace: the upper layer gets a whiteout.
	execFileSync('nsenter', ['-t', String(ns.after), '-m', 'rm', `${old.path}${LIB}`]);
	const doc = await status(built, await fx.tempDir());
	t.deepEqual(schemaErrors(doc), []);
	const after = proc(doc, ns.after);
	const a = lib(after);
	t.true(a.deleted);
	t.is(a.origin.kind, 'overlay');
	t.is(a.origin.commit, next.checksum);
	t.is(after.state, 'stale');
	const ov = doc.overlays.find(o => o.device === ns.device)!;
	t.false(ov.files.some(f => f.path === LIB));
});

test('the unlock state of a deployment is reported', async t => {
	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const {built, old} = await setup(fx);
	const run = await fx.tempDir('livetree-run-');
	const state = join(run, `ostree/deployment-state/${old.checksum}.${old.serial}`);
	await mkdir(state, {recursive: true});
	await appendFile(join(state, 'unlocked-development'), '');
	const doc = await status(built, await fx.tempDir(), ['--run-dir', run]);
	t.deepEqual(schemaErrors(doc), []);
	const ids = Object.fromEntries(doc.deployments.map(d => [d.checksum, d.unlocked]));
	t.is(ids[old.checksum], 'development');
	t.is(Object.values(ids).filter(u => u === 'none').length, 1);
});

test('rpm-ostree apply-live state: the stamp and the rpmostree/live-apply ref are reported', async t => {
	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const {built, old, next} = await setup(fx);
	// What rpm-ostree's apply-live leaves: a stamp in the deployment's run state, and a ref
	// to the commit it applied (here 2.0 onto 1.0).
	const run = await fx.tempDir('livetree-run-');
	const state = join(run, `ostree/deployment-state/${old.checksum}.${old.serial}`);
	await mkdir(state, {recursive: true});
	await appendFile(join(state, 'rpmostree-is-live.stamp'), '');
	execFileSync('ostree', [`--repo=${built.repo}`, 'refs', `--create=rpmostree/live-apply`, next.checksum]);
	const doc = await status(built, await fx.tempDir(), ['--run-dir', run]);
	t.deepEqual(schemaErrors(doc), []);
	const byCsum = Object.fromEntries(doc.deployments.map(d => [d.checksum, d.liveApply]));
	t.deepEqual(byCsum[old.checksum], {commit: next.checksum, inprogress: null});
	t.is(byCsum[next.checksum], null);
	const text = await livetree(['status', '--no-systemd', '--color', 'never', '--sysroot', built.sysroot, '--run-dir', run, '--state-dir', await fx.tempDir()]);
	t.regex(text.stdout, new RegExp(`Live-applied: ${next.checksum.slice(0, 10)}… \\(2\\.0\\)`));
});

// Issue 11: overlays mounted from inside the deployment's root, the way a booted system
// has them. The layer paths in the overlay's options are the mounter's, not the host's.

test('a hotfix overlay mounted as lowerdir=/usr on /usr from inside the root is found', async t => {
	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const {built, old, next} = await setup(fx);
	const ns = await rootOverlayNs(t, fx, old.path, 'self', async upper => checkoutLibdemo(built.repo, next.checksum, upper));
	const doc = await status(built, await fx.tempDir());
	t.deepEqual(schemaErrors(doc), []);
	const want = await built.handle.objectChecksum(next.checksum, LIB);
	const ov = doc.overlays.filter(o => o.device === ns.device);
	t.is(ov.length, 1, JSON.stringify(doc.overlays));
	t.is(ov[0]!.mountPoint, `${old.path}/usr`);
	t.is(ov[0]!.lowerDeployment, `demo/${old.checksum}.${old.serial}`);
	// As the mounter gave it: inside the root.
	t.is(ov[0]!.upperDir, '/tmp/upper');
	t.deepEqual(ov[0]!.files, [{path: LIB, objectChecksum: want, commits: [next.checksum]}]);
	t.deepEqual(ov[0]!.sourceCommits, [next.checksum]);

	const after = proc(doc, ns.after);
	t.is(after.state, 'overlay');
	t.is(lib(after).origin.kind, 'overlay');
	t.is(lib(after).origin.commit, next.checksum);
	t.is(lib(after).origin.treePath, LIB);
	// Files the overlay passes through are the deployment's own.
	const libc = after.files.find(f => /libc\.so/.test(f.path))!;
	t.is(libc.dev, ns.device);
	t.is(libc.origin.kind, 'deployment');
	t.is(libc.origin.commit, old.checksum);
	t.is(libc.staleReason, null);

	const before = proc(doc, ns.before);
	t.is(before.state, 'stale');
	t.true(lib(before).superseded);
	t.is(lib(before).staleReason, 'superseded');
	t.deepEqual(
		before.files.filter(f => f.superseded).map(f => f.path),
		[lib(before).path],
	);
});

test('an overlay mounted the way ostree admin unlock --hotfix does: its upper files and source commits', async t => {
	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const {built, old, next} = await setup(fx);
	// The real ostree makes the hotfix layout (.usr-ovl-upper beside the deployment's usr,
	// origin unlocked=hotfix) in a fake boot of the old deployment.
	const index = built.deployments.findIndex(d => d.checksum === old.checksum && d.serial === old.serial);
	await built.handle.bootedRun(index, 'ostree', 'admin', 'unlock', '--hotfix');
	t.true(existsSync(join(old.path, '.usr-ovl-upper')));
	const ns = await rootOverlayNs(t, fx, old.path, 'unlock', async upper => checkoutLibdemo(built.repo, next.checksum, upper));
	const mountinfo = await readFile(`/proc/${ns.after}/mountinfo`, 'utf8');
	t.regex(mountinfo, /lowerdir=usr,upperdir=\.usr-ovl-upper,workdir=\.usr-ovl-work/);
	const doc = await status(built, await fx.tempDir());
	t.deepEqual(schemaErrors(doc), []);
	const want = await built.handle.objectChecksum(next.checksum, LIB);
	const id = `demo/${old.checksum}.${old.serial}`;
	t.is(doc.deployments.find(d => d.id === id)?.unlocked, 'hotfix');
	const ov = doc.overlays.filter(o => o.device === ns.device);
	t.is(ov.length, 1, JSON.stringify(doc.overlays));
	t.is(ov[0]!.lowerDeployment, id);
	// A relative upper is shown where it is.
	t.is(ov[0]!.upperDir, join(old.path, '.usr-ovl-upper'));
	t.deepEqual(ov[0]!.files, [{path: LIB, objectChecksum: want, commits: [next.checksum]}]);
	t.deepEqual(ov[0]!.sourceCommits, [next.checksum]);
	const after = proc(doc, ns.after);
	t.is(after.state, 'overlay');
	t.is(lib(after).origin.kind, 'overlay');
	t.is(lib(after).origin.commit, next.checksum);
	t.is(proc(doc, ns.before).state, 'stale');
	const text = await livetree(['status', '--no-systemd', '--color', 'never', '--sysroot', built.sysroot, '--state-dir', await fx.tempDir()]);
	t.true(text.stdout.includes(`${next.checksum.slice(0, 10)}… (2.0): ${LIB}`), text.stdout);
});

test("an upper file with the bytes of a commit's file at another path is not claimed at this path", async t => {
	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const {built, old} = await setup(fx);
	const attr = '/usr/lib/x86_64-linux-gnu/libattr.so.1.1.2501';
	// The hotfix's libdemo is byte for byte the trees' libattr: every commit holds these
	// bytes, but at the libattr path, never at libdemo's.
	const ns = await overlayNs(t, fx, old.path, [`${old.path}/usr`], async upper => {
		await mkdir(join(upper, 'lib/livetree-demo'), {recursive: true});
		await copyFile(`${old.path}${attr}`, join(upper, 'lib/livetree-demo/libdemo.so.1'));
	});
	const doc = await status(built, await fx.tempDir());
	t.deepEqual(schemaErrors(doc), []);
	const a = lib(proc(doc, ns.after));
	t.is(a.origin.kind, 'overlay');
	t.is(a.origin.objectChecksum, await built.handle.objectChecksum(old.checksum, attr));
	t.is(a.origin.treePath, attr);
	const ov = doc.overlays.find(o => o.device === ns.device)!;
	t.deepEqual(
		ov.files.map(f => [f.path, f.commits]),
		[[LIB, []]],
	);
	t.deepEqual(ov.sourceCommits, []);
	const ex = await livetree(['explain', String(ns.after), '--no-systemd', '--color', 'never', '--sysroot', built.sysroot, '--state-dir', await fx.tempDir()]);
	t.true(ex.stdout.includes(`live-applied; the same bytes as commit `), ex.stdout);
	t.true(ex.stdout.includes(` at ${attr}`), ex.stdout);
});
