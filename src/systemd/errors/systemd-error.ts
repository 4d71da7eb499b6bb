// The one error type the systemd layer throws. Callers branch on `code`, never on message text:
// the status command turns `systemd-unavailable` into a warning and keeps reporting processes.

export type SystemdErrorCode =
	| 'systemd-unavailable' // no bus socket, connection refused, or no systemd on the bus
	| 'access-denied' // the bus or the manager refused us (policy, polkit)
	| 'timeout' // no answer in time (our own timer, or the bus's NoReply)
	| 'no-such-unit' // the manager has no loaded unit of that name
	| 'no-unit-for-pid' // the manager knows no unit for that PID
	| 'job-refused' // the manager would not queue the job (masked unit, destructive transaction, ...)
	| 'dbus-error'; // anything else the bus or the manager answered

export class SystemdError extends Error {
	override readonly name = 'SystemdError';
	readonly code: SystemdErrorCode;
	/** The D-Bus error name or the socket error code that caused this, when there was one. */
	readonly dbusName: string | null;

	constructor(code: SystemdErrorCode, message: string, options: {dbusName?: string | null; cause?: unknown} = {}) {
		super(message, options.cause === undefined ? undefined : {cause: options.cause});
		this.code = code;
		this.dbusName = options.dbusName ?? null;
	}
}
