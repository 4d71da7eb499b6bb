// Hostile input and failure: livetree never crashes, never lies, never writes.
// Every case uses real processes mapping real files (fixtures/map-files.py mmaps whatever
// it is given), real sysroots built with the ostree CLI, and the CLI as a user runs it.
import {spawn, execFile} from 'node:child_process';
import {createHash} from 'node:crypto';
import {chmod, chown, copyFile, lstat, mkdir, readFile, readdir, readlink, writeFile} from 'node:fs/promises';
import {basename, join} from 'node:path';
import {promisify} from 'node:util';
import test from 'ava';
import type {ExecutionContext} from 'ava';
import {keptScanner} from './helpers/kept-scanner.js';
import {FIXTURES, Fixtures, ROOT} from './helpers/fixture.js';
import {livetree} from './helpers/cli.js';
import {checkedStatus as status} from './helpers/checked-status.js';
import {schemaErrors} from './helpers/schema.js';
import {inPidNamespace} from './helpers/unit-cgroup.js';
import {metricsExitCode} from './helpers/exit-code.js';
import type {StatusDocument, Unit} from '../src/model/document.js';
import {shellWord} from '../src/commands/rerun.js';
import {buildDocument, withUnits} from '../src/model/build.js';
import {parseScan} from '../src/model/scan-parts.js';
import {scannedProcesses} from '../src/model/unit-table.js';
import {jsonChunks, renderJson} from '../src/render/json.js';
import {reasons} from '../src/render/reason.js';

const execFileP = promisify(execFile);
const NOBODY = 65534;
const asNobody = ['--reuid=65534', '--regid=65534', '--clear-groups'];

interface Mapper {
	pid: number;
	stop(): Promise<void>;
}

/** A python3 process that maps PATHS (and --make DIR N files) and stays until stopped. */
async function startMapper(t: ExecutionContext, paths: Buffer[], opts: {make?: [string, number]; unlink?: boolean; prefix?: string[]} = {}): Promise<Mapper> {
	const args = [
		...(opts.make ? ['--make', opts.make[0], String(opts.make[1])] : []),
		...(opts.unlink ? ['--unlink'] : []),
		...paths.map(p => p.toString('base64')),
	];
	const prefix = opts.prefix ?? [];
	// The system python3: a pyenv shim under /root is not reachable for nobody.
	const argv = [...prefix, '/usr/bin/python3', join(FIXTURES, 'map-files.py'), ...args];
	const child = spawn(argv[0]!, argv.slice(1), {stdio: ['pipe', 'pipe', 'pipe']});
	let exited = false;
	const gone = new Promise<void>(resolve =>
		child.once('exit', () => {
			exited = true;
			resolve();
		}),
	);
	const stop = async () => {
		if (exited) {
			return;
		}

		child.kill('SIGKILL');
		await gone;
	};

	t.teardown(stop);
	let err = '';
	child.stderr.setEncoding('utf8').on('data', (d: string) => {
		err += d;
	});
	await new Promise<void>((resolve, reject) => {
		child.stdout.setEncoding('utf8').on('data', (d: string) => {
			if (d.includes('ready')) {
				resolve();
			}
		});
		void gone.then(() => reject(new Error(`map-files.py exited early: ${err}`)));
	});
	return {pid: child.pid!, stop};
}

function processOf(doc: StatusDocument, pid: number) {
	return doc.processes.find(p => p.pid === pid);
}

/** The exact bytes of a reported path: pathBase64 when present, else the UTF-8 string. */
function pathBytes(f: {path: string; pathBase64?: string}): Buffer {
	return f.pathBase64 === undefined ? Buffer.from(f.path, 'utf8') : Buffer.from(f.pathBase64, 'base64');
}

// A page of bytes, so every file can be mapped.
const PAGE = Buffer.alloc(4096, 0x61);

test('a library named "libx (deleted).so" that is mapped and not deleted is not stale', async t => {
	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const dir = await fx.tempDir('livetree-hostile-');
	const lib = join(dir, 'libx (deleted).so');
	await copyFile('/usr/lib/x86_64-linux-gnu/libattr.so.1', lib).catch(async () => writeFile(lib, PAGE));
	// A control: a file really deleted while mapped, whose name has the same suffix.
	const gone = join(dir, 'liby (deleted).so');
	await writeFile(gone, PAGE);
	const keep = await startMapper(t, [Buffer.from(lib)]);
	const del = await startMapper(t, [Buffer.from(gone)], {unlink: true});
	const {doc} = await status(t, await fx.tempDir());
	const p = processOf(doc, keep.pid);
	const f = p?.files.find(f => f.path.startsWith(dir));
	t.is(f?.path, lib);
	t.false(f?.deleted);
	t.not(p?.state, 'stale');
	t.false(p?.needsRestart);
	const q = processOf(doc, del.pid);
	const g = q?.files.find(f => f.path.startsWith(dir));
	t.is(g?.path, gone, "the kernel's suffix is removed once, not twice");
	t.true(g?.deleted);
	t.is(q?.state, 'stale');
});

test('names with newlines, tabs, backslashes and non-UTF-8 bytes are reported exactly', async t => {
	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const dir = await fx.tempDir('livetree-hostile-');
	const names = [
		Buffer.from('new\nline.so'),
		Buffer.from('tab\there.so'),
		Buffer.from('back\\slash\\101.so'),
		Buffer.from('trailing space .so'),
		Buffer.concat([Buffer.from('bad-'), Buffer.from([0xff, 0xfe, 0x80]), Buffer.from('.so')]),
	];
	const paths = names.map(n => Buffer.concat([Buffer.from(`${dir}/`), n]));
	for (const p of paths) {
		await writeFile(p, PAGE);
	}

	const m = await startMapper(t, paths);
	const {doc} = await status(t, await fx.tempDir());
	const files = processOf(doc, m.pid)?.files.filter(f => f.path.startsWith(dir)) ?? [];
	t.deepEqual(
		files
			.map(pathBytes)
			.map(b => b.toString('hex'))
			.sort(),
		paths.map(b => b.toString('hex')).sort(),
	);
	for (const f of files) {
		const bytes = pathBytes(f);
		const valid = Buffer.from(bytes.toString('utf8'), 'utf8').equals(bytes);
		t.is(f.pathBase64 === undefined, valid, 'pathBase64 exactly when the name is not UTF-8');
		if (!valid) {
			t.true(f.path.includes('\uFFFD'));
		}

		t.false(f.deleted);
		t.false(f.superseded);
	}
});

// `status --json` (compact, no systemd) prints the processes as the core wrote them, never
// parsed (collect.ts processesApart); every other output goes through the parsed objects.
// Both must be the same bytes, hostile names and a deleted file's checksum included.
/** Two processes of the test's own: one mapping files with `names` (hostile bytes) in a
 * directory of its own, one mapping a file it unlinked; and a scanner with a catalog and
 * sysroot of the test's own, to scan just them. */
async function hostileMappers(t: ExecutionContext, prefix: string, names: Buffer[]) {
	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const dir = await fx.tempDir(prefix);
	const paths = names.map(n => Buffer.concat([Buffer.from(`${dir}/`), n]));
	for (const p of paths) {
		await writeFile(p, PAGE);
	}

	const kept = await startMapper(t, paths);
	await writeFile(join(dir, 'unlinked.so'), PAGE);
	const gone = await startMapper(t, [Buffer.from(join(dir, 'unlinked.so'))], {unlink: true});
	const catalogPath = join(await fx.tempDir(), 'catalog.sqlite');
	const scanner = keptScanner(t, {sysroot: await fx.tempDir(), procRoot: '/proc', runDir: await fx.tempDir(), hostRoot: '/', catalogPath, kernel: false});
	return {scanner, pids: [kept.pid, gone.pid], host: {hostname: 'h', kernelRelease: 'k'}, generatedAt: new Date(0)};
}

test('processes printed as the core wrote them equal the parsed document, byte for byte', async t => {
	const {scanner, pids, host, generatedAt} = await hostileMappers(t, 'livetree-apart-', [
		Buffer.from('new\nline "quoted".so'),
		Buffer.from('tab\there\\.so'),
		Buffer.from('ctl-\u0001-\u2028-é.so'),
		Buffer.concat([Buffer.from('bad-'), Buffer.from([0xff, 0xfe, 0x80]), Buffer.from('.so')]),
	]);
	const apart = parseScan(scanner.scanSync({pids, processesApart: true}));
	const whole = parseScan(scanner.scanSync({pids}));
	t.is(apart.processes.length, 0);
	t.truthy(apart.processesText);
	t.is(whole.processesText, undefined);
	const fast = [...jsonChunks(buildDocument({scan: apart, host, generatedAt}), false, apart.processesText)].join('');
	const slow = renderJson(buildDocument({scan: whole, host, generatedAt}), false);
	t.is(fast, slow);
	const doc = JSON.parse(fast) as StatusDocument;
	t.deepEqual(schemaErrors(doc), []);
	t.is(doc.processes.length, 2);
	t.true(
		doc.processes.some(p => p.files.some(f => f.pathBase64 !== undefined)),
		'a non-UTF-8 name is in the comparison',
	);
	t.true(
		doc.processes.some(p => p.files.some(f => f.deleted && f.origin.objectChecksum !== null)),
		"a deleted file's checksum is in it",
	);
	t.throws(() => [...jsonChunks(buildDocument({scan: apart, host, generatedAt}), true, apart.processesText)], {instanceOf: TypeError});
});

// With systemd's units, the core writes the processes apart as without them, with a table of
// what the units need of each (model/unit-table.ts): a process the units left alone prints as
// its slice of the core's text, one they changed as that text with its unit, configChanges and
// needsReload put in. Either way the bytes are those of the whole parsed document given the
// same changes: hostile names, names outside the Basic Multilingual Plane (two UTF-16 code
// units each, which the slices are measured in), changed processes between unchanged ones.
test('processes printed through the unit table equal the parsed document, changed or not', async t => {
	const {scanner, pids, host, generatedAt} = await hostileMappers(t, 'livetree-units-', [
		Buffer.from('new\nline "quoted" \u{1d11e}.so'),
		Buffer.concat([Buffer.from('bad-'), Buffer.from([0xff, 0xfe]), Buffer.from('-\u{1f600}.so')]),
	]);
	// Two more of the test's own: a plain file, and an unlinked one (stale).
	const more = await hostileMappers(t, 'livetree-units-more-', [Buffer.from('\u{1f600}-plain.so')]);
	const all = [...pids, ...more.pids].sort((a, b) => a - b);
	const tabled = parseScan(scanner.scanSync({pids: all, unitTable: true}));
	const whole = parseScan(scanner.scanSync({pids: all}));
	const table = tabled.unitTable!;
	t.truthy(table);
	t.is(tabled.processes.length, 0);
	t.is(tabled.processesText, undefined);
	t.is(whole.processes.length, 4);
	// The processes grouped by [cgroup, unit] as the parsed ones group (each pair once, in the
	// order of its first process).
	t.deepEqual(table.groups(), scannedProcesses(whole.processes).groups());
	t.deepEqual(
		table
			.groups()
			.flatMap(g => g.pids.map((pid, k) => ({pid, at: g.at[k], cgroupUnit: g.cgroupUnit, cgroup: g.cgroup})))
			.sort((a, b) => a.at! - b.at!),
		whole.processes.map((p, at) => ({pid: p.pid, at, cgroupUnit: p.unit, cgroup: p.cgroup ?? null})),
	);
	// What the units read of a process: a stale one has its stale files (the reasons' words
	// are the same), another none; its configuration as the core wrote it.
	const stale = whole.processes.filter(p => p.needsRestart);
	t.is(stale.length, 2, 'the two unlinked files make two processes stale');
	for (const p of whole.processes) {
		const got = table.get(p.pid)!;
		t.is(got.needsRestart, p.needsRestart);
		t.deepEqual(got.configChanges, p.configChanges);
		t.is(got.needsReload, p.needsReload);
		if (got.needsRestart) {
			t.deepEqual(
				got.files,
				p.files.filter(f => f.staleReason !== null),
			);
			t.deepEqual(reasons(got), reasons(p));
		}
	}

	t.is(table.get(1), undefined, 'a PID not scanned');
	t.is(
		[...jsonChunks(buildDocument({scan: tabled, host, generatedAt}), false, table)].join(''),
		renderJson(buildDocument({scan: whole, host, generatedAt}), false),
		'nothing changed: the text as the core wrote it',
	);
	// A unit's processes read (as its reasons and configuration read them): what get gives, in
	// the order asked, a PID not scanned left out; reading changes nothing printed.
	const fresh = parseScan(scanner.scanSync({pids: all, unitTable: true}));
	const read = fresh.unitTable!.read([...all].reverse().concat(1));
	t.deepEqual(
		read.map(p => p.pid),
		[...all].reverse(),
	);
	t.deepEqual(
		read,
		[...all].reverse().map(pid => table.get(pid)),
	);
	t.is(
		[...jsonChunks(buildDocument({scan: fresh, host, generatedAt}), false, fresh.unitTable)].join(''),
		renderJson(buildDocument({scan: whole, host, generatedAt}), false),
	);

	// The same changes as systemd's units make: the manager places the first and third in
	// x.service and the others in none; a unit-file change added to the fourth.
	const [first, , third, fourth] = whole.processes.map(p => p.pid);
	const unit: Unit = {name: 'x.service', activeState: 'active', subState: 'running', result: 'success', pids: [first!, third!], needsRestart: true};
	const change = {path: '/etc/systemd/system/x.service', changedAt: '2026-01-01T00:00:00Z', source: 'unit-file' as const};
	const written = whole.processes.map(p => p.unit);
	const tableDoc = buildDocument({scan: tabled, host, generatedAt});
	const wholeDoc = buildDocument({scan: whole, host, generatedAt});
	for (const [doc, processes] of [
		[tableDoc, table],
		[wholeDoc, scannedProcesses(wholeDoc.processes)],
	] as const) {
		const p = processes.get(fourth!)!;
		p.configChanges = [...(p.configChanges ?? []), change];
		p.needsReload = true;
		withUnits(doc, [unit], [], true, doc === tableDoc ? table : undefined);
		// Read after the change: the changed process itself.
		t.is(processes.read([fourth!])[0], p);
	}

	t.is(tableDoc.summary.processesNeedingReload, 1);
	t.is(wholeDoc.summary.processesNeedingReload, 1);
	// The timeline is told the units systemd changed only (the core keeps the others').
	t.deepEqual(
		table.changedUnits(),
		wholeDoc.processes.flatMap((p, i) => (p.unit === written[i] ? [] : [{pid: p.pid, unit: p.unit}])),
	);
	t.true(table.changedUnits().some(c => c.unit === 'x.service'));
	const printed = [...jsonChunks(tableDoc, false, table)].join('');
	t.is(printed, renderJson(wholeDoc, false));
	const doc = JSON.parse(printed) as StatusDocument;
	t.deepEqual(schemaErrors(doc), []);
	t.deepEqual(
		doc.processes.map(p => p.unit),
		['x.service', null, 'x.service', null],
	);
	t.deepEqual(doc.processes[3]!.configChanges, [change]);
	t.true(
		doc.processes.some(p => p.files.some(f => f.pathBase64 !== undefined)),
		'a non-UTF-8 name is in the comparison',
	);
	t.throws(() => [...jsonChunks(tableDoc, true, table)], {instanceOf: TypeError});
});

// The kernel escapes only '\n' in maps, so a name holding a literal backslash-0-1-2 prints
// exactly like a newline. /proc/PID/map_files/RANGE (readlink) has the exact name; livetree
// consults it only for " (deleted)" names today, and so reports a path that does not exist.
test('a name with a literal "\\012" is not turned into a newline', async t => {
	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const dir = await fx.tempDir('livetree-hostile-');
	const path = join(dir, 'lit\\012nl.so');
	await writeFile(path, PAGE);
	const m = await startMapper(t, [Buffer.from(path)]);
	const {doc} = await status(t, await fx.tempDir());
	const files = processOf(doc, m.pid)?.files.filter(f => f.path.startsWith(dir)) ?? [];
	t.deepEqual(
		files.map(f => f.path),
		[path],
	);
});

test('a process mapping 20,000 files: the scan finishes and lists all of them', async t => {
	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const dir = await fx.tempDir('livetree-many-');
	const m = await startMapper(t, [], {make: [dir, 20_000]});
	const {doc} = await status(t, await fx.tempDir());
	const p = processOf(doc, m.pid);
	t.truthy(p);
	const ours = p?.files.filter(f => f.path.startsWith(`${dir}/`)) ?? [];
	t.is(ours.length, 20_000);
	t.is(new Set(ours.map(f => f.ino)).size, 20_000, 'one entry per file');
	t.not(p?.state, 'unknown');
});

test('5,000 short-lived processes during scans: no crash, no duplicate, no phantom', async t => {
	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const dir = await fx.tempDir('livetree-churn-');
	// A program name of this test's own (mkdtemp's random suffix), so its reports can be
	// checked for consistency: the same test run by another checkout beside this one churns
	// processes of its own, which this test's scans see too.
	const name = `lt-${basename(dir).slice(-6)}`;
	const prog = join(dir, name);
	await copyFile('/usr/bin/true', prog);
	await chmod(prog, 0o755);
	// At least 5,000, and on until the test has seen scans run wholly during the churn (on a
	// loaded machine 5,000 can be over before one scan ends).
	const stop = join(dir, 'stop');
	const churn = spawn(
		'bash',
		['-c', `i=0; while (( i < 5000 )) || [[ ! -e '${stop}' ]]; do "${prog}" & i=$((i + 1)); if (( i % 200 == 0 )); then wait; fi; done; wait`],
		{stdio: 'ignore'},
	);
	let running = true;
	const done = new Promise<number>(resolve =>
		churn.once('exit', code => {
			running = false;
			resolve(code ?? -1);
		}),
	);
	t.teardown(async () => {
		if (running) {
			churn.kill('SIGKILL');
			await done;
		}
	});
	const state = await fx.tempDir();
	let overlapping = 0;
	while (running || overlapping === 0) {
		const wasRunning = running;
		const {doc} = await status(t, state);
		if (wasRunning && running) {
			overlapping++;
			if (overlapping >= 2) {
				await writeFile(stop, '');
			}
		}

		const pids = doc.processes.map(p => p.pid);
		t.is(new Set(pids).size, pids.length, 'no PID reported twice');
		for (const p of doc.processes) {
			t.not(p.comm, '', `PID ${p.pid} has a comm`);
			if (p.comm === name && p.files.length > 0) {
				// comm is set after the new program's maps are in place: a process named
				// like it whose files do not include it would mix two processes.
				t.true(
					p.files.some(f => f.path === prog),
					`PID ${p.pid}: ${name} maps ${prog}`,
				);
			}
		}

		// Root reads every process; one that vanishes mid-read is simply not reported.
		t.deepEqual(
			doc.warnings.filter(w => w.code === 'process-unreadable' && w.pid !== 1),
			[],
		);
		if (!running && overlapping === 0) {
			break;
		}
	}

	t.is(await done, 0);
	t.true(overlapping > 0, 'at least one scan ran wholly while processes came and went');
});

test("unprivileged: map_files unreadable, others' processes unknown, warnings say why", async t => {
	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const dir = await fx.tempDir('livetree-nobody-');
	await chown(dir, NOBODY, NOBODY);
	const state = await fx.tempDir();
	await chown(state, NOBODY, NOBODY);
	const gone = join(dir, 'gone (deleted).so');
	const kept = join(dir, 'kept (deleted).so');
	await writeFile(gone, PAGE);
	await writeFile(kept, PAGE);
	await chown(gone, NOBODY, NOBODY);
	// One process of nobody's own (visible) with a deleted file and a file whose name ends
	// in " (deleted)"; one of root's (invisible to nobody).
	const mine = await startMapper(t, [Buffer.from(kept)], {prefix: ['setpriv', ...asNobody]});
	const mineDel = await startMapper(t, [Buffer.from(gone)], {prefix: ['setpriv', ...asNobody], unlink: true});
	const roots = await startMapper(t, [Buffer.from(kept)]);
	// status() checks the exit code against the report.
	const {doc} = await status(t, state, [], ['setpriv', ...asNobody]);
	const p = processOf(doc, mine.pid);
	t.not(p?.state, 'unknown');
	const k = p?.files.find(f => f.path.startsWith(dir));
	t.is(k?.path, kept);
	t.false(k?.deleted, 'the literal name still resolves to the mapped inode');
	const q = processOf(doc, mineDel.pid);
	const g = q?.files.find(f => f.path.startsWith(dir));
	t.is(g?.path, gone);
	t.true(g?.deleted);
	t.true(
		doc.warnings.some(w => w.code === 'map-files-unreadable'),
		JSON.stringify(doc.warnings.slice(0, 5)),
	);
	const r = processOf(doc, roots.pid);
	t.is(r?.state, 'unknown');
	t.deepEqual(r?.files, []);
	t.true(doc.warnings.some(w => w.pid === roots.pid && /permission denied/i.test(w.message)));
	// Nothing was written where nobody may not write; the catalog went to its state dir.
	t.true((await readdir(state)).length > 0);
});

/** Everything about a tree that a write could change: per entry its type, mode, owner,
 * size, mtime, ctime, link count and content (or link target); xattrs via getfattr;
 * inode flags via lsattr. */
async function treeHash(root: string): Promise<{hash: string; entries: number}> {
	const h = createHash('sha256');
	let entries = 0;
	const walk = async (dir: string): Promise<void> => {
		const names = (await readdir(dir)).sort();
		for (const name of names) {
			const p = join(dir, name);
			const st = await lstat(p, {bigint: true});
			entries++;
			h.update(`${p}\0${st.mode}\0${st.uid}\0${st.gid}\0${st.size}\0${st.mtimeNs}\0${st.ctimeNs}\0${st.nlink}\0${st.ino}\0`);
			if (st.isSymbolicLink()) {
				h.update(await readlink(p));
			} else if (st.isFile()) {
				h.update(await readFile(p));
			} else if (st.isDirectory()) {
				await walk(p);
			}
		}
	};

	await walk(root);
	const xattrs = await execFileP('getfattr', ['-R', '-P', '-h', '-d', '-m', '-', '-e', 'hex', '--absolute-names', root], {maxBuffer: 256 << 20});
	h.update(xattrs.stdout);
	const flags = await execFileP('lsattr', ['-R', '-a', root], {maxBuffer: 256 << 20}).catch((e: {stdout?: string}) => ({stdout: e.stdout ?? ''}));
	h.update(flags.stdout);
	return {hash: h.digest('hex'), entries};
}

test('read-only: status, explain and prometheus leave the sysroot bit-for-bit unchanged', async t => {
	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const s = await fx.buildSysroot('two');
	const p = await fx.startChrooted(s.deployments[0]!.path);
	const fsck = async () => execFileP('ostree', ['fsck', `--repo=${s.repo}`], {maxBuffer: 16 << 20});
	await fsck();
	const before = await treeHash(s.sysroot);
	t.true(before.entries > 50);
	const state = await fx.tempDir();
	await status(t, state, ['--sysroot', s.sysroot]);
	const explain = await livetree(['explain', String(p.pid), '--no-systemd', '--sysroot', s.sysroot, '--state-dir', state]);
	t.is(explain.code, 0, `it runs its deployment's current code: ${explain.stdout}${explain.stderr}`);
	const prom = await livetree(['status', '--format', 'prometheus', '--no-systemd', '--sysroot', s.sysroot, '--state-dir', state]);
	t.is(prom.code, metricsExitCode(prom.stdout), prom.stderr);
	t.regex(prom.stdout, /^# (HELP|TYPE) /m);
	const after = await treeHash(s.sysroot);
	t.deepEqual(after, before);
	await t.notThrowsAsync(fsck());
	await p.stop();
	// The hash does see a write of the smallest kind: one xattr on one file.
	await execFileP('setfattr', ['-n', 'user.livetree-probe', '-v', '1', join(s.repo, 'config')]);
	t.not((await treeHash(s.sysroot)).hash, before.hash);
});

// A command name is the process's to choose (prctl PR_SET_NAME): a newline and an escape
// sequence in it broke the status group line in two and coloured the terminal; explain
// escaped it already. Every text that names a process by its command escapes it the same
// way. In a PID namespace of its own, so the report holds only this test's processes.
test('a command name with a newline and an escape sequence is printed escaped, on one line', async t => {
	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const dir = await fx.tempDir('livetree-comm-');
	await chmod(dir, 0o755);
	const state = join(dir, 'state');
	await mkdir(state);
	const lib = join(dir, 'libdl-copy.so.2');
	await copyFile('/lib/x86_64-linux-gnu/libdl.so.2', lib);
	const q = shellWord;
	// python3 loads a copy of a library, renames itself, and waits.
	const rename = String.raw`import ctypes, sys, time; ctypes.CDLL(sys.argv[1]); ctypes.CDLL(None).prctl(15, b'x\n\x1b[31mred', 0, 0, 0); time.sleep(60)`;
	const script = [
		`python3 -c ${q(rename)} ${q(lib)} &`,
		'until grep -q libdl-copy /proc/$!/maps 2>/dev/null && ! grep -q python /proc/$!/comm; do sleep 0.05; done',
		`cp ${q(lib)} ${q(`${lib}.new`)} && mv ${q(`${lib}.new`)} ${q(lib)}`,
		`exec ${[process.execPath, join(ROOT, 'bin/livetree.js'), 'status', '--no-systemd', '--color', 'never', '--state-dir', state].map(a => q(a)).join(' ')}`,
	].join('\n');
	const r = await inPidNamespace(script);
	t.is(r.code, 1, r.stderr);
	t.false(r.stdout.includes('\u001B'), r.stdout);
	const lines = r.stdout.split('\n');
	const at = lines.indexOf(String.raw`  1 × x\x0a\x1b[31mred (no unit): ${lib}, since replaced by a newer file`);
	t.true(at > 0, r.stdout);
	t.regex(lines[at + 1]!, /^ {4}PID \d+$/);
});
