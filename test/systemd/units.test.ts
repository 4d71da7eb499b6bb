// collectUnits against a real systemd --user: what it reports must agree with systemctl.
import test from 'ava';
import {mkdtempSync, rmSync} from 'node:fs';
import {readFile, readdir} from 'node:fs/promises';
import {spawn} from 'node:child_process';
import {mkdir, rmdir, writeFile} from 'node:fs/promises';
import {join} from 'node:path';
import {groupHints, UnitTable, type UnitTableText} from '../../src/model/unit-table.js';
import {connectSystemd} from '../../src/systemd/client.js';
import {SystemdError} from '../../src/systemd/errors/systemd-error.js';
import type {BulkSystemdClient} from '../../src/systemd/bulk-client.js';
import {askAhead} from '../../src/systemd/status-units.js';
import {collectUnitGroups, collectUnits, nameFromPath} from '../../src/systemd/units.js';
import {startUserManager, systemdHierarchies} from '../helpers/systemd-user.js';
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

/** A `sleep` of the test's own in a cgroup `DIR/UNIT` beside the manager's units (named like
 * the unit, not the manager's), in every systemd hierarchy; killed and removed at teardown. */
async function lookAlike(t: {teardown(fn: () => Promise<void>): void}, m: UserManager, dir: string, unit: string): Promise<{pid: number; cgroup: string}> {
	const cgroup = `${m.cgroupRoot}/${dir}/${unit}`;
	const fake = spawn('sleep', ['600'], {stdio: 'ignore'});
	const pid = fake.pid!;
	t.teardown(async () => {
		fake.kill('SIGKILL');
		await new Promise(r => setTimeout(r, 100));
		for (const h of systemdHierarchies()) {
			await rmdir(join(h, cgroup)).catch(() => undefined);
			await rmdir(join(h, m.cgroupRoot, dir)).catch(() => undefined);
		}
	});
	for (const h of systemdHierarchies()) {
		await mkdir(join(h, cgroup), {recursive: true});
		await writeFile(join(h, cgroup, 'cgroup.procs'), String(pid));
	}

	return {pid, cgroup};
}

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

test('processes are grouped by their [cgroup, unit] pair, each pair once, in the order of its first process', t => {
	const groups = groupHints([
		{pid: 10, cgroupUnit: 'a.service', cgroup: '/a.service'},
		{pid: 11, cgroupUnit: 'a.service', cgroup: '/x/a.service'},
		{pid: 12, cgroupUnit: null, cgroup: '/'},
		{pid: 13, cgroupUnit: 'a.service', cgroup: '/a.service'},
		{pid: 14, cgroupUnit: 'b.service'},
		{pid: 15, cgroupUnit: 'b.service', cgroup: null},
		{pid: 16, cgroupUnit: 'a.service', cgroup: '/x/a.service'},
	]);
	t.deepEqual(groups, [
		{cgroupUnit: 'a.service', cgroup: '/a.service', pids: [10, 13], at: [0, 3]},
		{cgroupUnit: 'a.service', cgroup: '/x/a.service', pids: [11, 16], at: [1, 6]},
		{cgroupUnit: null, cgroup: '/', pids: [12], at: [2]},
		{cgroupUnit: 'b.service', cgroup: null, pids: [14, 15], at: [4, 5]},
	]);
});

// A unit's processes are confirmed a cgroup at a time where their path lies in its
// ControlGroup; a process of the same hint in a cgroup named like the unit elsewhere is not
// (the manager says where it is), whichever order the scan gave them in.
test('a hint confirmed for the processes in its ControlGroup, not for a same-named cgroup elsewhere', async t => {
	const m = await manager(t);
	await m.startUnit('lt-g.service', ['/bin/sh', '-c', 'sleep 600 & exec sleep 601']);
	const shown = await m.show('lt-g.service', ['MainPID', 'ControlGroup']);
	const main = Number(shown.MainPID);
	const helper = await childOf(main);
	t.truthy(helper, 'the backgrounded sleep is a child of the main process');
	const cg = shown.ControlGroup ?? '';
	t.true(cg.startsWith(`${m.cgroupRoot}/`));

	// A process of the test's own, moved into a cgroup named like the unit beside the manager's units.
	const {pid: fakePid, cgroup: fakeCg} = await lookAlike(t, m, 'lt-fake', 'lt-g.service');

	const client = await connectSystemd({busAddress: m.busAddress});
	t.teardown(() => client.close());
	const res = await collectUnits(client, [
		{pid: main, cgroupUnit: 'lt-g.service', cgroup: cg},
		{pid: fakePid, cgroupUnit: 'lt-g.service', cgroup: fakeCg},
		{pid: helper as number, cgroupUnit: 'lt-g.service', cgroup: cg},
	]);
	const unit = res.units.find(u => u.name === 'lt-g.service');
	t.deepEqual(
		unit?.pids,
		[main, helper as number].sort((a, b) => a - b),
	);
	// Where the manager places the fake one (its unit for that PID, or none).
	const said = await client.getUnitByPid(fakePid).then(
		path => nameFromPath(path),
		(error: unknown) => {
			t.true(error instanceof SystemdError, String(error));
			return null;
		},
	);
	t.not(said, 'lt-g.service');
	t.is(res.units.find(u => u.pids.includes(fakePid))?.name ?? null, said);
	t.deepEqual(res.warnings, []);
});

// A status's units answered ahead (askAhead) whose groups lie in their ControlGroup are
// settled without a question; a hint among them whose group lies elsewhere is still asked
// (GetUnitByPID), in the hints' order: the answer is the one asking everything gives.
test('units answered ahead are settled from their ControlGroup, the others asked, as asking all of them says', async t => {
	const m = await manager(t);
	await m.startUnit('lt-s1.service', ['/bin/sh', '-c', 'sleep 600 & exec sleep 601']);
	await m.startUnit('lt-s2.service', ['/bin/sleep', '602']);
	const s1 = await m.show('lt-s1.service', ['MainPID', 'ControlGroup']);
	const s2 = await m.show('lt-s2.service', ['MainPID', 'ControlGroup']);
	const main1 = Number(s1.MainPID);
	const main2 = Number(s2.MainPID);
	const helper = (await childOf(main1)) as number;
	t.truthy(helper, 'the backgrounded sleep is a child of the main process');

	const {pid: fakePid, cgroup: fakeCg} = await lookAlike(t, m, 'lt-fake2', 'lt-s2.service');

	const hints = [
		{pid: main1, cgroupUnit: 'lt-s1.service', cgroup: s1.ControlGroup ?? null},
		{pid: fakePid, cgroupUnit: 'lt-s2.service', cgroup: fakeCg},
		{pid: main2, cgroupUnit: 'lt-s2.service', cgroup: s2.ControlGroup ?? null},
		{pid: helper, cgroupUnit: 'lt-s1.service', cgroup: s1.ControlGroup ?? null},
	];
	const ahead = await askAhead({kind: 'address', address: m.busAddress}, '/proc', false);
	t.teardown(() => ahead.close());
	const client = ahead.client as BulkSystemdClient;
	const opts = {pidView: ahead.pidView, prefetched: ahead.prefetched};
	t.true(ahead.pidView.sameNamespace);

	// Every group in its unit's ControlGroup: no call at all.
	const before = client.sent;
	const settled = await collectUnitGroups(client, groupHints([hints[0]!, hints[2]!, hints[3]!]), opts);
	t.is(client.sent, before);
	t.deepEqual(
		settled.units.map(u => [u.name, u.pids]),
		[
			['lt-s1.service', [main1, helper].sort((a, b) => a - b)],
			['lt-s2.service', [main2]],
		],
	);
	t.deepEqual(settled.warnings, []);

	// With the fake among them: the same as a client that asks about everything.
	const mixed = await collectUnitGroups(client, groupHints(hints), opts);
	t.true(client.sent > before, 'the fake process is asked about');
	const plain = await connectSystemd({busAddress: m.busAddress});
	t.teardown(() => plain.close());
	const asked = await collectUnits(plain, hints);
	t.deepEqual(mixed, asked);
	t.deepEqual(mixed.units.find(u => u.name === 'lt-s2.service')?.pids, [main2]);
	t.deepEqual(
		mixed.units.find(u => u.name === 'lt-s1.service')?.pids,
		[main1, helper].sort((a, b) => a - b),
	);
	t.false(mixed.units.some(u => u.name.startsWith('lt-s') && u.pids.includes(fakePid)));
});

// The unit table keeps the processes' text as the core's bytes (UTF-8; its lengths count
// bytes): unchanged processes print as slices of those bytes, only a changed one as a string.
test('the unit table prints its processes as slices of the core bytes, a changed one as text', t => {
	const texts = ['{"pid":1,"comm":"d 𝄞é","unit":"a.service"}', '{"pid":2,"comm":"x","unit":"a.service"}', '{"pid":3,"comm":"ü","unit":"a.service"}'];
	const bytes = Buffer.from(`[${texts.join(',')}]`);
	const table = (lengths: number[]): UnitTableText => ({
		pids: [1, 2, 3],
		lengths,
		groups: [['/a.service', 'a.service']],
		group: [0, 0, 0],
		files: [],
		stale: [],
		staleRoots: [],
		staleFiles: [],
		config: [],
		configStartedAt: [],
		configChanges: [],
		starts: [null, null, null],
	});
	// Counted in UTF-16 code units, the lengths do not make the bytes' array.
	t.throws(() => new UnitTable(table(texts.map(s => s.length)), bytes), {instanceOf: TypeError, message: /an array of 125 bytes, not 129$/});
	const lengths = texts.map(s => Buffer.byteLength(s));
	t.deepEqual(lengths, [46, 39, 40]);
	const unchanged = new UnitTable(table(lengths), bytes);
	const whole = [...unchanged.printAll()];
	t.is(whole.length, 1);
	t.is(whole[0], bytes, 'the bytes as the core handed them over');

	const changed = new UnitTable(table(lengths), bytes);
	changed.setUnits((pid, written) => (pid === 2 ? 'b.service' : written));
	const pieces = [...changed.printAll()];
	t.deepEqual(
		pieces.map(p => (typeof p === 'string' ? 'text' : 'bytes')),
		['bytes', 'text', 'bytes'],
	);
	t.is(pieces.map(p => (typeof p === 'string' ? p : Buffer.from(p).toString())).join(''), `[${texts[0]},{"pid":2,"comm":"x","unit":"b.service"},${texts[2]}]`);
});
