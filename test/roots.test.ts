// A root with its own package database that is no deployment and no container (a chroot,
// a debootstrapped tree): its processes' files name their packages from that root's dpkg
// database, not the host's, and a library upgraded inside it with `dpkg --root -i` keeps
// the version a scan recorded while it was current (none when no scan saw it: never a
// guess). Expected versions come from `dpkg-query --admindir` on the root's database.
import {execFile} from 'node:child_process';
import {join} from 'node:path';
import {promisify} from 'node:util';
import test from 'ava';
import type {MappedFile, Process} from '../src/model/document.js';
import {livetree} from './helpers/cli.js';
import {dpkgHostRoot, dpkgUpgrade} from './helpers/dpkg.js';
import {Fixtures} from './helpers/fixture.js';

const run = promisify(execFile);
const LIB = 'usr/lib/livetree-demo/libdemo.so.1';

async function dpkgVersion(root: string, pkg: string): Promise<string> {
	return (await run('dpkg-query', [`--admindir=${join(root, 'var/lib/dpkg')}`, '-W', `-f=${'$'}{Version}`, pkg])).stdout;
}

test('a chroot names packages from its own database, and after an upgrade inside it the version a scan recorded', async t => {
	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const root = await dpkgHostRoot(fx, '5.0', 'chroot');
	const proc = await fx.startChrooted(root, ['/usr/bin/demo-sleep', '600']);
	const state = await fx.tempDir();
	const explain = async (dir: string): Promise<{code: number; p: Process}> => {
		const r = await livetree(['explain', '--json', '--no-systemd', '--state-dir', dir, String(proc.pid)]);
		return {code: r.code, p: JSON.parse(r.stdout) as Process};
	};

	const lib = (p: Process): MappedFile => p.files.find(f => f.path === join(root, LIB))!;
	const first = await explain(state);
	t.is(first.code, 0);
	t.is(first.p.root.kind, 'foreign');
	t.like(lib(first.p), {deleted: false, superseded: false, staleReason: null});
	t.like(lib(first.p).origin.package, {name: 'livetree-demo', version: await dpkgVersion(root, 'livetree-demo'), manager: 'dpkg'});
	t.is(lib(first.p).origin.package?.version, '5.0-1');
	const libc = first.p.files.find(f => f.path.endsWith('/libc.so.6'))!;
	t.true(libc.path.startsWith(root), libc.path);
	t.like(libc.origin.package, {name: 'libc6', version: await dpkgVersion(root, 'libc6')});

	await dpkgUpgrade(fx, root, '6.0');
	t.is(await dpkgVersion(root, 'livetree-demo'), '6.0-1');
	const after = await explain(state);
	t.is(after.code, 1);
	const old = lib(after.p);
	t.true(old.deleted || old.superseded, JSON.stringify(old));
	t.not(old.staleReason, null);
	t.is(old.origin.package?.version, '5.0-1');

	// A catalog that never saw the 5.0 file current: no package, rather than a guess.
	const fresh = await explain(await fx.tempDir());
	t.is(lib(fresh.p).origin.package, null);
});
