// Issue 11, inside a booted system: a Debian userland committed and deployed with the real
// ostree, booted with a real systemd system manager as PID 1 of its own PID + mount namespace
// (journald, dbus, cron, logind, lt-app.service), audited from the host over its system bus
// (fixtures/booted.sh; the userland tarball is cached by scripts/debian-userland.sh).
// One boot, several checks:
// - units[].mainPid is the host PID (the manager answers in its own namespace);
// - a host process is never tied to a unit of the container's manager, even when its PID
//   number is a container process's number there (GetUnitByPID is asked only about PIDs the
//   manager can see, and a unit read from a cgroup path is only a hint);
// - restart --needed restarts lt-app.service and verifies its new (host) PIDs;
// - after a live update (a new libc on an overlay over /usr), restart --needed leaves out the
//   message bus, logind and the manager itself, with reasons, and would restart cron.
import {execFile, spawn} from 'node:child_process';
import {copyFile, mkdir, mkdtemp, readFile, rename, writeFile} from 'node:fs/promises';
import os from 'node:os';
import {join} from 'node:path';
import {promisify} from 'node:util';
import test from 'ava';
import type {StatusDocument} from '../src/model/document.js';
import {livetree, projectRoot} from './helpers/cli.js';
import {schemaErrors} from './helpers/schema.js';
import {statusExitCode} from './helpers/exit-code.js';

const run = promisify(execFile);
const booted = join(projectRoot, 'fixtures/booted.sh');

interface Outcome {
	unit: string;
	verdict: string;
	newPids: number[];
	skip?: {code: string; reason: string; instead: string};
}

async function nsPid(pid: number): Promise<number[]> {
	const status = await readFile(`/proc/${pid}/status`, 'utf8');
	return status
		.split('\n')
		.find(l => l.startsWith('NSpid:'))!
		.slice(6)
		.trim()
		.split(/\s+/)
		.map(Number);
}

async function inside(leader: number, args: string[]): Promise<string> {
	return (await run('nsenter', ['-t', String(leader), '-a', ...args], {timeout: 90_000})).stdout.trim();
}

function hierarchies(): string[] {
	return ['/sys/fs/cgroup/unified', '/sys/fs/cgroup/systemd'];
}

test.serial('a booted OSTree system audited from the host over its own system bus', async t => {
	// A cold cache runs debootstrap first (npm test warms it before ava); warm, about a minute.
	t.timeout(1_500_000);
	const {stdout: tarball} = await run(join(projectRoot, 'scripts/debian-userland.sh'), [], {timeout: 1_200_000});
	const base = await mkdtemp(join(os.tmpdir(), 'livetree-booted-'));
	const sysroot = join(base, 'sysroot');
	const state = join(base, 'state');
	await mkdir(state);
	const tag = `${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
	const cgroup = `/livetree-boot-${tag}`;
	const hostCgroup = `/livetree-host-${tag}`;
	const started: number[] = [];
	t.teardown(async () => {
		for (const pid of started.reverse()) {
			try {
				process.kill(pid, 'SIGKILL');
			} catch {}
		}

		await new Promise(r => setTimeout(r, 500));
		await run('bash', [booted, 'destroy', sysroot, cgroup]).catch(() => undefined);
		await run('bash', [booted, 'destroy', join(base, 'none'), hostCgroup]).catch(() => undefined);
		await run('rm', ['-rf', base]);
	});

	const {stdout: deployOut} = await run('bash', [booted, 'build', sysroot, tarball.trim()], {timeout: 180_000, maxBuffer: 1 << 20});
	const deploy = deployOut.trim();
	const {stdout: leaderOut} = await run('bash', [booted, 'boot', sysroot, deploy, cgroup], {timeout: 60_000});
	const leader = Number(leaderOut.trim());
	started.push(leader);
	t.true(Number.isInteger(leader) && leader > 1, leaderOut);
	const state0 = await inside(leader, ['systemctl', 'is-system-running', '--wait']).catch((error: {stdout?: string}) => error.stdout ?? 'failed');
	// running, or degraded if some unit of the minimal userland fails on this kernel: either way
	// the manager, the bus and the units this test asks about are up (checked below).
	t.true(['running', 'degraded'].includes(state0), `${state0}: ${await inside(leader, ['systemctl', '--failed', '--no-pager']).catch(() => '')}`);
	const bus = ['--bus-address', `unix:path=/proc/${leader}/root/run/dbus/system_bus_socket`, '--sysroot', sysroot, '--state-dir', state];

	// A host process whose PID number is, inside the container, lt-app's new main PID: asking
	// the container's manager about the host PID would name lt-app.service. It sits in a host
	// cgroup named like a unit, so its own cgroup path offers a hint.
	const host = spawn('sleep', ['600'], {stdio: 'ignore'});
	started.push(host.pid!);
	for (const h of hierarchies()) {
		await mkdir(join(h, hostCgroup, 'lt-host.service'), {recursive: true});
		await writeFile(join(h, hostCgroup, 'lt-host.service', 'cgroup.procs'), String(host.pid));
	}

	await inside(leader, ['sh', '-c', `echo ${host.pid! - 1} > /proc/sys/kernel/ns_last_pid; exec systemctl restart lt-app.service`]);
	const appMain = Number(await inside(leader, ['systemctl', 'show', '-p', 'MainPID', '--value', 'lt-app.service']));
	t.is(appMain, host.pid!, "the container gave lt-app the host process's PID number");

	const status = await livetree(['status', '--json', ...bus]);
	const doc = JSON.parse(status.stdout) as StatusDocument;
	t.is(status.code, statusExitCode(doc), status.stderr);
	t.deepEqual(schemaErrors(doc), []);
	const unit = (name: string) => doc.units.find(u => u.name === name);
	for (const name of ['lt-app.service', 'dbus.service', 'cron.service', 'systemd-logind.service', 'systemd-journald.service']) {
		const u = unit(name);
		t.truthy(u, `${name} in ${JSON.stringify(doc.units.map(x => x.name))}`);
		// mainPid is a host PID: one of the unit's pids, whose innermost NSpid is the manager's MainPID.
		const managerMain = Number(await inside(leader, ['systemctl', 'show', '-p', 'MainPID', '--value', name]));
		t.true(u!.pids.includes(u!.mainPid!), `${name}: mainPid ${u!.mainPid} in ${JSON.stringify(u!.pids)}`);
		t.is((await nsPid(u!.mainPid!)).at(-1), managerMain, name);
		t.not(u!.mainPid, managerMain, `${name}: the container's own number would be wrong here`);
		t.is(doc.processes.find(p => p.pid === u!.mainPid)?.root.kind, 'deployment');
	}

	// Host processes belong to no unit of this manager: the test itself, and the PID-twin.
	t.is(doc.processes.find(p => p.pid === host.pid)?.unit, null);
	t.is(doc.processes.find(p => p.pid === process.pid)?.unit, null);
	t.deepEqual(unit('init.scope')?.pids, [leader]);
	t.deepEqual(unit('lt-app.service')?.pids, [unit('lt-app.service')!.mainPid]);

	// lt-app's binary replaced on disk: it needs a restart, and restart --needed verifies it.
	const bin = join(sysroot, 'ostree/deploy/debian/var/lib/livetree-test/sleep');
	await copyFile(bin, `${bin}.new`);
	await rename(`${bin}.new`, bin);
	const plan = JSON.parse((await livetree(['restart', '--needed', '--dry-run', '--json', ...bus])).stdout) as Outcome[];
	t.deepEqual(
		plan.map(o => [o.unit, o.verdict]),
		[['lt-app.service', 'would-restart']],
	);
	const restarted = await livetree(['restart', '--needed', '--json', ...bus]);
	t.is(restarted.code, 0, restarted.stdout + restarted.stderr);
	const [outcome] = JSON.parse(restarted.stdout) as Outcome[];
	t.is(outcome?.verdict, 'verified');
	const newMain = Number(await inside(leader, ['systemctl', 'show', '-p', 'MainPID', '--value', 'lt-app.service']));
	t.is(outcome!.newPids.length, 1);
	t.is((await nsPid(outcome!.newPids[0]!)).at(-1), newMain, 'newPids are host PIDs');
	const history = JSON.parse((await livetree(['history', '--json', '--state-dir', state])).stdout) as Array<{unit: string; verdict: string}>;
	t.deepEqual(
		history.map(h => [h.unit, h.verdict]),
		[['lt-app.service', 'verified']],
	);

	// A live update: a new libc on an overlay over /usr. Every running daemon now maps a
	// replaced libc; dbus, logind and the manager itself are not restarted for it.
	await inside(leader, [
		'sh',
		'-c',
		[
			'set -e',
			'mkdir -p /run/lt-up/upper/lib/x86_64-linux-gnu /run/lt-up/work',
			'cp /usr/lib/x86_64-linux-gnu/libc.so.6 /run/lt-up/upper/lib/x86_64-linux-gnu/libc.so.6',
			'echo hotfix >> /run/lt-up/upper/lib/x86_64-linux-gnu/libc.so.6',
			'mount -t overlay overlay -o lowerdir=/usr,upperdir=/run/lt-up/upper,workdir=/run/lt-up/work /usr',
		].join('\n'),
	]);
	const dbusBefore = await inside(leader, ['systemctl', 'show', '-p', 'MainPID', '--value', 'dbus.service']);
	const dry = await livetree(['restart', '--needed', '--dry-run', '--json', ...bus]);
	t.is(dry.code, 0, dry.stderr);
	const after = new Map((JSON.parse(dry.stdout) as Outcome[]).map(o => [o.unit, o]));
	t.is(after.get('dbus.service')?.verdict, 'skipped', dry.stdout);
	t.is(after.get('dbus.service')?.skip?.code, 'message-bus');
	t.regex(after.get('dbus.service')!.skip!.instead, /reboot/);
	t.is(after.get('systemd-logind.service')?.skip?.code, 'login-manager');
	t.is(after.get('init.scope')?.skip?.code, 'manager');
	t.regex(after.get('init.scope')!.skip!.instead, /daemon-reexec/);
	t.is(after.get('cron.service')?.verdict, 'would-restart');
	t.is(await inside(leader, ['systemctl', 'show', '-p', 'MainPID', '--value', 'dbus.service']), dbusBefore);
	const text = await livetree(['restart', '--needed', '--dry-run', '--color', 'never', ...bus]);
	t.regex(text.stdout, /^dbus\.service: skipped: it is the message bus.*; instead: a reboot/m);
});
