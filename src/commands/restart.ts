// `livetree restart`: restart units that run stale code, then prove it worked by scanning
// the new processes. Every attempt is recorded in the catalog before the job is queued.
import {existsSync} from 'node:fs';
import {collect, openScanner} from '../collect.js';
import {UsageError} from '../errors/usage-error.js';
import {exitCodes} from '../exit-codes.js';
import {native} from '../native.js';
import {catalogPath, readCommon, type CommonOptions} from '../options.js';
import {makeStyle} from '../render/style.js';
import {renderRestarts} from '../render/restarts.js';
import {staleFiles, type StaleFile} from '../systemd/reasons.js';
import {restartUnits, type RestartOutcome, type RestartRecorder, type RestartTarget} from '../systemd/restart.js';
import {withSystemd} from '../systemd/status-units.js';
import type {RestartFacts, SystemdClient} from '../systemd/client.js';
import {toSystemdError} from '../systemd/errors/to-systemd-error.js';
import {managerPidView, type PidView} from '../systemd/pid-view.js';
import {managerRefusal, skipForNeeded, type PastRestart, type PolicyContext, type Skip} from '../systemd/restart-policy.js';
import {nameFromPath} from '../systemd/units.js';
import {reloadNeededUnits} from './reload-needed.js';
import {renderReloads} from '../render/reloads.js';
import {loadRestartConfig} from '../restart-config.js';
import {commandHelp} from './help.js';
import {parseCommand} from './parse.js';
import {verifyProcesses} from './restart-verify.js';
import {suggestFor} from './rerun.js';
import {commandTable} from './table.js';

export async function restartCommand(argv: string[]): Promise<number> {
	const {values, positionals} = parseCommand('restart', commandTable.restart, argv);
	if (values.help) {
		process.stdout.write(commandHelp('restart'));
		return 0;
	}

	const options = readCommon(values);
	if (!options.bus) {
		throw new UsageError('restart needs systemd; drop --no-systemd');
	}

	const named = positionals.length > 0;
	const reloadNeeded = values['reload-needed'];
	if ((values.needed || reloadNeeded) === named) {
		throw new UsageError('give either --needed, --reload-needed or unit names');
	}

	const exclude = [...(values.exclude ?? []).map(pattern => ({pattern, source: '--exclude'})), ...(await loadRestartConfig(values['restart-config']))];
	// One scanner for the scan and every verification after it: verifying a unit scans only
	// its new PIDs, with what the first scan loaded (reloaded only if the sysroot changed).
	const scanner = openScanner(options);
	const doc = await collect(options, {}, scanner);
	if (doc.warnings.some(w => w.code === 'systemd-unavailable')) {
		throw new UsageError(`systemd is unavailable: ${doc.warnings.find(w => w.code === 'systemd-unavailable')!.message}`);
	}

	const names = values.needed ? doc.units.filter(u => u.needsRestart).map(u => u.name) : positionals.map(unitName);
	// A unit restarted applies its configuration too: it is not also reloaded.
	const toReload = reloadNeeded ? doc.units.filter(u => u.needsReload && !names.includes(u.name)) : [];
	const bus = options.bus;
	const [outcomes, reloads] = await withSystemd(bus, async client => {
		const pidView = await managerPidView(client);
		const context = await policyContext(client, options, bus.kind, exclude, pidView);
		const targets: Array<RestartTarget<StaleFile>> = [];
		const skipped = new Map<string, Skip>();
		for (const name of names) {
			const facts = await unitFacts(client, name, !values.needed).catch((error: unknown) => {
				// A unit found by the scan that is gone since has nothing left to restart.
				if (values.needed) {
					return null;
				}

				throw error;
			});
			if (!facts) {
				continue;
			}

			const skip = values.needed ? skipForNeeded(facts, context) : managerRefusal(facts, context);
			if (skip) {
				skipped.set(name, skip);
				continue;
			}

			const unit = doc.units.find(u => u.name === name);
			const pids = unit?.pids ?? [];
			targets.push({name, oldPids: pids, staleFiles: doc.processes.filter(p => pids.includes(p.pid)).flatMap(p => staleFiles(p))});
		}

		const done = await restartUnits(client, targets, {
			dryRun: values['dry-run'],
			verify: async (_unit, pids) => verifyProcesses(options, pids, scanner),
			recorder: recorder(catalogPath(options)),
			pidView,
		});
		// In the order asked: restarted and skipped together.
		const restarted = names.flatMap(name => {
			const outcome = done.find(o => o.unit === name);
			const skip = skipped.get(name);
			return outcome ? [outcome] : skip ? [skippedOutcome(name, skip, doc.units.find(u => u.name === name)?.pids ?? [], values['dry-run'])] : [];
		});
		const reloaded = await reloadNeededUnits(client, doc, toReload, context, {options, scanner, pidView, dryRun: values['dry-run']});
		return [restarted, reloaded] as const;
	});
	const style = makeStyle(options.color);
	// --needed restarts units; stale processes in no unit are said, with the command listing them.
	const outside = values.needed ? doc.processes.filter(p => p.needsRestart && !p.unit).length : 0;
	const everything = [...outcomes, ...reloads];
	if (options.json) {
		process.stdout.write(`${JSON.stringify(everything, null, 2)}\n`);
	} else {
		const restartText = values.needed || named ? renderRestarts(outcomes, style, {outside, listCommand: suggestFor(options)('status')}) : '';
		const reloadText = reloadNeeded ? renderReloads(reloads, style) : '';
		process.stdout.write(`${restartText}${reloadText}`);
	}

	if (values['dry-run']) {
		return 0;
	}

	// Not verified because a new process could not be read: unknown (3), unless something is
	// known to be wrong (1). A reload that took counts as done, verifiable or not.
	const reloadsDone = reloads.every(o => o.verdict === 'reloaded' || o.verdict === 'reloaded-unverifiable');
	if (reloadsDone && outcomes.every(o => o.verdict === 'verified')) {
		return exitCodes.clean;
	}

	return reloadsDone && outcomes.every(o => o.verdict === 'verified' || o.verdict === 'unverified') ? exitCodes.unknown : exitCodes.needed;
}

// `systemctl restart foo` means foo.service; so does livetree.
function unitName(name: string): string {
	return /\.(service|socket|target|device|mount|automount|swap|timer|path|slice|scope)$/.test(name) ? name : `${name}.service`;
}

// A unit named on the command line must exist: restarting nothing must not read as success.
async function unitFacts(client: SystemdClient, name: string, named: boolean): Promise<RestartFacts> {
	let path: string;
	try {
		path = named ? await client.loadUnit(name) : await client.getUnit(name);
	} catch (error) {
		const e = toSystemdError(error, name);
		throw new UsageError(`${name}: ${e.message}`);
	}

	const facts = await client.getRestartFacts(path);
	if (named && ['not-found', 'masked', 'bad-setting', 'error'].includes(facts.loadState)) {
		const why = facts.loadState === 'not-found' ? 'no such unit' : facts.loadState === 'masked' ? 'the unit is masked' : 'the unit file is broken';
		throw new UsageError(`${name}: ${why} (LoadState ${facts.loadState}) on ${client.busAddress}; nothing was restarted`);
	}

	return facts;
}

async function policyContext(
	client: SystemdClient,
	options: CommonOptions,
	busKind: string,
	exclude: PolicyContext['exclude'],
	view: PidView,
): Promise<PolicyContext> {
	// Only a system manager has sysinit.target; a user manager's answers call for logging out.
	const system =
		busKind === 'user'
			? false
			: await client.getUnit('sysinit.target').then(
					() => true,
					() => false,
				);
	const version = Number.parseInt(await client.managerVersion().catch(() => ''), 10);
	// The unit we run in, as that manager says: only if it can see us at all.
	const own = await view.toManager(process.pid);
	const selfUnit =
		own === null
			? null
			: await client.getUnitByPid(own).then(
					p => nameFromPath(p),
					() => null,
				);
	let history: PastRestart[] = [];
	const file = catalogPath(options);
	if (existsSync(file)) {
		try {
			history = native
				.catalogListRestarts(file)
				// Reloads start nothing: no start limit, no failed restart to not retry.
				.filter(r => !isReloadRecord(r))
				.map(r => ({unit: r.unit, startedAt: r.startedAt, finishedAt: r.finishedAt ?? null, verdict: r.verdict ?? null, state: r.state}));
		} catch {
			// An unreadable history only loses the start-limit and no-retry guards' memory.
		}
	}

	const suggest = suggestFor(options);
	return {
		system,
		managerVersion: Number.isFinite(version) ? version : null,
		selfUnit,
		exclude,
		history,
		now: Date.now() / 1000,
		restartCommand: (...args) => suggest('restart', ...args),
	};
}

function isReloadRecord(r: {verdict?: string | null; detailsJson?: string | null; staleFilesJson: string}): boolean {
	if (r.verdict === 'reloaded' || r.verdict === 'reloaded-unverifiable') return true;
	return (r.detailsJson ?? '').includes('"action":"reload"') || r.staleFilesJson.includes('"changedAt"');
}

function skippedOutcome(unit: string, skip: Skip, oldPids: number[], dryRun: boolean): RestartOutcome<StaleFile, number> {
	return {
		unit,
		dryRun,
		oldPids,
		jobResult: null,
		newPids: [],
		verdict: 'skipped',
		skip,
		recordId: null,
		details: {result: null, execMainStatus: null, activeState: null, subState: null, mainPid: null, nRestarts: null, stale: [], error: null},
	};
}

function recorder(path: string): RestartRecorder<StaleFile, number> {
	return {
		async begin(unit, oldPids, files) {
			return native.catalogBeginRestart(path, {unit, oldPids, staleFilesJson: JSON.stringify(files)});
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
