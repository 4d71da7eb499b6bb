// `livetree explain PID`: which tree, commit, version and path each file came from, and why.
import {collect} from '../collect.js';
import {UsageError} from '../errors/usage-error.js';
import {readCommon} from '../options.js';
import {isKernelThread} from '../proc-stat.js';
import {printable} from '../render/reason.js';
import {renderExplain} from '../render/explain.js';
import {makeStyle} from '../render/style.js';
import {terminalWidth} from '../render/wrap.js';
import {commandHelp} from './help.js';
import {parseCommand} from './parse.js';
import {suggestFor} from './rerun.js';
import {commandTable} from './table.js';

export async function explainCommand(argv: string[]): Promise<number> {
	const {values, positionals} = parseCommand('explain', commandTable.explain, argv);
	if (values.help) {
		process.stdout.write(commandHelp('explain'));
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
			process.stdout.write(
				`PID ${pid} (${printable(p.comm)}) is a kernel thread: it runs the kernel's own code and maps no files, so no restart applies to it; new kernel code takes a reboot.\n`,
			);
		}

		return 0;
	}

	if (options.json) {
		process.stdout.write(
			`${JSON.stringify({...p, deployment: doc.deployments.find(d => d.id === p.root.deployment) ?? null, warnings: doc.warnings}, null, 2)}\n`,
		);
	} else {
		process.stdout.write(renderExplain(doc, p, makeStyle(options.color), options.verbose, {width: terminalWidth(), suggest: suggestFor(options)}));
	}

	return p.needsRestart ? 1 : 0;
}
