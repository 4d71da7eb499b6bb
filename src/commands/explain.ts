// `livetree explain PID`: which tree, commit, version and path each file came from, and why.
import {collectPrintable} from '../collect.js';
import {UsageError} from '../errors/usage-error.js';
import {exitCodes} from '../exit-codes.js';
import {runningAsRoot} from '../host.js';
import {readCommon} from '../options.js';
import {printable} from '../render/reason.js';
import {renderExplain} from '../render/explain.js';
import {makeStyle} from '../render/style.js';
import {commandHelp} from './help.js';
import {parseCommand} from './parse.js';
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
	const {doc, kernelThreads, unread} = await collectPrintable(options, {pids: [pid]});
	const thread = kernelThreads.find(k => k.pid === pid);
	if (thread) {
		// The core found PF_KTHREAD: it maps no files, so there is no userland code to be
		// current or stale, and no restart applies. What kernel runs is the kernel block's
		// answer (a new one takes a reboot).
		if (options.json) {
			process.stdout.write(`${JSON.stringify({pid, comm: thread.comm, kernelThread: true, files: [], deployment: null, warnings: doc.warnings}, null, 2)}\n`);
		} else {
			process.stdout.write(
				`PID ${pid} (${printable(thread.comm)}) is a kernel thread: it runs the kernel's own code and maps no files, so no restart applies to it; new kernel code takes a reboot.\n`,
			);
		}

		return exitCodes.clean;
	}

	const p = doc.processes.find(q => q.pid === pid);
	if (!p) {
		throw new UsageError(`no process ${pid} (it may have exited)`);
	}

	if (options.json) {
		process.stdout.write(
			`${JSON.stringify({...p, deployment: doc.deployments.find(d => d.id === p.root.deployment) ?? null, warnings: doc.warnings}, null, 2)}\n`,
		);
	} else {
		// The scan read only this PID: the core's count of refused maps is about it alone.
		process.stdout.write(renderExplain(doc, p, makeStyle(options.color), options.verbose, {asRoot: runningAsRoot(), denied: unread.denied > 0}));
	}

	// What an unreadable process runs is unknown: neither "current" (0) nor "stale" (1).
	return p.needsRestart ? exitCodes.needed : p.state === 'unknown' ? exitCodes.unknown : exitCodes.clean;
}
