// Children a test starts (exporters, Prometheus, node_exporter): their output kept for
// failure messages, and each ended in teardown by its own PID; and waiting for what they do.
import type {ChildProcess} from 'node:child_process';
import {setTimeout as sleep} from 'node:timers/promises';

export interface Tracked {
	child: ChildProcess;
	output: () => string;
}

export function track(t: {teardown(fn: () => Promise<void>): void}, child: ChildProcess, name: string): Tracked {
	let output = '';
	child.stdout?.on('data', (chunk: Buffer) => {
		output += chunk.toString();
	});
	child.stderr?.on('data', (chunk: Buffer) => {
		output += chunk.toString();
	});
	const exited = new Promise<void>(resolve => child.once('exit', () => resolve()));
	t.teardown(async () => {
		if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
			process.kill(child.pid, 'SIGTERM');
			await Promise.race([exited, sleep(5000)]);
		}
	});
	return {child, output: () => `${name}: ${output.slice(-3000)}`};
}

// A rejection of `check` fails the wait at once; until() below counts it as "not yet".
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, seconds = 120): Promise<void> {
	const deadline = Date.now() + seconds * 1000;
	while (!(await check())) {
		if (Date.now() > deadline) {
			throw new Error(`timed out waiting for ${what}`);
		}

		await sleep(200);
	}
}

/** Wait until `ok` holds (a rejection counts as not yet), at most `timeoutMs`; `why` explains a timeout. */
export async function until(what: string, ok: () => Promise<boolean>, timeoutMs: number, why: () => Promise<string> = async () => ''): Promise<void> {
	const deadline = Date.now() + timeoutMs;
	while (!(await ok().catch(() => false))) {
		if (Date.now() > deadline) {
			const reason = await why();
			throw new Error(`timed out waiting for ${what}${reason ? `: ${reason}` : ''}`);
		}

		await sleep(25);
	}
}
