// D-Bus server addresses (the D-Bus specification, "Server Addresses"): one or more
// `TRANSPORT:KEY=VALUE,…` separated by `;`. Checked before connecting, so that a mistyped
// --bus-address is a usage error naming it, not a failure deep inside the D-Bus library;
// and looked at before the D-Bus library is loaded at all, so that a host with no bus
// (no socket at the address) costs a stat, not loading dbus-next and a failed connect.
// Nothing here loads dbus-next.
import {stat} from 'node:fs/promises';
import type {BusChoice} from '../options.js';
import {SystemdError} from './errors/systemd-error.js';

const DEFAULT_SYSTEM_BUS = 'unix:path=/run/dbus/system_bus_socket';

/** What selects a bus: the user's session bus, an address, or (neither) the system bus. */
export interface BusSelection {
	/** The per-user manager on the session bus (DBUS_SESSION_BUS_ADDRESS, else XDG_RUNTIME_DIR/bus). */
	user?: boolean;
	/** Any other bus address; wins over `user`. */
	busAddress?: string;
	/** Environment used to find the bus address (default process.env). */
	env?: NodeJS.ProcessEnv;
}

/** The bus a command's options chose, as the client takes it. */
export function clientOptions(bus: BusChoice): BusSelection {
	switch (bus.kind) {
		case 'user': {
			return {user: true};
		}

		case 'address': {
			return {busAddress: bus.address};
		}

		default: {
			return {};
		}
	}
}

/** Why the chosen bus is surely not there (see noBusAt), or null when it may be. */
export async function busMissing(bus: BusChoice): Promise<string | null> {
	// The manager's own socket is asked first, bus or no bus.
	if ((await managerSocket(bus)) !== null) return null;
	try {
		return await noBusAt(resolveBusAddress(clientOptions(bus)));
	} catch (error) {
		if (error instanceof SystemdError) {
			return error.message;
		}

		throw error;
	}
}

/**
 * The manager's own socket for the chosen bus, where `systemctl` talks to its manager without
 * a bus in between (systemd's bus_connect_system_systemd and bus_connect_user_systemd):
 * `/run/systemd/private` for the system manager, to root, when the system bus is the default
 * one; `$XDG_RUNTIME_DIR/systemd/private` for `--user`. Null when there is none to try: an
 * explicit address (or DBUS_SYSTEM_BUS_ADDRESS naming another bus) is asked as given, and a
 * path with no socket is not tried.
 */
export async function managerSocket(bus: BusChoice, env: NodeJS.ProcessEnv = process.env): Promise<string | null> {
	let path: string | null = null;
	if (bus.kind === 'user') {
		path = env.XDG_RUNTIME_DIR ? `${env.XDG_RUNTIME_DIR}/systemd/private` : null;
	} else if (bus.kind !== 'address' && (!env.DBUS_SYSTEM_BUS_ADDRESS || env.DBUS_SYSTEM_BUS_ADDRESS === DEFAULT_SYSTEM_BUS)) {
		path = process.geteuid?.() === 0 ? '/run/systemd/private' : null;
	}

	if (path === null) return null;
	const info = await stat(path).catch(() => null);
	return info?.isSocket() ? path : null;
}

/** Which bus address the options select, following the D-Bus specification's defaults. */
export function resolveBusAddress(opts: BusSelection = {}): string {
	const env = opts.env ?? process.env;
	if (opts.busAddress) return opts.busAddress;
	if (opts.user) {
		if (env.DBUS_SESSION_BUS_ADDRESS) return env.DBUS_SESSION_BUS_ADDRESS;
		if (env.XDG_RUNTIME_DIR) return `unix:path=${env.XDG_RUNTIME_DIR}/bus`;
		throw new SystemdError('systemd-unavailable', 'no session bus: neither DBUS_SESSION_BUS_ADDRESS nor XDG_RUNTIME_DIR is set');
	}
	return env.DBUS_SYSTEM_BUS_ADDRESS || DEFAULT_SYSTEM_BUS;
}

/**
 * Why nothing can be listening at `address`, or null when something may be: every entry of
 * the address is a `unix:path=` whose path is no socket (missing, or another kind of file).
 * Other transports (abstract sockets, tcp, …) and paths we may not look at are left to the
 * connection to find out.
 */
export async function noBusAt(address: string): Promise<string | null> {
	const entries = address.split(';').filter(e => e !== '');
	const reasons: string[] = [];
	for (const entry of entries) {
		const path = /^unix:(?:.*,)?path=([^,]*)/.exec(entry)?.[1];
		if (path === undefined) {
			return null;
		}

		// The specification escapes bytes as %XX in values.
		const file = decodeURIComponent(path);
		const info = await stat(file).catch((error: NodeJS.ErrnoException) => error);
		if (info instanceof Error) {
			if (info.code !== 'ENOENT' && info.code !== 'ENOTDIR') {
				return null;
			}

			reasons.push(`no socket at ${file} (${info.code})`);
		} else if (info.isSocket()) {
			return null;
		} else {
			reasons.push(`${file} is not a socket`);
		}
	}

	return reasons.length > 0 ? `connecting to ${address}: ${reasons.join('; ')}` : null;
}
const transports = new Set(['unix', 'tcp', 'nonce-tcp', 'unixexec', 'launchd', 'systemd', 'autolaunch']);

/** Why `address` is not a D-Bus address, or null when it is one. */
export function checkBusAddress(address: string): string | null {
	if (address.trim() === '') {
		return 'empty';
	}

	for (const entry of address.split(';').filter(e => e !== '')) {
		const colon = entry.indexOf(':');
		if (colon <= 0) {
			return 'not a D-Bus address (expected TRANSPORT:KEY=VALUE,…, e.g. unix:path=/run/dbus/system_bus_socket)';
		}

		const transport = entry.slice(0, colon);
		if (!transports.has(transport)) {
			return `unknown D-Bus transport "${transport}" (expected unix:, tcp:, …)`;
		}

		const pairs = entry
			.slice(colon + 1)
			.split(',')
			.filter(p => p !== '');
		if (pairs.some(p => !/^[A-Za-z][\w-]*=./.test(p))) {
			return `malformed "${entry}" (expected KEY=VALUE pairs after "${transport}:")`;
		}

		if (transport === 'unix' && !pairs.some(p => /^(path|abstract|dir|tmpdir|runtime)=/.test(p))) {
			return `"${entry}" names no socket (unix: needs path= or abstract=)`;
		}
	}

	return null;
}
