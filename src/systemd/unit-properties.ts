// The unit properties livetree reads, and how their values become a UnitProperties: one
// definition for both D-Bus clients (dbus-next's for restarts, the core's bulk connection
// for status). Values arrive plain (a variant's content; 64-bit integers maybe as text).

/** The unit properties livetree uses; fields a unit type lacks are null. */
export interface UnitProperties {
	id: string;
	loadState: string;
	activeState: string;
	subState: string;
	/** Microseconds since the epoch; 0 when the unit never entered the active state. */
	activeEnterTimestampUsec: bigint;
	mainPid: number | null;
	result: string | null;
	nRestarts: number | null;
	execMainStatus: number | null;
	controlGroup: string | null;
	/** FragmentPath: the unit file the manager loaded; null for none (a transient unit). */
	fragmentPath: string | null;
	/** DropInPaths: the drop-ins it loaded with it. */
	dropInPaths: string[];
	/** NeedDaemonReload: the unit's files on disk differ from what the manager loaded. */
	needDaemonReload: boolean;
	/** CanReload: the unit can be reloaded (a service with ExecReload); null when not said. */
	canReload: boolean | null;
}

/** Of the Unit interface, what UnitProperties holds beyond the head: asked in one round with
 * ActiveEnterTimestamp (the unit's files and whether it can be reloaded ride along). */
export const UNIT_NAMES = ['ActiveEnterTimestamp', 'FragmentPath', 'DropInPaths', 'NeedDaemonReload', 'CanReload'];

/** Of each unit type, the interface and the properties of it that UnitProperties holds. */
export const TYPE_PROPERTIES: Record<string, {iface: string; names: string[]}> = {
	service: {iface: 'org.freedesktop.systemd1.Service', names: ['MainPID', 'ControlGroup', 'Result', 'NRestarts', 'ExecMainStatus']},
	scope: {iface: 'org.freedesktop.systemd1.Scope', names: ['ControlGroup', 'Result']},
	socket: {iface: 'org.freedesktop.systemd1.Socket', names: ['ControlGroup', 'Result']},
	mount: {iface: 'org.freedesktop.systemd1.Mount', names: ['ControlGroup', 'Result']},
	swap: {iface: 'org.freedesktop.systemd1.Swap', names: ['ControlGroup', 'Result']},
	slice: {iface: 'org.freedesktop.systemd1.Slice', names: ['ControlGroup']},
};

/** The type-specific properties of a unit id (`foo.service` → the Service interface's). */
export function typeProperties(id: string): {iface: string; names: string[]} | undefined {
	return TYPE_PROPERTIES[id.slice(id.lastIndexOf('.') + 1)];
}

export interface UnitHead {
	id: string;
	loadState: string;
	activeState: string;
	subState: string;
}

/** A UnitProperties from the unit's head (ListUnits or the Unit interface), its
 * ActiveEnterTimestamp, its type's properties and its other Unit properties (UNIT_NAMES), all
 * as plain values. */
export function unitProperties(
	head: UnitHead,
	activeEnter: unknown,
	typed: Readonly<Record<string, unknown>>,
	// Required, so that no caller leaves the unit's files and CanReload out by accident.
	unit: Readonly<Record<string, unknown>>,
): UnitProperties {
	const mainPid = num(typed.MainPID);
	const cg = str(typed.ControlGroup);
	return {
		id: head.id,
		loadState: head.loadState,
		activeState: head.activeState,
		subState: head.subState,
		activeEnterTimestampUsec: big(activeEnter),
		mainPid: mainPid === null || mainPid === 0 ? null : mainPid,
		result: str(typed.Result),
		nRestarts: num(typed.NRestarts),
		execMainStatus: num(typed.ExecMainStatus),
		controlGroup: cg === null || cg === '' ? null : cg,
		fragmentPath: str(unit.FragmentPath) || null,
		dropInPaths: Array.isArray(unit.DropInPaths) ? unit.DropInPaths.map(String) : [],
		needDaemonReload: unit.NeedDaemonReload === true,
		canReload: typeof unit.CanReload === 'boolean' ? unit.CanReload : null,
	};
}

/** A property this manager lacks (an older systemd) answers with one of these errors: the
 * property is left out, as if never asked, by both clients. */
export function isMissingProperty(dbusName: string | null): boolean {
	return dbusName === 'org.freedesktop.DBus.Error.UnknownProperty' || dbusName === 'org.freedesktop.DBus.Error.InvalidArgs';
}

export function str(v: unknown): string | null {
	return v === undefined || v === null ? null : String(v);
}

export function num(v: unknown): number | null {
	if (v === undefined || v === null) return null;
	const n = Number(v);
	return Number.isFinite(n) ? n : null;
}

export function big(v: unknown): bigint {
	if (v === undefined || v === null) return 0n;
	if (typeof v === 'bigint') return v;
	try {
		return BigInt(v as string | number);
	} catch {
		return 0n;
	}
}
