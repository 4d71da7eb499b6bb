// A real systemd user manager on a real private session bus, for tests, without systemd as PID 1.
//
// Recipe (see /work/shared/notes/real-environment.md): /lib/systemd/systemd --user in a private
// mount namespace with a tmpfs on /run/systemd that holds /run/systemd/system (the manager
// refuses to run without it), XDG_RUNTIME_DIR=$RT (0700), DBUS_SESSION_BUS_ADDRESS=unix:path=$RT/bus.
//
// The session bus: a dbus-daemon started beside the manager does not stay the bus. The stock
// user unit dbus.socket listens on %t/bus too; it unlinks and re-binds that path, so every later
// client reaches the `dbus-daemon --session` that the manager's dbus.service starts, and the
// first daemon is left listening on an orphaned socket. Masking dbus.socket does not help either:
// systemd 252 then never connects to the bus at all (it waits for dbus.socket/dbus.service). So,
// as on a real host, the bus is the real dbus-daemon the manager socket-activates; busPid names it
// and stop() ends it with the manager (and by PID, through the cgroup, if it outlives it).
//
// One addition the recipe lacks, and which matters: the manager treats the cgroup it starts in as
// its root and moves every process it finds there into <root>/init.scope. Started in the host's
// root cgroup it would sweep up every process of the machine (it did, once, on this host), and two
// managers would fight over /app.slice. So each manager gets its own cgroup, /livetree-test-…,
// made in systemd's hierarchies (cgroup2 root on a unified host; `unified` and `systemd` on a
// hybrid one) before it is exec'd. Its units then live at /livetree-test-…/app.slice/NAME.service
// and ControlGroup says so. stop() removes that cgroup tree.
import {spawn, execFile} from 'node:child_process';
import type {ChildProcess} from 'node:child_process';
import {existsSync} from 'node:fs';
import {chmod, mkdir, mkdtemp, readdir, readFile, rm, rmdir} from 'node:fs/promises';
import {join} from 'node:path';
import {promisify} from 'node:util';
import {connectSystemd} from '../../src/systemd/client.js';

const execFileP = promisify(execFile);
const CGROUP_FS = '/sys/fs/cgroup';

export interface StartUnitOptions {
	/** Extra `-p KEY=VALUE` properties for systemd-run (e.g. `Restart=no`, `Type=exec`). */
	properties?: string[];
	/** Wait until the unit reports a MainPID (default true). */
	waitForMainPid?: boolean;
}

export interface UserManager {
	/** unix:path=$RT/bus — pass as `busAddress` to connectSystemd. */
	readonly busAddress: string;
	readonly runtimeDir: string;
	/** The manager's own cgroup (e.g. /livetree-test-123-ab12); its units live below it. */
	readonly cgroupRoot: string;
	readonly managerPid: number;
	/** PID of the dbus-daemon --session the manager's dbus.service runs. */
	readonly busPid: number;
	/** Environment for systemctl/systemd-run --user against this manager. */
	readonly env: NodeJS.ProcessEnv;
	/** Starts a transient service `name` (add .service or not) running argv. */
	startUnit(name: string, argv: string[], opts?: StartUnitOptions): Promise<void>;
	/** Runs `systemctl --user ARGS` and returns its stdout. */
	systemctl(args: string[]): Promise<string>;
	/** `systemctl --user show -p P1,P2 NAME` as an object. */
	show(name: string, props: string[]): Promise<Record<string, string>>;
	/**
	 * SIGTERM to the manager (it stops its units, the bus among them), SIGKILL by PID to anything
	 * left in its cgroup tree, then removes the cgroup tree and $RT.
	 */
	stop(): Promise<void>;
}

/** Hierarchies in which systemd tracks processes: where our private root cgroup must exist. */
export function systemdHierarchies(): string[] {
	if (existsSync(join(CGROUP_FS, 'cgroup.controllers'))) return [CGROUP_FS];
	return ['unified', 'systemd'].map(h => join(CGROUP_FS, h)).filter(d => existsSync(join(d, 'cgroup.procs')));
}

export async function startUserManager(): Promise<UserManager> {
	const rt = await mkdtemp('/tmp/livetree-sd-');
	await chmod(rt, 0o700);
	const busAddress = `unix:path=${rt}/bus`;
	// A private config dir keeps root's own ~/.config/systemd/user units out of the test manager.
	const config = join(rt, 'config');
	await mkdir(join(config, 'systemd', 'user'), {recursive: true});
	const env: NodeJS.ProcessEnv = {
		PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
		HOME: rt,
		XDG_RUNTIME_DIR: rt,
		XDG_CONFIG_HOME: config,
		DBUS_SESSION_BUS_ADDRESS: busAddress,
		SYSTEMD_LOG_LEVEL: 'info',
		SYSTEMD_LOG_TARGET: 'console',
	};

	const children: ChildProcess[] = [];
	const cgroupRoot = `/livetree-test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
	const cgroupDirs: string[] = [];
	const cleanup = async (): Promise<void> => {
		for (const c of children.reverse()) await killAndWait(c);
		for (const d of cgroupDirs) await removeCgroupTree(d);
		await rm(rt, {recursive: true, force: true});
	};

	try {
		const hierarchies = systemdHierarchies();
		if (hierarchies.length === 0) throw new Error('no cgroup hierarchy for systemd under /sys/fs/cgroup');
		for (const h of hierarchies) {
			const dir = join(h, cgroupRoot);
			// Refusing here is deliberate: running the manager in the host's root cgroup instead
			// would move every process on the machine into its init.scope.
			await mkdir(dir);
			cgroupDirs.push(dir);
		}
		const script = [
			'set -e',
			'mkdir -p /run/systemd',
			'mount -t tmpfs tmpfs /run/systemd',
			'mkdir -p /run/systemd/system',
			'for f in "$@"; do echo $$ > "$f"; done',
			'exec /lib/systemd/systemd --user',
		].join('\n');
		const procsFiles = cgroupDirs.map(d => join(d, 'cgroup.procs'));
		const logs: string[] = [];
		const manager = spawn('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script, 'sh', ...procsFiles], {
			env,
			stdio: ['ignore', 'pipe', 'pipe'],
		});
		children.push(manager);
		manager.stdout?.on('data', (b: Buffer) => logs.push(b.toString()));
		manager.stderr?.on('data', (b: Buffer) => logs.push(b.toString()));

		// Ready when the manager answers on the bus (it registers org.freedesktop.systemd1 late in startup).
		await waitForAsync(
			async () => {
				if (manager.exitCode !== null) throw new Error(`systemd --user exited ${manager.exitCode}: ${logs.join('')}`);
				try {
					const c = await connectSystemd({busAddress, connectTimeoutMs: 1_000, timeoutMs: 1_000});
					c.close();
					return true;
				} catch {
					return false;
				}
			},
			20_000,
			'systemd --user on the bus',
			() => logs.join(''),
		);

		const systemctl = async (args: string[]): Promise<string> => {
			const {stdout} = await execFileP('systemctl', ['--user', ...args], {env});
			return stdout;
		};
		const show = async (name: string, props: string[]): Promise<Record<string, string>> => {
			const out = await systemctl(['show', '-p', props.join(','), name]);
			const rec: Record<string, string> = {};
			for (const line of out.split('\n')) {
				const eq = line.indexOf('=');
				if (eq > 0) rec[line.slice(0, eq)] = line.slice(eq + 1);
			}
			return rec;
		};

		const busPid = Number((await show('dbus.service', ['MainPID'])).MainPID);

		let stopped = false;
		return {
			busAddress,
			runtimeDir: rt,
			cgroupRoot,
			managerPid: manager.pid as number,
			busPid,
			env,
			systemctl,
			show,
			async startUnit(name, argv, opts = {}) {
				const props = (opts.properties ?? []).flatMap(p => ['-p', p]);
				await execFileP('systemd-run', ['--user', `--unit=${name}`, ...props, '--', ...argv], {env});
				if (opts.waitForMainPid === false) return;
				await waitForAsync(async () => Number((await show(name, ['MainPID'])).MainPID) > 0, 10_000, `${name} MainPID`);
			},
			async stop() {
				if (stopped) return;
				stopped = true;
				await cleanup();
			},
		};
	} catch (err) {
		await cleanup();
		throw err;
	}
}

/** SIGTERM, then SIGKILL after 10 s; resolves when the child has exited (and was reaped by Node). */
async function killAndWait(c: ChildProcess): Promise<void> {
	if (c.exitCode !== null || c.signalCode !== null) return;
	const exited = new Promise<void>(resolve => c.once('exit', () => resolve()));
	c.kill('SIGTERM');
	const timer = setTimeout(() => c.kill('SIGKILL'), 10_000);
	await exited;
	clearTimeout(timer);
}

/** Kills what is left in the cgroup tree (by PID, from cgroup.procs) and removes it bottom-up. */
async function removeCgroupTree(dir: string): Promise<void> {
	for (let round = 0; round < 50; round++) {
		const pids = await treePids(dir);
		for (const pid of pids) {
			try {
				process.kill(pid, 'SIGKILL');
			} catch {
				// already gone
			}
		}
		if (await rmdirTree(dir)) return;
		await new Promise(r => setTimeout(r, 100));
	}
	throw new Error(`could not remove cgroup ${dir}`);
}

async function treePids(dir: string): Promise<number[]> {
	const out: number[] = [];
	try {
		const text = await readFile(join(dir, 'cgroup.procs'), 'utf8');
		for (const l of text.split('\n')) if (l.trim() !== '') out.push(Number(l));
		for (const e of await readdir(dir, {withFileTypes: true})) if (e.isDirectory()) out.push(...(await treePids(join(dir, e.name))));
	} catch {
		// removed meanwhile
	}
	return out;
}

async function rmdirTree(dir: string): Promise<boolean> {
	if (!existsSync(dir)) return true;
	try {
		for (const e of await readdir(dir, {withFileTypes: true})) if (e.isDirectory()) await rmdirTree(join(dir, e.name));
		await rmdir(dir);
		return true;
	} catch {
		return false;
	}
}

async function waitForAsync(cond: () => Promise<boolean>, timeoutMs: number, what: string, context: () => string = () => ''): Promise<void> {
	const until = Date.now() + timeoutMs;
	for (;;) {
		if (await cond()) return;
		if (Date.now() > until) throw new Error(`timed out waiting for ${what}${context() ? `: ${context()}` : ''}`);
		await new Promise(r => setTimeout(r, 100));
	}
}
