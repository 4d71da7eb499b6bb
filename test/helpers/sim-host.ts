// A simulated host for fleet tests: its own PID namespace (and mount namespace with a
// private /proc), so a livetree scan inside it sees only that host's processes and not
// the rest of this busy machine. PID 1 of the namespace is a workload really chrooted
// into a deployment; livetree commands are run inside with nsenter, over the shared
// network and filesystem, so they reach their sysroot and listen on loopback as usual.
//
// stop() SIGKILLs the namespace's PID 1, and the kernel then ends everything inside it.
import {spawn, type ChildProcess} from 'node:child_process';
import {readFile, readlink} from 'node:fs/promises';
import {join} from 'node:path';
import {setTimeout as sleep} from 'node:timers/promises';
import {projectRoot} from './cli.js';

const bin = join(projectRoot, 'bin/livetree.js');

export interface SimHost {
	// The workload's PID as seen from outside (it is PID 1 inside).
	readonly pid: number;
	// Runs `livetree ARGS` inside the host's namespaces.
	livetree(args: string[]): ChildProcess;
	stop(): Promise<void>;
}

export async function startSimHost(deployment: string, argv = ['/usr/bin/demo-sleep', '600']): Promise<SimHost> {
	const holder = spawn('unshare', ['--mount', '--pid', '--fork', '--mount-proc', '--kill-child', 'chroot', deployment, ...argv], {stdio: 'ignore'});
	const holderPid = holder.pid;
	if (holderPid === undefined) {
		throw new Error('unshare did not start');
	}

	const gone = new Promise<void>(resolve => holder.once('exit', () => resolve()));
	let pid = 0;
	const stop = async () => {
		for (const target of [pid, holderPid]) {
			try {
				if (target > 0) {
					process.kill(target, 'SIGKILL');
				}
			} catch {
				// Already gone.
			}
		}

		await gone;
	};

	// Settled: the child of unshare has exec'd the workload inside the deployment, libc mapped.
	const deadline = Date.now() + 10_000;
	for (;;) {
		try {
			pid = Number((await readFile(`/proc/${holderPid}/task/${holderPid}/children`, 'utf8')).trim().split(/\s+/)[0] ?? 0);
			if (pid > 0 && (await readlink(`/proc/${pid}/exe`)).startsWith(`${deployment}/`) && /libc\.so/.test(await readFile(`/proc/${pid}/maps`, 'utf8'))) {
				break;
			}
		} catch {
			// Not there yet.
		}

		if (holder.exitCode !== null || Date.now() > deadline) {
			await stop();
			throw new Error(`the simulated host on ${deployment} did not settle`);
		}

		await sleep(20);
	}

	return {
		pid,
		livetree(args) {
			return spawn('nsenter', ['-t', String(pid), '-m', '-p', '--', process.execPath, bin, ...args], {stdio: ['ignore', 'pipe', 'pipe']});
		},
		stop,
	};
}
