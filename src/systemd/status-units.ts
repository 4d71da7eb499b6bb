// The units of a status report: ask the manager which unit holds each scanned process,
// and mark the units whose processes need a restart. No bus is not an error: the report
// goes on without units and says so in a `systemd-unavailable` warning.
import type {Process, Unit, Warning} from '../model/document.js';
import type {BusChoice} from '../options.js';
import {checkBusAddress, clientOptions, noBusAt, resolveBusAddress} from './bus-address.js';
import type {UnitQueries} from './bulk-client.js';
import type {SystemdClient} from './client.js';
import {SystemdError} from './errors/systemd-error.js';
import {managerPidView} from './pid-view.js';
import {unitRestartInfo, type DescribeProcess} from './reasons.js';
import {addUnitFileChanges, unitConfig} from './unit-config.js';
import {collectUnits} from './units.js';

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

/** The read-only questions of a status, over the core's bulk connection where the address is a
 * Unix socket (see bulk-client.ts), else over dbus-next. */
export async function withUnitQueries<T>(bus: BusChoice, use: (client: UnitQueries) => Promise<T>): Promise<T> {
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
	if (bulk === null) {
		return withSystemd(bus, use);
	}

	try {
		return await use(bulk);
	} finally {
		bulk.close();
	}
}

export async function unitsForProcesses(
	processes: readonly (Process & {cgroupUnit?: string | null})[],
	bus: BusChoice,
	describe: DescribeProcess,
	procRoot = '/proc',
): Promise<{units: Unit[]; warnings: Warning[]; answered: boolean}> {
	try {
		return await withUnitQueries(bus, async client => {
			const pidView = await managerPidView(client);
			const collected = await collectUnits(
				client,
				processes.map(p => ({pid: p.pid, cgroupUnit: p.cgroupUnit ?? p.unit})),
				{pidView},
			);
			// Each unit's own processes, found by PID (not every process for every unit).
			const byPid = new Map(processes.map(p => [p.pid, p] as const));
			// Its unit files changed since its main process started: on its processes.
			const configWarnings = addUnitFileChanges(collected.units, byPid, procRoot, pidView.manager ?? null);
			const units = collected.units.map(u => {
				const own = u.pids.flatMap(pid => byPid.get(pid) ?? []);
				return {...u, ...unitRestartInfo(u, own, describe), ...unitConfig(u, own)};
			});
			return {units, warnings: [...collected.warnings, ...configWarnings], answered: true};
		});
	} catch (error) {
		const code = error instanceof SystemdError ? error.code : 'systemd-unavailable';
		const message = error instanceof Error ? error.message : String(error);
		return {units: [], warnings: [{code: code === 'systemd-unavailable' ? code : `systemd-${code}`, message, pid: null}], answered: false};
	}
}
