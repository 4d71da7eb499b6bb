// Issue 13 item 1: a scanner kept across scans (native `Scanner`) answers exactly as a
// fresh scan does after each thing ostree does to a sysroot — a new commit, a new
// deployment, an undeploy, a cleanup that prunes — and after another process writes the
// catalog; and it loads what it knows again only when that changed. Real sysroots built
// with the ostree CLI, processes really chrooted, the real CLI as the other process.
import {spawn} from 'node:child_process';
import {readFileSync} from 'node:fs';
import {mkdir, rm} from 'node:fs/promises';
import {join} from 'node:path';
import test from 'ava';
import {buildDocument} from '../src/model/build.js';
import type {StatusDocument} from '../src/model/document.js';
import {parseScan} from '../src/model/scan-parts.js';
import {native, type ScanOptions} from '../src/native.js';
import {keptScanner} from './helpers/kept-scanner.js';
import {livetree} from './helpers/cli.js';
import {Fixtures} from './helpers/fixture.js';
import {schemaErrors} from './helpers/schema.js';
import {statusExitCode} from './helpers/exit-code.js';

const LIB = '/usr/lib/livetree-demo/libdemo.so.1';

// The document minus what differs between any two scans (when it was made).
function documentOf(json: Buffer): Omit<StatusDocument, 'generatedAt' | 'scanDurationSeconds'> {
	const {
		generatedAt: _g,
		scanDurationSeconds: _s,
		...rest
	} = buildDocument({scan: parseScan(json), host: {hostname: 'h', kernelRelease: 'k'}, generatedAt: new Date(0)});
	return rest;
}

test("a scanner kept across scans sees commits, deployments, undeploys, prunes and another process's catalog writes as a fresh scan does", async t => {
	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const s = await fx.initSysroot();
	const v1 = await s.commit('1.0');
	const d1 = (await s.deploy()).deployments[0]!;
	const state = await fx.tempDir();
	const catalogPath = join(state, 'catalog.sqlite');
	const a = await fx.startChrooted(d1.path, ['/usr/bin/demo-sleep', '600']);

	// A second sysroot whose commit only another process will record in the shared catalog;
	// a chroot copied from it maps a library that is then deleted, so only its bytes (that
	// commit's object) are left to be looked up in the catalog.
	const other = await fx.initSysroot();
	const vOther = await other.commit('9.0', 'only-elsewhere');
	const dOther = (await other.deploy()).deployments[0]!;
	const root = await fx.copyTree(dOther.path);
	const b = await fx.startChrooted(root, ['/usr/bin/demo-sleep', '600']);
	await rm(join(root, LIB));

	const places: ScanOptions = {sysroot: s.path, procRoot: '/proc', runDir: s.run, hostRoot: '/', catalogPath, kernel: false};
	const scanner = keptScanner(t, places);
	const pids = [a.pid, b.pid];
	const compare = async (step: string): Promise<StatusDocument> => {
		const kept = await scanner.scan({pids});
		const fresh = await native.scan({...places, pids});
		const doc = documentOf(kept);
		t.deepEqual(doc, documentOf(fresh), `after ${step}: the kept scanner and a fresh scan disagree`);
		const full = {...doc, generatedAt: new Date(0).toISOString()} as StatusDocument;
		t.deepEqual(schemaErrors(full), [], step);
		return full;
	};

	const lib = (doc: StatusDocument, pid: number) => doc.processes.find(p => p.pid === pid)?.files.find(f => f.path.endsWith(LIB));

	let doc = await compare('the first scan');
	t.is(lib(doc, a.pid)?.origin.kind, 'deployment');
	t.is(lib(doc, a.pid)?.origin.commit, v1);
	t.is(lib(doc, b.pid)?.origin.kind, 'untracked', "the other sysroot's commit is not recorded yet");
	t.like(scanner.stats(), {scans: 1, knowledgeLoads: 1, indexBuilds: 1, catalogOpens: 1});

	await compare('nothing changed');
	t.like(scanner.stats(), {scans: 2, knowledgeLoads: 1, indexBuilds: 1, catalogOpens: 1}, 'nothing changed, nothing reloaded');

	// Another process records the other sysroot's commit in the same catalog.
	const r = await livetree(['status', '--json', '--no-systemd', '--sysroot', other.path, '--state-dir', state]);
	t.is(r.code, statusExitCode(JSON.parse(r.stdout) as StatusDocument), r.stderr);
	doc = await compare('another process wrote the catalog');
	t.is(lib(doc, b.pid)?.origin.kind, 'catalog');
	t.is(lib(doc, b.pid)?.origin.commit, vOther);
	t.like(scanner.stats(), {knowledgeLoads: 1, catalogOpens: 1});
	t.true(scanner.stats().catalogRefreshes >= 1);

	const v2 = await s.commit('2.0');
	doc = await compare('a new commit');
	t.like(scanner.stats(), {knowledgeLoads: 2, indexBuilds: 2, catalogOpens: 1}, 'a commit adds objects: the index is rebuilt, the catalog kept');
	t.is(doc.deployments.length, 1);

	const deployed = await s.deploy();
	doc = await compare('a new deployment');
	t.is(doc.deployments.length, 2);
	t.is(doc.deployments[0]!.checksum, v2);
	t.is(scanner.stats().catalogOpens, 1);
	const loadsBefore = scanner.stats().knowledgeLoads;
	t.true(loadsBefore >= 3);

	// Undeploy the one process a runs in (now second), then prune what nothing references.
	const index = deployed.deployments.findIndex(d => d.checksum === v1);
	await s.undeploy(index);
	doc = await compare('an undeploy');
	t.is(doc.deployments.length, 1);
	t.is(doc.processes.find(p => p.pid === a.pid)?.state, 'stale');
	await s.cleanup();
	doc = await compare('a cleanup');
	t.is(lib(doc, a.pid)?.origin.commit, v1, 'the pruned commit is still known from the catalog');
	t.true(scanner.stats().knowledgeLoads > loadsBefore);

	// The sync twin answers the same.
	t.deepEqual(documentOf(scanner.scanSync({pids})), documentOf(native.scanSync({...places, pids})));
});

test('a scanner with no catalog file remembers no more than a fresh scan', async t => {
	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const s = await fx.initSysroot();
	await s.commit('1.0');
	const d1 = (await s.deploy()).deployments[0]!;
	const a = await fx.startChrooted(d1.path, ['/usr/bin/demo-sleep', '600']);
	const places: ScanOptions = {sysroot: s.path, procRoot: '/proc', runDir: s.run, hostRoot: '/', kernel: false};
	const scanner = keptScanner(t, places);
	const pids = [a.pid];
	t.deepEqual(documentOf(await scanner.scan({pids})), documentOf(await native.scan({...places, pids})));
	await s.commit('2.0');
	const deployed = await s.deploy();
	await s.undeploy(deployed.deployments.findIndex(d => d.checksum === d1.checksum));
	await s.cleanup();
	// The in-memory catalog is made anew with the reload: 1.0 is forgotten by both.
	const kept = documentOf(await scanner.scan({pids}));
	t.deepEqual(kept, documentOf(await native.scan({...places, pids})));
	const file = kept.processes[0]?.files.find(f => f.path.endsWith(LIB));
	t.is(file?.origin.commit ?? null, null);
	t.is(scanner.stats().catalogOpens, 2);
});

test('a scan of a sysroot that cannot be read fails with the code a fresh scan gives, and the scanner recovers', async t => {
	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const dir = await fx.tempDir();
	const missing = join(dir, 'nowhere');
	const scanner = keptScanner(t, {sysroot: missing, procRoot: '/proc', runDir: dir, hostRoot: '/', kernel: false});
	const kept = await scanner.scan({pids: [process.pid]}).then(
		() => 'resolved',
		(error: unknown) => String(error),
	);
	const fresh = await native.scan({sysroot: missing, procRoot: '/proc', runDir: dir, hostRoot: '/', kernel: false, pids: [process.pid]}).then(
		() => 'resolved',
		(error: unknown) => String(error),
	);
	t.is(kept, fresh);
	t.not(kept, 'resolved');
	// Once the directory exists (a plain directory, not a sysroot), the same scanner scans.
	await mkdir(missing);
	t.is(parseScan(await scanner.scan({pids: [process.pid]})).processes.length, 1);
	t.is(scanner.stats().knowledgeLoads, 1);
});

test('processes mapping the same files share them: written once in the scan, one object each after parsing, equal to the processes written apart', async t => {
	const sleepers = [0, 1].map(() => spawn('sleep', ['600'], {stdio: 'ignore'}));
	t.teardown(() => {
		for (const s of sleepers) s.kill('SIGKILL');
	});
	const pids = sleepers.map(s => s.pid!);
	// Until both run sleep (not the forked node image any more).
	for (let i = 0; i < 100 && !pids.every(p => readFileSync(`/proc/${p}/comm`, 'utf8') === 'sleep\n'); i++) {
		await new Promise(resolve => setTimeout(resolve, 20));
	}

	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const dir = await fx.tempDir();
	const scanner = keptScanner(t, {sysroot: dir, procRoot: '/proc', runDir: dir, hostRoot: '/', catalogPath: join(dir, 'catalog.sqlite'), kernel: false});
	const json = scanner.scanSync({pids});
	const text = JSON.parse(json.toString()) as {files: Array<{path: string}>; processes: Array<{files: number[]}>};
	// The two processes map the same files: each is in the table once, named by both.
	t.is(text.processes.length, 2);
	t.deepEqual(text.processes[0]!.files, text.processes[1]!.files);
	t.is(text.files.length, text.processes[0]!.files.length);
	t.is(new Set(text.files.map(f => f.path)).size, text.files.length);
	const whole = parseScan(json).processes;
	t.true(whole[0]!.files.length >= 2);
	t.true(whole[0]!.files.every((f, i) => f === whole[1]!.files[i]));
	t.true(whole[0]!.files.every(f => typeof f.origin === 'object' && f.origin !== null));
	const apart = JSON.parse(parseScan(scanner.scanSync({pids, processesApart: true})).processesText!.toString()) as unknown;
	t.is(JSON.stringify(whole), JSON.stringify(apart));
});
