// Reloads units whose configuration changed since their processes started (`restart
// --reload-needed`), one at a time, and checks each: the job must finish `done`, the unit must
// stay up, its main process must be the same one (same PID, same start: a reload that
// restarted it is no reload), and a fresh scan of its processes, told of the reload, must
// find none of its configuration changes left. A change only the process's open files can
// show (a file under /etc it held, replaced since) that clears is the proof the daemon read
// its configuration again; where none was held, nothing observable changes and the reload is
// "reloaded, unverifiable". Recorded in the restart history as restarts are.
import type {ConfigChange} from '../model/document.js';
import type {SystemdClient} from './client.js';
import {toSystemdError} from './errors/to-systemd-error.js';
import type {PidView} from './pid-view.js';
import {emptyDetails, detailsOf, isDown, JobWaiter, settle, unitPids, type RestartDetails} from './restart.js';

export type ReloadVerdict = 'reloaded' | 'reloaded-unverifiable' | 'still-stale' | 'failed';

/** A process of the unit before the reload, as the scan saw it. */
export interface ReloadProcess {
	pid: number;
	startedAt: string | null;
	configChanges: ConfigChange[];
}

export interface ReloadTarget {
	name: string;
	mainPid: number | null;
	processes: ReloadProcess[];
}

/** What `verify` gives: the unit's processes after the reload, scanned as told of it. */
export type Rescan = (processes: ReloadProcess[], requestedAt: number, pids: number[]) => Promise<ReloadProcess[]>;

export interface ReloadDetails extends RestartDetails<ConfigChange> {
	action: 'reload';
	/** When the reload was asked, ms since the epoch: a change before it is what it applied. */
	requestedAt: number;
	/** The processes reloaded (their start tells them from a later process with the PID). */
	processes: Array<{pid: number; startedAt: string}>;
}

export interface ReloadOutcome<Id = unknown> {
	unit: string;
	action: 'reload';
	dryRun: boolean;
	oldPids: number[];
	jobResult: string | null;
	newPids: number[];
	verdict: ReloadVerdict | 'would-reload';
	details: ReloadDetails;
	recordId: Id | null;
}

/** The restart history's recorder, for reloads: `begin` before the job is queued. */
export interface ReloadRecorder<Id> {
	begin(unit: string, oldPids: number[], changes: ConfigChange[]): Promise<Id>;
	finish(id: Id, outcome: {jobResult: string | null; newPids: number[]; verdict: ReloadVerdict; details: ReloadDetails}): Promise<void>;
}

export interface ReloadOptions<Id> {
	dryRun?: boolean;
	verify: Rescan;
	recorder?: ReloadRecorder<Id>;
	jobTimeoutMs?: number;
	settleMs?: number;
	cgroupFsRoot?: string;
	pidView?: PidView;
}

export async function reloadUnits<Id>(client: SystemdClient, units: readonly ReloadTarget[], opts: ReloadOptions<Id>): Promise<ReloadOutcome<Id>[]> {
	if (opts.dryRun) {
		return units.map(u => ({...start(u, 0), dryRun: true, verdict: 'would-reload' as const}));
	}

	if (units.length === 0) return [];
	const jobs = new JobWaiter();
	const stopListening = await client.onJobRemoved(ev => jobs.removed(ev));
	try {
		await client.subscribe();
		const out: ReloadOutcome<Id>[] = [];
		for (const u of units) out.push(await reloadOne(client, u, opts, jobs));
		return out;
	} finally {
		stopListening();
	}
}

function start<Id>(u: ReloadTarget, requestedAt: number): Omit<ReloadOutcome<Id>, 'verdict' | 'dryRun'> {
	const processes = u.processes.flatMap(p => (p.startedAt === null ? [] : [{pid: p.pid, startedAt: p.startedAt}]));
	return {
		unit: u.name,
		action: 'reload',
		oldPids: u.processes.map(p => p.pid),
		jobResult: null,
		newPids: [],
		details: {...emptyDetails<ConfigChange>(), action: 'reload', requestedAt, processes},
		recordId: null,
	};
}

async function reloadOne<Id>(client: SystemdClient, u: ReloadTarget, opts: ReloadOptions<Id>, jobs: JobWaiter): Promise<ReloadOutcome<Id>> {
	const before = u.processes.flatMap(p => p.configChanges);
	const recordId = opts.recorder
		? await opts.recorder.begin(
				u.name,
				u.processes.map(p => p.pid),
				before,
			)
		: null;
	const requestedAt = Date.now();
	const base = {...start<Id>(u, requestedAt), recordId};
	let result: {jobResult: string | null; newPids: number[]; verdict: ReloadVerdict; details: RestartDetails<ConfigChange>};
	try {
		result = await attempt(client, u, opts, jobs, requestedAt);
	} catch (err) {
		const e = toSystemdError(err, `reloading ${u.name}`);
		result = {jobResult: null, newPids: [], verdict: 'failed', details: {...emptyDetails<ConfigChange>(), error: {code: e.code, message: e.message}}};
	}
	const details: ReloadDetails = {...result.details, action: 'reload', requestedAt, processes: base.details.processes};
	if (opts.recorder) {
		await opts.recorder.finish(recordId as Id, {jobResult: result.jobResult, newPids: result.newPids, verdict: result.verdict, details});
	}
	return {...base, dryRun: false, jobResult: result.jobResult, newPids: result.newPids, verdict: result.verdict, details};
}

async function attempt<Id>(client: SystemdClient, u: ReloadTarget, opts: ReloadOptions<Id>, jobs: JobWaiter, requestedAt: number) {
	const job = await client.reloadUnit(u.name);
	const jobResult = await jobs.wait(job, opts.jobTimeoutMs ?? 120_000);
	if (jobResult === null) {
		const message = `no JobRemoved for ${job} within ${opts.jobTimeoutMs ?? 120_000} ms`;
		return {jobResult, newPids: [], verdict: 'failed' as const, details: {...emptyDetails<ConfigChange>(), error: {code: 'timeout', message}}};
	}

	const {props, restarts} = await settle(client, u.name, opts.settleMs ?? 1_000);
	const newPids = await unitPids(props, opts.cgroupFsRoot, opts.pidView);
	const details = detailsOf<ConfigChange>(props, []);
	if (jobResult !== 'done' || isDown(props) || restarts > 0) {
		if (restarts > 0) details.error = {code: 'crashed', message: `${u.name} was restarted ${restarts} time(s) by systemd within the settle period`};
		return {jobResult, newPids, verdict: 'failed' as const, details};
	}

	const after = await opts.verify(u.processes, requestedAt, newPids);
	// The same main process, started when it was: a reload, not a restart.
	const main = u.processes.find(p => p.pid === u.mainPid);
	const mainAfter = after.find(p => p.pid === u.mainPid);
	if (main && (!mainAfter || mainAfter.startedAt !== main.startedAt)) {
		details.error = {code: 'restarted', message: `the main process ${main.pid} (started ${main.startedAt ?? '?'}) is gone: the reload did not keep it`};
		return {jobResult, newPids, verdict: 'failed' as const, details};
	}

	const left = after.flatMap(p => p.configChanges.filter(c => c.source !== 'unit-file'));
	if (left.length > 0) {
		details.stale = left;
		return {jobResult, newPids, verdict: 'still-stale' as const, details};
	}

	// Only a held file that had been replaced, and is the new one now, shows the daemon read
	// its configuration again (a change in place, or of a file it does not hold, clears
	// because the reload was asked after it, whatever the daemon did).
	const observable = u.processes.some(p => p.configChanges.some(c => c.source === 'open-file' && c.replaced === true));
	return {jobResult, newPids, verdict: observable ? ('reloaded' as const) : ('reloaded-unverifiable' as const), details};
}
