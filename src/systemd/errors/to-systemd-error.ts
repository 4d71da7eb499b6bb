// Maps what dbus-next throws (DBusError replies, socket errors) to a SystemdError with a code.
import {SystemdError} from './systemd-error.js';
import type {SystemdErrorCode} from './systemd-error.js';

const BY_DBUS_NAME: Record<string, SystemdErrorCode> = {
	'org.freedesktop.DBus.Error.ServiceUnknown': 'systemd-unavailable',
	'org.freedesktop.DBus.Error.NameHasNoOwner': 'systemd-unavailable',
	'org.freedesktop.DBus.Error.Disconnected': 'systemd-unavailable',
	'org.freedesktop.DBus.Error.FileNotFound': 'systemd-unavailable',
	'org.freedesktop.DBus.Error.NoServer': 'systemd-unavailable',
	'org.freedesktop.DBus.Error.AccessDenied': 'access-denied',
	'org.freedesktop.DBus.Error.AuthFailed': 'access-denied',
	'org.freedesktop.DBus.Error.InteractiveAuthorizationRequired': 'access-denied',
	'org.freedesktop.DBus.Error.NoReply': 'timeout',
	'org.freedesktop.DBus.Error.Timeout': 'timeout',
	'org.freedesktop.DBus.Error.TimedOut': 'timeout',
	'org.freedesktop.systemd1.NoSuchUnit': 'no-such-unit',
	'org.freedesktop.systemd1.LoadFailed': 'no-such-unit',
	'org.freedesktop.systemd1.NoUnitForPID': 'no-unit-for-pid',
	'org.freedesktop.systemd1.UnitMasked': 'job-refused',
	'org.freedesktop.systemd1.JobTypeNotApplicable': 'job-refused',
	'org.freedesktop.systemd1.OnlyByDependency': 'job-refused',
	'org.freedesktop.systemd1.TransactionIsDestructive': 'job-refused',
	'org.freedesktop.systemd1.TransactionJobsConflicting': 'job-refused',
	'org.freedesktop.systemd1.TransactionOrderIsCyclic': 'job-refused',
	'org.freedesktop.systemd1.UnitInactive': 'job-refused',
	'org.freedesktop.systemd1.ShuttingDown': 'job-refused',
};

// Socket errors from connecting to the bus address. EACCES on the socket is a permission problem,
// the rest mean there is no bus to talk to.
const BY_ERRNO: Record<string, SystemdErrorCode> = {
	ENOENT: 'systemd-unavailable',
	ECONNREFUSED: 'systemd-unavailable',
	ECONNRESET: 'systemd-unavailable',
	ENOTDIR: 'systemd-unavailable',
	EPIPE: 'systemd-unavailable',
	ENOTSOCK: 'systemd-unavailable',
	EACCES: 'access-denied',
	EPERM: 'access-denied',
	ETIMEDOUT: 'timeout',
};

export function toSystemdError(err: unknown, context: string): SystemdError {
	if (err instanceof SystemdError) return err;
	const e = err as {type?: unknown; text?: unknown; code?: unknown; message?: unknown} | null;
	if (e && typeof e.type === 'string') {
		// Spawn.* comes from a bus that tried to activate a missing service: there is none.
		const code = BY_DBUS_NAME[e.type] ?? (e.type.startsWith('org.freedesktop.DBus.Error.Spawn.') ? 'systemd-unavailable' : 'dbus-error');
		const text = typeof e.text === 'string' && e.text !== '' ? e.text : e.type;
		return new SystemdError(code, `${context}: ${text} (${e.type})`, {dbusName: e.type, cause: err});
	}
	if (e && typeof e.code === 'string') {
		const code = BY_ERRNO[e.code] ?? 'systemd-unavailable';
		return new SystemdError(code, `${context}: ${String(e.message ?? e.code)}`, {dbusName: e.code, cause: err});
	}
	const message = err instanceof Error ? err.message : String(err);
	return new SystemdError('dbus-error', `${context}: ${message}`, {cause: err});
}
