// `livetree restart`: restart units that run stale code, then prove it worked by scanning
// the new processes. Every attempt is recorded in the catalog before the job is queued.
import {parseArgs} from 'node:util';
import {collect, scanOnly} from '../collect.js';
import {UsageError} from '../errors/usage-error.js';
import {buildDocument} from '../model/build.js';
import {native} from '../native.js';
import {catalogPath, commonOptions, readCommon, type CommonOptions} from '../options.js';
import {makeStyle} from '../render/style.js';
import {renderRestarts} from '../render/restarts.js';
import {staleFiles, type StaleFile} from '../systemd/reasons.js';
import {restartUnits, type RestartRecorder, type RestartTarget, type VerifyResult} from '../systemd/restart.js';
import {withSystemd} from '../systemd/status-units.js';

export const restartHelp = `Usage: livetree restart (--needed | UNIT...) [options]

Restart units through systemd, wait for each job, then scan the unit's new processes:
  verified     new processes, all running current code
  still-stale  restarted, but something in the unit still maps stale code
  failed       the job or the unit failed (its Result and ExecMainStatus are shown)
Every attempt is recorded in the catalog (see livetree history).

Options:
  --needed               restart every unit that needs a restart
  --dry-run              say what would be restarted; change nothing
  --user, --bus-address ADDR, --sysroot, --state-dir, --json, --color (as for status)

Exit codes: 0 every requested restart is verified (or a dry run), 1 one is not, 2 error.
`;

export async function restartCommand(argv: string[]): Promise<number> {
	const {values, positionals} = parseArgs({
		args: argv,
		options: {...commonOptions, needed: {type: 'boolean', default: false}, 'dry-run': {type: 'boolean', default: false}},
		allowPositionals: true,
		strict: true,
	});
	if (values.help) {
		process.stdout.write(restartHelp);
		return 0;
	}

	const options = readCommon(values);
	if (!options.bus) {
		throw new UsageError('restart needs systemd; drop --no-systemd');
	}

	if (values.needed === (positionals.length > 0)) {
		throw new UsageError('give either --needed or unit names');
	}

	const doc = await collect(options);
	if (doc.warnings.some(w => w.code === 'systemd-unavailable')) {
		throw new UsageError(`systemd is unavailable: ${doc.warnings.find(w => w.code === 'systemd-unavailable')!.message}`);
	}

	const names = values.needed ? doc.units.filter(u => u.needsRestart).map(u => u.name) : positionals;
	const targets: Array<RestartTarget<StaleFile>> = names.map(name => {
		const unit = doc.units.find(u => u.name === name);
		const pids = unit?.pids ?? [];
		return {name, oldPids: pids, staleFiles: doc.processes.filter(p => pids.includes(p.pid)).flatMap(p => staleFiles(p))};
	});
	const bus = options.bus;
	const outcomes = await withSystemd(bus, async client => restartUnits(client, targets, {
		dryRun: values['dry-run'],
		verify: async (_unit, pids) => verify(options, pids),
		recorder: recorder(catalogPath(options)),
	}));
	const style = makeStyle(options.color);
	process.stdout.write(options.json ? `${JSON.stringify(outcomes, null, 2)}\n` : renderRestarts(outcomes, style));
	if (values['dry-run']) {
		return 0;
	}

	return outcomes.every(o => o.verdict === 'verified') ? 0 : 1;
}

async function verify(options: CommonOptions, pids: number[]): Promise<VerifyResult<StaleFile>> {
	if (pids.length === 0) {
		return {allCurrent: true, stale: []};
	}

	const scan = await scanOnly(options, {pids});
	const doc = buildDocument({scan, host: {hostname: '', kernelRelease: ''}, units: []});
	const stale = doc.processes.flatMap(p => staleFiles(p));
	return {allCurrent: doc.processes.every(p => !p.needsRestart), stale};
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
