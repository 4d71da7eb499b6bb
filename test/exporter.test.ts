import {spawn} from 'node:child_process';
import {mkdtemp, rm, writeFile} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {setTimeout as sleep} from 'node:timers/promises';
import test from 'ava';
import {exporterCommand} from '../src/commands/exporter.js';
import {ListenError} from '../src/errors/listen-error.js';
import {UsageError} from '../src/errors/usage-error.js';
import {startExporter, type Exporter} from '../src/exporter/exporter.js';
import {isLoopback, parseListen} from '../src/exporter/listen.js';
import {ScanCache} from '../src/exporter/scan-cache.js';
import type {StatusDocument} from '../src/model/document.js';
import {parseExposition, promtoolCheck, valueOf} from './helpers/exposition.js';
import {freePort, request, tryConnect} from './helpers/http.js';
import {hostile, hostileDocument, makeDocument, validateDocument} from './helpers/status-document.js';

// A collect function that counts its calls and returns a fresh document each time.
function counting(make: (call: number) => StatusDocument | Promise<StatusDocument> = () => makeDocument()) {
	const state = {calls: 0, startedAt: [] as number[]};
	const collect = async () => {
		state.calls += 1;
		state.startedAt.push(Date.now());
		return make(state.calls);
	};

	return {state, collect};
}

async function start(
	t: {teardown(fn: () => Promise<void>): void},
	options: Partial<Parameters<typeof startExporter>[0]> & {collect: () => Promise<StatusDocument>},
): Promise<Exporter> {
	const exporter = await startExporter({listen: '127.0.0.1:0', minIntervalSeconds: 60, ...options});
	t.teardown(async () => exporter.close());
	return exporter;
}

test('listen addresses: parsing and the loopback rule', t => {
	t.deepEqual(parseListen('127.0.0.1:9947'), {host: '127.0.0.1', port: 9947});
	t.deepEqual(parseListen('[::1]:9947'), {host: '::1', port: 9947});
	t.deepEqual(parseListen(':9947'), {host: '127.0.0.1', port: 9947});
	t.throws(() => parseListen('127.0.0.1'), {instanceOf: UsageError});
	t.throws(() => parseListen('127.0.0.1:99999'), {instanceOf: UsageError});
	t.true(isLoopback('127.0.0.1') && isLoopback('127.8.9.10') && isLoopback('::1') && isLoopback('localhost'));
	t.false(isLoopback('0.0.0.0') || isLoopback('::') || isLoopback('192.0.2.1') || isLoopback('example.org'));
});

test("binds to loopback only: reachable on 127.0.0.1, refused on the host's other addresses", async t => {
	const {collect} = counting();
	const exporter = await start(t, {collect});
	const address = exporter.server.address();
	t.is(typeof address === 'object' && address?.address, '127.0.0.1');
	t.true(exporter.url.startsWith('http://127.0.0.1:'));
	const port = Number(new URL(exporter.url).port);
	t.is(await tryConnect('127.0.0.1', port), 'connected');
	const external = Object.values(os.networkInterfaces())
		.flat()
		.filter(i => i && !i.internal && i.family === 'IPv4');
	for (const nic of external) {
		t.is(await tryConnect(nic!.address, port), 'ECONNREFUSED', nic!.address);
	}

	if (external.length === 0) {
		t.log('no non-loopback IPv4 address on this host; only the loopback side was checked');
	}
});

test('refuses a non-loopback address unless allowRemote is given', async t => {
	const {state, collect} = counting();
	for (const listen of ['0.0.0.0:0', '[::]:0', '192.0.2.1:0', 'example.org:0']) {
		await t.throwsAsync(startExporter({listen, minIntervalSeconds: 1, collect}), {instanceOf: UsageError}, listen);
	}

	const open = await start(t, {listen: '0.0.0.0:0', allowRemote: true, collect});
	t.is((open.server.address() as {address: string}).address, '0.0.0.0');
	t.is(state.calls, 0, 'starting does not scan');
});

test('the exporter command refuses a remote address and a bad interval before scanning', async t => {
	await t.throwsAsync(exporterCommand(['--no-systemd', '--listen', '0.0.0.0:9947']), {instanceOf: UsageError, message: /--allow-remote/});
	await t.throwsAsync(exporterCommand(['--no-systemd', '--listen', '127.0.0.1:0', '--min-interval', 'soon']), {instanceOf: UsageError});
});

test('a busy port is a ListenError naming the address', async t => {
	const {collect} = counting();
	const first = await start(t, {collect});
	const listen = `127.0.0.1:${new URL(first.url).port}`;
	const error = await t.throwsAsync(startExporter({listen, minIntervalSeconds: 1, collect}), {instanceOf: ListenError});
	t.is(error?.code, 'EADDRINUSE');
	t.is(error?.address, listen);
});

test('404 off /metrics, 405 for other methods, and neither scans', async t => {
	const {state, collect} = counting();
	const exporter = await start(t, {collect});
	for (const where of ['/', '/metric', '/metrics/x', '/favicon.ico']) {
		t.is((await request(`${exporter.url}${where}`)).status, 404, where);
	}

	for (const method of ['POST', 'PUT', 'DELETE', 'HEAD']) {
		const reply = await request(`${exporter.url}/metrics`, method);
		t.is(reply.status, 405, method);
		t.is(reply.headers.allow, 'GET');
	}

	t.is((await request(`${exporter.url}/`, 'POST')).status, 404);
	t.is(state.calls, 0);
});

test("GET /metrics serves the document's metrics in exposition format", async t => {
	const doc = makeDocument();
	t.deepEqual(validateDocument(doc), []);
	const exporter = await start(t, {collect: async () => doc});
	const reply = await request(`${exporter.url}/metrics?x=1`);
	t.is(reply.status, 200);
	t.regex(reply.headers['content-type'] ?? '', /^text\/plain; version=0\.0\.4/);
	t.is(promtoolCheck(reply.body).status, 0, promtoolCheck(reply.body).output);
	const parsed = parseExposition(reply.body);
	t.is(valueOf(parsed, 'livetree_processes', {state: 'stale'}), doc.processes.filter(p => p.state === 'stale').length);
	t.is(valueOf(parsed, 'livetree_up'), 1);
	t.is(valueOf(parsed, 'livetree_scans_total'), 1);
	t.is(valueOf(parsed, 'livetree_scan_errors_total'), 0);
});

test('1,000 concurrent scrapes share one scan, even with no minimum interval', async t => {
	const total = 1000;
	let received = 0;
	let allReceived: () => void = () => undefined;
	const barrier = new Promise<void>(resolve => {
		allReceived = resolve;
	});
	// The scan cannot finish before the server has seen every request, so all
	// 1,000 really overlap it; with minIntervalSeconds 0 only sharing can keep it to one.
	const {state, collect} = counting(async () => {
		await Promise.race([barrier, sleep(60_000, undefined, {ref: false})]);
		return makeDocument();
	});
	const exporter = await start(t, {collect, minIntervalSeconds: 0});
	exporter.server.on('request', () => {
		received += 1;
		if (received === total) {
			allReceived();
		}
	});
	const replies = await Promise.all(Array.from({length: total}, async () => request(`${exporter.url}/metrics`)));
	t.is(received, total);
	t.is(state.calls, 1);
	t.true(replies.every(r => r.status === 200));
	t.is(new Set(replies.map(r => r.body)).size, 1, 'every scrape got the same text');
	t.is(valueOf(parseExposition(replies[0]!.body), 'livetree_scans_total'), 1);

	// With interval 0, the next scrape after the scan finished does scan again.
	await request(`${exporter.url}/metrics`);
	t.is(state.calls, 2);
});

test('the minimum interval is respected on a real clock', async t => {
	const {state, collect} = counting();
	const exporter = await start(t, {collect, minIntervalSeconds: 2});
	// The scan begins after this instant, so its interval ends after started + 2s: a burst
	// that ends before then must not scan again (measured from here, not from the reply,
	// which a loaded machine may deliver long after the scan began).
	const started = Date.now();
	await request(`${exporter.url}/metrics`);
	for (let i = 0; i < 20; i++) {
		await request(`${exporter.url}/metrics`);
	}

	// On a loaded machine the burst may outlast the interval: then a scan may have begun, but
	// never sooner than 2 s after the one before.
	const burstFitted = Date.now() - started < 2000;
	if (burstFitted) {
		t.is(state.calls, 1);
	}

	for (let i = 1; i < state.startedAt.length; i++) {
		t.true(
			state.startedAt[i]! - state.startedAt[i - 1]! >= 2000,
			`scan ${i + 1} began ${state.startedAt[i]! - state.startedAt[i - 1]!} ms after the one before`,
		);
	}

	const before = state.calls;
	// 2 s after the last scan began, the interval is over: the next scrape scans.
	await sleep(Math.max(0, state.startedAt.at(-1)! + 2050 - Date.now()));
	const reply = await request(`${exporter.url}/metrics`);
	t.is(state.calls, before + 1);
	t.is(valueOf(parseExposition(reply.body), 'livetree_scans_total'), before + 1);
});

test('the interval counts from the start of each scan (fake clock)', async t => {
	let clock = 0;
	const {state, collect} = counting();
	const cache = new ScanCache({collect, minIntervalSeconds: 10, now: () => clock});
	await cache.metrics();
	t.is(state.calls, 1);
	clock = 9_999;
	await cache.metrics();
	t.is(state.calls, 1);
	clock = 10_000;
	await cache.metrics();
	t.is(state.calls, 2);
	clock = 15_000;
	await cache.metrics();
	t.is(state.calls, 2);
});

test('a failed scan counts an error, reports up 0 and serves the last good metrics', async t => {
	let clock = 0;
	const good = makeDocument({states: ['stale', 'stale', 'current']});
	const {state, collect} = counting(call => {
		if (call === 2 || call === 3) {
			throw new Error('cannot read /proc');
		}

		return call === 1 ? good : makeDocument({states: ['current']});
	});
	const logged: string[] = [];
	const cache = new ScanCache({collect, minIntervalSeconds: 10, now: () => clock, log: m => logged.push(m)});
	const first = parseExposition(await cache.metrics());
	t.is(valueOf(first, 'livetree_up'), 1);

	clock = 10_000;
	const failedText = await cache.metrics();
	t.is(promtoolCheck(failedText).status, 0);
	const failed = parseExposition(failedText);
	t.is(valueOf(failed, 'livetree_up'), 0);
	t.is(valueOf(failed, 'livetree_scan_errors_total'), 1);
	t.is(valueOf(failed, 'livetree_scans_total'), 2);
	t.is(valueOf(failed, 'livetree_processes', {state: 'stale'}), 2, 'last good values');
	t.regex(logged.join('\n'), /cannot read \/proc/);

	clock = 15_000;
	await cache.metrics();
	t.is(state.calls, 2, 'a failing scan is not retried before the interval');

	clock = 20_000;
	t.is(valueOf(parseExposition(await cache.metrics()), 'livetree_scan_errors_total'), 2);
	clock = 30_000;
	const recovered = parseExposition(await cache.metrics());
	t.is(valueOf(recovered, 'livetree_up'), 1);
	t.is(valueOf(recovered, 'livetree_scan_errors_total'), 2, 'a counter never goes down');
	t.is(valueOf(recovered, 'livetree_processes', {state: 'stale'}), 0);
	t.is(valueOf(recovered, 'livetree_processes', {state: 'current'}), 1);
});

test('with no good scan yet, /metrics still answers with up 0 and the error counter', async t => {
	const exporter = await start(t, {
		collect: async () => {
			throw new Error('no sysroot');
		},
	});
	const reply = await request(`${exporter.url}/metrics`);
	t.is(reply.status, 200);
	t.is(promtoolCheck(reply.body).status, 0);
	const parsed = parseExposition(reply.body);
	t.is(valueOf(parsed, 'livetree_up'), 0);
	t.is(valueOf(parsed, 'livetree_scan_errors_total'), 1);
	t.is(valueOf(parsed, 'livetree_processes', {state: 'current'}), undefined);
});

test('close() stops listening', async t => {
	const {collect} = counting();
	const exporter = await startExporter({listen: '127.0.0.1:0', minIntervalSeconds: 1, collect});
	const port = Number(new URL(exporter.url).port);
	await request(`${exporter.url}/metrics`);
	await exporter.close();
	t.is(await tryConnect('127.0.0.1', port), 'ECONNREFUSED');
});

test('the exporter command serves a real scan and exits 0 on SIGTERM', async t => {
	const dir = await mkdtemp(path.join(os.tmpdir(), 'livetree-exporter-cmd-'));
	t.teardown(async () => rm(dir, {recursive: true, force: true}));
	const port = await freePort();
	const module = new URL('../src/commands/exporter.js', import.meta.url).href;
	const script = `import {exporterCommand} from ${JSON.stringify(module)}; process.exitCode = await exporterCommand(process.argv.slice(1));`;
	const child = spawn(
		process.execPath,
		['--input-type=module', '-e', script, '--', '--no-systemd', '--listen', `127.0.0.1:${port}`, '--min-interval', '1s', '--state-dir', dir],
		{stdio: ['ignore', 'ignore', 'pipe']},
	);
	let stderr = '';
	child.stderr.on('data', (chunk: Buffer) => {
		stderr += chunk.toString();
	});
	const exited = new Promise<number | null>(resolve => child.once('exit', resolve));
	t.teardown(() => {
		if (child.exitCode === null && child.pid !== undefined) {
			process.kill(child.pid, 'SIGKILL');
		}
	});

	let reply;
	for (let i = 0; i < 100 && !reply; i++) {
		reply = await request(`http://127.0.0.1:${port}/metrics`).catch(async () => sleep(100).then(() => undefined));
	}

	t.is(reply?.status, 200, stderr);
	t.is(promtoolCheck(reply?.body ?? '').status, 0);
	t.is(valueOf(parseExposition(reply?.body ?? ''), 'livetree_scans_total'), 1);
	t.regex(stderr, new RegExp(`serving http://127\\.0\\.0\\.1:${port}/metrics`));
	process.kill(child.pid!, 'SIGTERM');
	t.is(await exited, 0, stderr);
	t.regex(stderr, /SIGTERM: closing/);
	t.is(await tryConnect('127.0.0.1', port), 'ECONNREFUSED');
});

interface PromResult {
	metric: Record<string, string>;
	value: [number, string];
}

async function query(base: string, expr: string): Promise<PromResult[]> {
	const reply = await request(`${base}/api/v1/query?query=${encodeURIComponent(expr)}`);
	const body = JSON.parse(reply.body) as {status: string; data?: {result: PromResult[]}};
	return body.status === 'success' ? (body.data?.result ?? []) : [];
}

test('a real Prometheus server scrapes the exporter and returns the livetree_ series', async t => {
	const doc = hostileDocument();
	t.deepEqual(validateDocument(doc), []);
	const {state, collect} = counting(() => doc);
	const minInterval = 3;
	const exporter = await start(t, {collect, minIntervalSeconds: minInterval});
	const target = new URL(exporter.url).host;

	const dir = await mkdtemp(path.join(os.tmpdir(), 'livetree-prom-'));
	const promPort = await freePort();
	const config = path.join(dir, 'prometheus.yml');
	await writeFile(
		config,
		[
			'global:',
			'  scrape_interval: 1s',
			'  scrape_timeout: 1s',
			'scrape_configs:',
			'  - job_name: livetree',
			'    static_configs:',
			`      - targets: ['${target}']`,
			'',
		].join('\n'),
	);
	const prometheus = spawn(
		'/usr/bin/prometheus',
		[`--config.file=${config}`, `--storage.tsdb.path=${path.join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${promPort}`],
		{stdio: ['ignore', 'ignore', 'pipe']},
	);
	let log = '';
	prometheus.stderr.on('data', (chunk: Buffer) => {
		log += chunk.toString();
	});
	const exited = new Promise(resolve => prometheus.once('exit', resolve));
	t.teardown(async () => {
		if (prometheus.exitCode === null && prometheus.pid !== undefined) {
			process.kill(prometheus.pid, 'SIGTERM');
			await exited;
		}

		await rm(dir, {recursive: true, force: true});
	});

	const base = `http://127.0.0.1:${promPort}`;
	const started = Date.now();
	let series: PromResult[] = [];
	while (Date.now() - started < 60_000) {
		series = await query(base, 'livetree_processes').catch(() => []);
		if (series.length === 5) {
			break;
		}

		await sleep(500);
	}

	t.is(series.length, 5, log.slice(-2000));
	for (const s of series) {
		t.is(s.metric.job, 'livetree');
		t.is(Number(s.value[1]), doc.processes.filter(p => p.state === s.metric.state).length, s.metric.state);
	}

	t.is(Number((await query(base, 'up{job="livetree"}'))[0]?.value[1]), 1);
	t.is(Number((await query(base, 'livetree_processes_needing_restart'))[0]?.value[1]), doc.summary.processesNeedingRestart);
	t.is(Number((await query(base, 'livetree_scan_errors_total'))[0]?.value[1]), 0);

	// Hostile label values survive the real parser byte for byte.
	const info = await query(base, 'livetree_deployment_info');
	t.is(info.length, 1);
	t.is(info[0]?.metric.version, hostile.version);
	t.is(info[0]?.metric.osname, doc.deployments[0]!.osname);
	const units = await query(base, 'livetree_unit_needs_restart');
	t.deepEqual(units.map(u => u.metric.unit).sort(), [hostile.unit, hostile.unitQuote].sort());

	// Scraped every second, the exporter still scanned at most once per interval.
	await sleep(4000);
	const elapsed = (Date.now() - started) / 1000;
	t.true(state.calls >= 2, `scans: ${state.calls}`);
	t.true(state.calls <= Math.ceil(elapsed / minInterval) + 1, `scans: ${state.calls} in ${elapsed}s`);
	const scrapes = Number((await query(base, 'count_over_time(up{job="livetree"}[1m])'))[0]?.value[1]);
	t.true(scrapes > state.calls, `scrapes ${scrapes} > scans ${state.calls}`);
});
