// `livetree restart --reload-needed`: which units are reloaded, which are left alone and why,
// and the verification scan of a reloaded unit's processes (told of the reload, so that a
// change made before it counts as applied).
import {scanOnly, type Scanner} from '../collect.js';
import {buildDocument} from '../model/build.js';
import type {ConfigChange, StatusDocument, Unit} from '../model/document.js';
import {native} from '../native.js';
import {catalogPath, type CommonOptions} from '../options.js';
import type {SystemdClient} from '../systemd/client.js';
import type {PidView} from '../systemd/pid-view.js';
import {reloadUnits, type ReloadOutcome, type ReloadProcess, type ReloadRecorder, type ReloadTarget} from '../systemd/reload.js';
import {globMatches, type PolicyContext, type Skip} from '../systemd/restart-policy.js';

/** A unit left alone, with why and what applies its changes instead. */
export interface ReloadSkipped {
	unit: string;
	action: 'reload';
	dryRun: boolean;
	oldPids: number[];
	verdict: 'skipped';
	skip: Skip;
}

export type ReloadResult = ReloadOutcome<number> | ReloadSkipped;

/** Why `--reload-needed` does not reload this unit, or null when it does. */
export function reloadSkip(unit: Unit, ctx: Pick<PolicyContext, 'exclude' | 'system' | 'restartCommand'>): Skip | null {
	const systemctl = `systemctl${ctx.system ? '' : ' --user'}`;
	const restart = ctx.restartCommand?.(unit.name) ?? `livetree restart ${unit.name}`;
	if (unit.applyConfigBy !== 'reload') {
		const unitFile = unit.canReload === true;
		return unitFile
			? {
					code: 'unit-file-changed',
					reason: 'its unit file changed since it started: a reload does not load a new unit definition',
					instead: `${systemctl} daemon-reload, then ${restart}`,
				}
			: {
					code: 'cannot-reload',
					reason: `it cannot be reloaded (no ExecReload${unit.canReload === null ? ', or the manager did not say' : ''})`,
					instead: `${restart} (a restart applies its configuration)`,
				};
	}
	const site = ctx.exclude.find(e => globMatches(e.pattern, unit.name));
	if (site) {
		return {code: 'site-policy', reason: `excluded by site policy (${site.pattern}, ${site.source})`, instead: `${systemctl} reload ${unit.name} by hand`};
	}
	return null;
}

function processesOf(doc: StatusDocument, unit: Unit): ReloadProcess[] {
	return doc.processes.filter(p => unit.pids.includes(p.pid)).map(p => ({pid: p.pid, startedAt: p.startedAt ?? null, configChanges: p.configChanges ?? []}));
}

export async function reloadNeededUnits(
	client: SystemdClient,
	doc: StatusDocument,
	units: readonly Unit[],
	context: Pick<PolicyContext, 'exclude' | 'system' | 'restartCommand'>,
	run: {options: CommonOptions; scanner: Scanner; pidView: PidView; dryRun: boolean},
): Promise<ReloadResult[]> {
	const targets: ReloadTarget[] = [];
	const skipped = new Map<string, Skip>();
	for (const u of units) {
		const skip = reloadSkip(u, context);
		if (skip) skipped.set(u.name, skip);
		else targets.push({name: u.name, mainPid: u.mainPid ?? null, processes: processesOf(doc, u)});
	}

	const done = await reloadUnits(client, targets, {
		dryRun: run.dryRun,
		verify: async (before, requestedAt, pids) => rescan(run.options, run.scanner, before, requestedAt, pids),
		recorder: recorder(catalogPath(run.options)),
		pidView: run.pidView,
	});
	return units.flatMap((u): ReloadResult[] => {
		const outcome = done.find(o => o.unit === u.name);
		if (outcome) return [outcome];
		const skip = skipped.get(u.name);
		return skip ? [{unit: u.name, action: 'reload', dryRun: run.dryRun, oldPids: u.pids, verdict: 'skipped', skip}] : [];
	});
}

/** The unit's processes now (its old ones and any new), scanned as told of the reload. */
async function rescan(options: CommonOptions, scanner: Scanner, before: ReloadProcess[], requestedAt: number, pids: number[]): Promise<ReloadProcess[]> {
	const all = [...new Set([...before.map(p => p.pid), ...pids])].sort((a, b) => a - b);
	const reloaded = before.flatMap(p => (p.startedAt === null ? [] : [{pid: p.pid, startedAt: p.startedAt, atMs: requestedAt}]));
	const scan = await scanOnly(options, {pids: all, reloaded}, scanner);
	const doc = buildDocument({scan, host: {hostname: '', kernelRelease: ''}});
	return doc.processes.map(p => ({pid: p.pid, startedAt: p.startedAt ?? null, configChanges: p.configChanges ?? []}));
}

function recorder(path: string): ReloadRecorder<number> {
	return {
		async begin(unit, oldPids, changes: ConfigChange[]) {
			return native.catalogBeginRestart(path, {unit, oldPids, staleFilesJson: JSON.stringify(changes)});
		},
		async finish(id, outcome) {
			native.catalogFinishRestart(path, id, {
				jobResult: outcome.jobResult ?? 'none',
				newPids: outcome.newPids,
				verdict: outcome.verdict,
				detailsJson: JSON.stringify(outcome.details),
			});
		},
	};
}
