// `livetree explain PID`: which tree, commit, version and path each file came from, and why.
import {parseArgs} from 'node:util';
import {collect} from '../collect.js';
import {UsageError} from '../errors/usage-error.js';
import {commonOptions, readCommon} from '../options.js';
import {isKernelThread} from '../proc-stat.js';
import {printable} from '../render/reason.js';
import {renderExplain} from '../render/explain.js';
import {makeStyle} from '../render/style.js';

export const explainHelp = `Usage: livetree explain PID [options]

Say which tree PID runs: the deployment, commit, version and path of every file it
maps, and why it needs a restart or not.

Options: --sysroot, --state-dir, --user, --bus-address, --no-systemd, --json,
         --color, -v/--verbose (see livetree status --help)

Exit codes: 0 it runs current code, 1 it needs a restart, 2 no such process or scan failed.
`;

export async function explainCommand(argv: string[]): Promise<number> {
	const {values, positionals} = parseArgs({args: argv, options: commonOptions, allowPositionals: true, strict: true});
	if (values.help) {
		process.stdout.write(explainHelp);
		return 0;
	}

	if (positionals.length !== 1 || !/^[1-9]\d*$/.test(positionals[0]!)) {
		throw new UsageError('explain takes exactly one PID');
	}

	const pid = Number(positionals[0]);
	const options = readCommon(values);
	const doc = await collect(options, {pids: [pid]});
	const p = doc.processes.find(q => q.pid === pid);
	if (!p) {
		throw new UsageError(`no process ${pid} (it may have exited)`);
	}

	if (await isKernelThread(options.procRoot, pid)) {
		// It maps no files: there is no userland code to be current or stale, and no restart
		// applies. What kernel runs is the kernel block's answer (a new one takes a reboot).
		if (options.json) {
			process.stdout.write(`${JSON.stringify({...p, kernelThread: true, deployment: null, warnings: doc.warnings}, null, 2)}\n`);
		} else {
			process.stdout.write(`PID ${pid} (${printable(p.comm)}) is a kernel thread: it runs the kernel's own code and maps no files, so no restart applies to it; new kernel code takes a reboot.\n`);
		}

		return 0;
	}

	if (options.json) {
		process.stdout.write(`${JSON.stringify({...p, deployment: doc.deployments.find(d => d.id === p.root.deployment) ?? null, warnings: doc.warnings}, null, 2)}\n`);
	} else {
		process.stdout.write(renderExplain(doc, p, makeStyle(options.color), options.verbose));
	}

	return p.needsRestart ? 1 : 0;
}
