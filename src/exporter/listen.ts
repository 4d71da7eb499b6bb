// The exporter's --listen address: HOST:PORT, [IPV6]:PORT, or :PORT (loopback).
import net from 'node:net';
import {UsageError} from '../errors/usage-error.js';

export interface ListenAddress {
	host: string;
	port: number;
}

export function parseListen(text: string): ListenAddress {
	const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(text);
	const port = Number(match?.[3]);
	if (!match || !Number.isInteger(port) || port > 65535) {
		throw new UsageError(`--listen must be HOST:PORT or [IPV6]:PORT, not "${text}"`);
	}

	const host = match[1] ?? match[2] ?? '';
	if (match[1] !== undefined && net.isIPv6(host) === false) {
		throw new UsageError(`--listen: "${host}" in brackets is not an IPv6 address`);
	}

	// An empty host would make node listen on every interface; the safe reading is loopback.
	return {host: host === '' ? '127.0.0.1' : host, port};
}

// Only literal loopback addresses and the name "localhost" count: any other name
// could resolve to a public interface, and deciding that needs DNS we do not trust.
export function isLoopback(host: string): boolean {
	if (host === 'localhost') {
		return true;
	}

	if (net.isIPv4(host)) {
		return host.startsWith('127.');
	}

	if (net.isIPv6(host)) {
		const lower = host.toLowerCase();
		return lower === '::1' || lower === '0:0:0:0:0:0:0:1' || /^::ffff:127\./.test(lower);
	}

	return false;
}

export function formatUrl(address: ListenAddress): string {
	const host = net.isIPv6(address.host) ? `[${address.host}]` : address.host;
	return `http://${host}:${address.port}`;
}
