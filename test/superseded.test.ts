// Issue 22: a program or library replaced on disk by renaming a new file over it (how dpkg,
// rpm and most installers upgrade) was `deleted: true, superseded: false, staleReason:
// "deleted"`, and explain printed "(deleted)". The contract: superseded whenever the path
// names another file, also when the mapped one was unlinked; staleReason "superseded" then;
// "deleted" only when the path names nothing. Real dpkg upgrades and removals, a plain
// rename-over, processes chrooted in trees of their own.
import {appendFile, copyFile, rename} from 'node:fs/promises';
import {join} from 'node:path';
import test from 'ava';
import type {MappedFile, Process} from '../src/model/document.js';
import {livetree} from './helpers/cli.js';
import {dpkgHostRoot, dpkgRemove, dpkgUpgrade} from './helpers/dpkg.js';
import {Fixtures} from './helpers/fixture.js';

const LIB = 'usr/lib/livetree-demo/libdemo.so.1';

// A tree with livetree-demo 5.0-1 installed by the real dpkg --root, and a process in it.
async function treeWithProcess(fx: Fixtures): Promise<{root: string; pid: number; state: string}> {
	const root = await dpkgHostRoot(fx, '5.0', 'superseded');
	const {pid} = await fx.startChrooted(root, ['/usr/bin/demo-sleep', '600']);
	return {root, pid, state: await fx.tempDir()};
}

async function explain(pid: number, state: string, json: boolean): Promise<{code: number; stdout: string; stderr: string}> {
	return livetree(['explain', String(pid), '--no-systemd', '--state-dir', state, ...(json ? ['--json'] : ['--color', 'never'])]);
}

async function libOf(pid: number, state: string, root: string): Promise<{p: Process; lib: MappedFile}> {
	const r = await explain(pid, state, true);
	const p = JSON.parse(r.stdout) as Process;
	const lib = p.files.find(f => f.path === join(root, LIB));
	if (!lib) throw new Error(`${LIB} not mapped by ${pid}: ${p.files.map(f => f.path).join(', ')}`);
	return {p, lib};
}

test('a library upgraded by dpkg -i is superseded (replaced by a newer file), not deleted; removed by dpkg, it is deleted', async t => {
	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const {root, pid, state} = await treeWithProcess(fx);
	t.like((await libOf(pid, state, root)).lib, {deleted: false, superseded: false, staleReason: null});

	await dpkgUpgrade(fx, root, '6.0');
	const upgraded = await libOf(pid, state, root);
	t.is(upgraded.p.state, 'stale');
	t.like(upgraded.lib, {deleted: true, pathGone: true, superseded: true, staleReason: 'superseded'});
	const text = await explain(pid, state, false);
	t.is(text.code, 1, text.stderr);
	t.true(text.stdout.includes(`  - ${join(root, LIB)}, since replaced by a newer file`), text.stdout);
	t.true(text.stdout.includes(`  ${join(root, LIB)} (replaced by a newer file)\n`), text.stdout);
	t.notRegex(text.stdout, /\(deleted\)/);

	// Removed: nothing takes its path. Only now is it deleted.
	await dpkgRemove(root);
	const removed = await libOf(pid, state, root);
	t.like(removed.lib, {deleted: true, superseded: false, staleReason: 'deleted'});
	const gone = await explain(pid, state, false);
	t.is(gone.code, 1, gone.stderr);
	t.true(gone.stdout.includes(`  - ${join(root, LIB)} (deleted)`), gone.stdout);
	t.notRegex(gone.stdout, /replaced by a newer file/);
});

test('a library replaced by a plain rename over it is superseded', async t => {
	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const {root, pid, state} = await treeWithProcess(fx);
	const lib = join(root, LIB);
	await copyFile(lib, `${lib}.new`);
	await appendFile(`${lib}.new`, 'a newer build');
	await rename(`${lib}.new`, lib);
	const {p, lib: f} = await libOf(pid, state, root);
	t.is(p.state, 'stale');
	t.like(f, {deleted: true, superseded: true, staleReason: 'superseded'});
	// The same verdict in the whole-host status and its metrics' stale count.
	const status = await livetree(['status', '--json', '--no-systemd', '--state-dir', state]);
	const doc = JSON.parse(status.stdout) as {processes: Process[]};
	const mine = doc.processes.find(q => q.pid === pid)!;
	t.like(
		mine.files.find(x => x.path === lib),
		{superseded: true, staleReason: 'superseded'},
	);
	t.is(status.code, 1, status.stderr);
});

// Files a process maps only shared (MAP_SHARED) are its data, not code it runs: shared memory
// unlinked once mapped (/dev/shm, as browsers and sound servers do) and a cache replaced by
// its daemon (sssd's /var/lib/sss/mc/passwd, which nss_sss maps shared in every process that
// looks up a user) made the process "need a restart". They keep their facts (deleted,
// superseded) and no staleReason; a file mapped private and unlinked still makes it stale.
test('files mapped only shared are data: unlinked or replaced, they make no process stale', async t => {
	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const dir = await fx.tempDir('livetree-shared-');
	const shm = join('/dev/shm', `livetree-shared-${process.pid}-${Date.now()}`);
	const cache = join(dir, 'passwd-cache');
	const priv = join(dir, 'private-data');
	await appendFile(cache, Buffer.alloc(4096, 1));
	await appendFile(priv, Buffer.alloc(4096, 2));
	const {spawn} = await import('node:child_process');
	const script = [
		'import mmap, os, sys, time',
		'def mapped(path, flags, prot, create=False):',
		'    fd = os.open(path, os.O_RDWR | (os.O_CREAT if create else 0))',
		'    if create: os.ftruncate(fd, 4096)',
		'    return mmap.mmap(fd, 4096, flags=flags, prot=prot)',
		'keep = [mapped(sys.argv[1], mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE, True),',
		'        mapped(sys.argv[2], mmap.MAP_SHARED, mmap.PROT_READ)]',
		'if len(sys.argv) > 3: keep.append(mapped(sys.argv[3], mmap.MAP_PRIVATE, mmap.PROT_READ))',
		'print("ready", flush=True)',
		'time.sleep(120)',
	].join('\n');
	const child = spawn('python3', ['-c', script, shm, cache, priv], {stdio: ['ignore', 'pipe', 'inherit']});
	// A second process maps the same shared memory and cache, and nothing private.
	const dataOnly = spawn('python3', ['-c', script, shm, cache], {stdio: ['ignore', 'pipe', 'inherit']});
	t.teardown(() => {
		child.kill('SIGKILL');
		dataOnly.kill('SIGKILL');
	});
	await new Promise<void>(resolve => child.stdout.once('data', () => resolve()));
	await new Promise<void>(resolve => dataOnly.stdout.once('data', () => resolve()));
	const {unlink, rm} = await import('node:fs/promises');
	await unlink(shm);
	await appendFile(`${cache}.new`, Buffer.alloc(4096, 3));
	await rename(`${cache}.new`, cache);
	await rm(priv);

	const state = await fx.tempDir();
	const r = await explain(child.pid!, state, true);
	t.is(r.code, 1, r.stderr);
	const p = JSON.parse(r.stdout) as Process;
	const file = (path: string) => p.files.find(f => f.path === path);
	t.like(file(shm), {deleted: true, pathGone: true, superseded: false, staleReason: null});
	t.like(file(cache), {deleted: true, pathGone: true, superseded: true, staleReason: null});
	t.like(file(priv), {deleted: true, pathGone: true, superseded: false, staleReason: 'deleted'});
	t.deepEqual(
		p.files.filter(f => f.staleReason !== null).map(f => f.path),
		[priv],
	);

	// Only data deleted or replaced: current code, exit 0, and the text says why.
	const other = await explain(dataOnly.pid!, state, false);
	t.is(other.code, 0, other.stderr);
	t.regex(other.stdout, /^It runs current code: no file it runs code from is deleted, replaced, or from another tree\.$/m);
	t.regex(
		other.stdout,
		/^2 files it maps shared \(its data, not code\) were deleted or replaced: no restart is needed for that \(--verbose lists every file\)\.$/m,
	);
});
