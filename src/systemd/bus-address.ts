// D-Bus server addresses (the D-Bus specification, "Server Addresses"): one or more
// `TRANSPORT:KEY=VALUE,…` separated by `;`. Checked before connecting, so that a mistyped
// --bus-address is a usage error naming it, not a failure deep inside the D-Bus library.
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
