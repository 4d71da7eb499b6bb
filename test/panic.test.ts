// Issue 22: a panic in the native core unwound into Node's C frames and aborted the process
// (the exporter died with it). Every napi entry point now turns a panic into a JavaScript
// error with the code EPANIC, which the CLI wraps as any NativeError (exit 2). The panics
// are real ones, in the core, asked for with the test-only hook LIVETREE_TEST_PANIC
// (livetree_core::test_panic): `attribute` (the scan's own thread), `reader` (a /proc
// reader thread, on the thread pool for an async scan), or an entry point's name.
import {mkdtemp, rm} from 'node:fs/promises';
import {availableParallelism, tmpdir} from 'node:os';
import {join} from 'node:path';
import {setTimeout as sleep} from 'node:timers/promises';
import test from 'ava';
import {NativeError} from '../src/errors/native-error.js';
import {ScanError} from '../src/errors/scan-error.js';
import {WhichError} from '../src/errors/which-error.js';
import {native} from '../src/native.js';
import {keptScanner} from './helpers/kept-scanner.js';
import {livetree} from './helpers/cli.js';
import {startExporterProcess} from './helpers/exporter-process.js';
import {parseExposition, valueOf} from './helpers/exposition.js';
import {freePort, request} from './helpers/http.js';

type Coded = Error & {code?: unknown};

async function scratch(t: {teardown: (f: () => Promise<void>) => void}): Promise<string> {
	const dir = await mkdtemp(join(tmpdir(), 'livetree-panic-'));
	t.teardown(async () => rm(dir, {recursive: true, force: true}));
	return dir;
}

// Serial, and before this file's other tests: the hook is read from this process's
// environment by the addon it loaded.
async function withPanicAt<T>(point: string, f: () => Promise<T>): Promise<T> {
	process.env['LIVETREE_TEST_PANIC'] = point;
	try {
		return await f();
	} finally {
		delete process.env['LIVETREE_TEST_PANIC'];
	}
}

test.serial('a panic in a scan is an EPANIC error, sync and async, and Node lives on', async t => {
	const dir = await scratch(t);
	const options = {sysroot: dir, procRoot: '/proc', runDir: dir, hostRoot: '/', catalogPath: join(dir, 'c.sqlite'), pids: [process.pid]};
	const scanner = keptScanner(t, options);
	for (const point of ['attribute', 'reader']) {
		await withPanicAt(point, async () => {
			const sync = t.throws<Coded>(() => native.scanSync(options));
			t.is(sync?.code, 'EPANIC', point);
			t.true(sync!.message.startsWith("internal error in livetree's core (scanSync): "), sync!.message);
			t.regex(sync!.message, new RegExp(`LIVETREE_TEST_PANIC=${point}: a panic a test asked for`));
			// On the libuv thread pool: the promise rejects, nothing aborts.
			t.is((await t.throwsAsync<Coded>(native.scan(options)))?.code, 'EPANIC', point);
			t.is((await t.throwsAsync<Coded>(scanner.scan({pids: [process.pid]})))?.code, 'EPANIC', point);
			t.is(t.throws<Coded>(() => scanner.scanSync({pids: [process.pid]}))?.code, 'EPANIC', point);
			const wrapped = ScanError.fromNative(await scanner.scan().catch((error: unknown) => error));
			t.true(wrapped instanceof NativeError);
			t.deepEqual([wrapped.name, wrapped.code, wrapped.exitCode], ['ScanError', 'EPANIC', 2]);
		});
	}

	// The same scanner scans again once nothing panics: a panic left nothing half-changed.
	const report = JSON.parse((await scanner.scan({pids: [process.pid]})).toString()) as {counts: {processes: number}};
	t.is(report.counts.processes, 1);
	t.is(JSON.parse(native.scanSync(options).toString()).counts.processes, 1);
});

test.serial('every entry point that does work is guarded: which and the catalog', async t => {
	const dir = await scratch(t);
	await withPanicAt('whichSync', async () => {
		const e = t.throws<Coded>(() => native.whichSync({sysroot: dir, runDir: dir, catalogPath: join(dir, 'c.sqlite'), query: '1:2:3'}));
		t.is(WhichError.fromNative(e).code, 'EPANIC');
	});
	await withPanicAt('catalogCheck', async () => {
		t.is(t.throws<Coded>(() => native.catalogCheck(join(dir, 'c.sqlite')))?.code, 'EPANIC');
	});
	await withPanicAt('Scanner.listRestarts', async () => {
		const scanner = keptScanner(t, {sysroot: dir, procRoot: '/proc', runDir: dir, hostRoot: '/', catalogPath: join(dir, 'c.sqlite')});
		t.is(t.throws<Coded>(() => scanner.listRestarts())?.code, 'EPANIC');
	});
});

test('the CLI: a panic in the core is an error naming it and exit 2, not an abort', async t => {
	const dir = await scratch(t);
	const r = await livetree(['status', '--json', '--no-systemd', '--state-dir', dir], {LIVETREE_TEST_PANIC: 'attribute'});
	t.is(r.code, 2, r.stderr);
	t.is(r.stdout, '');
	t.regex(
		r.stderr,
		/^livetree: internal error in livetree's core \(Scanner\.scan\): LIVETREE_TEST_PANIC=attribute: a panic a test asked for \(a bug; please report it\)$/m,
	);
	t.notRegex(r.stderr, /Aborted|fatal runtime error/);
});

// `status` reads /proc early (src/early.ts): a reader's panic there goes on as that panic in
// the scan that takes the read, not as a second read's.
test('the CLI: a panic in a /proc reader of the early read is an error naming it and exit 2', async t => {
	const dir = await scratch(t);
	const r = await livetree(['status', '--json', '--no-systemd', '--state-dir', dir], {LIVETREE_TEST_PANIC: 'reader', LIVETREE_DEBUG_SCANNER: '1'});
	t.is(r.code, 2, r.stderr);
	t.is(r.stdout, '');
	t.regex(
		r.stderr,
		/^livetree: internal error in livetree's core \(Scanner\.scan\): LIVETREE_TEST_PANIC=reader: a panic a test asked for \(a bug; please report it\)$/m,
	);
	// Where it happened, said by the readers that panicked, not again by a second read.
	const readers = Math.min(4, availableParallelism());
	t.true(r.stderr.split('LIVETREE_TEST_PANIC=reader: a panic a test asked for\n').length - 1 <= readers, r.stderr);
	t.notRegex(r.stderr, /Aborted|fatal runtime error/);
});

test('the exporter survives panicking scans: up 0, errors counted, still serving', async t => {
	const dir = await scratch(t);
	const port = await freePort();
	const exporter = startExporterProcess(t, ['--no-systemd', '--listen', `127.0.0.1:${port}`, '--min-interval', '0s', '--state-dir', dir], {
		LIVETREE_TEST_PANIC: 'reader',
	});
	const scrape = async () => {
		let reply;
		for (let i = 0; i < 100 && !reply; i++) {
			reply = await request(`http://127.0.0.1:${port}/metrics`).catch(async () => sleep(100).then(() => undefined));
		}

		t.is(reply?.status, 200, exporter.stderr());
		const parsed = parseExposition(reply?.body ?? '');
		return [valueOf(parsed, 'livetree_up'), valueOf(parsed, 'livetree_scan_errors_total'), valueOf(parsed, 'livetree_scans_total')];
	};

	t.deepEqual(await scrape(), [0, 1, 1]);
	t.deepEqual(await scrape(), [0, 2, 2]);
	t.regex(exporter.stderr(), /livetree exporter: scan failed: internal error in livetree's core \(Scanner\.scan\): LIVETREE_TEST_PANIC=reader/);
	process.kill(exporter.pid, 'SIGTERM');
	t.is(await exporter.exited, 0, exporter.stderr());
});
