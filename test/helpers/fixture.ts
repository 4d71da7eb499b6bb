// Real OSTree fixtures for tests: sysroots built by fixtures/*.sh with the real `ostree`
// CLI, and processes really running chrooted in a deployment. Everything a Fixtures
// object starts or builds is undone by `cleanup()`; register it with `t.teardown`.
//
//   const fx = new Fixtures();
//   t.teardown(() => fx.cleanup());
//   const s = await fx.buildSysroot('two');
//   const p = await fx.startChrooted(s.deployments[0]!.path);
import {spawn, execFile} from 'node:child_process';
import type {ChildProcess} from 'node:child_process';
import {existsSync} from 'node:fs';
import {mkdtemp, readFile, readlink, rm} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {dirname, join} from 'node:path';
import {fileURLToPath} from 'node:url';
import {promisify} from 'node:util';

const execFileP = promisify(execFile);

export type Scenario = 'empty' | 'one' | 'two' | 'three' | 'undeployed' | 'reserial';

/** One deployment as fixtures/sysroot.sh reports it (parsed from `ostree admin status`). */
export interface FixtureDeployment {
	index: number;
	osname: string;
	checksum: string;
	serial: number;
	/** SYSROOT/ostree/deploy/OSNAME/deploy/CHECKSUM.SERIAL */
	path: string;
	version: string | null;
	pinned: boolean;
	refspec: string | null;
	booted: boolean;
	staged: boolean;
	pending: boolean;
	rollback: boolean;
}

export interface SysrootState {
	sysroot: string;
	repo: string;
	deployments: FixtureDeployment[];
}

export interface BuiltSysroot extends SysrootState {
	scenario: Scenario;
	/** Commit checksums in the order they were made. */
	commits: string[];
	/** The step handle, to go on changing the sysroot. */
	handle: SysrootHandle;
}

export interface ChrootedProcess {
	pid: number;
	/** The deployment (or any directory) the process is chrooted into. */
	root: string;
	/** SIGKILL and wait until the process is gone. Safe to call twice. */
	stop(): Promise<void>;
}

/** The repository root: the first ancestor of this file that holds fixtures/. */
function findRoot(): string {
	let dir = dirname(fileURLToPath(import.meta.url));
	for (;;) {
		if (existsSync(join(dir, 'fixtures', 'build-sysroot.sh'))) return dir;
		const up = dirname(dir);
		if (up === dir) throw new Error(`fixtures/build-sysroot.sh not found above ${import.meta.url}`);
		dir = up;
	}
}

export const ROOT = findRoot();
export const FIXTURES = join(ROOT, 'fixtures');

async function script(name: string, args: string[]): Promise<string> {
	try {
		const {stdout} = await execFileP(join(FIXTURES, name), args, {maxBuffer: 16 << 20});
		return stdout;
	} catch (e) {
		const err = e as {stderr?: string; message: string};
		throw new Error(`${name} ${args.join(' ')} failed: ${err.stderr ?? err.message}`);
	}
}

/** Step-by-step control of one sysroot (fixtures/sysroot.sh). */
export class SysrootHandle {
	constructor(
		readonly path: string,
		readonly osname: string,
		/** Stands in for /run in fake boots (ostree-booted, staged-deployment). */
		readonly run: string,
	) {}

	private async step(cmd: string, ...args: string[]): Promise<SysrootState & {commit?: string}> {
		return JSON.parse(await script('sysroot.sh', [cmd, this.path, ...args])) as SysrootState & {
			commit?: string;
		};
	}

	/** Build a tree for VERSION and commit it to OSNAME/stable; returns the commit checksum. */
	async commit(version: string, marker?: string): Promise<string> {
		const r = await this.step('commit', this.osname, version, ...(marker ? [marker] : []));
		if (!r.commit) throw new Error('sysroot.sh commit printed no checksum');
		return r.commit;
	}
	deploy(...extra: string[]): Promise<SysrootState> {
		return this.step('deploy', this.osname, ...extra);
	}
	undeploy(index: number): Promise<SysrootState> {
		return this.step('undeploy', String(index));
	}
	cleanup(): Promise<SysrootState> {
		return this.step('cleanup');
	}
	pin(index: number): Promise<SysrootState> {
		return this.step('pin', String(index));
	}
	status(): Promise<SysrootState> {
		return this.step('status');
	}
	/** Stage OSNAME/stable while fake-booted into deployment `bootedIndex` (see README). */
	stage(bootedIndex: number): Promise<SysrootState> {
		return this.step('stage', this.osname, String(bootedIndex), this.run);
	}
	/** Run CMD (e.g. `ostree admin unlock --hotfix`) in a fake boot of deployment `index`; its stdout. */
	bootedRun(index: number, ...cmd: string[]): Promise<string> {
		return script('sysroot.sh', ['booted-run', this.path, String(index), this.run, ...cmd]);
	}
	/** `ostree admin status` as seen when booted into deployment `index`. */
	bootedStatus(index: number): Promise<SysrootState> {
		return this.step('booted-status', String(index), this.run);
	}
	/** The object checksum of PATH in COMMIT (`ostree ls -C`). */
	async objectChecksum(commit: string, path: string): Promise<string> {
		const {stdout} = await execFileP('ostree', [`--repo=${join(this.path, 'ostree/repo')}`, 'ls', '-C', commit, path]);
		const csum = stdout.trim().split(/\s+/)[4];
		if (!csum || !/^[0-9a-f]{64}$/.test(csum)) throw new Error(`no checksum in: ${stdout}`);
		return csum;
	}
}

/** A cleanup registry: every sysroot and process made through it is undone by cleanup(). */
export class Fixtures {
	private readonly undo: Array<() => Promise<void>> = [];

	/** Run FN in cleanup(), before what was registered earlier is undone. */
	teardown(fn: () => void | Promise<void>): void {
		this.undo.push(async () => fn());
	}

	/** A fresh temporary directory (e.g. a --state-dir), removed by cleanup(). */
	async tempDir(prefix = 'livetree-tmp-'): Promise<string> {
		const dir = await mkdtemp(join(tmpdir(), prefix));
		this.undo.push(async () => rm(dir, {recursive: true, force: true}));
		return dir;
	}

	/** A plain copy of TREE (a deployment, say) in a directory of its own: its own inodes, no hard links. */
	async copyTree(tree: string): Promise<string> {
		const root = join(await this.tempDir('livetree-copy-'), 'root');
		await execFileP('cp', ['-a', '--no-preserve=links', `${tree}/.`, root]);
		return root;
	}

	/** A fresh sysroot holding one OS (init only). */
	async initSysroot(osname = 'demo', repoMode?: 'bare-user' | 'archive'): Promise<SysrootHandle> {
		const base = await mkdtemp(join(tmpdir(), 'livetree-fx-'));
		const h = new SysrootHandle(join(base, 'sysroot'), osname, join(base, 'run'));
		this.undo.push(async () => {
			await script('sysroot.sh', ['destroy', h.path]);
			await rm(base, {recursive: true, force: true});
		});
		await script('sysroot.sh', ['init', h.path, osname, ...(repoMode ? [repoMode] : [])]);
		return h;
	}

	/** A whole scenario (fixtures/build-sysroot.sh). */
	async buildSysroot(scenario: Scenario, osname = 'demo'): Promise<BuiltSysroot> {
		const base = await mkdtemp(join(tmpdir(), 'livetree-fx-'));
		const h = new SysrootHandle(join(base, 'sysroot'), osname, join(base, 'run'));
		this.undo.push(async () => {
			await script('sysroot.sh', ['destroy', h.path]);
			await rm(base, {recursive: true, force: true});
		});
		const out = JSON.parse(await script('build-sysroot.sh', [h.path, osname, scenario])) as Omit<BuiltSysroot, 'handle'>;
		return {...out, handle: h};
	}

	/**
	 * Start `chroot DIR ARGV...` (default `/usr/bin/sleep 600`) detached, in its own process
	 * group. chroot execs ARGV, so the PID is the program's own; we wait until it has left
	 * chroot and the dynamic loader (its exe is inside DIR) so /proc/PID/maps is complete.
	 */
	async startChrooted(dir: string, argv: string[] = ['/usr/bin/sleep', '600']): Promise<ChrootedProcess> {
		const child: ChildProcess = spawn('chroot', [dir, ...argv], {detached: true, stdio: 'ignore'});
		const pid = child.pid;
		if (pid === undefined) throw new Error('chroot did not start');
		let exited = false;
		const gone = new Promise<void>(resolve => child.once('exit', () => resolve()));
		void gone.then(() => (exited = true));
		child.unref();
		const stop = async (): Promise<void> => {
			if (exited) return;
			// Keep the event loop alive until the exit event arrives (the child was unref'd).
			child.ref();
			try {
				process.kill(pid, 'SIGKILL');
			} catch {
				return;
			}
			await gone;
		};
		this.undo.push(stop);
		const want = argv[0] ?? '';
		const deadline = Date.now() + 10_000;
		for (;;) {
			if (exited) throw new Error(`chroot ${dir} ${argv.join(' ')} exited early`);
			try {
				const exe = await readlink(`/proc/${pid}/exe`);
				const maps = await readFile(`/proc/${pid}/maps`, 'utf8');
				// Settled: exe is a program inside DIR other than chroot or sh, and libc is mapped.
				if (exe.startsWith(`${dir}/`) && !/\/(dash|sh)$/.test(exe) && /libc\.so/.test(maps)) break;
				if (want && exe === join(dir, want) && /libc\.so/.test(maps)) break;
			} catch {
				// /proc entries may not be readable for a moment while exec runs.
			}
			if (Date.now() > deadline) {
				await stop();
				throw new Error(`chroot ${dir} ${argv.join(' ')} did not settle`);
			}
			await new Promise(r => setTimeout(r, 20));
		}
		return {pid, root: dir, stop};
	}

	/** Undo everything, newest first; keeps going past failures and reports the first. */
	async cleanup(): Promise<void> {
		let first: unknown;
		while (this.undo.length > 0) {
			const f = this.undo.pop();
			try {
				await f?.();
			} catch (e) {
				first ??= e;
			}
		}
		if (first !== undefined) throw first;
	}
}

/** major/minor from a Linux st_dev (glibc's gnu_dev_major/minor). */
export function devMajorMinor(dev: bigint): [number, number] {
	const major = Number(((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn));
	const minor = Number((dev & 0xffn) | ((dev >> 12n) & ~0xffn));
	return [major, minor];
}

/** One /proc/PID/maps line with a file behind it. */
export interface MapsFile {
	major: number;
	minor: number;
	inode: bigint;
	path: string;
	deleted: boolean;
}

export async function mappedFiles(pid: number): Promise<MapsFile[]> {
	const text = await readFile(`/proc/${pid}/maps`, 'utf8');
	const out: MapsFile[] = [];
	for (const line of text.split('\n')) {
		const m = /^\S+ \S+ \S+ ([0-9a-f]+):([0-9a-f]+) (\d+)\s+(\/.*)$/.exec(line);
		if (!m || m[3] === '0') continue;
		const raw = m[4] ?? '';
		const deleted = raw.endsWith(' (deleted)');
		out.push({
			major: parseInt(m[1] ?? '', 16),
			minor: parseInt(m[2] ?? '', 16),
			inode: BigInt(m[3] ?? '0'),
			path: deleted ? raw.slice(0, -' (deleted)'.length) : raw,
			deleted,
		});
	}
	return out;
}
