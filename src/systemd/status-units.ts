// The units of a status report: ask the manager which unit holds each scanned process,
// and mark the units whose processes need a restart. No bus is not an error: the report
// goes on without units and says so in a `systemd-unavailable` warning.
import {debugLine} from '../debug-line.js';
import type {Unit, Warning} from '../model/document.js';
import type {ScannedProcesses} from '../model/unit-table.js';
import type {BusChoice} from '../options.js';
import {checkBusAddress, clientOptions, managerSocket, noBusAt, resolveBusAddress} from './bus-address.js';
import type {UnitQueries} from './bulk-client.js';
import type {ListedUnit, SystemdClient} from './client.js';
import {SystemdError} from './errors/systemd-error.js';
import {seeOutsideReloads, type Rejudge} from './outside-reloads.js';
import {managerPidView, type PidView} from './pid-view.js';
import {unitRestartInfo, type DescribeProcess} from './reasons.js';
import {addUnitFileChanges, unitConfig, unitFileChanges, type UnitFileChanges} from './unit-config.js';
import {collectUnitGroups, type Prefetched} from './units.js';
import type {UnitProperties} from './unit-properties.js';

export async function withSystemd<T>(bus: BusChoice, use: (client: SystemdClient) => Promise<T>): Promise<T> {
	const options = clientOptions(bus);
	// No socket at the address: no bus, said without loading the D-Bus library (most of
	// what the attempt cost a host without systemd, on every scan).
	const none = await noBusAt(resolveBusAddress(options));
	if (none) {
		throw new SystemdError('systemd-unavailable', none);
	}

	const {connectSystemd} = await import('./client.js');
	const client = await connectSystemd(options);
	try {
		return await use(client);
	} finally {
		client.close();
	}
}

/** The read-only questions of a status, opened: over the manager's own socket where
 * systemctl would use it, else over the core's bulk connection where the address is a Unix
 * socket (see bulk-client.ts), else over dbus-next. */
export async function openUnitQueries(bus: BusChoice): Promise<{client: UnitQueries; close: () => void}> {
	// The manager's own socket first: no bus in between.
	const socket = await managerSocket(bus);
	if (socket !== null) {
		const {BulkSystemdClient} = await import('./bulk-client.js');
		const direct = await BulkSystemdClient.connectDirect(socket);
		if (direct !== null) {
			return {client: direct, close: () => direct.close()};
		}
	}

	const options = clientOptions(bus);
	const address = resolveBusAddress(options);
	const none = await noBusAt(address);
	if (none) {
		throw new SystemdError('systemd-unavailable', none);
	}

	const problem = checkBusAddress(address);
	if (problem) {
		throw new SystemdError('systemd-unavailable', `bus address "${address}": ${problem}`);
	}

	const {BulkSystemdClient} = await import('./bulk-client.js');
	const bulk = await BulkSystemdClient.connect(address);
	if (bulk !== null) {
		return {client: bulk, close: () => bulk.close()};
	}

	const {connectSystemd} = await import('./client.js');
	const client = await connectSystemd(options);
	return {client, close: () => client.close()};
}

/**
 * What a status can ask systemd before its scan has answered, asked while the scan runs: the
 * connection, the manager's unit list, how it numbers our processes, and the properties of
 * every unit likely to hold processes (services and scopes that are not inactive). The units
 * the scan then names are asked about after it, if these were not all of them.
 */
export interface UnitsAhead {
	client: UnitQueries;
	close: () => void;
	pidView: PidView;
	prefetched: Prefetched;
	/** The unit-file check of the prefetched units that have a main process. */
	unitFiles?: UnitFileChanges;
}

/** `unitFiles`: whether to check the unit files of the prefetched units too (while the
 * scan runs, each main process's start read from its `stat`); false when the scan gives
 * the starts (a unit table), so the check runs after it without reading them again. */
export async function askAhead(bus: BusChoice, procRoot = '/proc', unitFiles = true): Promise<UnitsAhead> {
	const {client, close} = await openUnitQueries(bus);
	try {
		const answered = new Map<string, UnitProperties | Error>();
		let listed: Map<string, ListedUnit>;
		let pidView: PidView;
		if (client.getUnitsProperties) {
			listed = await client.listUnits();
			const likely = [...listed.values()].filter(u => /\.(service|scope)$/.test(u.id) && u.activeState !== 'inactive' && u.activeState !== 'failed');
			for (const [name, got] of await client.getUnitsProperties(likely)) answered.set(name, got);
			// The manager's PID namespace from init.scope's ControlGroup, asked with the other
			// scopes' (an active init.scope): not asked again (GetUnit and 11 Gets per status).
			const init = answered.get('init.scope');
			pidView = await managerPidView(client, init === undefined || init instanceof Error ? {} : {init});
		} else {
			[pidView, listed] = await Promise.all([managerPidView(client), client.listUnits()]);
		}

		if (!unitFiles) return {client, close, pidView, prefetched: {listed, answered}};
		// Their unit files, measured from their main processes' start: in our PID namespace,
		// the manager's MainPID is ours.
		const withMain = [...answered.values()].flatMap(p =>
			p instanceof Error || p.mainPid === null
				? []
				: [{name: p.id, mainPid: p.mainPid, pids: [], fragmentPath: p.fragmentPath, dropInPaths: p.dropInPaths, needDaemonReload: p.needDaemonReload}],
		);
		const early = pidView.sameNamespace ? unitFileChanges(withMain, procRoot, pidView.manager ?? null) : undefined;
		return {client, close, pidView, prefetched: {listed, answered}, ...(early ? {unitFiles: early} : {})};
	} catch (error) {
		close();
		throw error;
	}
}

/** askAhead's answer, or why it failed; never rejects (the scan runs meanwhile). */
export async function startAhead(bus: BusChoice, procRoot = '/proc', unitFiles = true): Promise<UnitsAhead | {error: unknown}> {
	return askAhead(bus, procRoot, unitFiles).catch((error: unknown) => ({error}));
}

export async function unitsForProcesses(
	// The scanned processes: parsed (model/unit-table.ts scannedProcesses) or the core's table.
	processes: ScannedProcesses,
	// The bus to ask, or what startAhead asked of it while the scan ran.
	bus: BusChoice | Promise<UnitsAhead | {error: unknown}>,
	describe: DescribeProcess,
	procRoot = '/proc',
	// Judges processes again knowing reloads made outside livetree (outside-reloads.ts);
	// without it, those reloads are not looked for.
	rejudge?: Rejudge,
): Promise<{units: Unit[]; warnings: Warning[]; answered: boolean}> {
	let ahead: UnitsAhead | undefined;
	try {
		const started = await (bus instanceof Promise ? bus : askAhead(bus, procRoot));
		if ('error' in started) throw started.error;
		ahead = started;
		const {client, pidView, prefetched, unitFiles} = started;
		const collected = await collectUnitGroups(client, processes.groups(), {pidView, prefetched});
		// Each unit's own processes, found by PID (not every process for every unit).
		const byPid = processes;
		// Reloads made outside livetree, before the unit files' changes (which no reload
		// applies) are added. Asked only of a manager in our PID namespace, as the unit files.
		const seen = rejudge && pidView.sameNamespace ? await seeOutsideReloads(client, collected.units, byPid, rejudge, debugLine()) : undefined;
		// Its unit files changed since its main process started: on its processes.
		const configWarnings = addUnitFileChanges(collected.units, byPid, procRoot, pidView.manager ?? null, unitFiles);
		const units = collected.units.map(u => {
			// Read after every change above, and changing nothing.
			const own = byPid.read(u.pids);
			const {needsRestart, reasons} = unitRestartInfo(u, own, describe);
			const {needsReload, applyConfigBy} = unitConfig(u, own);
			const last = seen?.lastReloads.get(u.name);
			return {...u, needsRestart, reasons, needsReload, applyConfigBy, ...(last === undefined ? {} : {lastReload: last})};
		});
		return {units, warnings: [...collected.warnings, ...(seen?.warnings ?? []), ...configWarnings], answered: true};
	} catch (error) {
		const code = error instanceof SystemdError ? error.code : 'systemd-unavailable';
		const message = error instanceof Error ? error.message : String(error);
		return {units: [], warnings: [{code: code === 'systemd-unavailable' ? code : `systemd-${code}`, message, pid: null}], answered: false};
	} finally {
		ahead?.close();
	}
}
