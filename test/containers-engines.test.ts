// Engines whose records livetree does not read (docker, containerd, systemd-nspawn, LXC),
// and a CRI-O container whose store holds no record of it: identified by the cgroup the
// engine names after the container, never resolved by guessing. The cgroups are real
// (systemd's name=systemd hierarchy on this host, as the engines make them); the roots
// are real chroots with a dpkg database, whose packages still name what the process runs.
import {randomBytes} from 'node:crypto';
import {existsSync} from 'node:fs';
import {mkdir, readFile, rmdir, writeFile} from 'node:fs/promises';
import {join} from 'node:path';
import test from 'ava';
import type {Process, Warning} from '../src/model/document.js';
import {livetree} from './helpers/cli.js';
import {dpkgHostRoot} from './helpers/dpkg.js';
import {Fixtures} from './helpers/fixture.js';

// Where the engines' cgroups go: the unified hierarchy on a cgroup v2 host, systemd's
// name=systemd one on this hybrid host.
function hierarchy(): string {
	return existsSync('/sys/fs/cgroup/cgroup.controllers') ? '/sys/fs/cgroup' : '/sys/fs/cgroup/systemd';
}

test('containers known by their cgroup only: engine and ID, image unknown, a warning saying so, packages from their root', async t => {
	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const root = await dpkgHostRoot(fx, '7.0', 'engines');
	const base = join(hierarchy(), `livetree-test-engines-${process.pid}-${randomBytes(3).toString('hex')}`);
	const id = (c: string) => c.repeat(64);
	const cases = [
		{cgroup: `docker-${id('a')}.scope`, engine: 'docker', id: id('a'), says: 'identified by its cgroup only'},
		{cgroup: `cri-containerd-${id('b')}.scope`, engine: 'containerd', id: id('b'), says: 'identified by its cgroup only'},
		{cgroup: 'machine-lt\\x2dbox.scope', engine: 'systemd-nspawn', id: 'lt-box', says: 'identified by its cgroup only'},
		{cgroup: `crio-${id('c')}.scope`, engine: 'cri-o', id: id('c'), says: "in no store's containers.json"},
	];
	const dirs: string[] = [];
	t.teardown(async () => {
		for (const d of dirs.reverse()) {
			await rmdir(d).catch(() => undefined);
		}
	});
	await mkdir(base);
	dirs.push(base);
	const procs: number[] = [];
	for (const c of cases) {
		const p = await fx.startChrooted(root, ['/usr/bin/demo-sleep', '600']);
		const dir = join(base, c.cgroup);
		await mkdir(dir);
		dirs.push(dir);
		await writeFile(join(dir, 'cgroup.procs'), String(p.pid));
		// stop() ends the process by PID; its cgroup is then empty and removed above.
		t.teardown(async () => p.stop());
		procs.push(p.pid);
	}

	const state = await fx.tempDir();
	for (const [i, c] of cases.entries()) {
		const pid = procs[i]!;
		t.true((await readFile(`/proc/${pid}/cgroup`, 'utf8')).includes(`/${c.cgroup}`));
		const r = await livetree(['explain', '--json', '--no-systemd', '--state-dir', state, String(pid)]);
		t.is(r.code, 0, r.stderr);
		const p = JSON.parse(r.stdout) as Process & {warnings: Warning[]};
		t.deepEqual(p.root, {kind: 'container', deployment: null}, c.engine);
		t.deepEqual(p.container, {engine: c.engine, id: c.id, name: null, image: null, imageOutdated: null, storageRoot: null, unit: null}, c.engine);
		t.is(p.state, 'current', c.engine);
		const warning = p.warnings.find(w => w.code === 'container-unresolved' && w.pid === pid);
		t.truthy(warning, JSON.stringify(p.warnings));
		t.true(warning!.message.startsWith(`${c.engine} container ${c.id}: `) && warning!.message.includes(c.says), warning!.message);
		// No layers: the files are untracked, but the root's own database names their packages.
		const lib = p.files.find(f => f.path === join(root, 'usr/lib/livetree-demo/libdemo.so.1'))!;
		t.is(lib.origin.kind, 'untracked');
		t.like(lib.origin.package, {name: 'livetree-demo', version: '7.0-1'}, c.engine);
	}
});
