// Issue 3 end to end: real sysroots, real processes chrooted in real deployments, and the
// livetree CLI's JSON: state, needsRestart, and each file's origin (commit and path).
import {type ChildProcessByStdio, execFile, spawn} from 'node:child_process';
import {copyFile, mkdir, rename} from 'node:fs/promises';
import {join} from 'node:path';
import type {Readable} from 'node:stream';
import {promisify} from 'node:util';
import test, {type ExecutionContext} from 'ava';
import type {MappedFile, Process, StatusDocument} from '../src/model/document.js';
import {livetree} from './helpers/cli.js';
import {Fixtures} from './helpers/fixture.js';
import {schemaErrors} from './helpers/schema.js';
import {checkedDocument} from './helpers/exit-code.js';

const run = promisify(execFile);

async function explain(pid: number, sysroot: string, state: string): Promise<{doc: StatusDocument; p: Process}> {
	const r = await livetree(['status', '--json', '--no-systemd', '--sysroot', sysroot, '--state-dir', state]);
	const doc = checkedDocument(r);
	const p = doc.processes.find(q => q.pid === pid);
	if (!p) {
		throw new Error(`PID ${pid} not in the report`);
	}

	return {doc, p};
}

function file(p: Process, treePath: string): MappedFile {
	const f = p.files.find(x => x.origin.treePath === treePath || x.path.endsWith(treePath));
	if (!f) {
		throw new Error(`${treePath} not mapped by ${p.pid}: ${p.files.map(x => x.path).join(', ')}`);
	}

	return f;
}

async function fsck(repo: string): Promise<void> {
	await run('ostree', ['fsck', `--repo=${repo}`]);
}

// `sh -c SCRIPT` in a private mount namespace (what it mounts vanishes with it), its stdout
// piped; killed at teardown.
function inPrivateNs(t: ExecutionContext, script: string): ChildProcessByStdio<null, Readable, null> {
	const child = spawn('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script], {stdio: ['ignore', 'pipe', 'ignore']});
	t.teardown(() => {
		child.kill('SIGKILL');
	});
	return child;
}

test('a process current in its deployment, then traced through the catalog after undeploy + cleanup', async t => {
	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const s = await fx.initSysroot();
	const v1 = await s.commit('1.0');
	const d1 = (await s.deploy()).deployments[0]!;
	const proc = await fx.startChrooted(d1.path, ['/usr/bin/demo-sleep', '600']);
	const state = await fx.tempDir();

	const first = await explain(proc.pid, s.path, state);
	t.deepEqual(schemaErrors(first.doc), []);
	t.deepEqual(first.p.root, {kind: 'deployment', deployment: `demo/${v1}.0`});
	t.is(first.p.state, 'current');
	t.false(first.p.needsRestart);
	const lib = file(first.p, '/usr/lib/livetree-demo/libdemo.so.1');
	t.is(lib.origin.kind, 'deployment');
	t.is(lib.origin.commit, v1);
	t.is(lib.origin.version, '1.0');
	t.is(lib.origin.treePath, '/usr/lib/livetree-demo/libdemo.so.1');
	t.is(lib.origin.objectChecksum, await s.objectChecksum(v1, '/usr/lib/livetree-demo/libdemo.so.1'));
	t.is(first.doc.deployments[0]!.processCount, 1);
	await fsck(join(s.path, 'ostree/repo'));

	await s.commit('2.0');
	await s.deploy();
	await s.undeploy(1);
	await s.cleanup();

	const after = await explain(proc.pid, s.path, state);
	t.deepEqual(schemaErrors(after.doc), []);
	t.is(after.p.root.kind, 'deployment');
	t.is(after.p.root.deployment, `demo/${v1}.0`);
	t.is(after.p.state, 'stale');
	t.true(after.p.needsRestart);
	const gone = file(after.p, '/usr/lib/livetree-demo/libdemo.so.1');
	t.true(gone.deleted);
	t.is(gone.origin.kind, 'catalog');
	t.is(gone.origin.commit, v1);
	t.is(gone.origin.version, '1.0');
	t.is(gone.origin.treePath, '/usr/lib/livetree-demo/libdemo.so.1');
	t.is(after.doc.deployments.length, 1);
	await fsck(join(s.path, 'ostree/repo'));

	// The text report names the process under deployments that no longer exist.
	const text = await livetree(['status', '--no-systemd', '--color', 'never', '--sysroot', s.path, '--state-dir', state]);
	t.is(text.code, 1);
	t.regex(text.stdout, /Processes in deployments since removed: \d+/);
	// Grouped by reason: "N × sleep (no unit): /usr/…", then the PIDs, ours among them.
	t.regex(text.stdout, /\d+ × sleep \(no unit\): \/usr\/\S+ \(deleted\) from commit/);
	t.regex(text.stdout, new RegExp(`PIDs? [\\d ]*\\b${proc.pid}\\b`));

	// explain answers in sentences.
	const ex = await livetree(['explain', String(proc.pid), '--no-systemd', '--color', 'never', '--sysroot', s.path, '--state-dir', state]);
	t.is(ex.code, 1);
	t.regex(ex.stdout, new RegExp(`PID ${proc.pid} \\(sleep\\) runs from deployment demo/${v1}\\.0 \\(version 1\\.0\\), which has since been removed`));
	t.regex(ex.stdout, /It needs a restart:/);
	t.regex(ex.stdout, new RegExp(`/usr/lib/livetree-demo/libdemo\\.so\\.1 \\(deleted\\) from commit ${v1.slice(0, 10)}… \\(1\\.0\\)`));
});

test('a process in a deployment whose file comes from another commit is stale', async t => {
	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const s = await fx.initSysroot();
	const v1 = await s.commit('1.0');
	const d1 = (await s.deploy()).deployments[0]!;
	const v2 = await s.commit('2.0');
	const d2 = (await s.deploy()).deployments[0]!;
	// In a private mount namespace, 2.0's libdemo is bind-mounted over 1.0's (a hand-made
	// hotfix), then a process starts in 1.0: its root is 1.0, its libdemo is 2.0's object.
	const lib = 'usr/lib/livetree-demo/libdemo.so.1';
	const child = inPrivateNs(t, `mount --bind ${join(d2.path, lib)} ${join(d1.path, lib)} && exec chroot ${d1.path} /usr/bin/demo-sleep 600`);
	const pid = child.pid!;
	await waitForMap(pid, 'libdemo');
	const {doc, p} = await explain(pid, s.path, await fx.tempDir());
	t.deepEqual(schemaErrors(doc), []);
	t.is(p.root.deployment, `demo/${v1}.0`);
	const f = file(p, '/usr/lib/livetree-demo/libdemo.so.1');
	t.false(f.deleted);
	t.false(f.superseded);
	t.is(f.origin.kind, 'deployment');
	t.is(f.origin.commit, v2);
	t.is(f.origin.deployment, `demo/${v2}.0`);
	t.is(p.state, 'stale');
	t.true(p.needsRestart);
	// Files both commits share are attributed to the process's own deployment.
	t.is(file(p, '/usr/bin/sleep').origin.commit, v1);
});

async function waitForMap(pid: number, needle: string): Promise<void> {
	const {readFile} = await import('node:fs/promises');
	for (let i = 0; i < 200; i++) {
		const maps = await readFile(`/proc/${pid}/maps`, 'utf8').catch(() => '');
		if (maps.includes(needle)) {
			return;
		}

		await new Promise(r => setTimeout(r, 25));
	}

	throw new Error(`PID ${pid} never mapped ${needle}`);
}

test('a host process is host/current; a foreign root is foreign; a renamed-over library is stale', async t => {
	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const s = await fx.initSysroot();
	await s.commit('1.0');
	const d1 = (await s.deploy()).deployments[0]!;
	const state = await fx.tempDir();

	// Host: a plain sleep in our own root.
	const host = spawn('/usr/bin/sleep', ['600'], {stdio: 'ignore'});
	t.teardown(() => {
		host.kill('SIGKILL');
	});
	// Foreign: a plain copy of the deployment's tree (not a deployment, not hard links).
	const foreignRoot = await fx.copyTree(d1.path);
	const foreign = await fx.startChrooted(foreignRoot);
	// Replaced: a copy of sleep run from a directory, then a new file renamed over its path.
	const dir = await fx.tempDir();
	await mkdir(join(dir, 'bin'));
	await copyFile('/usr/bin/sleep', join(dir, 'bin/app'));
	const replaced = spawn(join(dir, 'bin/app'), ['600'], {stdio: 'ignore'});
	t.teardown(() => {
		replaced.kill('SIGKILL');
	});
	await new Promise(r => setTimeout(r, 300));
	await copyFile('/usr/bin/sleep', join(dir, 'bin/app.new'));
	await rename(join(dir, 'bin/app.new'), join(dir, 'bin/app'));

	const r = await livetree(['status', '--json', '--no-systemd', '--sysroot', s.path, '--state-dir', state]);
	const doc = JSON.parse(r.stdout) as StatusDocument;
	t.deepEqual(schemaErrors(doc), []);
	const h = doc.processes.find(p => p.pid === host.pid)!;
	t.deepEqual(h.root, {kind: 'host', deployment: null});
	t.is(h.state, 'current');
	t.false(h.needsRestart);
	t.true(h.files.every(f => f.origin.kind === 'untracked'));

	const f = doc.processes.find(p => p.pid === foreign.pid)!;
	t.deepEqual(f.root, {kind: 'foreign', deployment: null});
	t.is(f.state, 'foreign');
	t.false(f.needsRestart);

	const x = doc.processes.find(p => p.pid === replaced.pid)!;
	t.is(x.state, 'stale');
	t.true(x.needsRestart);
	const app = file(x, '/bin/app');
	// Renamed over: the mapped file is unlinked, and its path names the new file.
	t.like(app, {deleted: true, superseded: true, staleReason: 'superseded'});
	t.is(app.path, join(dir, 'bin/app'));
	t.is(r.code, 1);
});

test('a bind mount over a mapped library makes it superseded, not deleted', async t => {
	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const dir = await fx.tempDir();
	await copyFile('/usr/bin/sleep', join(dir, 'app'));
	await copyFile('/usr/bin/true', join(dir, 'other'));
	// A private mount namespace, so the bind mount vanishes with the process.
	const child = inPrivateNs(t, `${join(dir, 'app')} 600 & pid=$!; sleep 0.3; mount --bind ${join(dir, 'other')} ${join(dir, 'app')}; echo $pid; wait`);
	const pid = await new Promise<number>(resolve => {
		child.stdout.once('data', (d: Buffer) => {
			resolve(Number(d.toString().trim()));
		});
	});
	t.teardown(() => {
		try {
			process.kill(pid, 'SIGKILL');
		} catch {}
	});
	const r = await livetree(['status', '--json', '--no-systemd', '--state-dir', await fx.tempDir()]);
	const doc = JSON.parse(r.stdout) as StatusDocument;
	const p = doc.processes.find(q => q.pid === pid)!;
	const app = file(p, '/app');
	t.false(app.deleted);
	t.true(app.superseded);
	t.is(p.state, 'stale');
});
