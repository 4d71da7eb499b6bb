// Test TLS material made with the real openssl CLI, and HTTPS/basic-auth requests.
import {execFile} from 'node:child_process';
import {readFile} from 'node:fs/promises';
import https from 'node:https';
import path from 'node:path';
import {promisify} from 'node:util';
import {type Reply, readReply} from './http.js';

const run = promisify(execFile);

export interface SelfSigned {
	cert: string;
	key: string;
	certPem: Buffer;
}

// A self-signed certificate for 127.0.0.1 (and localhost), valid one day.
export async function selfSigned(dir: string, name = 'server'): Promise<SelfSigned> {
	const cert = path.join(dir, `${name}.crt`);
	const key = path.join(dir, `${name}.key`);
	await run('openssl', [
		'req',
		'-x509',
		'-newkey',
		'rsa:2048',
		'-nodes',
		'-keyout',
		key,
		'-out',
		cert,
		'-days',
		'1',
		'-subj',
		'/CN=127.0.0.1',
		'-addext',
		'subjectAltName=IP:127.0.0.1,DNS:localhost',
	]);
	return {cert, key, certPem: await readFile(cert)};
}

export function basic(user: string, password: string): string {
	return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

export interface TlsRequestOptions {
	ca?: Buffer;
	authorization?: string;
	rejectUnauthorized?: boolean;
	// A client certificate and key, for mutual TLS.
	cert?: Buffer;
	key?: Buffer;
}

export async function requestTls(url: string, options: TlsRequestOptions = {}): Promise<Reply> {
	return new Promise((resolve, reject) => {
		const req = https.request(
			url,
			{
				method: 'GET',
				agent: false,
				...(options.ca ? {ca: options.ca} : {}),
				...(options.cert && options.key ? {cert: options.cert, key: options.key} : {}),
				rejectUnauthorized: options.rejectUnauthorized ?? true,
				headers: options.authorization ? {authorization: options.authorization} : {},
			},
			response => {
				readReply(response, resolve);
			},
		);
		req.on('error', reject);
		req.end();
	});
}
