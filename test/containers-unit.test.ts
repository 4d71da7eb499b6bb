// A container run by a systemd service as Quadlet runs it (`podman run --cgroups=split
// --replace` in ExecStart): its processes lie in `NAME.service/libpod-payload-ID`, so the
// service is the container's unit. Restarting that unit after the tag moved creates the
// container again from the name: livetree's restart verifies the new process runs the new
// image. A real systemd user manager (test/helpers/systemd-user.ts) and real podman.
import {randomBytes} from 'node:crypto';
import {mkdir, readFile} from 'node:fs/promises';
import {join} from 'node:path';
import test from 'ava';
import type {Process, StatusDocument} from '../src/model/document.js';
import {livetree} from './helpers/cli.js';
import {buildDemoDeb, PodmanStore} from './helpers/podman.js';
import {startUserManager} from './helpers/systemd-user.js';

const LIB = '/usr/lib/livetree-demo/libdemo.so.1';

test('a container run by a service names that unit; restarting it after the tag moved runs the new image, verified', async t => {
	const manager = await startUserManager();
	t.teardown(async () => manager.stop());
	const store = await PodmanStore.create();
	t.teardown(async () => store.cleanup());
	const tag = randomBytes(4).toString('hex');
	const base = `localhost/lt-ubase-${tag}:1`;
	const image = `localhost/lt-unit-${tag}:latest`;
	const state = join(store.dir, 'state');
	await mkdir(state);
	await store.importBase(base);
	const first = await store.buildWithDeb(image, base, await buildDemoDeb(store.dir, '1.0'));
	const name = `lt-unit-${tag}`;
	const unit = `lt-unit-${tag}.service`;
	await manager.startUnit(
		unit,
		store.argv(['run', '--rm', '--replace', '--cgroups=split', '--network', 'none', '--name', name, image, 'env', `LD_PRELOAD=${LIB}`, 'sleep', 'infinity']),
		{properties: ['KillMode=mixed', 'TimeoutStopSec=2'], waitForMainPid: true},
	);
	const pidOf = async (): Promise<number> => {
		for (let i = 0; i < 100; i++) {
			const pid = await store
				.container(name)
				.then(c => c.State.Pid)
				.catch(() => 0);
			const maps = pid > 0 ? await readFile(`/proc/${pid}/maps`, 'utf8').catch(() => '') : '';
			if (maps.includes(LIB)) {
				return pid;
			}

			await new Promise(r => setTimeout(r, 100));
		}

		throw new Error(`container ${name} did not start`);
	};

	const pid = await pidOf();
	const cgroup = await readFile(`/proc/${pid}/cgroup`, 'utf8');
	t.true(cgroup.includes(`/${unit}/libpod-payload-`), cgroup);
	const bus = ['--bus-address', manager.busAddress, '--state-dir', state];
	const explain = async (p: number): Promise<{code: number; p: Process}> => {
		const r = await livetree(['explain', '--json', ...bus, String(p)]);
		return {code: r.code, p: JSON.parse(r.stdout) as Process};
	};

	const before = await explain(pid);
	t.is(before.code, 0);
	t.is(before.p.container?.unit, unit);
	t.is(before.p.unit, unit);
	t.is(before.p.container?.image?.id, first);

	// The tag moves: the unit needs a restart, and the report says to restart it.
	const second = await store.buildWithDeb(image, base, await buildDemoDeb(store.dir, '2.0'));
	const stale = await explain(pid);
	t.is(stale.code, 1);
	t.is(stale.p.files.find(f => f.path === LIB)?.staleReason, 'image-outdated');
	// The command carries the options that chose what was read: this catalog, this manager.
	const explained = (await livetree(['explain', ...bus, String(pid)])).stdout;
	t.true(explained.endsWith(`Next: livetree restart --dry-run ${unit} --state-dir ${state} --bus-address ${manager.busAddress}\n`), explained);
	const doc = JSON.parse((await livetree(['status', '--json', ...bus])).stdout) as StatusDocument;
	t.true(doc.units.find(u => u.name === unit)?.needsRestart, JSON.stringify(doc.units));
	// --verbose: the host may run many other containers (other checkouts' tests, benches), and a
	// report cut at its first rows need not reach this one.
	const text = (await livetree(['status', '--verbose', '--color', 'never', ...bus])).stdout;
	t.true(text.includes(`Restart: restart unit ${unit} (livetree restart ${unit} --state-dir ${state} --bus-address ${manager.busAddress})`), text);

	// Restarting the unit creates the container again from the name: the new image, verified.
	const restart = await livetree(['restart', unit, '--json', ...bus]);
	t.is(restart.code, 0, restart.stdout + restart.stderr);
	const [outcome] = JSON.parse(restart.stdout) as Array<{verdict: string; newPids: number[]}>;
	t.is(outcome?.verdict, 'verified', restart.stdout);
	const fresh = await pidOf();
	t.not(fresh, pid);
	const after = await explain(fresh);
	t.is(after.code, 0);
	t.is(after.p.container?.image?.id, second);
	t.is(after.p.container?.imageOutdated, false);
	t.is(after.p.files.find(f => f.path === LIB)?.origin.package?.version, '2.0-1');
});
