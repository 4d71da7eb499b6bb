// What a status asks systemd, over the core's bulk D-Bus connection (native/core/src/dbus):
// calls made in the same turn of the event loop go out together, and their replies come back
// in one answer, so a few hundred units' properties cost a few round trips and no D-Bus
// library in JavaScript. `livetree restart` (jobs, signals) keeps the dbus-next client.
import {native} from '../native.js';
import type {DbusCall, DbusPropertyGroup} from '../../native/binding.js';
import {SystemdError} from './errors/systemd-error.js';
import {toSystemdError} from './errors/to-systemd-error.js';
import {DBUS_NAME, DBUS_PATH, MANAGER_INTERFACE, MANAGER_PATH, SYSTEMD_BUS_NAME} from './introspection/manager.js';
import type {ListedUnit} from './client.js';
import {execReloadOf, type ExecRun, type UnitAt} from './exec-reload.js';
import {SERVICE_INTERFACE} from './introspection/unit.js';
import {isMissingProperty, str, typeProperties, UNIT_NAMES, unitProperties, type UnitHead, type UnitProperties} from './unit-properties.js';

const PROPERTIES_INTERFACE = 'org.freedesktop.DBus.Properties';
const UNIT_INTERFACE = 'org.freedesktop.systemd1.Unit';

/** The questions collectUnits and managerPidView ask; both clients answer them. */
export interface UnitQueries {
	readonly busAddress: string;
	/** How many questions may be asked at once (the bulk client takes them all). */
	readonly concurrency?: number;
	listUnits(): Promise<Map<string, ListedUnit>>;
	getUnitProperties(unitPath: string, listed?: ListedUnit): Promise<UnitProperties>;
	getUnitPropertiesByName(name: string): Promise<UnitProperties>;
	getUnitByPid(pid: number): Promise<string>;
	/** Many listed units' properties at once, each a UnitProperties or the error asking it
	 * gave (a client without it is asked unit by unit). */
	getUnitsProperties?(listed: readonly ListedUnit[]): Promise<Map<string, UnitProperties | SystemdError>>;
	/** Each service's ExecReload (its last reload's commands, exec-reload.ts), by unit name, or
	 * the error asking it gave; asked of these units only, all at once. */
	getExecReloads(units: readonly UnitAt[]): Promise<Map<string, ExecRun[] | SystemdError>>;
}

type Outcome = {ok: true; replies?: Reply[]} | {ok: false; kind: string; message: string};
type Reply = {ok: true; body: unknown[]} | {ok: false; name: string; message: string};
// getProperties' answer: one value per property asked (null where its Get failed), and the
// failed ones' [index, error name, message].
type PropertiesOutcome = {ok: true; values: unknown[]; errors: Array<[number, string, string]>} | {ok: false; kind: string; message: string};

interface Pending {
	call: DbusCall;
	what: string;
	resolve: (body: unknown[]) => void;
	reject: (error: unknown) => void;
}

// A call's error reply (its error name and message), or none at all, as the error the
// dbus-next client would give for it.
function replyError(failed: {name: string; message: string} | undefined, context: string): SystemdError {
	return toSystemdError(failed ? {type: failed.name, text: failed.message} : {type: 'org.freedesktop.DBus.Error.NoReply', text: 'no reply'}, context);
}

// A connection's failure as the error the dbus-next client would give for it.
function connectionError(o: {kind: string; message: string}, context: string): SystemdError {
	if (o.kind === 'AuthFailed') {
		return toSystemdError({type: 'org.freedesktop.DBus.Error.AuthFailed', text: o.message}, context);
	}

	if (o.kind === 'Protocol') {
		return new SystemdError('dbus-error', `${context}: ${o.message}`);
	}

	if (o.kind.startsWith('org.')) {
		return toSystemdError({type: o.kind, text: o.message}, context);
	}

	return toSystemdError({code: o.kind, message: o.message}, context);
}

export class BulkSystemdClient implements UnitQueries {
	readonly concurrency = Number.POSITIVE_INFINITY;
	/** How many calls this client has sent the manager (each Get of a bulk read one): what
	 * the manager answers, one call per turn of its event loop. */
	sent = 0;
	private queue: Pending[] = [];
	private scheduled = false;
	private closed = false;

	private constructor(
		readonly busAddress: string,
		private readonly conn: InstanceType<typeof native.DbusConnection>,
		// Who answers: systemd's bus name on a message bus; none on the manager's own socket.
		private readonly destination: string | undefined,
	) {}

	/**
	 * Connects to the manager's own socket (`systemd/private`, where `systemctl` talks to its
	 * manager without a bus in between) and checks that a systemd manager answers there. Null
	 * when that cannot be done (no socket, not ours to open, not a manager): the caller takes
	 * the bus instead.
	 */
	static async connectDirect(socketPath: string, timeoutMs = 10_000): Promise<BulkSystemdClient | null> {
		const conn = new native.DbusConnection();
		const address = `unix:path=${socketPath}`;
		const opened = JSON.parse((await conn.open(address, timeoutMs, false)) as string) as Outcome;
		if (!opened.ok) {
			return null;
		}

		const client = new BulkSystemdClient(address, conn, undefined);
		try {
			const [version] = await client.call('Get Manager.Version', {
				path: MANAGER_PATH,
				interface: PROPERTIES_INTERFACE,
				member: 'Get',
				signature: 'ss',
				args: [MANAGER_INTERFACE, 'Version'],
			});
			if (typeof version === 'string') {
				return client;
			}
		} catch {
			// Not a manager that answers: the bus is asked instead.
		}

		client.close();
		return null;
	}

	/**
	 * Connects to the bus at `address` and checks that a systemd manager answers there.
	 * Null when the address names no Unix socket (the dbus-next client takes those).
	 */
	static async connect(address: string, timeoutMs = 10_000): Promise<BulkSystemdClient | null> {
		const conn = new native.DbusConnection();
		const opened = JSON.parse((await conn.open(address, timeoutMs, true)) as string) as Outcome;
		if (!opened.ok) {
			if (opened.kind === 'Unsupported') {
				return null;
			}

			throw connectionError(opened, `connecting to systemd on ${address}`);
		}

		const client = new BulkSystemdClient(address, conn, SYSTEMD_BUS_NAME);
		try {
			const [owned] = await client.call('NameHasOwner', {
				destination: DBUS_NAME,
				path: DBUS_PATH,
				interface: DBUS_NAME,
				member: 'NameHasOwner',
				signature: 's',
				args: [SYSTEMD_BUS_NAME],
			});
			if (owned !== true) {
				throw new SystemdError('systemd-unavailable', `no systemd manager on ${address} (${SYSTEMD_BUS_NAME} has no owner)`);
			}
		} catch (error) {
			client.close();
			const e = toSystemdError(error, `connecting to systemd on ${address}`);
			// A bus without systemd on it is, for livetree, the same as no systemd at all.
			throw e.code === 'dbus-error' && e.dbusName === null ? new SystemdError('systemd-unavailable', e.message, {cause: error}) : e;
		}

		return client;
	}

	async listUnits(): Promise<Map<string, ListedUnit>> {
		const [rows] = await this.manager('ListUnits', 'ListUnits', '', []);
		const list = (rows ?? []) as Array<[string, string, string, string, string, string, string, number, string, string]>;
		return new Map(list.map(([id, , loadState, activeState, subState, , path]) => [id, {id, loadState, activeState, subState, path}]));
	}

	async getUnitByPid(pid: number): Promise<string> {
		const [path] = await this.manager(`GetUnitByPID ${pid}`, 'GetUnitByPID', 'u', [String(pid)]);
		return String(path);
	}

	async getUnitPropertiesByName(name: string): Promise<UnitProperties> {
		const [path] = await this.manager(`GetUnit ${name}`, 'GetUnit', 's', [name]);
		return this.getUnitProperties(String(path));
	}

	/** The unit's properties: every Get of it goes out in the same batch as the others'. */
	async getUnitProperties(unitPath: string, listed?: ListedUnit): Promise<UnitProperties> {
		// A listed unit's id, hence its type, is known: all its questions go in one batch.
		const known = listed ? typeProperties(listed.id) : undefined;
		if (listed && known) {
			const [activeEnter, typed] = await Promise.all([
				this.properties(unitPath, UNIT_INTERFACE, UNIT_NAMES),
				this.properties(unitPath, known.iface, known.names),
			]);
			return unitProperties(listed, activeEnter.ActiveEnterTimestamp, typed, activeEnter);
		}

		const [head, activeEnter] = await Promise.all([
			listed ??
				this.properties(unitPath, UNIT_INTERFACE, ['Id', 'LoadState', 'ActiveState', 'SubState']).then(
					(u): UnitHead => ({id: str(u.Id) ?? '', loadState: str(u.LoadState) ?? '', activeState: str(u.ActiveState) ?? '', subState: str(u.SubState) ?? ''}),
				),
			this.properties(unitPath, UNIT_INTERFACE, UNIT_NAMES),
		]);
		const type = typeProperties(head.id);
		const typed = type ? await this.properties(unitPath, type.iface, type.names) : {};
		return unitProperties(head, activeEnter.ActiveEnterTimestamp, typed, activeEnter);
	}

	/**
	 * Every listed unit's properties in one exchange with the manager: the same questions as
	 * getUnitProperties asks of each, asked compactly (each unit's path and kind; the core
	 * expands them into the Gets, native/core/src/dbus/properties.rs) and answered as one
	 * array of values, without an object per question or per reply.
	 */
	async getUnitsProperties(listed: readonly ListedUnit[]): Promise<Map<string, UnitProperties | SystemdError>> {
		const result = new Map<string, UnitProperties | SystemdError>();
		// One kind per unit type: the Unit interface's names, then the type's.
		const kinds: DbusPropertyGroup[][] = [];
		const kindOfType = new Map<string, number>();
		const asked: Array<{unit: ListedUnit; type: {iface: string; names: readonly string[]}}> = [];
		const paths: string[] = [];
		const kindOf: number[] = [];
		for (const unit of listed) {
			const type = typeProperties(unit.id);
			if (!type) {
				// Not a type whose properties we know: asked the long way.
				result.set(unit.id, await this.getUnitProperties(unit.path, unit).catch((error: unknown) => toSystemdError(error, `unit ${unit.id}`)));
				continue;
			}

			let kind = kindOfType.get(type.iface);
			if (kind === undefined) {
				kind = kinds.length;
				kinds.push([
					{interface: UNIT_INTERFACE, names: UNIT_NAMES},
					{interface: type.iface, names: type.names},
				]);
				kindOfType.set(type.iface, kind);
			}

			asked.push({unit, type});
			paths.push(unit.path);
			kindOf.push(kind);
		}

		if (asked.length === 0) return result;
		for (const k of kindOf) for (const g of kinds[k]!) this.sent += g.names.length;
		const outcome = await this.answered<PropertiesOutcome>('unit properties', async () => this.conn.getProperties({...this.to(), kinds, paths, kindOf}));
		const {values} = outcome;
		const failed = new Map<number, [string, string]>();
		for (const [i, name, message] of outcome.errors) failed.set(i, [name, message]);
		let at = 0;
		for (const {unit, type} of asked) {
			const own: Record<string, unknown> = {};
			const typed: Record<string, unknown> = {};
			let error: SystemdError | undefined;
			for (const [iface, names, into] of [
				[UNIT_INTERFACE, UNIT_NAMES, own],
				[type.iface, type.names, typed],
			] as const) {
				for (const name of names) {
					const i = at++;
					const bad = failed.get(i);
					if (bad === undefined && i < values.length) {
						into[name] = values[i];
					} else if (!error && !(bad && isMissingProperty(bad[0]))) {
						error = replyError(bad && {name: bad[0], message: bad[1]}, `Get ${iface}.${name} on ${unit.path}`);
					}
				}
			}

			result.set(unit.id, error ?? unitProperties(unit, own.ActiveEnterTimestamp, typed, own));
		}

		return result;
	}

	/** Each unit's ExecReload in one exchange with the manager (one Get per unit). */
	async getExecReloads(units: readonly UnitAt[]): Promise<Map<string, ExecRun[] | SystemdError>> {
		const result = new Map<string, ExecRun[] | SystemdError>();
		if (units.length === 0) return result;
		const replies = await this.exchange(
			units.map(u => this.getCall(u.path, SERVICE_INTERFACE, 'ExecReload')),
			'ExecReload',
		);
		for (const [i, u] of units.entries()) {
			const r = replies[i];
			result.set(u.name, r?.ok ? execReloadOf(u.name, r.body[0]) : replyError(r, `Get ${SERVICE_INTERFACE}.ExecReload on ${u.path}`));
		}

		return result;
	}

	close(): void {
		if (this.closed) return;
		this.closed = true;
		this.conn.close();
	}

	// Properties.Get of each name; one this manager lacks (an older systemd) is left out.
	private async properties(path: string, iface: string, names: readonly string[]): Promise<Record<string, unknown>> {
		const values = await Promise.all(
			names.map(async name => {
				try {
					const [value] = await this.call(`Get ${iface}.${name} on ${path}`, this.getCall(path, iface, name));
					return [name, value] as const;
				} catch (error) {
					if (error instanceof SystemdError && isMissingProperty(error.dbusName)) {
						return [name, undefined] as const;
					}

					throw error;
				}
			}),
		);
		return Object.fromEntries(values.filter(([, v]) => v !== undefined));
	}

	private async manager(what: string, member: string, signature: string, args: string[]): Promise<unknown[]> {
		return this.call(what, {...this.to(), path: MANAGER_PATH, interface: MANAGER_INTERFACE, member, signature, args});
	}

	private to(): {destination?: string} {
		return this.destination === undefined ? {} : {destination: this.destination};
	}

	private getCall(path: string, iface: string, name: string): DbusCall {
		return {...this.to(), path, interface: PROPERTIES_INTERFACE, member: 'Get', signature: 'ss', args: [iface, name]};
	}

	// One exchange of many calls (no batching by turn): their replies, in order; a failure of
	// the connection itself is thrown.
	private async exchange(calls: DbusCall[], what: string): Promise<Reply[]> {
		this.sent += calls.length;
		return (await this.answered<Outcome>(what, async () => this.conn.calls(calls))).replies ?? [];
	}

	// One exchange on the core's connection (`run` starts it): its answer, parsed; a closed
	// client or a failure of the connection itself is thrown.
	private async answered<T extends {ok: true} | {ok: false; kind: string; message: string}>(
		what: string,
		run: () => Promise<unknown>,
	): Promise<Extract<T, {ok: true}>> {
		if (this.closed) {
			throw new SystemdError('systemd-unavailable', `${what}: client closed`);
		}

		const outcome = JSON.parse((await run()) as string) as T;
		if (!outcome.ok) {
			throw connectionError(outcome as Extract<T, {ok: false}>, what);
		}

		return outcome as Extract<T, {ok: true}>;
	}

	private async call(what: string, call: DbusCall): Promise<unknown[]> {
		if (this.closed) {
			throw new SystemdError('systemd-unavailable', `${what}: client closed`);
		}

		return new Promise((resolve, reject) => {
			this.queue.push({call, what, resolve, reject});
			if (!this.scheduled) {
				this.scheduled = true;
				// After this turn's promise callbacks have queued their calls too.
				setImmediate(() => {
					void this.flush();
				});
			}
		});
	}

	private async flush(): Promise<void> {
		this.scheduled = false;
		const batch = this.queue;
		this.queue = [];
		this.sent += batch.length;
		let outcome: Outcome;
		try {
			outcome = JSON.parse((await this.conn.calls(batch.map(p => p.call))) as string) as Outcome;
		} catch (error) {
			for (const p of batch) p.reject(error);
			return;
		}

		if (!outcome.ok) {
			for (const p of batch) p.reject(connectionError(outcome, p.what));
			return;
		}

		for (const [i, p] of batch.entries()) {
			const r = outcome.replies?.[i];
			if (r?.ok) p.resolve(r.body);
			else p.reject(replyError(r, p.what));
		}
	}
}
