// Run the real CLI as a user would: a child process of bin/livetree.js; and what any child
// process wrote and how it exited (outcome).
import {spawn, type ChildProcessByStdio} from 'node:child_process';
import type {Readable} from 'node:stream';
import {fileURLToPath} from 'node:url';
import type {Process} from '../../src/model/document.js';

export const projectRoot = fileURLToPath(new URL('../../../', import.meta.url));
const bin = `${projectRoot}bin/livetree.js`;

export interface CliResult {
	code: number;
	stdout: string;
	stderr: string;
}

export async function livetree(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
	return outcome(spawnLivetree(args, env));
}

// The CLI as a child that keeps running (an exporter): its output piped, for track().
export function spawnLivetree(args: string[], env: NodeJS.ProcessEnv = {}): ChildProcessByStdio<null, Readable, Readable> {
	return spawn(process.execPath, [bin, ...args], {env: {...process.env, ...env}, stdio: ['ignore', 'pipe', 'pipe']});
}

/** `livetree explain --json --no-systemd --state-dir STATE PID`: its exit code and the process it explains. */
export async function explainJson(state: string, pid: number): Promise<{code: number; p: Process}> {
	const r = await livetree(['explain', '--json', '--no-systemd', '--state-dir', state, String(pid)]);
	return {code: r.code, p: JSON.parse(r.stdout) as Process};
}

// The CLI as an ordinary user (runuser drops root), from `/` so that no directory of
// root's is the working directory.
export async function livetreeAs(user: string, args: string[]): Promise<CliResult> {
	return outcome(spawn('runuser', ['-u', user, '--', process.execPath, bin, ...args], {stdio: ['ignore', 'pipe', 'pipe'], cwd: '/'}));
}

/**
 * What a child with stdout and stderr piped wrote, and its exit code (-1 when a signal ended
 * it), once it has closed them. With `timeoutMs`, a child still running by then is killed
 * (SIGKILL) and the promise rejects.
 */
export async function outcome(child: ChildProcessByStdio<null, Readable, Readable>, timeoutMs?: number): Promise<CliResult> {
	return new Promise((resolve, reject) => {
		let stdout = '';
		let stderr = '';
		child.stdout.setEncoding('utf8').on('data', (d: string) => {
			stdout += d;
		});
		child.stderr.setEncoding('utf8').on('data', (d: string) => {
			stderr += d;
		});
		const timer =
			timeoutMs === undefined
				? undefined
				: setTimeout(() => {
						child.kill('SIGKILL');
						reject(new Error(`${child.spawnargs.join(' ')}: still running after ${timeoutMs} ms`));
					}, timeoutMs);
		child.on('error', reject);
		child.on('close', code => {
			clearTimeout(timer);
			resolve({code: code ?? -1, stdout, stderr});
		});
	});
}
