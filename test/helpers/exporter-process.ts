// `livetree exporter` as a child process of its own, from the compiled command module (no
// bin wrapper), for tests that send it signals and read what it logs. Killed at teardown.
import {spawn} from 'node:child_process';
import type {ExecutionContext} from 'ava';

export interface ExporterProcess {
	pid: number;
	/** What it has written to stderr so far. */
	stderr(): string;
	/** Its exit code, once it exits. */
	exited: Promise<number | null>;
}

// env: added to this process's environment for the exporter.
export function startExporterProcess(t: ExecutionContext, args: string[], env: NodeJS.ProcessEnv = {}): ExporterProcess {
	const module = new URL('../../src/commands/exporter.js', import.meta.url).href;
	const script = `import {exporterCommand} from ${JSON.stringify(module)}; process.exitCode = await exporterCommand(process.argv.slice(1));`;
	const child = spawn(process.execPath, ['--input-type=module', '-e', script, '--', ...args], {
		stdio: ['ignore', 'ignore', 'pipe'],
		env: {...process.env, ...env},
	});
	let stderr = '';
	child.stderr.on('data', (chunk: Buffer) => {
		stderr += chunk.toString();
	});
	const exited = new Promise<number | null>(resolve => child.once('exit', resolve));
	t.teardown(() => {
		if (child.exitCode === null && child.pid !== undefined) {
			process.kill(child.pid, 'SIGKILL');
		}
	});
	return {pid: child.pid!, stderr: () => stderr, exited};
}
