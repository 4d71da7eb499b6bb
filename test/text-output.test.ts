// The text a person reads (issue 22): suggested commands carry the options that chose what
// was read, quoted for any shell; sentences wrap at the terminal's width (never in a pipe);
// `packages NAME` and `restart --needed` say what they did not find.
import {execFile, execFileSync, spawn} from 'node:child_process';
import {chmod, mkdir, readFile} from 'node:fs/promises';
import {join} from 'node:path';
import {promisify} from 'node:util';
import test from 'ava';
import {Chalk} from 'chalk';
import {rerunOptions, shellWord, suggestFor} from '../src/commands/rerun.js';
import type {StatusDocument} from '../src/model/document.js';
import {buildPackages} from '../src/model/packages.js';
import {readCommon} from '../src/options.js';
import {renderExplain} from '../src/render/explain.js';
import {renderPackagesText} from '../src/render/packages-text.js';
import {renderRestarts} from '../src/render/restarts.js';
import {renderText} from '../src/render/text.js';
import {terminalWidth} from '../src/render/wrap.js';
import {livetree, projectRoot} from './helpers/cli.js';
import {statusExitCode} from './helpers/exit-code.js';
import {Fixtures} from './helpers/fixture.js';
import {startSimHost} from './helpers/sim-host.js';
import {makeDocument} from './helpers/status-document.js';
import {startUserManager} from './helpers/systemd-user.js';
import {inPidNamespace, sleepCopy, twoStaleSleepers, unitCgroups} from './helpers/unit-cgroup.js';

const execFileP = promisify(execFile);
const plain = new Chalk({level: 0});
// A directory name no shell may take apart: a quote, a space, a command substitution, a
// glob, a backslash; and one with a newline and an escape character as well.
const HOSTILE = String.raw`it's $(touch PWNED) *\ dir`;
const CONTROL = 'line\nbreak\u001B[31m';

// Lines wider than the terminal, except a line that is one word (a path is never broken),
// a suggested command (printed whole, to be copied) and a deployment line (its whole
// checksum, as `ostree admin status` prints it).
function tooWide(text: string, width: number): string[] {
	return text
		.split('\n')
		.filter(line => [...line].length > width && line.trim().includes(' ') && !/^( {2}|Next: )livetree /.test(line) && !/^[* ] \S+ [\da-f]{64}\.\d+/.test(line));
}

test('shellWord: every word comes back exactly through bash, and through sh when printable', t => {
	for (const word of ['/usr/lib/x', 'a b', "it's", '$(id)', '`id`', '*', '', HOSTILE, 'é ü', String.raw`\x41`]) {
		t.is(execFileSync('bash', ['-c', `printf %s ${shellWord(word)}`], {encoding: 'utf8'}), word, word);
		t.is(execFileSync('sh', ['-c', `printf %s ${shellWord(word)}`], {encoding: 'utf8'}), word, word);
	}

	for (const word of [CONTROL, 'tab\there', '\u009B1m', "quote' and\nnewline\\"]) {
		const quoted = shellWord(word);
		// One printable line: no control character reaches the terminal.
		t.notRegex(quoted, /[\u0000-\u001F\u007F-\u009F]/, JSON.stringify(word));
		t.is(execFileSync('bash', ['-c', `printf %s ${quoted}`], {encoding: 'utf8'}), word, JSON.stringify(word));
	}

	t.is(shellWord('/var/lib/livetree'), '/var/lib/livetree');
	t.is(shellWord("it's"), String.raw`'it'\''s'`);
});

test('a suggestion carries the options that change what is read, only where the command takes them', t => {
	const options = readCommon({
		sysroot: '/srv/sysroot',
		'state-dir': '/srv/state',
		'proc-root': '/captured/proc',
		'sys-root': '/captured/sys',
		'run-dir': '/captured/run',
		'bus-address': 'unix:path=/run/other-bus',
		json: true,
		verbose: true,
		color: 'never',
	});
	t.deepEqual(rerunOptions(options, 'explain'), [
		'--sysroot',
		'/srv/sysroot',
		'--state-dir',
		'/srv/state',
		'--proc-root',
		'/captured/proc',
		'--sys-root',
		'/captured/sys',
		'--run-dir',
		'/captured/run',
		'--bus-address',
		'unix:path=/run/other-bus',
	]);
	// `which` reads no processes and no bus.
	t.deepEqual(rerunOptions(options, 'which'), ['--sysroot', '/srv/sysroot', '--state-dir', '/srv/state', '--run-dir', '/captured/run']);
	// What was read by default needs no option; --no-systemd and --user are carried.
	t.deepEqual(rerunOptions(readCommon({}), 'explain'), []);
	t.deepEqual(rerunOptions(readCommon({'no-systemd': true}), 'explain'), ['--no-systemd']);
	t.deepEqual(rerunOptions(readCommon({'no-systemd': true}), 'restart'), [], 'restart takes no --no-systemd');
	t.deepEqual(rerunOptions(readCommon({user: true}), 'restart'), ['--user']);
	// A relative path is carried as the absolute path that was read.
	t.deepEqual(rerunOptions(readCommon({sysroot: 'rel/sysroot'}), 'explain'), ['--sysroot', join(process.cwd(), 'rel/sysroot')]);

	const doc = makeDocument();
	const suggest = suggestFor(readCommon({sysroot: `/srv/${HOSTILE}`, 'bus-address': 'unix:path=/run/b'}));
	const text = renderText(doc, {style: plain, verbose: false, suggest});
	t.regex(text, /^ {2}livetree explain 1001 --sysroot '\/srv\/it'\\''s \$\(touch PWNED\) \*\\ dir' --bus-address unix:path=\/run\/b +why/m);
	t.regex(text, /^ {2}livetree restart --needed --dry-run --sysroot '\/srv\/it'\\''s \$\(touch PWNED\) \*\\ dir' --bus-address unix:path=\/run\/b +which/m);
	const explain = renderExplain(doc, doc.processes.find(p => p.needsRestart)!, plain, false, {suggest});
	t.regex(explain, /^Next: livetree restart --dry-run cron\.service --sysroot '\/srv\/it'\\''s .* --bus-address unix:path=\/run\/b$/m);
});

test('status: the printed "Next" command, run as printed, reads the same sysroot, catalog and bus', async t => {
	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const s = await fx.initSysroot();
	await s.commit('1.0');
	const d1 = (await s.deploy()).deployments[0]!;
	const state = await fx.tempDir(`livetree-${HOSTILE}-`);
	const p = await fx.startChrooted(d1.path, ['/usr/bin/demo-sleep', '600']);
	t.teardown(async () => p.stop());
	const busDir = await fx.tempDir(`livetree-bus-${CONTROL}-`);
	// A well-formed address with nothing listening: the scan warns and goes on.
	const options = ['--sysroot', s.path, '--state-dir', state, '--bus-address', `unix:path=${busDir}/none`];
	const first = await livetree(['status', '--json', ...options]);
	t.is(first.code, statusExitCode(JSON.parse(first.stdout) as StatusDocument), first.stderr);
	await s.commit('2.0');
	await s.deploy();
	await s.undeploy(1);
	await s.cleanup();

	const r = await livetree(['status', '--color', 'never', ...options]);
	t.is(r.code, 1, r.stderr);
	// Our process is the only one of this sysroot's deployments, so it is the one named.
	const next = /^ {2}(livetree explain \d+ .*?) {3}why this process needs a restart$/m.exec(r.stdout)?.[1];
	t.truthy(next, r.stdout);
	t.true(next!.startsWith(`livetree explain ${p.pid} `), next);
	const dir = await fx.tempDir('livetree-next-');
	await mkdir(join(dir, 'bin'));
	execFileSync('ln', ['-s', join(projectRoot, 'bin/livetree.js'), join(dir, 'bin/livetree')]);
	// Run from an empty directory, by bash, as a person pasting it would.
	const pasted = await execFileP('bash', ['-c', next!], {cwd: dir, env: {...process.env, PATH: `${dir}/bin:${process.env.PATH ?? ''}`}}).then(
		o => ({code: 0, ...o}),
		(error: {code: number; stdout: string; stderr: string}) => error,
	);
	t.is(pasted.code, 1, pasted.stderr);
	t.regex(pasted.stdout, new RegExp(`^PID ${p.pid} \\(sleep\\) runs from deployment demo/[\\da-f]{64}\\.0 \\(version 1\\.0\\), which has since been removed`));
	// The same catalog traced the deleted library to 1.0; the same (absent) bus was asked.
	t.regex(pasted.stdout, /libdemo\.so\.1 \(deleted\) from commit [\da-f]{10}… \(1\.0\)/);
	t.deepEqual(execFileSync('find', [dir, '-name', 'PWNED'], {encoding: 'utf8'}), '', 'no command substitution ran');
});

test('text wraps at the width given: the not-OSTree line, explain details, packages; a pipe gets whole lines', t => {
	const host = makeDocument({deployments: []});
	host.sysroot = {path: '/', repoMode: null, ostreeBooted: false};
	const wrapped = renderText(host, {style: plain, verbose: false, width: 80});
	t.deepEqual(tooWide(wrapped, 80), []);
	t.regex(wrapped, /^This host is not booted from OSTree: no deployments; checking processes for\n {2}deleted or replaced code\.$/m);
	t.regex(
		renderText(host, {style: plain, verbose: false}),
		/^This host is not booted from OSTree: no deployments; checking processes for deleted or replaced code\.$/m,
	);

	const doc = makeDocument();
	const p = doc.processes.find(q => q.needsRestart)!;
	const whole = renderExplain(doc, p, plain, true);
	t.true(
		whole.split('\n').some(line => line.length > 80),
		'unwrapped, some line is wider than 80',
	);
	const explain = renderExplain(doc, p, plain, true, {width: 80});
	t.deepEqual(tooWide(explain, 80), []);
	// The same words, only broken into lines; no path is shortened.
	t.is(explain.replace(/\s+/g, ' '), whole.replace(/\s+/g, ' '));
	t.false(explain.includes('…/'));

	const packages = buildPackages({
		doc: withPackage(makeDocument(), 'a-package-with-a-rather-long-name-for-this-test', '1:2.36-9+deb12u4-with-a-long-revision'),
		installed: [],
	});
	const pipe = renderPackagesText(packages, plain, true);
	t.true(pipe.split('\n').some(line => line.length > 80));
	const terminal = renderPackagesText(packages, plain, true, {width: 80});
	t.deepEqual(tooWide(terminal, 80), []);
	t.is(terminal.replace(/\s+/g, ' '), pipe.replace(/\s+/g, ' '));

	// The Kernel block too: a long reason wraps under its indent.
	const withKernel = makeDocument();
	withKernel.kernel = {
		running: {release: '6.1.0-57-amd64', version: '#1 SMP PREEMPT_DYNAMIC Debian 6.1.192-3 (2026-11-26)'},
		installed: [],
		expected: '6.1.0-58-amd64',
		modulesAvailable: true,
		livepatches: [],
		rebootNeeded: true,
		softRebootPossible: false,
		reasons: [{code: 'staged-deployment', message: 'deployment debian/0123456789abcdef0123456789.0 (kernel 6.1.0-58-amd64) is staged for the next boot'}],
	} as NonNullable<StatusDocument['kernel']>;
	const kernelText = renderText(withKernel, {style: plain, verbose: true, width: 80});
	t.deepEqual(tooWide(kernelText, 80), []);
	t.regex(kernelText, /^ {2}deployment debian\/0123456789abcdef0123456789\.0 \(kernel 6\.1\.0-58-amd64\) is\n {4}staged for the next boot$/m);

	t.is(terminalWidth({isTTY: true, columns: 120}), 120);
	t.is(terminalWidth({isTTY: true, columns: 0}), 80, 'a terminal that gives no width is taken as 80 columns');
	t.is(terminalWidth({isTTY: false, columns: 120}), undefined);
});

// A document whose stale processes map a file of one package.
function withPackage(doc: StatusDocument, name: string, version: string): StatusDocument {
	for (const p of doc.processes) {
		for (const f of p.files) {
			f.origin.package = {name, version, arch: 'amd64', manager: 'dpkg', source: null, sourceVersion: null};
		}
	}

	return doc;
}

// script(1) gives the command a real terminal of 80 columns (stdout; progress on stderr is
// left out); \r\n comes back as \n.
async function atTerminal(args: string[]): Promise<string> {
	const command = [process.execPath, join(projectRoot, 'bin/livetree.js'), ...args].map(a => shellWord(a)).join(' ');
	const {stdout} = await execFileP('script', ['-qec', `stty cols 80 rows 40; exec ${command} 2>/dev/null`, '/dev/null'], {
		env: {...process.env, NO_COLOR: '1'},
	}).catch((error: {stdout: string}) => error);
	return stdout.replaceAll('\r\n', '\n');
}

test('at an 80-column terminal, status, explain and packages fit in 80 columns', async t => {
	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const state = await fx.tempDir();
	// An empty run directory: this host reads as not booted from OSTree, whatever it is.
	const run = await fx.tempDir();
	const status = await atTerminal(['status', '--no-systemd', '--state-dir', state, '--run-dir', run]);
	t.regex(status, /^This host is not booted from OSTree: no deployments; checking processes for\n {2}deleted or replaced code\.$/m);
	t.deepEqual(tooWide(status, 80), []);

	const explain = await atTerminal(['explain', String(process.pid), '--verbose', '--no-systemd', '--state-dir', state]);
	t.regex(explain, new RegExp(`^PID ${process.pid} \\(`));
	t.regex(explain, /^Mapped files:$/m);
	t.deepEqual(tooWide(explain, 80), []);

	const packages = await atTerminal(['packages', '--no-systemd', '--verbose', '--state-dir', state]);
	t.regex(packages, /^\d+ packages? in memory, \d+ running a version other than the installed one/m);
	t.deepEqual(tooWide(packages, 80), []);
});

test('packages NAME that matches nothing says no package of that name is in memory', async t => {
	const doc = withPackage(makeDocument(), 'libc6', '2.36-9');
	const report = buildPackages({doc, installed: [], names: ['no-such-package']});
	t.is(
		renderPackagesText(report, plain, false, {names: ['no-such-package']}).split('\n')[0],
		'No package named no-such-package is in memory: no process maps a file that a package of that name (or of that source package) installed.',
	);
	const both = buildPackages({doc, installed: [], names: ['libc6', 'no-such-package']});
	const text = renderPackagesText(both, plain, false, {names: ['libc6', 'no-such-package']});
	t.regex(text, /^No package named no-such-package is in memory/m);
	t.regex(text, /^libc6 2\.36-9 in memory in 6 processes of 2 units; not installed$/m);
	t.notRegex(text, /libc6 is in memory|No package named libc6/);

	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const r = await livetree(['packages', 'no-such-package-livetree', '--no-systemd', '--state-dir', await fx.tempDir()]);
	// Nothing of that name runs another version than installed: 0, or 3 where some process of
	// this host could not be read (then the list says so).
	t.is(r.code, /^Unknown: \d+ process(es)? could not be read/m.test(r.stdout) ? 3 : 0, r.stdout);
	t.regex(r.stdout, /^No package named no-such-package-livetree is in memory: /);
	t.notRegex(r.stdout, /No package's files are in memory/);
});

test('restart --needed says how many processes that need a restart are in no unit', t => {
	t.is(renderRestarts([], plain), 'Nothing to restart.\n');
	t.is(
		renderRestarts([], plain, {outside: 2, listCommand: 'livetree status --sysroot /s'}),
		'No unit needs a restart.\n2 processes that need a restart are in no unit: whoever started them restarts them (livetree status --sysroot /s lists them).\n',
	);
	t.is(renderRestarts([], plain, {outside: 1}), 'No unit needs a restart.\n1 process that needs a restart is in no unit: whoever started it restarts it.\n');
});

test('restart --needed on a host whose only stale process is in no unit: says so, restarts nothing', async t => {
	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const m = await startUserManager();
	t.teardown(async () => m.stop());
	const s = await fx.initSysroot();
	await s.commit('1.0');
	const d1 = (await s.deploy()).deployments[0]!;
	const state = await fx.tempDir();
	// A host of its own: its PID 1 runs in deployment 1.0, started by nothing systemd knows.
	const host = await startSimHost(d1.path);
	t.teardown(async () => host.stop());
	const run = async (args: string[]) => {
		const child = host.livetree(args);
		let stdout = '';
		let stderr = '';
		child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
		child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
		const code = await new Promise<number | null>(resolve => child.once('exit', resolve));
		return {code, stdout, stderr};
	};

	const options = ['--sysroot', s.path, '--state-dir', state, '--bus-address', m.busAddress];
	t.is((await run(['status', '--json', ...options])).code, 0, 'one process, on current code');
	await s.commit('2.0');
	await s.deploy();
	await s.undeploy(1);
	await s.cleanup();

	const r = await run(['restart', '--needed', '--color', 'never', ...options]);
	t.is(r.code, 0, r.stderr);
	t.is(
		r.stdout,
		`No unit needs a restart.\n1 process that needs a restart is in no unit: whoever started it restarts it (${['livetree', 'status', ...options].map(a => shellWord(a)).join(' ')} lists it).\n`,
	);
});

// Without systemd's answer (--no-systemd, or no bus: a plain Debian host without a system
// bus), a process's unit is read from its cgroup. The verdict said "Restart needed: 1
// process in no unit" and left out the stale process of lt-verdict.service, and the summary
// said "0 units need a restart", while the group line named the unit. In a PID namespace of
// its own, as root, so that the verdict is about this test's processes only.
test('without systemd, the verdict counts the units read from cgroups, and every stale process', async t => {
	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const dir = await fx.tempDir('livetree-verdict-');
	await chmod(dir, 0o755);
	const state = join(dir, 'state');
	await mkdir(state);
	const exe = await sleepCopy(dir);
	// A cgroup as a manager started below a delegated directory would name it: the unit is
	// lt-verdict.service, in every hierarchy that holds processes (cgroup v2, or name=systemd).
	const groups = await unitCgroups(t, 'livetree-verdict', 'lt-verdict.service');
	const script = [
		...twoStaleSleepers(exe, groups),
		`exec ${[process.execPath, join(projectRoot, 'bin/livetree.js'), 'status', '--no-systemd', '--color', 'never', '--state-dir', state].map(a => shellWord(a)).join(' ')}`,
	].join('\n');
	const r = await inPidNamespace(script);
	t.is(r.code, 1, r.stderr);
	const lines = r.stdout.split('\n');
	t.is(lines[0], 'Restart needed: 1 unit (lt-verdict.service) and 1 process in no unit, 2 processes in all.');
	t.true(lines.includes(`  1 × lt-sleep (lt-verdict.service): ${exe}, since replaced by a newer file`), r.stdout);
	t.true(lines.includes(`  1 × lt-sleep (no unit): ${exe}, since replaced by a newer file`), r.stdout);
	t.regex(r.stdout, /^Summary: 2 processes(?: \(\d+ kernel threads? not counted\))?, 2 need a restart; 1 unit needs a restart;$/m);
});

// explain of a stale process in a unit suggested `livetree restart --dry-run UNIT`, which
// fails at once when systemd could not be reached ("systemd is unavailable", exit 2): the
// unit was read from the process's cgroup. It now says what to restart and why livetree
// cannot do it here.
test('explain, systemd unreachable: the next step names the unit without a livetree restart that cannot run', async t => {
	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const dir = await fx.tempDir('livetree-next-unit-');
	await chmod(dir, 0o755);
	const exe = await sleepCopy(dir);
	const groups = await unitCgroups(t, 'livetree-next', 'lt-next.service');
	const child = spawn('sh', ['-c', `for g in "$@"; do echo $$ > "$g/cgroup.procs"; done; exec '${exe}' 60`, 'sh', ...groups], {stdio: 'ignore'});
	// Registered after the groups' removal, so it runs before it.
	t.teardown(() => {
		child.kill('SIGKILL');
	});
	const pid = child.pid!;
	for (let i = 0; i < 100 && !(await readFile(`/proc/${pid}/maps`, 'utf8').catch(() => '')).includes(exe); i++) {
		await new Promise(resolve => setTimeout(resolve, 50));
	}

	execFileSync('sh', ['-c', `cp '${exe}' '${exe}.new' && printf x >>'${exe}.new' && mv '${exe}.new' '${exe}'`]);
	const state = await fx.tempDir();
	const r = await livetree(['explain', String(pid), '--color', 'never', '--state-dir', state, '--bus-address', `unix:path=${dir}/no-bus`]);
	t.is(r.code, 1, r.stderr);
	t.regex(r.stdout, /^ {2}systemd-unavailable: connecting to unix:path=.*\/no-bus: no socket at /m);
	t.regex(r.stdout, /\nNext: restart lt-next\.service \(livetree restart needs its systemd manager, which could not be asked: see the warnings above\)\n$/);
});
