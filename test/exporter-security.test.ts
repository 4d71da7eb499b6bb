// The exporter's web configuration (exporter-toolkit's --web.config.file): TLS with a
// certificate made by openssl, basic auth against bcrypt hashes, 401 before any scan,
// reload on SIGHUP, and clear errors naming the file for anything it cannot use.
import {mkdir, mkdtemp, readFile, rm, writeFile} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {setTimeout as sleep} from 'node:timers/promises';
import test from 'ava';
import bcrypt from 'bcryptjs';
import {WebConfigError} from '../src/errors/web-config-error.js';
import {BasicAuth, parseBasic} from '../src/exporter/basic-auth.js';
import {startExporter, type Exporter} from '../src/exporter/exporter.js';
import {loadWebConfig} from '../src/exporter/web-config.js';
import type {StatusDocument} from '../src/model/document.js';
import {startExporterProcess} from './helpers/exporter-process.js';
import {parseExposition, valueOf} from './helpers/exposition.js';
import {freePort, request} from './helpers/http.js';
import {makeDocument} from './helpers/status-document.js';
import {basic, requestTls, selfSigned} from './helpers/tls.js';

const hash = bcrypt.hashSync('s3cret', 10);

async function tempDir(t: {teardown(fn: () => Promise<void>): void}): Promise<string> {
	const dir = await mkdtemp(path.join(os.tmpdir(), 'livetree-webcfg-'));
	t.teardown(async () => rm(dir, {recursive: true, force: true}));
	return dir;
}

function counting() {
	const state = {calls: 0};
	const collect = async (): Promise<StatusDocument> => {
		state.calls += 1;
		return makeDocument();
	};

	return {state, collect};
}

async function start(t: {teardown(fn: () => Promise<void>): void}, webConfigFile: string, collect: () => Promise<StatusDocument>): Promise<Exporter> {
	const exporter = await startExporter({listen: '127.0.0.1:0', minIntervalSeconds: 60, collect, webConfigFile});
	t.teardown(async () => exporter.close());
	return exporter;
}

test('Authorization headers are parsed; anything else is no credentials', t => {
	t.deepEqual(parseBasic(basic('prom', 'a:b')), {user: 'prom', password: 'a:b'});
	t.deepEqual(parseBasic('basic cHJvbTo='), {user: 'prom', password: ''});
	for (const bad of [undefined, '', 'Bearer x', 'Basic', 'Basic !!!', `Basic ${Buffer.from('nocolon').toString('base64')}`]) {
		t.is(parseBasic(bad), undefined, String(bad));
	}
});

test('BasicAuth accepts exactly the right user and password, cached or not', async t => {
	const auth = new BasicAuth(
		new Map([
			['prom', hash],
			['other', bcrypt.hashSync('x', 4)],
		]),
	);
	t.true(await auth.check({user: 'prom', password: 's3cret'}));
	t.true(await auth.check({user: 'prom', password: 's3cret'}), 'again, from the cache');
	t.false(await auth.check({user: 'prom', password: 's3cret '}));
	t.false(await auth.check({user: 'prom', password: 'x'}));
	t.false(await auth.check({user: 'other', password: 's3cret'}), "another user's password");
	t.true(await auth.check({user: 'other', password: 'x'}));
	t.false(await auth.check({user: 'nobody', password: 's3cret'}));
	t.false(await auth.check({user: '', password: ''}));
	t.false(await auth.check(undefined));
});

test('bad web configurations are WebConfigErrors naming the file and the setting', async t => {
	const dir = await tempDir(t);
	const file = path.join(dir, 'web.yml');
	const cases: Array<[string, RegExp]> = [
		['basic_auth_users:\n  prom: plaintext\n', /basic_auth_users\.prom: not a bcrypt hash/],
		[`basic_auth_user:\n  prom: ${hash}\n`, /basic_auth_user: unknown or unsupported setting/],
		['tls_server_config:\n  cert_file: a.crt\n', /needs both cert_file and key_file/],
		['tls_server_config:\n  cert_file: missing.crt\n  key_file: missing.key\n', /cannot read .*missing\.crt \(ENOENT\)/],
		['tls_server_config:\n  cert_file: a\n  key_file: b\n  cipher_suites: [x]\n', /cipher_suites: unknown or unsupported/],
		['tls_server_config:\n  cert_file: a\n  key_file: b\n  client_auth_type: RequireAnyClientCert\n', /not supported by livetree/],
		['http_server_config:\n  headers:\n    Set-Cookie: x\n', /only Strict-Transport-Security/],
		['[1, 2', /not valid YAML/],
		['- a\n- b\n', /must be a mapping/],
	];
	for (const [text, message] of cases) {
		await writeFile(file, text);
		const error = await t.throwsAsync(loadWebConfig(file), {instanceOf: WebConfigError}, text);
		t.regex(error?.message ?? '', message, text);
		t.true(error?.message.startsWith(`${file}: `), error?.message);
	}

	await t.throwsAsync(loadWebConfig(path.join(dir, 'absent.yml')), {
		instanceOf: WebConfigError,
		message: /absent\.yml: cannot read the web configuration \(ENOENT\)/,
	});
	await writeFile(file, '');
	t.deepEqual(await loadWebConfig(file), {users: new Map(), headers: {}}, 'an empty file is plain HTTP without auth, as in exporter-toolkit');
});

test('basic auth over plain HTTP: 401 with WWW-Authenticate and no scan for missing or wrong credentials', async t => {
	const dir = await tempDir(t);
	const file = path.join(dir, 'web.yml');
	await writeFile(file, `basic_auth_users:\n  prom: ${hash}\nhttp_server_config:\n  headers:\n    X-Frame-Options: deny\n`);
	const {state, collect} = counting();
	const exporter = await start(t, file, collect);
	t.true(exporter.url.startsWith('http://127.0.0.1:'));
	const url = `${exporter.url}/metrics`;
	for (const headers of [{}, {authorization: basic('prom', 'wrong')}, {authorization: basic('nobody', 's3cret')}, {authorization: 'Bearer s3cret'}]) {
		const reply = await request(url, 'GET', headers);
		t.is(reply.status, 401, JSON.stringify(headers));
		t.is(reply.headers['www-authenticate'], 'Basic');
		t.is(reply.headers['x-frame-options'], 'deny');
		t.false(reply.body.includes('livetree_'));
	}

	t.is((await request(`${exporter.url}/other`)).status, 401, 'authentication comes before the path');
	t.is(state.calls, 0, 'no scan for an unauthenticated request');
	const good = await request(url, 'GET', {authorization: basic('prom', 's3cret')});
	t.is(good.status, 200);
	t.is(valueOf(parseExposition(good.body), 'livetree_up'), 1);
	t.is(state.calls, 1);
});

test('TLS with a self-signed certificate: verified by its CA, refused without it, plain HTTP gets nothing', async t => {
	const dir = await tempDir(t);
	const {certPem} = await selfSigned(dir);
	const file = path.join(dir, 'web.yml');
	// Relative paths are relative to the configuration file, as in exporter-toolkit.
	await writeFile(file, `tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  min_version: TLS12\nbasic_auth_users:\n  prom: ${hash}\n`);
	const {state, collect} = counting();
	const exporter = await start(t, file, collect);
	t.true(exporter.url.startsWith('https://127.0.0.1:'));
	const url = `${exporter.url}/metrics`;
	await t.throwsAsync(requestTls(url, {authorization: basic('prom', 's3cret')}), {message: /self[- ]signed/}, 'an unknown CA is refused by the client');
	await t.throwsAsync(request(url.replace('https:', 'http:')), undefined, 'plain HTTP to the TLS port');
	t.is((await requestTls(url, {ca: certPem})).status, 401);
	t.is(state.calls, 0);
	const reply = await requestTls(url, {ca: certPem, authorization: basic('prom', 's3cret')});
	t.is(reply.status, 200);
	t.is(valueOf(parseExposition(reply.body), 'livetree_scans_total'), 1);
});

test('mutual TLS (RequireAndVerifyClientCert): no client certificate or an unknown one is refused in the handshake', async t => {
	const dir = await tempDir(t);
	const server = await selfSigned(dir);
	const client = await selfSigned(dir, 'client');
	const stranger = await selfSigned(dir, 'stranger');
	const file = path.join(dir, 'web.yml');
	// The client's self-signed certificate is its own CA.
	await writeFile(
		file,
		'tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: client.crt\n',
	);
	const {state, collect} = counting();
	const exporter = await start(t, file, collect);
	const url = `${exporter.url}/metrics`;
	await t.throwsAsync(requestTls(url, {ca: server.certPem}), undefined, 'no client certificate');
	await t.throwsAsync(
		requestTls(url, {ca: server.certPem, cert: stranger.certPem, key: await readFile(stranger.key)}),
		undefined,
		'a certificate from another CA',
	);
	t.is(state.calls, 0);
	const reply = await requestTls(url, {ca: server.certPem, cert: client.certPem, key: await readFile(client.key)});
	t.is(reply.status, 200);
	t.is(state.calls, 1);

	await writeFile(file, 'tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n');
	await t.throwsAsync(exporter.reload(), {instanceOf: WebConfigError, message: /needs a restart/}, 'client certificates cannot be switched off by a reload');
	await t.throwsAsync(requestTls(url, {ca: server.certPem}), undefined, 'the old configuration stays');
});

test('the exporter command reloads the web configuration on SIGHUP, and keeps the old one if the new is bad', async t => {
	const dir = await tempDir(t);
	const {certPem} = await selfSigned(dir);
	const file = path.join(dir, 'web.yml');
	const config = (h: string) => `tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\nbasic_auth_users:\n  prom: ${h}\n`;
	await writeFile(file, config(hash));
	const port = await freePort();
	// A --state-dir must exist (a mistyped one is an error, never created).
	await mkdir(path.join(dir, 'state'), {recursive: true});
	const exporter = startExporterProcess(t, [
		'--no-systemd',
		'--listen',
		`127.0.0.1:${port}`,
		'--min-interval',
		'1s',
		'--state-dir',
		path.join(dir, 'state'),
		'--web.config.file',
		file,
	]);
	const url = `https://127.0.0.1:${port}/metrics`;
	const get = async (password: string) => requestTls(url, {ca: certPem, authorization: basic('prom', password)}).then(r => r.status);
	const waitFor = async (pattern: RegExp) => {
		for (let i = 0; i < 150 && !pattern.test(exporter.stderr()); i++) {
			await sleep(100);
		}

		t.regex(exporter.stderr(), pattern);
	};

	await waitFor(/serving https:\/\/127\.0\.0\.1:\d+\/metrics/);
	t.is(await get('s3cret'), 200, exporter.stderr());

	await writeFile(file, config(bcrypt.hashSync('rotated', 10)));
	process.kill(exporter.pid, 'SIGHUP');
	await waitFor(/SIGHUP: web configuration reloaded/);
	t.is(await get('s3cret'), 401, 'the old password no longer works');
	t.is(await get('rotated'), 200);

	await writeFile(file, 'basic_auth_users:\n  prom: not-a-hash\n');
	process.kill(exporter.pid, 'SIGHUP');
	await waitFor(/SIGHUP: .*web\.yml: basic_auth_users\.prom: not a bcrypt hash/);
	t.is(await get('rotated'), 200, 'a bad file leaves the last good configuration in force');

	process.kill(exporter.pid, 'SIGTERM');
	t.is(await exporter.exited, 0, exporter.stderr());
});

test('the exporter command refuses to start on a bad web configuration (exit 2, message names the file)', async t => {
	const dir = await tempDir(t);
	const file = path.join(dir, 'web.yml');
	await writeFile(file, 'tls_server_config:\n  cert_file: nope.crt\n  key_file: nope.key\n');
	const {exporterCommand} = await import('../src/commands/exporter.js');
	const written: string[] = [];
	const original = process.stderr.write.bind(process.stderr);
	process.stderr.write = ((chunk: string) => {
		written.push(String(chunk));
		return true;
	}) as typeof process.stderr.write;
	let code;
	try {
		code = await exporterCommand(['--no-systemd', '--listen', '127.0.0.1:0', '--web.config.file', file]);
	} finally {
		process.stderr.write = original;
	}

	t.is(code, 2);
	t.regex(written.join(''), /web\.yml: tls_server_config\.cert_file: cannot read .*nope\.crt \(ENOENT\)/);
});
