// The metrics endpoint: GET /metrics on node:http (node:https with a web configuration
// that has TLS), bound only where told, behind basic auth when the configuration says so.
import http from 'node:http';
import https from 'node:https';
import type {AddressInfo} from 'node:net';
import {ListenError} from '../errors/listen-error.js';
import {UsageError} from '../errors/usage-error.js';
import {WebConfigError} from '../errors/web-config-error.js';
import type {StatusDocument} from '../model/document.js';
import type {RestartRecordFacts} from '../render/prometheus-fleet.js';
import {formatUrl, isLoopback, parseListen} from './listen.js';
import {BasicAuth, parseBasic} from './basic-auth.js';
import {ScanCache} from './scan-cache.js';
import {loadWebConfig, type WebConfig} from './web-config.js';

export interface ExporterOptions {
	// HOST:PORT; port 0 picks a free port (see the returned url).
	listen: string;
	minIntervalSeconds: number;
	collect: () => Promise<StatusDocument>;
	restartHistory?: () => RestartRecordFacts[] | undefined;
	// How many times the scanner has loaded its knowledge (livetree_knowledge_loads_total).
	knowledgeLoads?: () => number;
	// Metrics name what runs on the host; serving them beyond loopback must be asked for.
	allowRemote?: boolean;
	// exporter-toolkit's web configuration (TLS, basic auth); see web-config.ts.
	webConfigFile?: string;
	log?: (message: string) => void;
}

export interface Exporter {
	url: string;
	server: http.Server;
	// Reads the web configuration file again (SIGHUP). On any error the old one stays.
	reload(): Promise<void>;
	close(): Promise<void>;
}

// What a request is checked against; replaced whole on reload.
interface Guard {
	config: WebConfig;
	auth: BasicAuth | undefined;
}

function guardOf(config: WebConfig): Guard {
	return {config, auth: config.users.size > 0 ? new BasicAuth(config.users) : undefined};
}

function tlsOptions(config: WebConfig): https.ServerOptions {
	const t = config.tls!;
	return {
		cert: t.cert,
		key: t.key,
		...(t.ca ? {ca: t.ca} : {}),
		requestCert: t.requireClientCert,
		rejectUnauthorized: t.requireClientCert,
		...(t.minVersion ? {minVersion: t.minVersion} : {}),
		...(t.maxVersion ? {maxVersion: t.maxVersion} : {}),
	};
}

const contentType = 'text/plain; version=0.0.4; charset=utf-8';

export async function startExporter(options: ExporterOptions): Promise<Exporter> {
	const address = parseListen(options.listen);
	if (!isLoopback(address.host) && !options.allowRemote) {
		throw new UsageError(`refusing to listen on ${options.listen}, which is not a loopback address (add --allow-remote to mean it)`);
	}

	if (!Number.isFinite(options.minIntervalSeconds) || options.minIntervalSeconds < 0) {
		throw new UsageError(`the minimum interval must be zero or more seconds, not ${options.minIntervalSeconds}`);
	}

	const file = options.webConfigFile;
	const initial = file === undefined ? {users: new Map<string, string>(), headers: {}} : await loadWebConfig(file);
	let guard = guardOf(initial);
	if (initial.users.size > 0 && !initial.tls && !isLoopback(address.host)) {
		options.log?.(`${file}: basic auth without tls_server_config sends passwords in clear text beyond loopback`);
	}

	const cache = new ScanCache({
		collect: options.collect,
		restartHistory: options.restartHistory,
		knowledgeLoads: options.knowledgeLoads,
		minIntervalSeconds: options.minIntervalSeconds,
		log: options.log,
	});
	const listener = (request: http.IncomingMessage, response: http.ServerResponse) => {
		guarded(guard, cache, request, response, options.log).catch((error: unknown) => {
			options.log?.(`checking credentials failed: ${error instanceof Error ? error.message : String(error)}`);
			send(response, 500, 'internal error\n');
		});
	};

	const server: http.Server = initial.tls ? https.createServer(tlsOptions(initial), listener) : http.createServer(listener);
	if (initial.tls) {
		// Handshake failures (plain HTTP to the TLS port, an unknown client CA) are the
		// client's problem; say so once each without ending the exporter.
		server.on('tlsClientError', (error: Error) => {
			options.log?.(`TLS handshake failed: ${error.message}`);
		});
	}

	await new Promise<void>((resolve, reject) => {
		const failed = (error: NodeJS.ErrnoException) => {
			reject(new ListenError(`cannot listen on ${options.listen}: ${error.code ?? error.message}`, error.code ?? 'EIO', options.listen));
		};
		server.once('error', failed);
		server.listen({host: address.host, port: address.port, exclusive: true}, () => {
			server.off('error', failed);
			resolve();
		});
	});

	const bound = server.address() as AddressInfo;
	const url = formatUrl({host: bound.address, port: bound.port});
	return {
		url: initial.tls ? url.replace(/^http:/, 'https:') : url,
		server,
		async reload() {
			if (file === undefined) {
				return;
			}

			const next = await loadWebConfig(file);
			// The listening socket is plain or TLS for its life, and node fixes whether it
			// asks for client certificates when the server is made.
			if (Boolean(next.tls) !== Boolean(initial.tls) || next.tls?.requireClientCert !== initial.tls?.requireClientCert) {
				throw new WebConfigError('switching TLS or client certificates on or off needs a restart; the old configuration stays', file);
			}

			if (next.tls) {
				(server as https.Server).setSecureContext(tlsOptions(next));
			}

			guard = guardOf(next);
		},
		async close() {
			await new Promise<void>(resolve => {
				server.close(() => {
					resolve();
				});
				server.closeAllConnections();
			});
			await cache.settled();
		},
	};
}

// Authentication comes before anything else, the path included, and before any scan.
async function guarded(
	guard: Guard,
	cache: ScanCache,
	request: http.IncomingMessage,
	response: http.ServerResponse,
	log?: (message: string) => void,
): Promise<void> {
	for (const [name, value] of Object.entries(guard.config.headers)) {
		response.setHeader(name, value);
	}

	if (guard.auth && !(await guard.auth.check(parseBasic(request.headers.authorization)))) {
		response.setHeader('WWW-Authenticate', 'Basic');
		send(response, 401, 'Unauthorized\n');
		return;
	}

	handle(cache, request, response, log);
}

function handle(cache: ScanCache, request: http.IncomingMessage, response: http.ServerResponse, log?: (message: string) => void): void {
	const path = (request.url ?? '/').split('?')[0];
	if (path !== '/metrics') {
		send(response, 404, 'Not found: livetree serves only /metrics\n');
		return;
	}

	if (request.method !== 'GET') {
		response.setHeader('Allow', 'GET');
		send(response, 405, 'Method not allowed: use GET\n');
		return;
	}

	cache.metrics().then(
		text => {
			response.setHeader('Content-Type', contentType);
			response.end(text);
		},
		(error: unknown) => {
			// ScanCache turns scan failures into metrics; reaching here is a bug, so say so.
			log?.(`serving /metrics failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
			send(response, 500, 'internal error\n');
		},
	);
}

function send(response: http.ServerResponse, status: number, body: string): void {
	response.statusCode = status;
	response.setHeader('Content-Type', 'text/plain; charset=utf-8');
	response.end(body);
}
