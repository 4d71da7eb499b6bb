// A service's ExecReload as the manager reports it: each command of its last reload, with when
// it ran and how it ended (D-Bus `a(sasbttttuii)` on org.freedesktop.systemd1.Service: path,
// argv, ignore_failure, start realtime µs, start monotonic µs, exit realtime µs, exit
// monotonic µs, pid, code, status; what `systemctl show -p ExecReload` prints as
// `{ path=… ; argv[]=… ; start_time=[…] ; stop_time=[…] ; pid=N ; code=exited ; status=0 }`).
// The manager keeps only the last run of each command, and resets them when the unit starts.
import {SystemdError} from './errors/systemd-error.js';
import {SERVICE_INTERFACE} from './introspection/unit.js';

/** One command of ExecReload and its last run. */
export interface ExecRun {
	path: string;
	/** When it was started and when it exited, µs since the epoch; 0 when it has not. */
	startUsec: bigint;
	exitUsec: bigint;
	pid: number;
	/** The si_code of its end (CLD_EXITED 1, CLD_KILLED 2, CLD_DUMPED 3; 0 while it runs). */
	code: number;
	status: number;
}

/** A unit's name and object path. */
export interface UnitAt {
	name: string;
	path: string;
}

/** si_code of a child that exited by itself (`code=exited`). */
const CLD_EXITED = 1;

/**
 * The commands of an ExecReload value as either D-Bus client gives it (a struct as an array; a
 * 64-bit integer as a bigint, a number or decimal text). Null when the value is not of that
 * shape: said as not known, never read as a reload.
 */
export function parseExecReload(value: unknown): ExecRun[] | null {
	if (!Array.isArray(value)) return null;
	const runs: ExecRun[] = [];
	for (const item of value) {
		if (!Array.isArray(item) || item.length !== 10) return null;
		const [path, , , startUsec, , exitUsec, , pid, code, status] = item as unknown[];
		const start = u64(startUsec);
		const exit = u64(exitUsec);
		if (typeof path !== 'string' || start === null || exit === null || !isInt(pid) || !isInt(code) || !isInt(status)) return null;
		runs.push({path, startUsec: start, exitUsec: exit, pid: Number(pid), code: Number(code), status: Number(status)});
	}

	return runs;
}

/**
 * When the unit's last reload began (its first command's start, µs since the epoch), when
 * that reload succeeded: every command ran (one after the other, each started at or after the
 * previous one exited: a later command left from an earlier reload does not count) and exited
 * by itself with status 0. Null otherwise: no command, none run since the unit started, one
 * still running, one that failed or was killed (a command whose failure the unit ignores,
 * `-`, included: the reload's success is not known).
 */
export function lastReloadUsec(runs: readonly ExecRun[]): bigint | null {
	if (runs.length === 0) return null;
	let previousExit = 0n;
	for (const r of runs) {
		if (r.startUsec === 0n || r.exitUsec < r.startUsec || r.startUsec < previousExit) return null;
		if (r.code !== CLD_EXITED || r.status !== 0) return null;
		previousExit = r.exitUsec;
	}

	return runs[0]!.startUsec;
}

/** The ExecReload value `value` (as a D-Bus client gives it) of unit `name`, parsed; a value
 * of another shape is an error, never read as a reload. */
export function execReloadOf(name: string, value: unknown): ExecRun[] | SystemdError {
	return parseExecReload(value) ?? new SystemdError('dbus-error', `Get ${SERVICE_INTERFACE}.ExecReload on ${name}: not the a(sasbttttuii) livetree reads`);
}

/**
 * The unit's last reload that ended: when it began (µs since the epoch) and whether it
 * succeeded (lastReloadUsec). Null when none has run since the unit started, or one is still
 * running.
 */
export function lastReload(runs: readonly ExecRun[]): {startUsec: bigint; succeeded: boolean} | null {
	const first = runs[0];
	if (first === undefined || first.startUsec === 0n) return null;
	if (runs.some(r => r.startUsec !== 0n && (r.exitUsec === 0n || r.code === 0))) return null;
	return {startUsec: first.startUsec, succeeded: lastReloadUsec(runs) !== null};
}

function u64(v: unknown): bigint | null {
	if (typeof v === 'bigint') return v >= 0n ? v : null;
	if (typeof v === 'number') return Number.isSafeInteger(v) && v >= 0 ? BigInt(v) : null;
	if (typeof v === 'string' && /^\d{1,20}$/.test(v)) return BigInt(v);
	return null;
}

function isInt(v: unknown): boolean {
	return typeof v === 'number' && Number.isSafeInteger(v);
}
