// Mounts in a private mount namespace for tests, each by a fixture script run under
// `unshare -m --propagation private` that starts demo-sleep chrooted into the mounted root
// (fixtures/lib/before-after.sh): optionally one before the mount (OUT/before.pid), and
// then becomes one after it (OUT/mounted; its PID is the unshare's). mountNamespace() runs
// any such script (composefs.sh, upstream-cfs.sh, overlay-ns.sh, overlay-root-ns.sh);
// overlayNs() and rootOverlayNs() are dynamic overlays on a deployment's /usr. Each
// namespace is ended by its processes' PIDs in teardown, before fx.cleanup() removes its
// directories.
import {execFileSync, spawn} from 'node:child_process';
import {existsSync} from 'node:fs';
import {mkdir, readFile, readlink, stat} from 'node:fs/promises';
import {join} from 'node:path';
import type {ExecutionContext} from 'ava';
import {until} from './children.js';
import {devMajorMinor, FIXTURES, type Fixtures} from './fixture.js';

export interface NsProcesses {
	/** The process started after the mount: the script's own PID, demo-sleep by now. */
	pid: number;
	/** The process started before the mount, where the script started one. */
	before?: number;
	/** MAJOR:MINOR of the file system at `at` in the process's root, as it sees it. */
	device: string;
	stop(): Promise<void>;
}

export interface NsWait {
	/** What the script mounts, for timeout messages ("the overlay"). */
	what: string;
	/** Where the mount is below the process's root: '' (the root itself) or 'usr'. */
	at: string;
	timeoutMs: number;
	/** What else to say when the mount never comes (the script's logs), given the script's PID. */
	why?: (pid: number) => Promise<string>;
}

async function alive(pid: number): Promise<boolean> {
	return existsSync(`/proc/${pid}`) && !(await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '')).includes(') Z');
}

/**
 * Run `unshare -m --propagation private COMMAND…` detached, COMMAND a fixture script that
 * writes into OUT as fixtures/lib/before-after.sh says; resolves once the process after the
 * mount has libdemo mapped. Its stop (a teardown, registered here: ava runs teardowns
 * last-registered first, so before fx.cleanup()) kills both processes by PID.
 */
export async function mountNamespace(t: ExecutionContext, out: string, command: string[], wait: NsWait): Promise<NsProcesses> {
	const child = spawn('unshare', ['-m', '--propagation', 'private', ...command], {detached: true, stdio: 'ignore'});
	const pid = child.pid!;
	let exited = false;
	const gone = new Promise<void>(resolve =>
		child.once('exit', () => {
			exited = true;
			resolve();
		}),
	);
	child.unref();
	const beforeFile = join(out, 'before.pid');
	let before: number | undefined;
	const stop = async () => {
		// The script writes before.pid before it mounts: read here too when the wait failed.
		const first = before ?? (existsSync(beforeFile) ? Number(await readFile(beforeFile, 'utf8')) : undefined);
		if (first !== undefined && first > 0) {
			try {
				process.kill(first, 'SIGKILL');
			} catch {}

			await until(`PID ${first} to exit`, async () => !(await alive(first)), wait.timeoutMs);
		}

		if (!exited) {
			child.ref();
			try {
				process.kill(pid, 'SIGKILL');
			} catch {}

			await gone;
		}
	};

	t.teardown(stop);
	const why = async () => wait.why?.(pid) ?? '';
	await until(`${wait.what} to be mounted`, async () => exited || existsSync(join(out, 'mounted')), wait.timeoutMs, why);
	if (exited) {
		throw new Error(`${command.join(' ')} exited early${await why().then(w => (w ? `: ${w}` : ''))}`);
	}

	if (existsSync(beforeFile)) {
		before = Number(await readFile(beforeFile, 'utf8'));
	}

	await until(
		'the process after the mount to settle',
		async () => {
			const exe = await readlink(`/proc/${pid}/exe`);
			const maps = await readFile(`/proc/${pid}/maps`, 'utf8');
			return exe.endsWith('/usr/bin/sleep') && maps.includes('libdemo');
		},
		wait.timeoutMs,
	);
	const st = await stat(join(`/proc/${pid}/root`, wait.at), {bigint: true});
	const [major, minor] = devMajorMinor(st.dev);
	return {pid, before, device: `${major}:${minor}`, stop};
}

/**
 * COMMIT's /usr/lib/livetree-demo (its libdemo) copied out of REPO by `ostree checkout` into
 * USR/lib/livetree-demo, USR a layer over /usr: the update an overlay applies live. `ostree`
 * is the CLI to run (fixtures/upstream/ostree for an upstream repo).
 */
export async function checkoutLibdemo(repo: string, commit: string, usr: string, ostree = 'ostree'): Promise<void> {
	await mkdir(join(usr, 'lib'), {recursive: true});
	execFileSync(ostree, ['checkout', `--repo=${repo}`, '--force-copy', '--subpath=/usr/lib/livetree-demo', commit, join(usr, 'lib/livetree-demo')]);
}

export interface OverlayNs {
	before: number;
	after: number;
	upper: string;
	/** MAJOR:MINOR of the overlay, as the processes in the namespace see /usr. */
	device: string;
	stop(): Promise<void>;
}

const OVERLAY_WAIT_MS = 15_000;

/** Start fixtures/overlay-ns.sh in a private mount namespace; undone by fx.cleanup(). */
export async function overlayNs(
	t: ExecutionContext,
	fx: Fixtures,
	deploy: string,
	lowers: string[],
	fill: (upper: string) => Promise<void>,
): Promise<OverlayNs> {
	const dir = await fx.tempDir('livetree-ovl-');
	const upper = join(dir, 'upper');
	const work = join(dir, 'work');
	await mkdir(upper);
	await mkdir(work);
	await fill(upper);
	return overlayOn(t, dir, upper, ['overlay-ns.sh', deploy, lowers.join(':'), upper, work, dir]);
}

/**
 * Start fixtures/overlay-root-ns.sh: the overlay mounted from inside the deployment's root,
 * as a booted system mounts it (MODE self: `lowerdir=/usr` on `/usr`; unlock: ostree's
 * `lowerdir=usr,upperdir=.usr-ovl-upper` from the deployment directory). `upper` is the
 * upper layer as the host reaches it, filled by `fill` before the mount.
 */
export async function rootOverlayNs(
	t: ExecutionContext,
	fx: Fixtures,
	deploy: string,
	mode: 'self' | 'unlock',
	fill: (upper: string) => Promise<void>,
): Promise<OverlayNs> {
	const dir = await fx.tempDir('livetree-ovl-');
	const upper = mode === 'self' ? join(dir, 'upper') : join(deploy, '.usr-ovl-upper');
	if (mode === 'self') {
		await mkdir(upper);
		await mkdir(join(dir, 'work'));
	}

	await fill(upper);
	return overlayOn(t, dir, upper, ['overlay-root-ns.sh', deploy, mode, dir]);
}

async function overlayOn(t: ExecutionContext, dir: string, upper: string, [script, ...args]: string[]): Promise<OverlayNs> {
	const ns = await mountNamespace(t, dir, ['sh', join(FIXTURES, script!), ...args], {what: 'the overlay', at: 'usr', timeoutMs: OVERLAY_WAIT_MS});
	return {before: ns.before!, after: ns.pid, upper, device: ns.device, stop: ns.stop};
}
