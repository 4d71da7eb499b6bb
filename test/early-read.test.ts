// `livetree status` starts reading /proc as soon as its options are parsed, while Node loads
// the rest of the CLI (src/early.ts, native/core/src/scan/early.rs, docs/proc-reading.md):
// the status's scan takes that read. Here: the CLI in a PID namespace of its own takes it and
// reports exactly the process the test made, stale as it is; in this process, a read is
// taken only by a whole scan of the same proc root within two seconds, once, and a scan of
// other PIDs or another root reads for itself.
import {spawn, type ChildProcess} from 'node:child_process';
import {copyFile, mkdir, mkdtemp, rm, symlink} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {setTimeout as sleep} from 'node:timers/promises';
import test from 'ava';
import type {StatusDocument} from '../src/model/document.js';
import {parseScan} from '../src/model/scan-parts.js';
import {native} from '../src/native.js';
import {livetree, outcome, projectRoot} from './helpers/cli.js';
import {keptScanner} from './helpers/kept-scanner.js';

const bin = `${projectRoot}bin/livetree.js`;

async function scratch(t: {teardown(fn: () => Promise<void>): void}): Promise<string> {
	const dir = await mkdtemp(path.join(os.tmpdir(), 'livetree-early-'));
	t.teardown(async () => rm(dir, {recursive: true, force: true}));
	await mkdir(path.join(dir, 'state'));
	await mkdir(path.join(dir, 'sysroot'));
	return dir;
}

// A sleep of our own, ended by its PID in teardown.
function sleeper(t: {teardown(fn: () => void): void}): ChildProcess {
	const child = spawn('sleep', ['600'], {stdio: 'ignore'});
	t.teardown(() => {
		child.kill('SIGKILL');
	});
	return child;
}

// Every test here reads the one early read this process may hold: one at a time.
test.serial('status in a PID namespace of its own takes the early read: exactly its one process, stale, exit 1', async t => {
	const dir = await scratch(t);
	const exe = path.join(dir, 'demo-sleep');
	await copyFile('/usr/bin/sleep', exe);
	// PID 1 is the shell that becomes livetree; PID 2 runs a copy of sleep, removed once
	// it runs, so the one process livetree reports maps a deleted executable.
	const q = (a: string) => `'${a.replaceAll("'", "'\\''")}'`;
	const script = [
		`${q(exe)} 600 &`,
		`while [ "$(readlink /proc/$!/exe)" != ${q(exe)} ]; do :; done`,
		`rm ${q(exe)}`,
		`exec ${[process.execPath, bin, 'status', '--json', '--no-systemd', '--sysroot', path.join(dir, 'sysroot'), '--state-dir', path.join(dir, 'state')].map(q).join(' ')}`,
	].join('\n');
	const r = await outcome(
		spawn('unshare', ['--pid', '--fork', '--mount-proc', 'sh', '-c', script], {
			stdio: ['ignore', 'pipe', 'pipe'],
			cwd: '/',
			env: {...process.env, LIVETREE_DEBUG_SCANNER: '1'},
		}),
	);
	t.is(r.code, 1, r.stderr);
	t.regex(r.stderr, /^livetree: scanned every process; knowledge loads 1, index builds \d+, catalog opens 1, early reads 1$/m);
	const doc = JSON.parse(r.stdout) as StatusDocument;
	t.deepEqual(
		doc.processes.map(p => [p.pid, p.comm, p.state, p.needsRestart]),
		[[2, 'demo-sleep', 'stale', true]],
	);
	const file = doc.processes[0]!.files.find(f => f.path === exe);
	t.like(file, {deleted: true, superseded: false, staleReason: 'deleted'});
	t.is(doc.summary.processes, 1);
	t.is(doc.summary.complete, true);
});

test.serial('an early read is taken once, by a whole scan of its proc root within two seconds; other scans read for themselves', async t => {
	const dir = await scratch(t);
	const a = sleeper(t);
	const b = sleeper(t);
	// A proc root of links to our two processes only.
	const procRoot = path.join(dir, 'proc');
	await mkdir(procRoot);
	for (const c of [a, b]) {
		await symlink(`/proc/${c.pid!}`, path.join(procRoot, String(c.pid!)));
	}

	const scanner = keptScanner(t, {
		sysroot: path.join(dir, 'sysroot'),
		procRoot,
		runDir: dir,
		hostRoot: '/',
		catalogPath: path.join(dir, 'state/catalog.sqlite'),
		kernel: false,
	});
	const pids = async (request: {pids?: number[]} = {}) =>
		parseScan(await scanner.scan(request))
			.processes.map(p => p.pid)
			.sort((x, y) => x - y);
	const ours = [a.pid!, b.pid!].sort((x, y) => x - y);

	// Of another proc root (the host's): not taken, and gone once looked at.
	native.readProcessesEarly('/proc');
	t.deepEqual(await pids(), ours);
	t.is(scanner.stats().earlyReads, 0);

	// Of this root: a scan of some PIDs leaves it; the next whole scan takes it; the one
	// after reads for itself.
	native.readProcessesEarly(procRoot);
	t.deepEqual(await pids({pids: [a.pid!]}), [a.pid!]);
	t.is(scanner.stats().earlyReads, 0);
	t.deepEqual(await pids(), ours);
	t.is(scanner.stats().earlyReads, 1);
	t.deepEqual(await pids(), ours);
	t.is(scanner.stats().earlyReads, 1);

	// Older than two seconds: not the host the scan was asked about.
	native.readProcessesEarly(procRoot);
	await sleep(2200);
	t.deepEqual(await pids(), ours);
	t.is(scanner.stats().earlyReads, 1);
	t.is(scanner.stats().scans, 5);
});

test.serial('a proc root the early read could not list is read again by the scan, which says why it cannot', async t => {
	const dir = await scratch(t);
	const missing = path.join(dir, 'no-proc');
	native.readProcessesEarly(missing);
	const scanner = keptScanner(t, {
		sysroot: path.join(dir, 'sysroot'),
		procRoot: missing,
		runDir: dir,
		hostRoot: '/',
		catalogPath: path.join(dir, 'state/catalog.sqlite'),
		kernel: false,
	});
	const error = await t.throwsAsync(scanner.scan({}));
	t.like(error, {code: 'ENOENT'});
	t.true(error!.message.includes(missing), error!.message);
	t.is(scanner.stats().earlyReads, 0);
});

// The early read loads the addon before the command does: an addon that does not load must
// still be the command's failure (exit 2, said on one line), not Node's uncaught error (exit 1,
// which a cron check reads as "something needs a restart").
test.serial('status with an addon that does not load exits 2 saying so, as before the early read', async t => {
	const dir = await scratch(t);
	const r = await livetree(['status', '--json', '--no-systemd', '--state-dir', path.join(dir, 'state')], {
		NAPI_RS_NATIVE_LIBRARY_PATH: path.join(dir, 'no-such-addon.node'),
	});
	t.is(r.code, 2, r.stderr);
	t.is(r.stdout, '');
	t.regex(r.stderr, /^livetree: internal error: Error: Cannot find native binding/);
});
