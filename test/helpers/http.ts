// Plain node:http requests for exporter tests (one fresh connection each, so
// concurrent requests really are concurrent at the server).
import http from 'node:http';
import net from 'node:net';

export interface Reply {
	status: number;
	headers: http.IncomingHttpHeaders;
	body: string;
}

const agent = new http.Agent({keepAlive: false, maxSockets: Number.POSITIVE_INFINITY});

export async function request(url: string, method = 'GET', headers: http.OutgoingHttpHeaders = {}): Promise<Reply> {
	return new Promise((resolve, reject) => {
		const req = http.request(url, {method, agent, headers}, response => {
			readReply(response, resolve);
		});
		req.on('error', reject);
		req.end();
	});
}

// The whole of a response (HTTP or HTTPS), given to `done` at its end.
export function readReply(response: http.IncomingMessage, done: (reply: Reply) => void): void {
	let body = '';
	response.setEncoding('utf8');
	response.on('data', (chunk: string) => {
		body += chunk;
	});
	response.on('end', () => {
		done({status: response.statusCode ?? 0, headers: response.headers, body});
	});
}

export async function freePort(): Promise<number> {
	return new Promise((resolve, reject) => {
		const server = net.createServer();
		server.on('error', reject);
		server.listen(0, '127.0.0.1', () => {
			const {port} = server.address() as net.AddressInfo;
			server.close(() => {
				resolve(port);
			});
		});
	});
}

// Resolves with the connection error code, or 'connected'.
export async function tryConnect(host: string, port: number): Promise<string> {
	return new Promise(resolve => {
		const socket = net.connect({host, port, timeout: 2000});
		socket.on('connect', () => {
			socket.destroy();
			resolve('connected');
		});
		socket.on('timeout', () => {
			socket.destroy();
			resolve('ETIMEDOUT');
		});
		socket.on('error', (error: NodeJS.ErrnoException) => {
			resolve(error.code ?? 'error');
		});
	});
}
