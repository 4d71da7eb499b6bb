// Processes in a cgroup named as a systemd manager names a unit's, without a manager: what
// livetree reads a process's unit from when systemd is not asked (--no-systemd, no bus). For
// tests that run in a PID namespace of their own, so that a report holds their processes only.
import {spawn} from 'node:child_process';
import {chmod, copyFile, mkdir, rmdir} from 'node:fs/promises';
import {join} from 'node:path';
import {shellWord} from '../../src/commands/rerun.js';
import {outcome, type CliResult} from './cli.js';
import {systemdHierarchies} from './systemd-user.js';

/**
 * `PREFIX-PID-TIME/UNIT` in every hierarchy systemd tracks processes in, made now and removed
 * at teardown (a process of a PID namespace is gone with its PID 1, but the kernel may take a
 * moment to let the group go).
 */
export async function unitCgroups(t: {teardown(fn: () => Promise<void>): void}, prefix: string, unit: string): Promise<string[]> {
	const groups = systemdHierarchies().map(d => join(d, `${prefix}-${process.pid}-${Date.now()}`, unit));
	for (const g of groups) {
		await mkdir(g, {recursive: true});
		t.teardown(async () => {
			for (let i = 0; i < 50; i++) {
				try {
					await rmdir(g);
					await rmdir(join(g, '..'));
					return;
				} catch {
					await new Promise(resolve => setTimeout(resolve, 100));
				}
			}
		});
	}

	return groups;
}

/** A copy of `sleep` at DIR/lt-sleep, for the test to replace. */
export async function sleepCopy(dir: string): Promise<string> {
	const exe = join(dir, 'lt-sleep');
	await copyFile('/usr/bin/sleep', exe);
	await chmod(exe, 0o755);
	return exe;
}

/**
 * Shell lines that start two `EXE 60`, one in GROUPS and one in none, and once both run,
 * rename a new file over EXE, as an upgrade does: both then need a restart.
 */
export function twoStaleSleepers(exe: string, groups: readonly string[]): string[] {
	const q = shellWord;
	return [
		`sh -c 'for g in ${groups.map(g => `"${g}"`).join(' ')}; do echo $$ > "$g/cgroup.procs"; done; exec "$0" 60' ${q(exe)} &`,
		`${q(exe)} 60 &`,
		'until [ "$(pgrep -c -x lt-sleep)" = 2 ]; do sleep 0.05; done',
		'sleep 0.2',
		`cp ${q(exe)} ${q(`${exe}.new`)} && printf x >>${q(`${exe}.new`)} && mv ${q(`${exe}.new`)} ${q(exe)}`,
	];
}

/** `sh -c SCRIPT` as the first process of a PID namespace of its own (with its own /proc). */
export async function inPidNamespace(script: string): Promise<CliResult> {
	return outcome(spawn('unshare', ['--pid', '--fork', '--mount-proc', 'sh', '-c', script], {stdio: ['ignore', 'pipe', 'pipe'], cwd: '/'}));
}
