// The metrics endpoint: GET /metrics on node:http, bound only where told.
import http from 'node:http';
import type {AddressInfo} from 'node:net';
import {ListenError} from '../errors/listen-error.js';
import {UsageError} from '../errors/usage-error.js';
import type {StatusDocument} from '../model/document.js';
import type {RestartRecordFacts} from '../render/prometheus-fleet.js';
import {formatUrl, isLoopback, parseListen} from './listen.js';
import {ScanCache} from './scan-cache.js';

export interface ExporterOptions {
	// HOST:PORT; port 0 picks a free port (see the returned url).
	listen: string;
	minIntervalSeconds: number;
	collect: () => Promise<StatusDocument>;
	restartHistory?: () => RestartRecordFacts[] | undefined;
	// Metrics name what runs on the host; serving them beyond loopback must be asked for.
	allowRemote?: boolean;
	log?: (message: string) => void;
}

export interface Exporter {
	url: string;
	server: http.Server;
	close(): Promise<void>;
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

	const cache = new ScanCache({collect: options.collect, restartHistory: options.restartHistory, minIntervalSeconds: options.minIntervalSeconds, log: options.log});
	const server = http.createServer((request, response) => {
		handle(cache, request, response, options.log);
	});

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
	return {
		url: formatUrl({host: bound.address, port: bound.port}),
		server,
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
			log?.(`serving /metrics failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
			send(response, 500, 'internal error\n');
		},
	);
}

function send(response: http.ServerResponse, status: number, body: string): void {
	response.statusCode = status;
	response.setHeader('Content-Type', 'text/plain; charset=utf-8');
	response.end(body);
}
