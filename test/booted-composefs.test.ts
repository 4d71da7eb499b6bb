// Issue 20, inside a booted composefs system: a Debian userland committed and deployed by
// upstream ostree with composefs (its own .ostree.cfs), its root mounted by upstream
// ostree-prepare-root itself as at boot (on this kernel: EROFS from the file, no loop device,
// detached; overlay with the repo's objects as data-only layer), booted with a real systemd as
// PID 1, audited from the host over its system bus (fixtures/booted.sh build-cfs / boot-cfs). /usr is then unlocked exactly as
// `ostree admin unlock` does it (`lowerdir=usr` relative to the *physical* deployment
// directory, the upper in /var/tmp) with a newer libc from a commit of its own: the daemons
// that mapped the old libc need a restart, and a restarted unit maps the overlay's libc and
// every other file from the lower layer, which is the deployment's own: verified, and not
// offered again.
import {execFile} from 'node:child_process';
import {mkdir, mkdtemp} from 'node:fs/promises';
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
const LIBC = '/usr/lib/x86_64-linux-gnu/libc.so.6';

interface Outcome {
	unit: string;
	verdict: string;
	newPids: number[];
}

async function inside(leader: number, args: string[]): Promise<string> {
	return (await run('nsenter', ['-t', String(leader), '-a', ...args], {timeout: 90_000})).stdout.trim();
}

test.serial('a booted composefs system with /usr unlocked as ostree does: a restarted unit is verified and not offered again', async t => {
	t.timeout(1_500_000);
	const {stdout: tarball} = await run(join(projectRoot, 'scripts/debian-userland.sh'), [], {timeout: 1_200_000});
	const base = await mkdtemp(join(os.tmpdir(), 'livetree-bootcfs-'));
	const sysroot = join(base, 'sysroot');
	const state = join(base, 'state');
	await mkdir(state);
	const cgroup = `/livetree-bootcfs-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
	let leader = 0;
	t.teardown(async () => {
		if (leader > 0) {
			try {
				process.kill(leader, 'SIGKILL');
			} catch {}
		}

		await new Promise(r => setTimeout(r, 500));
		await run('bash', [booted, 'destroy', sysroot, cgroup]).catch(() => undefined);
		await run('rm', ['-rf', base]);
	});

	const deploy = (await run('bash', [booted, 'build-cfs', sysroot, tarball.trim()], {timeout: 300_000, maxBuffer: 1 << 20})).stdout.trim();
	leader = Number((await run('bash', [booted, 'boot-cfs', sysroot, deploy, cgroup], {timeout: 60_000})).stdout.trim());
	t.true(Number.isInteger(leader) && leader > 1);
	const up = await inside(leader, ['systemctl', 'is-system-running', '--wait']).catch((error: {stdout?: string}) => error.stdout ?? 'failed');
	t.true(['running', 'degraded'].includes(up), up);
	const root = await inside(leader, ['findmnt', '-n', '-o', 'FSTYPE,SOURCE', '/']);
	t.is(root.replace(/\s+/g, ' '), 'overlay composefs');
	// This system's own composefs mount: another checkout's booted system, running beside
	// this test, has one too, which is not this test's to judge.
	const rootDevice = (await inside(leader, ['findmnt', '-n', '-o', 'MAJ:MIN', '/'])).trim();
	const ours = (w: {code: string; message: string}) => {
		const mount = /^composefs mount (\d+:\d+) /.exec(w.message)?.[1];
		return w.code.startsWith('composefs-') && (mount === undefined || mount === rootDevice);
	};
	const loops = (await run('losetup', ['-n', '-O', 'BACK-FILE', '-l'])).stdout;
	t.false(loops.includes(deploy), 'no loop device holds the image');
	const bus = ['--bus-address', `unix:path=/proc/${leader}/root/run/dbus/system_bus_socket`, '--sysroot', sysroot, '--state-dir', state];
	const id = `debian/${deploy.split('/').at(-1)!}`;

	const status = async (): Promise<StatusDocument> => {
		const r = await livetree(['status', '--json', ...bus]);
		const doc = JSON.parse(r.stdout) as StatusDocument;
		t.is(r.code, statusExitCode(doc), r.stderr);
		t.deepEqual(schemaErrors(doc), []);
		return doc;
	};

	const unitProcess = (doc: StatusDocument, unit: string) => {
		const u = doc.units.find(u => u.name === unit);
		t.truthy(u, unit);
		const p = doc.processes.find(p => p.pid === u!.mainPid);
		t.truthy(p, `${unit} main PID ${u!.mainPid}`);
		return p!;
	};

	// Booted: every daemon runs its deployment's code, proven through the image.
	const first = await status();
	t.is(first.deployments[0]!.composefs?.mounted, true);
	t.deepEqual(
		first.warnings.filter(w => ours(w)),
		[],
	);
	for (const unit of ['cron.service', 'lt-app.service', 'systemd-journald.service']) {
		const p = unitProcess(first, unit);
		t.is(p.root.deployment, id, unit);
		t.is(p.state, 'current', unit);
		t.is(p.files.find(f => f.path === LIBC)?.origin.kind, 'deployment', unit);
	}

	// `ostree admin unlock` (development): from the physical deployment directory,
	// lowerdir=usr, the upper in /var/tmp; the upper carries 1.1's libc.
	const hotfix = (
		await run(join(projectRoot, 'fixtures/upstream/ostree'), [`--repo=${join(sysroot, 'ostree/repo')}`, 'rev-parse', 'debian/hotfix'])
	).stdout.trim();
	const ovl = join(sysroot, 'ostree/deploy/debian/var/tmp/ostree-unlock-ovl.lt');
	await mkdir(join(ovl, 'upper/lib/x86_64-linux-gnu'), {recursive: true});
	await mkdir(join(ovl, 'work'));
	await run('cp', ['-p', `${sysroot}.hotfix${LIBC}`, join(ovl, 'upper/lib/x86_64-linux-gnu/libc.so.6')]);
	await inside(leader, [
		'sh',
		'-c',
		`cd /sysroot/ostree/deploy/${id.replace('debian/', 'debian/deploy/')} && mount -t overlay overlay -o lowerdir=usr,upperdir=/var/tmp/ostree-unlock-ovl.lt/upper,workdir=/var/tmp/ostree-unlock-ovl.lt/work /usr`,
	]);

	const unlocked = await status();
	const before = unitProcess(unlocked, 'cron.service');
	t.is(before.state, 'stale');
	t.deepEqual(
		before.files.filter(f => f.superseded).map(f => f.path),
		[LIBC],
	);
	// This booted system's overlay, by the device of its /usr mount (another checkout's booted
	// system may have its own /usr overlay of the same deployment at the same time).
	const usrDevice = await inside(leader, ['sh', '-c', 'findmnt -n -o MAJ:MIN /usr | tail -n 1']);
	const ov = unlocked.overlays.filter(o => o.mountPoint === '/usr' && o.device === usrDevice);
	t.is(ov.length, 1);
	t.is(ov[0]!.lowerDeployment, id);
	t.deepEqual(ov[0]!.sourceCommits, [hotfix]);

	const planned = await livetree(['restart', '--needed', '--dry-run', '--json', ...bus]);
	t.is(planned.code, 0, planned.stderr);
	const plan = JSON.parse(planned.stdout) as Outcome[];
	t.is(plan.find(o => o.unit === 'cron.service')?.verdict, 'would-restart');
	const restarted = await livetree(['restart', 'cron.service', '--json', ...bus]);
	t.is(restarted.code, 0, restarted.stdout + restarted.stderr);
	const [outcome] = JSON.parse(restarted.stdout) as Outcome[];
	t.is(outcome?.verdict, 'verified');

	const after = await status();
	const cron = unitProcess(after, 'cron.service');
	t.deepEqual([cron.pid], outcome!.newPids);
	t.is(cron.state, 'overlay');
	t.false(cron.needsRestart);
	const libc = cron.files.find(f => f.path === LIBC)!;
	t.is(libc.origin.kind, 'overlay');
	t.is(libc.origin.commit, hotfix);
	// Every other file comes from the lower layer: the deployment's own, never superseded.
	const others = cron.files.filter(f => f.path !== LIBC);
	t.true(others.length >= 5);
	t.deepEqual(
		others.filter(f => f.superseded || f.staleReason !== null || f.origin.kind !== 'deployment').map(f => f.path),
		[],
	);
	const again = JSON.parse((await livetree(['restart', '--needed', '--dry-run', '--json', ...bus])).stdout) as Outcome[];
	t.is(
		again.find(o => o.unit === 'cron.service'),
		undefined,
	);
	const history = JSON.parse((await livetree(['history', '--json', '--state-dir', state])).stdout) as Array<{unit: string; verdict: string}>;
	t.deepEqual(
		history.map(h => [h.unit, h.verdict]),
		[['cron.service', 'verified']],
	);
});
