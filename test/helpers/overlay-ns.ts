// Dynamic overlays for tests: overlayfs mounted on a deployment's /usr inside a private
// mount namespace (fixtures/overlay-ns.sh, fixtures/overlay-root-ns.sh), with processes
// chrooted into that deployment started before and after the mount. Each namespace is
// ended by its processes' PIDs in teardown, before fx.cleanup() removes its directories.
import {spawn} from 'node:child_process';
import {existsSync} from 'node:fs';
import {mkdir, readFile, readlink, stat} from 'node:fs/promises';
import {join} from 'node:path';
import type {ExecutionContext} from 'ava';
import {devMajorMinor, FIXTURES, type Fixtures} from './fixture.js';

export interface OverlayNs {
	before: number;
	after: number;
	upper: string;
	/** MAJOR:MINOR of the overlay, as the processes in the namespace see /usr. */
	device: string;
	stop(): Promise<void>;
}

async function alive(pid: number): Promise<boolean> {
	return existsSync(`/proc/${pid}`) && !(await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '')).includes(') Z');
}

export async function until(what: string, ok: () => Promise<boolean>): Promise<void> {
	const deadline = Date.now() + 15_000;
	while (!(await ok().catch(() => false))) {
		if (Date.now() > deadline) {
			throw new Error(`timed out waiting for ${what}`);
		}

		await new Promise(r => setTimeout(r, 25));
	}
}

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
	return inNamespace(t, dir, upper, ['overlay-ns.sh', deploy, lowers.join(':'), upper, work, dir]);
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
	return inNamespace(t, dir, upper, ['overlay-root-ns.sh', deploy, mode, dir]);
}

async function inNamespace(t: ExecutionContext, dir: string, upper: string, [script, ...args]: string[]): Promise<OverlayNs> {
	const child = spawn('unshare', ['-m', '--propagation', 'private', 'sh', join(FIXTURES, script!), ...args], {
		detached: true,
		stdio: 'ignore',
	});
	const after = child.pid!;
	let exited = false;
	const gone = new Promise<void>(resolve =>
		child.once('exit', () => {
			exited = true;
			resolve();
		}),
	);
	child.unref();
	let before = 0;
	const stop = async () => {
		if (before > 0) {
			try {
				process.kill(before, 'SIGKILL');
			} catch {}

			await until(`PID ${before} to exit`, async () => !(await alive(before)));
		}

		if (!exited) {
			child.ref();
			try {
				process.kill(after, 'SIGKILL');
			} catch {}

			await gone;
		}
	};

	// ava runs teardowns last-registered first: this one before fx.cleanup() removes the
	// directories and the sysroot the namespace uses.
	t.teardown(stop);
	await until('the overlay to be mounted', async () => existsSync(join(dir, 'mounted')));
	before = Number(await readFile(join(dir, 'before.pid'), 'utf8'));
	await until('the process after the overlay to settle', async () => {
		if (exited) {
			throw new Error('overlay-ns.sh exited early');
		}

		const exe = await readlink(`/proc/${after}/exe`);
		const maps = await readFile(`/proc/${after}/maps`, 'utf8');
		return exe.endsWith('/usr/bin/sleep') && maps.includes('libdemo');
	});
	const st = await stat(`/proc/${after}/root/usr`, {bigint: true});
	const [major, minor] = devMajorMinor(st.dev);
	return {before, after, upper, device: `${major}:${minor}`, stop};
}
