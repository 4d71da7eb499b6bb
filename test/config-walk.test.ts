// Issue 24: the open-file check skips a process's fd directory when nothing under its
// root's /etc changed since it started (one walk of /etc per root holding 8 or more
// processes). Real processes chrooted in a tree, holding a file under /etc open: the skip
// must never hide a change, and a file replaced before a process started (held through a
// descriptor inherited from its parent) is not a change since its start.
import {execFile, spawn} from 'node:child_process';
import {randomUUID} from 'node:crypto';
import {appendFile, mkdir, readFile, rename, rm, writeFile} from 'node:fs/promises';
import {join} from 'node:path';
import {promisify} from 'node:util';
import test from 'ava';
import {collect} from '../src/collect.js';
import type {StatusDocument} from '../src/model/document.js';
import {readCommon} from '../src/options.js';
import {hostRootScanner} from './helpers/host-scanner.js';
import {childrenOf} from './helpers/proc-children.js';
import {FIXTURES, Fixtures} from './helpers/fixture.js';

const run = promisify(execFile);
const pause = async (ms: number): Promise<void> => new Promise(r => setTimeout(r, ms));

async function scan(fx: Fixtures, root: string, pids: number[], state: string): Promise<StatusDocument> {
	const options = readCommon({sysroot: await fx.tempDir('livetree-no-sysroot-'), 'state-dir': state, 'no-systemd': true});
	const scanner = hostRootScanner(fx, options, root);
	return collect(options, {pids}, scanner);
}

const changed = (doc: StatusDocument, pids: number[]) =>
	pids.map(pid => (doc.processes.find(p => p.pid === pid)?.configChanges ?? ['not scanned']).map(c => (typeof c === 'string' ? c : c.path)));

test('the /etc walk never hides a change; a file replaced before a process started is not flagged in it', async t => {
	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const root = join(await fx.tempDir('livetree-config-walk-'), 'root');
	await run(join(FIXTURES, 'make-tree.sh'), [root, '--version', '1.0', '--marker', `config-walk-${randomUUID()}`]);
	await mkdir(join(root, 'etc/held'), {recursive: true});
	await writeFile(join(root, 'etc/held/a.conf'), 'a\n');
	await writeFile(join(root, 'etc/held/b.conf'), 'b\n');
	const state = await fx.tempDir();
	const hold = async (f: string) => fx.startChrooted(root, ['/bin/sh', '-c', `exec /usr/bin/sleep 600 3</etc/held/${f}`]);
	// Ten in one root: enough for the walk.
	const early = await Promise.all(Array.from({length: 10}, async () => hold('a.conf')));
	const earlyPids = early.map(p => p.pid);
	t.deepEqual(
		changed(await scan(fx, root, earlyPids, state), earlyPids),
		earlyPids.map(() => []),
	);

	await pause(50);
	await appendFile(join(root, 'etc/held/a.conf'), 'edited\n');
	await pause(50);
	// Ten more, started after the edit: nothing changed since they started.
	const late = await Promise.all(Array.from({length: 10}, async () => hold('a.conf')));
	const latePids = late.map(p => p.pid);
	const doc = await scan(fx, root, [...earlyPids, ...latePids], state);
	t.deepEqual(
		changed(doc, earlyPids),
		earlyPids.map(() => ['/etc/held/a.conf']),
	);
	t.deepEqual(
		changed(doc, latePids),
		latePids.map(() => []),
	);

	// A parent opens b.conf, b.conf is replaced by rename, then the parent starts a child
	// that inherits the descriptor: the parent holds a file replaced since it started, the
	// child one replaced before it started.
	// (A foreground command: dash forks it; `; :` keeps dash from exec'ing the last one.)
	const parent = spawn('chroot', [root, '/bin/sh', '-c', 'exec 3</etc/held/b.conf; /usr/bin/sleep 1; /usr/bin/sleep 600; :'], {
		detached: true,
		stdio: 'ignore',
	});
	parent.unref();
	t.teardown(() => {
		try {
			process.kill(parent.pid!, 'SIGKILL');
		} catch {}
	});
	await pause(100);
	await writeFile(join(root, 'etc/held/b.conf.new'), 'new b\n');
	await rename(join(root, 'etc/held/b.conf.new'), join(root, 'etc/held/b.conf'));
	let child = 0;
	t.teardown(() => {
		if (child !== 0) {
			try {
				process.kill(child, 'SIGKILL');
			} catch {}
		}
	});
	for (let i = 0; i < 20 && child === 0; i++) {
		await pause(i === 0 ? 1200 : 200);
		const kids = await childrenOf(parent.pid!);
		for (const k of kids) {
			const cmd = await readFile(`/proc/${k}/cmdline`, 'utf8').catch(() => '');
			if (cmd.includes('600')) child = k;
		}
	}

	t.not(child, 0, 'the child sleep started');
	const after = await scan(fx, root, [...earlyPids, parent.pid!, child], state);
	t.deepEqual(changed(after, [parent.pid!, child]), [['/etc/held/b.conf'], []]);
	t.deepEqual(
		changed(after, earlyPids),
		earlyPids.map(() => ['/etc/held/a.conf']),
	);
});

test('a root whose /etc is gone is walked as its own change: the files held there stay flagged', async t => {
	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const root = join(await fx.tempDir('livetree-config-no-etc-'), 'root');
	await run(join(FIXTURES, 'make-tree.sh'), [root, '--version', '1.0', '--marker', `config-no-etc-${randomUUID()}`]);
	await mkdir(join(root, 'etc/held'), {recursive: true});
	await writeFile(join(root, 'etc/held/a.conf'), 'a\n');
	const state = await fx.tempDir();
	// Ten in one root: enough for the walk.
	const held = await Promise.all(Array.from({length: 10}, async () => fx.startChrooted(root, ['/bin/sh', '-c', 'exec /usr/bin/sleep 600 3</etc/held/a.conf'])));
	const pids = held.map(p => p.pid);
	t.deepEqual(
		changed(await scan(fx, root, pids, state), pids),
		pids.map(() => []),
	);

	await pause(50);
	// The whole /etc removed: the walk finds none, and the root's own change time (set by
	// the removal) is after their start, so their fd directories are read.
	await rm(join(root, 'etc'), {recursive: true});
	t.deepEqual(
		changed(await scan(fx, root, pids, state), pids),
		pids.map(() => ['/etc/held/a.conf']),
	);
});
