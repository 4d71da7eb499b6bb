// The web configuration file of Prometheus's exporter-toolkit (--web.config.file), so one
// file serves node_exporter and livetree alike:
//
//   tls_server_config:
//     cert_file: server.crt          # relative paths are relative to this file
//     key_file: server.key
//     client_auth_type: RequireAndVerifyClientCert   # optional, needs client_ca_file
//     client_ca_file: ca.crt
//     min_version: TLS12             # optional: TLS10..TLS13
//   http_server_config:
//     headers: {X-Frame-Options: deny}  # optional, added to every reply
//   basic_auth_users:
//     prometheus: $2y$10$...          # bcrypt hashes only
//
// Like exporter-toolkit, unknown keys are errors: a misspelt security setting must not
// be silently ignored. Settings exporter-toolkit has and livetree does not implement
// (cipher_suites, curve_preferences, ...) are errors too, for the same reason.
import {readFile} from 'node:fs/promises';
import path from 'node:path';
import type tls from 'node:tls';
import {parse} from 'yaml';
import {WebConfigError} from '../errors/web-config-error.js';

export interface WebConfig {
	// Absent: plain HTTP.
	tls?: {
		cert: Buffer;
		key: Buffer;
		ca?: Buffer;
		// RequireAndVerifyClientCert: refuse a connection without a client certificate
		// signed by `ca`.
		requireClientCert: boolean;
		minVersion?: tls.SecureVersion;
		maxVersion?: tls.SecureVersion;
	};
	// user -> bcrypt hash; empty: no authentication.
	users: Map<string, string>;
	headers: Record<string, string>;
}

const tlsVersions: Record<string, tls.SecureVersion> = {TLS10: 'TLSv1', TLS11: 'TLSv1.1', TLS12: 'TLSv1.2', TLS13: 'TLSv1.3'};
const clientAuthTypes = ['NoClientCert', 'RequestClientCert', 'RequireAnyClientCert', 'VerifyClientCertIfGiven', 'RequireAndVerifyClientCert'];
// Headers exporter-toolkit lets the file set; anything else it refuses.
const allowedHeaders = ['Strict-Transport-Security', 'X-Content-Type-Options', 'X-Frame-Options', 'X-XSS-Protection', 'Content-Security-Policy'];
// A bcrypt hash: $2a$, $2b$ or $2y$, a two-digit cost, 53 characters of salt and hash.
const bcryptHash = /^\$2[aby]\$\d{2}\$[./A-Za-z0-9]{53}$/;

type Fail = (message: string) => never;

function object(value: unknown, where: string, fail: Fail): Record<string, unknown> {
	if (value === null || value === undefined) {
		return {};
	}

	if (typeof value !== 'object' || Array.isArray(value)) {
		fail(`${where} must be a mapping`);
	}

	return value as Record<string, unknown>;
}

function onlyKeys(value: Record<string, unknown>, allowed: string[], where: string, fail: Fail): void {
	for (const key of Object.keys(value)) {
		if (!allowed.includes(key)) {
			fail(`${where}${key}: unknown or unsupported setting (livetree reads ${allowed.join(', ')})`);
		}
	}
}

function string(value: unknown, where: string, fail: Fail): string | undefined {
	if (value === null || value === undefined || value === '') {
		return undefined;
	}

	if (typeof value !== 'string') {
		fail(`${where} must be a string`);
	}

	return value;
}

async function readRelative(file: string, name: string, where: string, fail: Fail): Promise<Buffer> {
	const full = path.resolve(path.dirname(file), name);
	try {
		return await readFile(full);
	} catch (error) {
		return fail(`${where}: cannot read ${full} (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
	}
}

export async function loadWebConfig(file: string): Promise<WebConfig> {
	const fail: Fail = message => {
		throw new WebConfigError(message, file);
	};

	let text: string;
	try {
		text = await readFile(file, 'utf8');
	} catch (error) {
		return fail(`cannot read the web configuration (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
	}

	let document: unknown;
	try {
		document = parse(text);
	} catch (error) {
		return fail(`not valid YAML: ${error instanceof Error ? error.message : String(error)}`);
	}

	const root = object(document, 'the file', fail);
	onlyKeys(root, ['tls_server_config', 'http_server_config', 'basic_auth_users'], '', fail);

	const users = new Map<string, string>();
	for (const [user, hash] of Object.entries(object(root.basic_auth_users, 'basic_auth_users', fail))) {
		if (typeof hash !== 'string' || !bcryptHash.test(hash)) {
			fail(`basic_auth_users.${user}: not a bcrypt hash (make one with \`htpasswd -nBC 10 "" | tr -d ':\\n'\`)`);
		}

		users.set(user, hash);
	}

	const http = object(root.http_server_config, 'http_server_config', fail);
	onlyKeys(http, ['headers', 'http2'], 'http_server_config.', fail);
	const headers: Record<string, string> = {};
	for (const [name, value] of Object.entries(object(http.headers, 'http_server_config.headers', fail))) {
		if (!allowedHeaders.includes(name) || typeof value !== 'string') {
			fail(`http_server_config.headers.${name}: only ${allowedHeaders.join(', ')} may be set, to strings`);
		}

		headers[name] = value;
	}

	const tlsConfig = object(root.tls_server_config, 'tls_server_config', fail);
	onlyKeys(tlsConfig, ['cert_file', 'key_file', 'client_auth_type', 'client_ca_file', 'min_version', 'max_version'], 'tls_server_config.', fail);
	const certFile = string(tlsConfig.cert_file, 'tls_server_config.cert_file', fail);
	const keyFile = string(tlsConfig.key_file, 'tls_server_config.key_file', fail);
	if (certFile === undefined && keyFile === undefined) {
		if (Object.keys(tlsConfig).length > 0) {
			fail('tls_server_config needs cert_file and key_file');
		}

		return {users, headers};
	}

	if (certFile === undefined || keyFile === undefined) {
		fail('tls_server_config needs both cert_file and key_file');
	}

	const clientAuth = string(tlsConfig.client_auth_type, 'tls_server_config.client_auth_type', fail) ?? 'NoClientCert';
	if (!clientAuthTypes.includes(clientAuth)) {
		fail(`tls_server_config.client_auth_type: "${clientAuth}" is not one of ${clientAuthTypes.join(', ')}`);
	}

	const caFile = string(tlsConfig.client_ca_file, 'tls_server_config.client_ca_file', fail);
	// The modes that accept unverified or absent certificates are refused rather than
	// approximated: a client certificate is either required and verified, or not asked for.
	if (clientAuth !== 'NoClientCert' && clientAuth !== 'RequireAndVerifyClientCert') {
		fail(`tls_server_config.client_auth_type ${clientAuth} is not supported by livetree; use RequireAndVerifyClientCert or NoClientCert`);
	}

	const verifies = clientAuth === 'RequireAndVerifyClientCert';
	if (verifies && caFile === undefined) {
		fail(`tls_server_config.client_auth_type ${clientAuth} needs client_ca_file`);
	}

	const version = (key: 'min_version' | 'max_version'): tls.SecureVersion | undefined => {
		const value = string(tlsConfig[key], `tls_server_config.${key}`, fail);
		if (value === undefined) {
			return undefined;
		}

		return tlsVersions[value] ?? fail(`tls_server_config.${key}: "${value}" is not one of ${Object.keys(tlsVersions).join(', ')}`);
	};

	return {
		users,
		headers,
		tls: {
			cert: await readRelative(file, certFile, 'tls_server_config.cert_file', fail),
			key: await readRelative(file, keyFile, 'tls_server_config.key_file', fail),
			...(caFile === undefined ? {} : {ca: await readRelative(file, caFile, 'tls_server_config.client_ca_file', fail)}),
			requireClientCert: verifies,
			minVersion: version('min_version'),
			maxVersion: version('max_version'),
		},
	};
}
