// Issue 11, errors: every ordinary failure is one line on stderr naming the path and the real
// cause, exit 2, and nothing is created. Run as a user meets them: real missing directories,
// a real pipe closed early, a real file where a directory belongs.
import {spawn} from 'node:child_process';
import {existsSync} from 'node:fs';
import {chmod, mkdir, mkdtemp, open, readdir, rm, symlink, writeFile} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import {livetree, livetreeAs, outcome, projectRoot} from './helpers/cli.js';
import {schemaErrors} from './helpers/schema.js';
import {statusExitCode} from './helpers/exit-code.js';
import type {StatusDocument} from '../src/model/document.js';

async function tempDir(t: {teardown(fn: () => Promise<void>): void}): Promise<string> {
	const dir = await mkdtemp(path.join(os.tmpdir(), 'livetree-errors-'));
	t.teardown(async () => rm(dir, {recursive: true, force: true}));
	return dir;
}

function oneLine(
	t: {is(a: unknown, b: unknown, m?: string): void; regex(s: string, r: RegExp, m?: string): void; notRegex(s: string, r: RegExp, m?: string): void},
	stderr: string,
	...patterns: RegExp[]
): void {
	t.is(stderr.trim().split('\n').length, 1, stderr);
	t.notRegex(stderr, /\n\s+at |internal error|TypeError|Cannot read properties/, stderr);
	for (const p of patterns) {
		t.regex(stderr, p, stderr);
	}
}

test('--output and --textfile into a missing directory: one line, exit 2, nothing created', async t => {
	const dir = await tempDir(t);
	const state = path.join(dir, 'state');
	await mkdir(state);
	for (const option of ['--output', '--textfile']) {
		const target = path.join(dir, 'missing', 'report');
		const r = await livetree(['status', '--no-systemd', '--state-dir', state, option, target]);
		t.is(r.code, 2, option);
		t.is(r.stdout, '');
		oneLine(t, r.stderr, new RegExp(`${option} .*${path.join(dir, 'missing')}.*no such directory.*ENOENT`));
		t.false(existsSync(path.join(dir, 'missing')));
	}
});

test('--output into a read-only directory (as an ordinary user): one line, exit 2, nothing created', async t => {
	const dir = await tempDir(t);
	await chmod(dir, 0o755);
	const readOnly = path.join(dir, 'ro');
	await mkdir(readOnly, {mode: 0o755}); // root's; nobody may not write it
	const state = path.join(dir, 'state');
	await mkdir(state, {mode: 0o777});
	await chmod(state, 0o777);
	const r = await livetreeAs('nobody', ['status', '--no-systemd', '--state-dir', state, '--output', path.join(readOnly, 'status.json'), '--json']);
	t.is(r.code, 2, r.stderr);
	oneLine(t, r.stderr, /--output .*\/ro: not writable \(EACCES\)/);
	t.deepEqual(await readdir(readOnly), []);
});

test('status --json | head -c 100: quiet, exit 2 (never 0 or 1, which are verdicts)', async t => {
	const dir = await tempDir(t);
	const state = path.join(dir, 'state');
	await mkdir(state);
	const errFile = path.join(dir, 'stderr');
	const bin = path.join(projectRoot, 'bin/livetree.js');
	// A real pipe: head exits after 100 bytes, the rest of the report meets EPIPE.
	// --verbose text of every process is far over the 64 KiB a pipe buffers.
	const script = `"${process.execPath}" "${bin}" status --json --no-systemd --state-dir "${state}" 2>"${errFile}" | head -c 100 >/dev/null; echo "\${PIPESTATUS[0]}"`;
	const size = (await livetree(['status', '--json', '--no-systemd', '--state-dir', state])).stdout.length;
	t.true(size > 65_536, `the report must outgrow the pipe buffer to meet EPIPE (${size} bytes)`);
	const out = await new Promise<string>((resolve, reject) => {
		const child = spawn('bash', ['-c', script], {stdio: ['ignore', 'pipe', 'inherit']});
		let text = '';
		child.stdout.setEncoding('utf8').on('data', (d: string) => {
			text += d;
		});
		child.on('error', reject);
		child.on('close', () => {
			resolve(text);
		});
	});
	t.is(out.trim(), '2');
	const {readFile} = await import('node:fs/promises');
	t.is(await readFile(errFile, 'utf8'), '');
});

test('--bus-address garbage: a usage error naming it', async t => {
	const dir = await tempDir(t);
	for (const command of [['status'], ['restart', '--needed', '--dry-run'], ['explain', String(process.pid)]]) {
		const r = await livetree([...command, '--bus-address', 'garbage', '--state-dir', dir]);
		t.is(r.code, 2, command.join(' '));
		oneLine(t, r.stderr, /--bus-address "garbage": not a D-Bus address/);
	}

	const transport = await livetree(['status', '--bus-address', 'nosuch:path=/x', '--state-dir', dir]);
	t.is(transport.code, 2);
	oneLine(t, transport.stderr, /unknown D-Bus transport "nosuch"/);
	// A well-formed address with nothing listening is no usage error: a warning, as before.
	const absent = await livetree(['status', '--json', '--bus-address', `unix:path=${dir}/no-bus`, '--state-dir', dir]);
	const doc = JSON.parse(absent.stdout) as StatusDocument;
	t.is(absent.code, statusExitCode(doc), absent.stderr);
	t.true(doc.warnings.some(w => w.code === 'systemd-unavailable'));
});

test('a file given as --sysroot or --state-dir: ENOTDIR, not EACCES or a catalog error', async t => {
	const dir = await tempDir(t);
	const file = path.join(dir, 'file');
	await writeFile(file, 'x');
	const sysroot = await livetree(['status', '--no-systemd', '--sysroot', file, '--state-dir', dir]);
	t.is(sysroot.code, 2);
	oneLine(t, sysroot.stderr, new RegExp(`${file}: cannot read sysroot: not a directory \\(ENOTDIR\\)`));
	t.notRegex(sysroot.stderr, /EACCES/);
	const which = await livetree(['which', '/bin/sh', '--sysroot', file, '--state-dir', dir]);
	t.is(which.code, 2);
	oneLine(t, which.stderr, new RegExp(`${file}: cannot read sysroot: not a directory \\(ENOTDIR\\)`));
	for (const option of ['--proc-root', '--run-dir']) {
		const r = await livetree(['status', '--no-systemd', option, file, '--state-dir', dir]);
		t.is(r.code, 2, option);
		oneLine(t, r.stderr, new RegExp(`${file}: cannot read ${option}: not a directory \\(ENOTDIR\\)`));
		const missing = await livetree(['status', '--no-systemd', option, path.join(dir, 'nope'), '--state-dir', dir]);
		t.is(missing.code, 2, option);
		oneLine(t, missing.stderr, new RegExp(`${dir}/nope: cannot read ${option}: no such directory \\(ENOENT\\)`));
	}

	for (const command of [
		['status', '--no-systemd'],
		['history'],
		['which', '/bin/sh'],
		['catalog', 'check'],
		['explain', String(process.pid), '--no-systemd'],
	]) {
		const r = await livetree([...command, '--state-dir', file]);
		t.is(r.code, 2, command.join(' '));
		oneLine(t, r.stderr, new RegExp(`${file}: not a directory \\(ENOTDIR\\)`));
		t.notRegex(r.stderr, /:memory:|catalog error/);
	}
});

test('a mistyped --state-dir is never created, by any command', async t => {
	const dir = await tempDir(t);
	const typo = path.join(dir, 'var', 'lib', 'livetre');
	const commands = [
		['status', '--no-systemd'],
		['status', '--json', '--no-systemd'],
		['explain', String(process.pid), '--no-systemd'],
		['which', '/bin/sh'],
		['history'],
		['history', '--json'],
		['catalog', 'check'],
		['catalog', 'rebuild'],
		['restart', '--needed', '--dry-run', '--bus-address', `unix:path=${dir}/no-bus`],
		['exporter', '--no-systemd', '--listen', '127.0.0.1:0'],
	];
	for (const command of commands) {
		const r = await livetree([...command, '--state-dir', typo]);
		t.is(r.code, 2, command.join(' '));
		oneLine(t, r.stderr, new RegExp(`${typo}: no such directory \\(ENOENT\\)`));
		t.false(existsSync(path.join(dir, 'var')), command.join(' '));
	}
});

test('history where no scan recorded anything says so, creates nothing', async t => {
	const dir = await tempDir(t);
	const r = await livetree(['history', '--state-dir', dir]);
	t.is(r.code, 0);
	t.is(r.stdout, 'No restarts recorded.\n');
	oneLine(t, r.stderr, new RegExp(`${dir}/catalog.sqlite: no catalog here yet`));
	t.deepEqual(await readdir(dir), []);
});

test('a directory that is no sysroot says so in a warning', async t => {
	const dir = await tempDir(t);
	const state = path.join(dir, 'state');
	await mkdir(state);
	const notSysroot = path.join(dir, 'etc');
	await mkdir(notSysroot);
	const r = await livetree(['status', '--json', '--no-systemd', '--sysroot', notSysroot, '--state-dir', state]);
	const doc = JSON.parse(r.stdout) as StatusDocument;
	t.is(r.code, statusExitCode(doc), r.stderr);
	t.deepEqual(schemaErrors(doc), []);
	t.deepEqual(doc.deployments, []);
	t.true(
		doc.warnings.some(w => w.code === 'not-a-sysroot' && w.message.includes(notSysroot)),
		JSON.stringify(doc.warnings),
	);
	const text = await livetree(['status', '--no-systemd', '--color', 'never', '--sysroot', notSysroot, '--state-dir', state]);
	t.regex(text.stdout, /not-a-sysroot: .*not an OSTree sysroot/);
});

test('an empty option value is a usage error, not the current directory', async t => {
	for (const option of ['--sysroot', '--state-dir', '--bus-address']) {
		const r = await livetree(['status', '--no-systemd', option, '']);
		t.is(r.code, 2, option);
		oneLine(t, r.stderr, new RegExp(`${option} needs a value`));
	}
});

test('explain of a kernel thread does not say it runs current code', async t => {
	const dir = await tempDir(t);
	const r = await livetree(['explain', '2', '--no-systemd', '--color', 'never', '--state-dir', dir]);
	t.is(r.code, 0, r.stderr);
	t.notRegex(r.stdout, /runs current code/);
	t.regex(r.stdout, /^PID 2 \(kthreadd\) is a kernel thread/);
	const json = await livetree(['explain', '2', '--json', '--no-systemd', '--state-dir', dir]);
	t.is((JSON.parse(json.stdout) as {kernelThread: boolean}).kernelThread, true);
	// An ordinary process still gets the ordinary answer.
	const self = await livetree(['explain', String(process.pid), '--no-systemd', '--color', 'never', '--state-dir', dir]);
	t.notRegex(self.stdout, /kernel thread/);
});

test('which refuses DEV:INO and an empty query instead of looking them up as paths', async t => {
	const dir = await tempDir(t);
	for (const query of ['254:246999', 'fe:01 246999', '8:1']) {
		const r = await livetree(['which', query, '--state-dir', dir]);
		t.is(r.code, 2, query);
		oneLine(t, r.stderr, /is not MAJOR:MINOR:INODE/);
		t.is(r.stdout, '');
	}

	const empty = await livetree(['which', '', '--state-dir', dir]);
	t.is(empty.code, 2);
	oneLine(t, empty.stderr, /not an empty string/);
	// A real triple is still a query (in no known commit here: exit 1).
	const triple = await livetree(['which', '254:1:246999', '--state-dir', dir]);
	t.is(triple.code, 1, triple.stderr);
	for (const help of [await livetree(['--help']), await livetree(['which', '--help'])]) {
		t.regex(help.stdout, /MAJOR:MINOR:INODE/);
		t.notRegex(help.stdout, /DEV:INO\b/);
	}
});

// A damaged catalog is refused with a way out: `livetree catalog check`, then `rebuild`. With
// --state-dir those commands, as printed, inspected /var/lib/livetree instead of the damaged
// catalog; they now carry the --state-dir (shell-quoted), and run as printed they find it.
test('a damaged catalog in a --state-dir: the commands the error names carry it, and run as printed they inspect it', async t => {
	const dir = await tempDir(t);
	const state = path.join(dir, "it's state");
	await mkdir(state);
	await writeFile(path.join(state, 'catalog.sqlite'), 'this is no SQLite database, but long enough to be read as one\n'.repeat(100));
	const quoted = `'${state.replaceAll("'", "'\\''")}'`;
	for (const args of [['status', '--no-systemd'], ['history'], ['timeline']]) {
		const r = await livetree([...args, '--state-dir', state]);
		t.is(r.code, 2, r.stderr);
		oneLine(
			t,
			r.stderr,
			new RegExp(
				`run \`livetree catalog check --state-dir ${quoted.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&')}\` to inspect it, then \`livetree catalog rebuild --state-dir ${quoted.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&')}\``,
			),
		);
	}

	const r = await livetree(['status', '--no-systemd', '--state-dir', state]);
	const check = /`(livetree catalog check [^`]+)`/.exec(r.stderr)![1]!;
	const bin = path.join(dir, 'bin');
	await mkdir(bin);
	await symlink(path.join(projectRoot, 'bin/livetree.js'), path.join(bin, 'livetree'));
	const pasted = await new Promise<{code: number | null; stdout: string}>(resolve => {
		const child = spawn('bash', ['-c', check], {cwd: dir, env: {...process.env, PATH: `${bin}:${process.env.PATH ?? ''}`}});
		let stdout = '';
		child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
		child.once('close', code => resolve({code, stdout}));
	});
	t.is(pasted.code, 1, pasted.stdout);
	t.true(pasted.stdout.startsWith(`${path.join(state, 'catalog.sqlite')}: DAMAGED;`), pasted.stdout);
});

// An error names the path or argument it is about, on one line: a newline or an escape
// sequence in it was printed raw (two lines, a coloured terminal). And a name that is not
// UTF-8 cannot reach livetree intact (Node decodes arguments): which says how to ask instead.
test('an error naming a hostile path is one line, escaped; a name that is not UTF-8 gets the way to ask by inode', async t => {
	const dir = await tempDir(t);
	const hostile = path.join(dir, 'no\nsuch\u001B[31m.so');
	const r = await livetree(['which', hostile]);
	t.is(r.code, 2);
	oneLine(t, r.stderr);
	t.is(r.stderr, `livetree: ${dir}/no\\x0asuch\\x1b[31m.so: no such file, and no known commit holds that path (ENOENT)\n`);

	const bytes = await new Promise<{code: number | null; stderr: string}>(resolve => {
		const child = spawn('bash', [
			'-c',
			`exec "$0" "$1" which "$2"$'\\xff.so'`,
			process.execPath,
			path.join(projectRoot, 'bin/livetree.js'),
			path.join(dir, 'lib'),
		]);
		let stderr = '';
		child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
		child.once('close', code => resolve({code, stderr}));
	});
	t.is(bytes.code, 2);
	oneLine(t, bytes.stderr);
	t.is(
		bytes.stderr,
		`livetree: ${dir}/lib\uFFFD.so: no such file, and no known commit holds that path (ENOENT); a name that is not UTF-8 reaches livetree with its bytes replaced: ask by MAJOR:MINOR:INODE, as stat -c '%Hd:%Ld:%i' prints it\n`,
	);
});

// `timeline --since` a time to come, without --until, asked about a range from then to now:
// "Nothing matching was in memory in the asked range, by every scan recorded there", exit 0.
test('timeline --since a time to come is a usage error, not an answer over an empty range', async t => {
	const dir = await tempDir(t);
	const first = await livetree(['status', '--json', '--no-systemd', '--state-dir', dir]);
	t.is(first.code, statusExitCode(JSON.parse(first.stdout) as StatusDocument), first.stderr);
	const r = await livetree(['timeline', '--since', '2100-01-01', '--state-dir', dir]);
	t.is(r.code, 2, r.stdout);
	t.is(r.stdout, '');
	t.is(r.stderr, 'livetree: timeline: --since 2100-01-01 is in the future (the range runs from it to now)\n');
	// A range that ends later than the latest scan is an answer, with its gap said.
	const later = await livetree(['timeline', '--since', '1h', '--until', '2100-01-01', '--state-dir', dir]);
	t.is(later.code, 0, later.stderr);
	t.regex(later.stdout, /^no scan between .* and 2100-01-01 00:00:00 \(after the latest scan\): what ran then is not known$/m);
});

// A warning names a path from the system: it went through status's text with only `\n`
// escaped (an escape sequence coloured the terminal), and which and config-diff wrote it raw
// to stderr (two lines). Every report escapes it as it escapes a command name (printable).
test('a warning naming a hostile path is printed escaped by status and which', async t => {
	const dir = await tempDir(t);
	const state = path.join(dir, 'state');
	await mkdir(state);
	const sysroot = path.join(dir, 'sys\u001B[31m\nx');
	await mkdir(path.join(sysroot, 'ostree/repo'), {recursive: true});
	await writeFile(path.join(sysroot, 'ostree/repo/config'), Buffer.from([0x5b, 0x00, 0xff, 0x0a, 0x3d, 0x3d, 0x0a]));
	const escaped = `${dir}/sys\\x1b[31m\\x0ax/ostree/repo/config: corrupt: not UTF-8 at byte 2`;

	// In a PID namespace of its own, so that the verdict is about nothing but livetree itself.
	const alone = async (args: string[]) =>
		outcome(
			spawn('unshare', ['--pid', '--fork', '--mount-proc', process.execPath, path.join(projectRoot, 'bin/livetree.js'), ...args], {
				stdio: ['ignore', 'pipe', 'pipe'],
				cwd: '/',
			}),
		);
	const json = await alone(['status', '--json', '--no-systemd', '--sysroot', sysroot, '--state-dir', state]);
	t.is(json.code, 0, json.stderr);
	const doc = JSON.parse(json.stdout) as StatusDocument;
	// The document keeps the exact name; only text is escaped.
	t.deepEqual(doc.warnings, [{code: 'repo-unreadable', message: `${sysroot}/ostree/repo/config: corrupt: not UTF-8 at byte 2`, pid: null}]);

	const text = await alone(['status', '--no-systemd', '--color', 'never', '--sysroot', sysroot, '--state-dir', state]);
	t.is(text.code, 0, text.stderr);
	t.true(text.stdout.split('\n').includes(`No OSTree deployments under ${dir}/sys\\x1b[31m\\x0ax.`), text.stdout);
	t.true(text.stdout.split('\n').includes('Warnings: 1'), text.stdout);
	t.true(text.stdout.split('\n').includes(`  repo-unreadable: ${escaped}`), text.stdout);
	t.notRegex(text.stdout, /\u001B/);

	const which = await livetree(['which', '/bin/sh', '--sysroot', sysroot, '--state-dir', state]);
	t.is(which.code, 0, which.stderr);
	t.is(which.stderr, `livetree: warning: repo-unreadable: ${escaped}\n`);
});

// `catalog check` of a damaged catalog listed its problems and stopped: what to run next was
// left to guess. It now names `livetree catalog rebuild` with the --state-dir it was asked
// about (shell-quoted, as the errors' hints are), and that command, run as printed, repairs it.
test('catalog check of a really damaged catalog names the rebuild, with its --state-dir, and that command repairs it', async t => {
	const dir = await tempDir(t);
	const state = path.join(dir, "it's st\u001Bate");
	await mkdir(state);
	// A real catalog, made by a scan (in a PID namespace of its own: a small one).
	const made = await outcome(
		spawn(
			'unshare',
			[
				'--pid',
				'--fork',
				'--mount-proc',
				process.execPath,
				path.join(projectRoot, 'bin/livetree.js'),
				'status',
				'--json',
				'--no-systemd',
				'--state-dir',
				state,
			],
			{
				stdio: ['ignore', 'pipe', 'pipe'],
				cwd: '/',
			},
		),
	);
	t.is(made.code, 0, made.stderr);
	const file = path.join(state, 'catalog.sqlite');
	t.is((await livetree(['catalog', 'check', '--state-dir', state])).code, 0);
	// Its pages after the first overwritten: the header still says SQLite, the b-trees are garbage.
	const handle = await open(file, 'r+');
	await handle.write(Buffer.alloc(8192, 0xab), 0, 8192, 4096);
	await handle.close();

	const check = await livetree(['catalog', 'check', '--state-dir', state]);
	t.is(check.code, 1, check.stderr);
	const lines = check.stdout.trimEnd().split('\n');
	t.true(lines[0]!.startsWith(`${dir}/it's st\\x1bate/catalog.sqlite: DAMAGED; schema `), check.stdout);
	t.true(lines.includes('  integrity_check: database disk image is malformed'), check.stdout);
	const rebuild = `livetree catalog rebuild --state-dir $'${dir}/it\\'s st\\x1bate'`;
	t.is(lines.at(-1), `Next: run \`${rebuild}\` to move the damaged file aside and rebuild the catalog from what can still be read`);

	const bin = path.join(dir, 'bin');
	await mkdir(bin);
	await symlink(path.join(projectRoot, 'bin/livetree.js'), path.join(bin, 'livetree'));
	const pasted = await outcome(
		spawn('bash', ['-c', rebuild], {cwd: '/', env: {...process.env, PATH: `${bin}:${process.env.PATH ?? ''}`}, stdio: ['ignore', 'pipe', 'pipe']}),
	);
	t.is(pasted.code, 0, pasted.stderr);
	t.true(
		pasted.stdout.startsWith(`${dir}/it's st\\x1bate/catalog.sqlite: rebuilt; the old file is kept as ${dir}/it's st\\x1bate/catalog.sqlite.`),
		pasted.stdout,
	);
	const after = await livetree(['catalog', 'check', '--state-dir', state]);
	t.is(after.code, 0, after.stdout);
	t.regex(after.stdout.split('\n')[0]!, /: ok; schema \d+;/);
	t.notRegex(after.stdout, /Next:/);
});
