// A typed client for the systemd manager over D-Bus (dbus-next). Proxies are built from the
// introspection XML kept in ./introspection, so no call depends on run-time Introspect.
// Every call has a timeout: dbus-next has none of its own, and a silent bus must not hang a scan.
import {Message, sessionBus} from 'dbus-next';
import type {MessageBus, Variant} from 'dbus-next';
import {checkBusAddress, resolveBusAddress} from './bus-address.js';
import {execReloadOf, type ExecRun, type UnitAt} from './exec-reload.js';
import {SystemdError} from './errors/systemd-error.js';
import {toSystemdError} from './errors/to-systemd-error.js';
import {DBUS_NAME, DBUS_PATH, DBUS_XML, MANAGER_INTERFACE, MANAGER_PATH, MANAGER_XML, SYSTEMD_BUS_NAME} from './introspection/manager.js';
import {SCOPE_INTERFACE, SERVICE_INTERFACE, UNIT_INTERFACE} from './introspection/unit.js';
import {isMissingProperty, typeProperties, UNIT_NAMES, unitProperties, type UnitProperties} from './unit-properties.js';

const PROPERTIES_INTERFACE = 'org.freedesktop.DBus.Properties';

export interface SystemdClientOptions {
	/** Talk to the per-user manager on the session bus (DBUS_SESSION_BUS_ADDRESS) instead of the system bus. */
	user?: boolean;
	/** Any other bus address, e.g. `unix:path=/tmp/x/bus`; wins over `user`. */
	busAddress?: string;
	/** Timeout of each method call, in milliseconds (default 10 000). */
	timeoutMs?: number;
	/** Timeout of connecting and authenticating, in milliseconds (default 5 000). */
	connectTimeoutMs?: number;
	/** Environment used to find the bus address (default process.env). */
	env?: NodeJS.ProcessEnv;
}

export type {UnitProperties} from './unit-properties.js';

/** What the manager says about restarting a unit (see restart-policy.ts). */
export interface RestartFacts {
	id: string;
	/** Id and aliases (display-manager.service is an alias of gdm.service, …). */
	names: string[];
	loadState: string;
	activeState: string;
	result: string | null;
	canStart: boolean;
	canStop: boolean;
	refuseManualStart: boolean;
	refuseManualStop: boolean;
	startLimitIntervalUsec: bigint;
	startLimitBurst: number;
	activeEnterTimestampUsec: bigint;
}

/** The JobRemoved signal: `result` is done, canceled, timeout, failed, dependency, skipped (or newer values). */
export interface JobRemovedEvent {
	id: number;
	job: string;
	unit: string;
	result: string;
}

/** One loaded unit as the manager's ListUnits gives it. */
export interface ListedUnit {
	id: string;
	loadState: string;
	activeState: string;
	subState: string;
	/** Its object path. */
	path: string;
}

/** The manager methods of MANAGER_XML, as dbus-next's proxy exposes them. */
interface ManagerProxy {
	GetUnit(name: string): Promise<string>;
	ListUnits(): Promise<Array<[string, string, string, string, string, string, string, number, string, string]>>;
	LoadUnit(name: string): Promise<string>;
	GetUnitByPID(pid: number): Promise<string>;
	RestartUnit(name: string, mode: string): Promise<string>;
	ReloadUnit(name: string, mode: string): Promise<string>;
	Subscribe(): Promise<void>;
	on(signal: 'JobRemoved', listener: (id: number, job: string, unit: string, result: string) => void): unknown;
}

interface PropertiesProxy {
	Get(iface: string, name: string): Promise<Variant>;
	GetAll(iface: string): Promise<Record<string, Variant>>;
}

/** At most this many calls wait for their answer at once on one connection (a system bus
 * allows a connection 128 pending replies; dbus-daemon's max_replies_per_connection). */
const MAX_IN_FLIGHT = 64;

/** Interfaces that carry ControlGroup (and Result, except Slice) for each unit type. */
const TYPE_INTERFACE: Record<string, string> = {
	service: SERVICE_INTERFACE,
	scope: SCOPE_INTERFACE,
	socket: 'org.freedesktop.systemd1.Socket',
	mount: 'org.freedesktop.systemd1.Mount',
	swap: 'org.freedesktop.systemd1.Swap',
	slice: 'org.freedesktop.systemd1.Slice',
};

// Which bus address the options select: in bus-address.ts, which the status path reads
// before it decides to load the D-Bus library at all.
export {resolveBusAddress} from './bus-address.js';

/** Connects to the bus and checks that a systemd manager answers on it. Always `close()` the client. */
export async function connectSystemd(opts: SystemdClientOptions = {}): Promise<SystemdClient> {
	const address = resolveBusAddress(opts);
	// An address from the environment is checked here too: the D-Bus library fails on a
	// malformed one with a TypeError that says nothing about the address.
	const problem = checkBusAddress(address);
	if (problem) throw new SystemdError('systemd-unavailable', `bus address "${address}": ${problem}`);
	const bus = sessionBus({busAddress: address});
	const client = new SystemdClient(bus, address, opts.timeoutMs ?? 10_000);
	try {
		await client.waitConnected(opts.connectTimeoutMs ?? 5_000);
		if (!(await client.systemdOnBus())) {
			throw new SystemdError('systemd-unavailable', `no systemd manager on ${address} (${SYSTEMD_BUS_NAME} has no owner)`);
		}
		await client.managerVersion();
		return client;
	} catch (err) {
		client.close();
		const e = toSystemdError(err, `connecting to systemd on ${address}`);
		// A bus without systemd on it is, for livetree, the same as no systemd at all.
		if (e.code === 'dbus-error' && e.dbusName === null) {
			throw new SystemdError('systemd-unavailable', e.message, {cause: err});
		}
		throw e;
	}
}

export class SystemdClient {
	readonly busAddress: string;
	private readonly bus: MessageBus;
	private readonly timeoutMs: number;
	private manager: ManagerProxy | null = null;
	private managerProps: PropertiesProxy | null = null;
	private closed = false;
	private inFlight = 0;
	private readonly waiting: Array<() => void> = [];
	/** Rejects as soon as the connection breaks, so pending calls fail fast instead of timing out. */
	private readonly broken: Promise<never>;
	private breakWith: (err: unknown) => void = () => {};
	private readonly jobListeners = new Set<(ev: JobRemovedEvent) => void>();
	private jobSignalAttached = false;
	private subscribed = false;

	constructor(bus: MessageBus, busAddress: string, timeoutMs: number) {
		this.bus = bus;
		this.busAddress = busAddress;
		this.timeoutMs = timeoutMs;
		this.broken = new Promise<never>((_, reject) => {
			this.breakWith = reject;
		});
		this.broken.catch(() => {}); // observed through races only
		// dbus-next emits 'error' for socket failures; without a listener Node would throw.
		this.bus.on('error', (err: unknown) => this.breakWith(err));
	}

	/** Resolves once the Hello handshake is done. */
	waitConnected(timeoutMs: number): Promise<void> {
		const connected = new Promise<void>(resolve => {
			if ((this.bus as unknown as {name: string | null}).name) resolve();
			else this.bus.once('connect', () => resolve());
		});
		return this.race(connected, timeoutMs, `connecting to ${this.busAddress}`);
	}

	/** Whether org.freedesktop.systemd1 has an owner on this bus (asks the bus, never activates). */
	async systemdOnBus(): Promise<boolean> {
		const obj = await this.bus.getProxyObject(DBUS_NAME, DBUS_PATH, DBUS_XML);
		const dbus = obj.getInterface(DBUS_NAME) as unknown as {NameHasOwner(name: string): Promise<boolean>};
		return Boolean(await this.call('NameHasOwner', () => dbus.NameHasOwner(SYSTEMD_BUS_NAME)));
	}

	async managerVersion(): Promise<string> {
		const props = await this.managerProperties();
		const v = (await this.call('Get Version', () => props.Get(MANAGER_INTERFACE, 'Version'))) as Variant;
		return String(v.value);
	}

	/** Object path of a loaded unit (Manager.GetUnit; never loads a unit). */
	async getUnit(name: string): Promise<string> {
		const m = await this.managerInterface();
		return (await this.call(`GetUnit ${name}`, () => m.GetUnit(name))) as string;
	}

	/** Object path of the unit whose cgroup holds `pid`. */
	async getUnitByPid(pid: number): Promise<string> {
		const m = await this.managerInterface();
		return (await this.call(`GetUnitByPID ${pid}`, () => m.GetUnitByPID(pid))) as string;
	}

	/** Queues a restart job and returns its object path (match it against JobRemoved.job). */
	async restartUnit(name: string, mode = 'replace'): Promise<string> {
		const m = await this.managerInterface();
		return (await this.call(`RestartUnit ${name}`, () => m.RestartUnit(name, mode))) as string;
	}

	/** Queues a reload job (ExecReload) and returns its object path, as restartUnit. */
	async reloadUnit(name: string, mode = 'replace'): Promise<string> {
		const m = await this.managerInterface();
		return (await this.call(`ReloadUnit ${name}`, () => m.ReloadUnit(name, mode))) as string;
	}

	/** Asks the manager to emit job and unit signals to this client (once: a second Subscribe
	 * is an error, AlreadySubscribed, to the manager). */
	async subscribe(): Promise<void> {
		if (this.subscribed) return;
		const m = await this.managerInterface();
		await this.call('Subscribe', () => m.Subscribe());
		this.subscribed = true;
	}

	/**
	 * Calls `listener` for every JobRemoved signal until the returned function is called.
	 * The match rule is sent before any later call on this connection, so listening and then
	 * calling `subscribe()` and `restartUnit()` cannot miss the job's signal.
	 */
	async onJobRemoved(listener: (ev: JobRemovedEvent) => void): Promise<() => void> {
		const m = await this.managerInterface();
		if (!this.jobSignalAttached) {
			this.jobSignalAttached = true;
			m.on('JobRemoved', (id: number, job: string, unit: string, result: string) => {
				const ev = {id: Number(id), job, unit, result};
				for (const l of [...this.jobListeners]) l(ev);
			});
		}
		this.jobListeners.add(listener);
		return () => {
			this.jobListeners.delete(listener);
		};
	}

	/** Every loaded unit, by its id, as ListUnits gives them (one call for all). */
	async listUnits(): Promise<Map<string, ListedUnit>> {
		const m = await this.managerInterface();
		const rows = (await this.call('ListUnits', () => m.ListUnits())) as Awaited<ReturnType<ManagerProxy['ListUnits']>>;
		return new Map(rows.map(([id, , loadState, activeState, subState, , path]) => [id, {id, loadState, activeState, subState, path}]));
	}

	/**
	 * Reads the unit's properties from its object path (from getUnit / getUnitByPid, or
	 * `listed` from listUnits, which already holds its id and states). Each property is one
	 * Properties.Get, all of them in flight together: GetAll would carry some 200 properties
	 * of a service, and with hundreds of units reading those was most of a status.
	 */
	async getUnitProperties(unitPath: string, listed?: ListedUnit): Promise<UnitProperties> {
		const [head, activeEnter] = await Promise.all([
			listed ??
				this.getProperties(unitPath, UNIT_INTERFACE, ['Id', 'LoadState', 'ActiveState', 'SubState']).then(u => ({
					id: str(u.Id) ?? '',
					loadState: str(u.LoadState) ?? '',
					activeState: str(u.ActiveState) ?? '',
					subState: str(u.SubState) ?? '',
				})),
			this.getProperties(unitPath, UNIT_INTERFACE, UNIT_NAMES),
		]);
		const type = typeProperties(head.id);
		const typed = type ? await this.getProperties(unitPath, type.iface, type.names) : {};
		const plain = (r: Record<string, Variant>) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v.value]));
		return unitProperties(head, activeEnter.ActiveEnterTimestamp?.value, plain(typed), plain(activeEnter));
	}

	/** Each unit's ExecReload (its last reload's commands, exec-reload.ts), all in flight
	 * together; by unit name, or the error asking it gave. */
	async getExecReloads(units: readonly UnitAt[]): Promise<Map<string, ExecRun[] | SystemdError>> {
		const got = await Promise.all(
			units.map(async u => {
				try {
					const value = (await this.getProperties(u.path, SERVICE_INTERFACE, ['ExecReload'])).ExecReload;
					return [
						u.name,
						value === undefined
							? new SystemdError('dbus-error', `Get ${SERVICE_INTERFACE}.ExecReload on ${u.path}: no such property`)
							: execReloadOf(u.name, value.value),
					] as const;
				} catch (error) {
					return [u.name, toSystemdError(error, `Get ${SERVICE_INTERFACE}.ExecReload on ${u.path}`)] as const;
				}
			}),
		);
		return new Map(got);
	}

	/** Object path of a unit, loading its definition when it is not loaded (starts nothing). */
	async loadUnit(name: string): Promise<string> {
		const m = await this.managerInterface();
		return (await this.call(`LoadUnit ${name}`, () => m.LoadUnit(name))) as string;
	}

	/** The properties that decide whether a restart is allowed and safe. */
	async getRestartFacts(unitPath: string): Promise<RestartFacts> {
		const unit = await this.getAll(unitPath, UNIT_INTERFACE);
		const id = str(unit.Id) ?? '';
		const typeInterface = TYPE_INTERFACE[id.slice(id.lastIndexOf('.') + 1)];
		const typed = typeInterface ? await this.getAll(unitPath, typeInterface) : {};
		const names = Array.isArray(unit.Names?.value) ? (unit.Names.value as unknown[]).map(String) : [id];
		return {
			id,
			names,
			loadState: str(unit.LoadState) ?? '',
			activeState: str(unit.ActiveState) ?? '',
			result: str(typed.Result),
			canStart: unit.CanStart?.value !== false,
			canStop: unit.CanStop?.value !== false,
			refuseManualStart: unit.RefuseManualStart?.value === true,
			refuseManualStop: unit.RefuseManualStop?.value === true,
			startLimitIntervalUsec: big(unit.StartLimitIntervalUSec),
			startLimitBurst: num(unit.StartLimitBurst) ?? 0,
			activeEnterTimestampUsec: big(unit.ActiveEnterTimestamp),
		};
	}

	/** getUnit + getUnitProperties. */
	async getUnitPropertiesByName(name: string): Promise<UnitProperties> {
		return this.getUnitProperties(await this.getUnit(name));
	}

	/** Closes the connection; dbus-next keeps the event loop alive until this is called. */
	close(): void {
		if (this.closed) return;
		this.closed = true;
		this.jobListeners.clear();
		this.breakWith(new SystemdError('systemd-unavailable', 'client closed'));
		try {
			this.bus.disconnect();
		} catch {
			// A connection that never opened has nothing to close.
		}
	}

	// Properties.Get of each of `names`, together; a property this manager does not have (an
	// older systemd) is left out, as GetAll would leave it out.
	private async getProperties(path: string, iface: string, names: readonly string[]): Promise<Record<string, Variant>> {
		const values = await Promise.all(
			names.map(async name => {
				const message = new Message({
					destination: SYSTEMD_BUS_NAME,
					path,
					interface: PROPERTIES_INTERFACE,
					member: 'Get',
					signature: 'ss',
					body: [iface, name],
				});
				try {
					const reply = await this.call(`Get ${iface}.${name} on ${path}`, async () => this.bus.call(message));
					return [name, (reply as Message | null)?.body[0] as Variant | undefined] as const;
				} catch (error) {
					if (error instanceof SystemdError && isMissingProperty(error.dbusName)) {
						return [name, undefined] as const;
					}

					throw error;
				}
			}),
		);
		return Object.fromEntries(values.filter((entry): entry is readonly [string, Variant] => entry[1] !== undefined));
	}

	// Properties.GetAll of one interface of a unit, as a plain method call: a proxy object per
	// unit would parse the introspection XML again for each of hundreds of units.
	private async getAll(path: string, iface: string): Promise<Record<string, Variant>> {
		const message = new Message({destination: SYSTEMD_BUS_NAME, path, interface: PROPERTIES_INTERFACE, member: 'GetAll', signature: 's', body: [iface]});
		const reply = await this.call(`GetAll ${iface} on ${path}`, async () => this.bus.call(message));
		return ((reply as Message | null)?.body[0] ?? {}) as Record<string, Variant>;
	}

	private async managerInterface(): Promise<ManagerProxy> {
		if (!this.manager) await this.loadManager();
		return this.manager as ManagerProxy;
	}

	private async managerProperties(): Promise<PropertiesProxy> {
		if (!this.managerProps) await this.loadManager();
		return this.managerProps as PropertiesProxy;
	}

	private async loadManager(): Promise<void> {
		const obj = await this.bus.getProxyObject(SYSTEMD_BUS_NAME, MANAGER_PATH, MANAGER_XML);
		this.manager = obj.getInterface(MANAGER_INTERFACE) as unknown as ManagerProxy;
		this.managerProps = obj.getInterface(PROPERTIES_INTERFACE) as unknown as PropertiesProxy;
	}

	private async call(what: string, fn: () => Promise<unknown>): Promise<unknown> {
		if (this.closed) throw new SystemdError('systemd-unavailable', `${what}: client closed`);
		// A slot among MAX_IN_FLIGHT, handed on from a call that ends to the next one waiting;
		// the timeout runs from when the call is sent.
		if (this.inFlight < MAX_IN_FLIGHT) this.inFlight++;
		else await new Promise<void>(resolve => this.waiting.push(resolve));
		try {
			return await this.race(fn(), this.timeoutMs, what);
		} finally {
			const next = this.waiting.shift();
			if (next) next();
			else this.inFlight--;
		}
	}

	private async race<T>(p: Promise<T>, timeoutMs: number, what: string): Promise<T> {
		let timer: NodeJS.Timeout | undefined;
		const timeout = new Promise<never>((_, reject) => {
			timer = setTimeout(() => reject(new SystemdError('timeout', `${what}: no answer within ${timeoutMs} ms`)), timeoutMs);
		});
		try {
			return await Promise.race([p, timeout, this.broken]);
		} catch (err) {
			throw toSystemdError(err, what);
		} finally {
			clearTimeout(timer);
		}
	}
}

function str(v: Variant | undefined): string | null {
	return v === undefined || v.value === undefined || v.value === null ? null : String(v.value);
}

function num(v: Variant | undefined): number | null {
	if (v === undefined || v.value === undefined || v.value === null) return null;
	const n = Number(v.value);
	return Number.isFinite(n) ? n : null;
}

function big(v: Variant | undefined): bigint {
	if (v === undefined || v.value === undefined || v.value === null) return 0n;
	return typeof v.value === 'bigint' ? v.value : BigInt(v.value as number);
}
