// collectUnits against a real systemd --user: what it reports must agree with systemctl.
import test from 'ava';
import {mkdtempSync, rmSync} from 'node:fs';
import {readFile, readdir} from 'node:fs/promises';
import {connectSystemd} from '../../src/systemd/client.js';
import {collectUnits} from '../../src/systemd/units.js';
import {startUserManager} from '../helpers/systemd-user.js';
import type {UserManager} from '../helpers/systemd-user.js';

async function manager(t: {teardown(fn: () => Promise<void>): void}): Promise<UserManager> {
	const m = await startUserManager();
	t.teardown(() => m.stop());
	return m;
}

const PROPS = ['MainPID', 'ActiveState', 'SubState', 'Result', 'NRestarts', 'ExecMainStatus', 'ControlGroup'];

test('units agree with systemctl show for real transient units', async t => {
	const m = await manager(t);
	await m.startUnit('lt-a.service', ['/bin/sleep', '600']);
	await m.startUnit('lt-b.service', ['/bin/sh', '-c', 'exec sleep 601']);
	const a = await m.show('lt-a.service', PROPS);
	const b = await m.show('lt-b.service', PROPS);
	const pidA = Number(a.MainPID);
	const pidB = Number(b.MainPID);

	// The unit's process sits in the cgroup systemd reports, below the manager's own root.
	const cgroup = await readFile(`/proc/${pidA}/cgroup`, 'utf8');
	t.true(
		cgroup.split('\n').some(line => line.endsWith(`:${a.ControlGroup ?? '?'}`)),
		cgroup,
	);
	t.true(a.ControlGroup?.startsWith(`${m.cgroupRoot}/app.slice/`));

	const client = await connectSystemd({busAddress: m.busAddress});
	t.teardown(() => client.close());
	// Hints as the native scan gives them, one wrong hint, and a process without one.
	const res = await collectUnits(client, [
		{pid: pidA, cgroupUnit: 'lt-a.service'},
		{pid: pidB, cgroupUnit: 'lt-b.service'},
		{pid: process.pid, cgroupUnit: 'lt-a.service'},
		{pid: 1, cgroupUnit: null},
	]);
	t.deepEqual(res.warnings, []);
	t.deepEqual(
		res.units.map(u => u.name),
		['lt-a.service', 'lt-b.service'],
	);
	for (const [u, s, pid] of [
		[res.units[0], a, pidA],
		[res.units[1], b, pidB],
	] as const) {
		const get = (k: string): string => s[k] ?? '';
		if (!u) return t.fail('unit missing');
		t.is(u.mainPid, Number(s.MainPID));
		t.is(u.activeState, get('ActiveState'));
		t.is(u.subState, get('SubState'));
		t.is(u.result, get('Result'));
		t.is(u.nRestarts, Number(s.NRestarts));
		t.is(u.execMainStatus, Number(s.ExecMainStatus));
		t.deepEqual(u.pids, [pid]);
	}
	// Our own process carried a false hint: the manager does not confirm it, so it is in no unit.
	t.false(res.units.some(u => u.pids.includes(process.pid)));

	const ts = (await m.systemctl(['show', '--timestamp=unix', '-p', 'ActiveEnterTimestamp', '--value', 'lt-a.service'])).trim();
	const seconds = Number(ts.replace(/^@/, ''));
	const reported = res.units[0]?.activeEnterTimestamp;
	t.truthy(reported);
	t.true(Math.abs(Date.parse(reported as string) / 1000 - seconds) < 1);
	t.regex(reported as string, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
});

test('a unit with a helper process outside the main PID lists both PIDs', async t => {
	const m = await manager(t);
	await m.startUnit('lt-helper.service', ['/bin/sh', '-c', 'sleep 600 & exec sleep 601']);
	const main = Number((await m.show('lt-helper.service', ['MainPID'])).MainPID);
	const helper = await childOf(main);
	t.truthy(helper, 'the backgrounded sleep is a child of the main process');
	t.regex(await readFile(`/proc/${helper as number}/cgroup`, 'utf8'), /\/lt-helper\.service$/m);

	const client = await connectSystemd({busAddress: m.busAddress});
	t.teardown(() => client.close());
	const res = await collectUnits(client, [
		{pid: main, cgroupUnit: 'lt-helper.service'},
		{pid: helper as number, cgroupUnit: 'lt-helper.service'},
	]);
	t.is(res.units.length, 1);
	t.is(res.units[0]?.mainPid, main);
	t.deepEqual(
		res.units[0]?.pids,
		[main, helper as number].sort((x, y) => x - y),
	);

	// Without cgroup access (an empty cgroup fs root) the helper is confirmed by GetUnitByPID instead.
	const empty = mkdtempSync('/tmp/livetree-nocg-');
	t.teardown(() => rmSync(empty, {recursive: true, force: true}));
	const blind = await collectUnits(
		client,
		[
			{pid: main, cgroupUnit: 'lt-helper.service'},
			{pid: helper as number, cgroupUnit: 'lt-helper.service'},
		],
		{cgroupFsRoot: empty},
	);
	t.deepEqual(blind.units, res.units);
});

async function childOf(ppid: number): Promise<number | null> {
	for (let i = 0; i < 50; i++) {
		for (const e of await readdir('/proc')) {
			if (!/^\d+$/.test(e)) continue;
			try {
				const stat = await readFile(`/proc/${e}/stat`, 'utf8');
				const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
				if (Number(fields[1]) === ppid) return Number(e);
			} catch {
				// exited meanwhile
			}
		}
		await new Promise(r => setTimeout(r, 100));
	}
	return null;
}
