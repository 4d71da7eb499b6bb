// Issue 22: an incomplete scan is not clean, and kernel threads are not processes. As an
// ordinary user with root's daemons around, `livetree status` said "Nothing needs a
// restart (72 processes checked)" and exited 0: 63 of the 72 were kernel threads, and all
// 9 real processes were unread. Each scan here runs in a PID namespace of its own
// (unshare --pid --mount-proc), so that what it sees is exactly what the test made.
import {spawn} from 'node:child_process';
import {chmod, copyFile, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import Ajv2020 from 'ajv/dist/2020.js';
import type {StatusDocument} from '../src/model/document.js';
import type {PackagesDocument} from '../src/model/packages.js';
import {type CliResult, livetree, livetreeAs, outcome, projectRoot} from './helpers/cli.js';
import {schemaErrors} from './helpers/schema.js';
import {statusExitCode} from './helpers/exit-code.js';

const bin = `${projectRoot}bin/livetree.js`;
const ajv = new Ajv2020.default({allErrors: true, strict: false});
ajv.addFormat('date-time', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/);
const validatePackages = ajv.compile(JSON.parse(await readFile(path.join(projectRoot, 'schema/packages.schema.json'), 'utf8')) as object);

async function scratch(t: {teardown(fn: () => Promise<void>): void}): Promise<string> {
	const dir = await mkdtemp(path.join(os.tmpdir(), 'livetree-incomplete-'));
	t.teardown(async () => rm(dir, {recursive: true, force: true}));
	await chmod(dir, 0o755);
	await mkdir(path.join(dir, 'state'), {mode: 0o755});
	return dir;
}

// A shell script run as PID 1 of a new PID namespace with its own /proc; it ends by running
// livetree as nobody (runuser forks: its root-owned parent stays, as root's daemons do).
async function inNamespace(script: string, args: string[]): Promise<CliResult> {
	const quoted = [process.execPath, bin, ...args].map(a => `'${a.replaceAll("'", "'\\''")}'`).join(' ');
	return outcome(
		spawn('unshare', ['--pid', '--fork', '--mount-proc', 'sh', '-c', `${script}\nexec runuser -u nobody -- ${quoted}`], {
			stdio: ['ignore', 'pipe', 'pipe'],
			cwd: '/',
		}),
	);
}

function flagsOf(stat: string): number {
	return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[6]);
}

// Whether PID is a kernel thread, read here apart from livetree; undefined once it is gone.
async function isKernelThread(pid: number): Promise<boolean | undefined> {
	const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
	return stat === undefined ? undefined : (flagsOf(stat) & 0x20_0000) !== 0;
}

test('as nobody, a scan that could read no process says unknown and exits 3', async t => {
	const dir = await scratch(t);
	const state = path.join(dir, 'state');
	// PID 1 is runuser, root's: nobody may not read its maps. livetree itself is not listed.
	const r = await inNamespace('', ['status', '--no-systemd', '--color', 'never', '--state-dir', state]);
	t.is(r.code, 3, r.stderr);
	const lines = r.stdout.split('\n');
	t.is(lines[0], 'Unknown for 1 of 1 process: it could not be read (run as root).');
	t.notRegex(r.stdout, /Nothing needs a restart|none needs a restart|not root\?/);
	t.regex(r.stdout, /^Summary: 1 process: none could be read;/m);
	t.regex(r.stdout, /^ {9}1 process could not be read: what it runs is unknown \(run as root\)\.$/m);

	const json = await inNamespace('', ['status', '--json', '--no-systemd', '--state-dir', state]);
	t.is(json.code, 3, json.stderr);
	const doc = JSON.parse(json.stdout) as StatusDocument;
	t.deepEqual(schemaErrors(doc), []);
	t.deepEqual(
		doc.processes.map(p => [p.pid, p.state]),
		[[1, 'unknown']],
	);
	t.deepEqual([doc.summary.processes, doc.summary.processesUnreadable, doc.summary.complete, doc.summary.kernelThreads], [1, 1, false, 0]);

	const metrics = await inNamespace('', ['status', '--format', 'prometheus', '--no-systemd', '--state-dir', state]);
	t.is(metrics.code, 3, metrics.stderr);
	t.regex(metrics.stdout, /^livetree_scan_complete 0$/m);
	t.regex(metrics.stdout, /^livetree_processes\{state="unknown"\} 1$/m);
});

test('as nobody, unread processes beside read ones: unknown, and what was read is said', async t => {
	const dir = await scratch(t);
	const state = path.join(dir, 'state');
	// A sleep of nobody's own, which nobody may read; runuser's root parent of it may not be.
	const script = 'runuser -u nobody -- sleep 60 &\nuntil pgrep -u nobody -x sleep >/dev/null; do sleep 0.05; done';
	const r = await inNamespace(script, ['status', '--no-systemd', '--color', 'never', '--state-dir', state]);
	t.is(r.code, 3, r.stderr);
	t.is(r.stdout.split('\n')[0], 'Unknown for 2 of 3 processes: they could not be read (run as root); the other process needs no restart.');
	t.regex(r.stdout, /^Summary: 3 processes: 1 read, it needs no restart;/m);
});

test('as nobody, the unreadable warnings that differ by their PID alone are one line; --verbose and --json keep each', async t => {
	const dir = await scratch(t);
	const state = path.join(dir, 'state');
	// Three sleeps of root's beside runuser (PID 1): four processes nobody may not read.
	const pids = path.join(dir, 'pids');
	const script = `for i in 1 2 3; do sleep 60 & echo $! >>'${pids}'; done`;
	const r = await inNamespace(script, ['status', '--no-systemd', '--color', 'never', '--state-dir', state]);
	t.is(r.code, 3, r.stderr);
	const sleeps = (await readFile(pids, 'utf8')).trim().split('\n').map(Number);
	const unread = [1, ...sleeps].sort((a, b) => a - b);
	t.is(unread.length, 4);
	const lines = r.stdout.split('\n');
	t.is(lines[0], 'Unknown for 4 of 4 processes: they could not be read (run as root).');
	t.true(lines.includes(`  process-unreadable: 4 processes: /proc/PID/maps: permission denied (PIDs ${unread.join(' ')})`), r.stdout);
	t.notRegex(r.stdout, /process-unreadable: PID/);
	t.regex(r.stdout, /^Summary: 4 processes: none could be read;/m);

	const verbose = await inNamespace(script, ['status', '--no-systemd', '--color', 'never', '--verbose', '--state-dir', state]);
	t.is(verbose.code, 3, verbose.stderr);
	t.deepEqual(
		verbose.stdout.split('\n').filter(l => l.includes('process-unreadable')),
		unread.map(pid => `  process-unreadable: PID ${pid}: /proc/${pid}/maps: permission denied`),
	);

	const json = await inNamespace(script, ['status', '--json', '--no-systemd', '--state-dir', state]);
	t.is(json.code, 3, json.stderr);
	const doc = JSON.parse(json.stdout) as StatusDocument;
	t.deepEqual(
		doc.warnings.filter(w => w.code === 'process-unreadable').map(w => [w.pid, w.message]),
		unread.map(pid => [pid, `PID ${pid}: /proc/${pid}/maps: permission denied`]),
	);
});

test('as nobody, packages with unread processes: exit 3 and the list says what it left out', async t => {
	const dir = await scratch(t);
	const state = path.join(dir, 'state');
	// nobody's own sleep maps the host's libc (read); runuser, root's, is PID 1 (unread).
	const script = 'runuser -u nobody -- sleep 60 &\nuntil pgrep -u nobody -x sleep >/dev/null; do sleep 0.05; done';
	const json = await inNamespace(script, ['packages', '--json', '--no-systemd', '--state-dir', state]);
	t.is(json.code, 3, json.stderr);
	const report = JSON.parse(json.stdout) as PackagesDocument;
	t.deepEqual(validatePackages(report) ? [] : validatePackages.errors, []);
	t.deepEqual([report.summary.mismatched, report.summary.processesUnreadable, report.summary.complete], [0, 2, false]);
	t.true(
		report.packages.some(p => p.running.some(v => v.processes.some(q => q.comm === 'sleep'))),
		json.stdout,
	);

	const text = await inNamespace(script, ['packages', '--no-systemd', '--color', 'never', '--state-dir', state]);
	t.is(text.code, 3, text.stderr);
	t.regex(text.stdout, /^Unknown: 2 processes could not be read \(run as root\); which packages they run is not in this list\.$/m);

	// The metrics alone (a textfile from cron) said "0 mismatched" and nothing of the two
	// processes left out: they now say the scan was incomplete, as status's do.
	const metrics = await inNamespace(script, ['packages', '--format', 'prometheus', '--no-systemd', '--state-dir', state]);
	t.is(metrics.code, 3, metrics.stderr);
	t.regex(metrics.stdout, /^livetree_packages_version_mismatched 0$/m);
	t.regex(metrics.stdout, /^livetree_packages_scan_complete 0$/m);
	t.regex(metrics.stdout, /^livetree_packages_processes_unreadable 2$/m);
});

test('as nobody, something to restart beside unread processes: exit 1, and the verdict says the unknown', async t => {
	const dir = await scratch(t);
	const state = path.join(dir, 'state');
	const exe = path.join(dir, 'lt-sleep');
	await copyFile('/usr/bin/sleep', exe);
	await chmod(exe, 0o755);
	// nobody's sleep runs lt-sleep; then a new file is renamed over it, as an upgrade does.
	const script = [
		`runuser -u nobody -- '${exe}' 60 &`,
		'until pgrep -u nobody -x lt-sleep >/dev/null; do sleep 0.05; done',
		`cp '${exe}' '${exe}.new' && printf x >>'${exe}.new' && mv '${exe}.new' '${exe}'`,
	].join('\n');
	const r = await inNamespace(script, ['status', '--json', '--no-systemd', '--state-dir', state]);
	t.is(r.code, 1, r.stderr);
	const doc = JSON.parse(r.stdout) as StatusDocument;
	t.deepEqual(schemaErrors(doc), []);
	const stale = doc.processes.find(p => p.comm === 'lt-sleep')!;
	t.is(stale.state, 'stale');
	const file = stale.files.find(f => f.path === exe)!;
	// Renamed over: replaced (the path names another file), whatever else is true of it.
	t.is(file.superseded, true);
	t.is(file.staleReason, 'superseded');
	t.deepEqual([doc.summary.processes, doc.summary.processesUnreadable, doc.summary.complete], [3, 2, false]);

	// Again, in words: the restart first, then the unknown.
	const text = await inNamespace(script, ['status', '--no-systemd', '--color', 'never', '--state-dir', state]);
	t.is(text.code, 1, text.stderr);
	t.is(text.stdout.split('\n')[0], 'Restart needed: 1 process in no unit; unknown for 2 other processes: they could not be read (run as root).');
	t.regex(text.stdout, new RegExp(`1 × lt-sleep \\(no unit\\): ${exe.replaceAll('.', '\\.')}, since replaced by a newer file`));
});

test('explain of a process nobody may not read: the warning, the advice, exit 3, with or without -v', async t => {
	const dir = await scratch(t);
	const state = path.join(dir, 'state');
	for (const verbose of [[], ['-v']]) {
		const r = await inNamespace('', ['explain', '1', '--no-systemd', '--color', 'never', '--state-dir', state, ...verbose]);
		t.is(r.code, 3, r.stderr);
		t.regex(r.stdout, /^PID 1 \(runuser\) /);
		t.regex(r.stdout, /Its memory map could not be read, so what it runs is unknown \(run as root to read it\)\./);
		t.regex(r.stdout, /^ {2}process-unreadable: PID 1: \/proc\/1\/maps: permission denied$/m);
		t.notRegex(r.stdout, /runs current code/);
	}

	const json = await inNamespace('', ['explain', '1', '--json', '--no-systemd', '--state-dir', state]);
	t.is(json.code, 3, json.stderr);
	const out = JSON.parse(json.stdout) as {state: string; warnings: Array<{code: string; pid: number | null}>};
	t.is(out.state, 'unknown');
	t.true(out.warnings.some(w => w.code === 'process-unreadable' && w.pid === 1));
});

// A proc tree with one process root may read (a copy of ours) and one it may not: 4242.
async function procTree(dir: string, unreadable: 'directory' | 'mode 000'): Promise<string> {
	const proc = path.join(dir, 'proc');
	await mkdir(path.join(proc, '4242'), {recursive: true});
	await writeFile(path.join(proc, '4242/comm'), 'ghost\n');
	await writeFile(path.join(proc, '4242/stat'), '4242 (ghost) S 1 4242 4242 0 -1 4194560 0 0\n');
	if (unreadable === 'directory') {
		await mkdir(path.join(proc, '4242/maps'));
	} else {
		await writeFile(path.join(proc, '4242/maps'), '');
		await chmod(path.join(proc, '4242/maps'), 0o000);
	}

	await mkdir(path.join(proc, '4243'));
	await writeFile(path.join(proc, '4243/maps'), await readFile(`/proc/${process.pid}/maps`));
	await writeFile(path.join(proc, '4243/comm'), 'node\n');
	await symlink(process.execPath, path.join(proc, '4243/exe'));
	await symlink('/', path.join(proc, '4243/root'));
	return proc;
}

test('as root, a process unreadable even to root is not put down to "not root?"', async t => {
	const dir = await scratch(t);
	const args = ['--no-systemd', '--proc-root', await procTree(dir, 'mode 000'), '--state-dir', path.join(dir, 'state')];
	// Root without CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH: as a hardened /proc or another
	// user namespace does, this refuses root itself (EACCES).
	const asRoot = async (more: string[]) =>
		outcome(
			spawn('setpriv', ['--bounding-set', '-dac_override,-dac_read_search', '--', process.execPath, bin, ...more, ...args], {
				stdio: ['ignore', 'pipe', 'pipe'],
			}),
		);
	const r = await asRoot(['status', '--color', 'never']);
	t.is(r.code, 3, r.stderr);
	t.is(r.stdout.split('\n')[0], 'Unknown for 1 of 2 processes: it could not be read (even as root; see warnings); the other process needs no restart.');
	t.regex(r.stdout, /what it runs is unknown \(even as root; see warnings\)\./);
	t.regex(r.stdout, /process-unreadable: PID 4242: .*\/4242\/maps: permission denied/);
	t.notRegex(r.stdout, /not root\?|run as root/);
	const explain = await asRoot(['explain', '4242', '--color', 'never']);
	t.is(explain.code, 3, explain.stderr);
	t.regex(explain.stdout, /Its memory map could not be read, so what it runs is unknown, even as root \(see the warnings below\)\./);
	t.regex(explain.stdout, /^ {2}process-unreadable: PID 4242: /m);
});

test('a process unreadable for another reason than permission: unknown, pointed to the warnings', async t => {
	const dir = await scratch(t);
	const args = ['--no-systemd', '--proc-root', await procTree(dir, 'directory'), '--state-dir', path.join(dir, 'state')];
	const r = await livetree(['status', '--color', 'never', ...args]);
	t.is(r.code, 3, r.stderr);
	t.is(r.stdout.split('\n')[0], 'Unknown for 1 of 2 processes (see warnings); the other process needs no restart.');
	t.regex(r.stdout, /^ {9}1 process unknown: what it runs could not be told \(see warnings\)\.$/m);
	t.notRegex(r.stdout, /run as root|not root\?/);
	const explain = await livetree(['explain', '4242', '--color', 'never', ...args]);
	t.is(explain.code, 3, explain.stderr);
	t.regex(explain.stdout, /Its memory map could not be read, so what it runs is unknown \(see the warnings below\)\./);
});

test('kernel threads are no processes: left out of processes[] and every count, counted apart', async t => {
	const dir = await scratch(t);
	const out = path.join(dir, 'out');
	await mkdir(out, {mode: 0o777});
	await chmod(out, 0o777);
	// As nobody, every kernel thread's maps reads as empty: they were counted as processes.
	for (const [who, run] of [
		['root', async (args: string[]) => livetree(args)],
		['nobody', async (args: string[]) => livetreeAs('nobody', args)],
	] as const) {
		const textfile = path.join(out, `${who}.prom`);
		const r = await run(['status', '--json', '--no-systemd', '--state-dir', path.join(dir, 'state'), '--textfile', textfile]);
		const doc = JSON.parse(r.stdout) as StatusDocument;
		// Whatever else runs on this host decides between 0, 1 and 3; never 2.
		t.is(r.code, statusExitCode(doc), `${who}: ${r.stderr}`);
		t.deepEqual(schemaErrors(doc), []);
		t.true((doc.summary.kernelThreads ?? 0) > 0, 'a Linux host has kernel threads');
		const kernel = await Promise.all(doc.processes.map(async p => isKernelThread(p.pid)));
		t.deepEqual(
			doc.processes.filter((_, i) => kernel[i] === true).map(p => `${p.pid} ${p.comm}`),
			[],
			who,
		);
		t.is(doc.summary.processes, doc.processes.length);
		t.is(doc.summary.complete, doc.summary.processesUnreadable === 0);
		// The metrics of the same scan count the same processes.
		const metrics = await readFile(textfile, 'utf8');
		const counted = [...metrics.matchAll(/^livetree_processes\{state="\w+"\} (\d+)$/gm)].reduce((n, m) => n + Number(m[1]), 0);
		t.is(counted, doc.summary.processes, who);
		t.regex(metrics, new RegExp(`^livetree_kernel_threads ${doc.summary.kernelThreads}$`, 'm'));
		t.regex(metrics, new RegExp(`^livetree_scan_complete ${doc.summary.complete ? 1 : 0}$`, 'm'));
	}

	// A kernel thread asked for by PID is named as one, from the core's flag.
	const pids = (await readdir('/proc')).filter(n => /^\d+$/.test(n)).map(Number);
	const kthread = (await Promise.all(pids.map(async pid => ((await isKernelThread(pid)) ? pid : 0)))).find(pid => pid > 0)!;
	const explained = await livetree(['explain', String(kthread), '--json', '--no-systemd', '--state-dir', path.join(dir, 'state')]);
	t.is(explained.code, 0, explained.stderr);
	t.like(JSON.parse(explained.stdout) as object, {pid: kthread, kernelThread: true, files: []});
});
