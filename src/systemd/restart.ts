// Restarts units one at a time and verifies each: the job must finish `done`, the unit must stay
// up for a short settle period, and a fresh scan of its new processes (the caller's `verify`)
// must find nothing stale. Every attempt is recorded: `begin` is awaited before the job is
// queued, so a crash mid-restart still leaves a trace; `finish` carries the verdict.
import {readCgroupPids} from './cgroup.js';
import type {JobRemovedEvent, SystemdClient, UnitProperties} from './client.js';
import {toSystemdError} from './errors/to-systemd-error.js';
import {samePidView, type PidView} from './pid-view.js';
import type {Skip} from './restart-policy.js';
import type {StaleFile} from './reasons.js';

/** JobRemoved results systemd documents; newer systemd may add others. */
export type JobResult = 'done' | 'canceled' | 'timeout' | 'failed' | 'dependency' | 'skipped' | (string & {});
// unverified: the job is done and the unit stayed up, but some new process could not be read
// (permission, a composefs image not proven): nothing shows what it runs, so it is not verified.
export type RestartVerdict = 'verified' | 'still-stale' | 'unverified' | 'failed';

export interface RestartTarget<S = StaleFile> {
	name: string;
	oldPids: number[];
	staleFiles: S[];
}

export interface VerifyResult<S = StaleFile> {
	/** No new process that could be read maps stale code. */
	allCurrent: boolean;
	stale: S[];
	/** New processes whose code is unknown (unreadable, or what they run is unproven). */
	unknown: number[];
}

export interface RestartDetails<S = StaleFile> {
	/** The unit's Result property after the job (success, exit-code, signal, ...). */
	result: string | null;
	execMainStatus: number | null;
	activeState: string | null;
	subState: string | null;
	mainPid: number | null;
	nRestarts: number | null;
	/** What `verify` still found stale (empty unless the verdict is still-stale). */
	stale: S[];
	/** New processes `verify` could not tell about (the verdict is then never `verified`). */
	unknown?: number[];
	/** Why the attempt failed before a job result or a unit state could say so. */
	error: {code: string; message: string} | null;
}

export interface RestartFinish<S = StaleFile> {
	/** The JobRemoved result, or null when no job result arrived (refused, timed out waiting). */
	jobResult: JobResult | null;
	newPids: number[];
	verdict: RestartVerdict;
	details: RestartDetails<S>;
}

export interface RestartRecorder<S = StaleFile, Id = unknown> {
	begin(unit: string, oldPids: number[], staleFiles: S[]): Promise<Id>;
	finish(id: Id, outcome: RestartFinish<S>): Promise<void>;
}

export interface RestartOptions<S = StaleFile, Id = unknown> {
	/** Report what would be restarted; queue no job, call no recorder. */
	dryRun?: boolean;
	/** Re-scans the unit's new processes. Not called in a dry run or after a failed restart. */
	verify: (unit: string, newPids: number[]) => Promise<VerifyResult<S>>;
	recorder?: RestartRecorder<S, Id>;
	/** How long to wait for JobRemoved (default 120 000 ms). */
	jobTimeoutMs?: number;
	/**
	 * How long a unit must stay up after its job is done (default 1 000 ms): a Type=simple service
	 * whose new process exits at once still gets a `done` job, and only its state tells.
	 */
	settleMs?: number;
	/** Job mode for RestartUnit (default "replace"). */
	mode?: string;
	cgroupFsRoot?: string;
	/** How the manager numbers our processes (its MainPID may be in another PID namespace). */
	pidView?: PidView;
}

export interface RestartOutcome<S = StaleFile, Id = unknown> {
	unit: string;
	dryRun: boolean;
	oldPids: number[];
	/** null in a dry run, or when no job result arrived. */
	jobResult: JobResult | null;
	newPids: number[];
	/** `would-restart` only in a dry run; `skipped`: left out, `skip` says why (restart-policy.ts). */
	verdict: RestartVerdict | 'would-restart' | 'skipped';
	skip?: Skip;
	details: RestartDetails<S>;
	recordId: Id | null;
}

const POLL_MS = 100;

export async function restartUnits<S = StaleFile, Id = unknown>(
	client: SystemdClient,
	units: readonly RestartTarget<S>[],
	opts: RestartOptions<S, Id>,
): Promise<RestartOutcome<S, Id>[]> {
	if (opts.dryRun) return Promise.all(units.map(u => dryRunOne<S, Id>(client, u)));

	const jobs = new JobWaiter();
	const stopListening = await client.onJobRemoved(ev => jobs.removed(ev));
	try {
		await client.subscribe();
		const outcomes: RestartOutcome<S, Id>[] = [];
		for (const u of units) outcomes.push(await restartOne(client, u, opts, jobs));
		return outcomes;
	} finally {
		stopListening();
	}
}

async function dryRunOne<S, Id>(client: SystemdClient, u: RestartTarget<S>): Promise<RestartOutcome<S, Id>> {
	let details: RestartDetails<S>;
	try {
		details = detailsOf(await client.getUnitPropertiesByName(u.name), []);
	} catch (err) {
		const e = toSystemdError(err, `reading ${u.name}`);
		details = {...emptyDetails<S>(), error: {code: e.code, message: e.message}};
	}
	return {unit: u.name, dryRun: true, oldPids: u.oldPids, jobResult: null, newPids: [], verdict: 'would-restart', details, recordId: null};
}

async function restartOne<S, Id>(client: SystemdClient, u: RestartTarget<S>, opts: RestartOptions<S, Id>, jobs: JobWaiter): Promise<RestartOutcome<S, Id>> {
	const recordId = opts.recorder ? await opts.recorder.begin(u.name, u.oldPids, u.staleFiles) : null;
	let finish: RestartFinish<S>;
	try {
		finish = await attempt(client, u, opts, jobs);
	} catch (err) {
		const e = toSystemdError(err, `restarting ${u.name}`);
		finish = {jobResult: null, newPids: [], verdict: 'failed', details: {...emptyDetails<S>(), error: {code: e.code, message: e.message}}};
	}
	if (opts.recorder) await opts.recorder.finish(recordId as Id, finish);
	return {unit: u.name, dryRun: false, oldPids: u.oldPids, recordId, ...finish};
}

async function attempt<S, Id>(client: SystemdClient, u: RestartTarget<S>, opts: RestartOptions<S, Id>, jobs: JobWaiter): Promise<RestartFinish<S>> {
	const job = await client.restartUnit(u.name, opts.mode ?? 'replace');
	const jobResult = await jobs.wait(job, opts.jobTimeoutMs ?? 120_000);
	if (jobResult === null) {
		const props = await client.getUnitPropertiesByName(u.name).catch(() => null);
		const details = props ? detailsOf<S>(props, []) : emptyDetails<S>();
		const message = `no JobRemoved for ${job} within ${opts.jobTimeoutMs ?? 120_000} ms`;
		return {jobResult: null, newPids: [], verdict: 'failed', details: {...details, error: {code: 'timeout', message}}};
	}

	const {props, restarts} = await settle(client, u.name, opts.settleMs ?? 1_000);
	let newPids = await unitPids(props, opts.cgroupFsRoot, opts.pidView);
	if (jobResult !== 'done' || isDown(props) || restarts > 0) {
		const details = detailsOf<S>(props, []);
		if (restarts > 0) {
			details.error = {code: 'crashed', message: `${u.name} was restarted ${restarts} time(s) by systemd within the settle period`};
		}
		return {jobResult, newPids, verdict: 'failed', details};
	}
	let check = await opts.verify(u.name, newPids);
	if (!check.allCurrent) {
		// A process caught while it starts (a container runtime's `runc init` between mount
		// namespace and exec) can map what its old root had: a second look, after another
		// settle period, at the unit's processes then decides. What stays stale is stale.
		await new Promise(r => setTimeout(r, opts.settleMs ?? 1_000));
		const again = await client.getUnitPropertiesByName(u.name);
		newPids = await unitPids(again, opts.cgroupFsRoot, opts.pidView);
		check = await opts.verify(u.name, newPids);
	}

	const verdict: RestartVerdict = !check.allCurrent ? 'still-stale' : check.unknown.length > 0 ? 'unverified' : 'verified';
	const details = detailsOf(props, check.allCurrent ? [] : check.stale);
	if (check.unknown.length > 0) {
		details.unknown = check.unknown;
	}

	return {jobResult, newPids, verdict, details};
}

interface Settled {
	props: UnitProperties;
	/** How often Restart= restarted the unit while we watched: each one is a crash. */
	restarts: number;
}

/** Watches the unit for `settleMs`; returns early with the first state that shows it went down. */
export async function settle(client: SystemdClient, name: string, settleMs: number): Promise<Settled> {
	const first = await client.getUnitPropertiesByName(name);
	let props = first;
	const until = Date.now() + settleMs;
	while (!isDown(props) && Date.now() < until) {
		await new Promise(r => setTimeout(r, POLL_MS));
		props = await client.getUnitPropertiesByName(name);
		const restarts = (props.nRestarts ?? 0) - (first.nRestarts ?? 0);
		if (restarts > 0) return {props, restarts};
	}
	return {props, restarts: 0};
}

export function isDown(p: UnitProperties): boolean {
	return p.activeState === 'failed' || p.subState === 'auto-restart' || (p.result !== null && p.result !== 'success');
}

/** The unit's processes now: its control group (with MainPID), or MainPID alone without cgroup access. */
export async function unitPids(props: UnitProperties, cgroupFsRoot?: string, view: PidView = samePidView): Promise<number[]> {
	const pids = new Set<number>();
	const fromCgroup = props.controlGroup === null ? null : await readCgroupPids(props.controlGroup, cgroupFsRoot);
	for (const pid of fromCgroup ?? []) pids.add(pid);
	const main = props.mainPid === null || view.sameNamespace ? props.mainPid : await view.fromManager(props.mainPid, fromCgroup ?? []);
	if (main !== null) pids.add(main);
	return [...pids].sort((a, b) => a - b);
}

export function detailsOf<S>(p: UnitProperties, stale: S[]): RestartDetails<S> {
	return {
		result: p.result,
		execMainStatus: p.execMainStatus,
		activeState: p.activeState,
		subState: p.subState,
		mainPid: p.mainPid,
		nRestarts: p.nRestarts,
		stale,
		error: null,
	};
}

export function emptyDetails<S>(): RestartDetails<S> {
	return {result: null, execMainStatus: null, activeState: null, subState: null, mainPid: null, nRestarts: null, stale: [], error: null};
}

/**
 * Collects JobRemoved results by job path. The signal can arrive before RestartUnit's reply
 * (the job may finish at once), so results are kept until someone asks for them.
 */
export class JobWaiter {
	private readonly results = new Map<string, string>();
	private readonly waiters = new Map<string, (result: string) => void>();

	removed(ev: JobRemovedEvent): void {
		const w = this.waiters.get(ev.job);
		if (w) w(ev.result);
		else this.results.set(ev.job, ev.result);
	}

	wait(job: string, timeoutMs: number): Promise<string | null> {
		const done = this.results.get(job);
		if (done !== undefined) {
			this.results.delete(job);
			return Promise.resolve(done);
		}
		return new Promise(resolve => {
			const timer = setTimeout(() => {
				this.waiters.delete(job);
				resolve(null);
			}, timeoutMs);
			this.waiters.set(job, result => {
				clearTimeout(timer);
				this.waiters.delete(job);
				resolve(result);
			});
		});
	}
}
