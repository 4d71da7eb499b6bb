// restartUnits against a real systemd --user: real jobs, real JobRemoved signals, real cgroups.
import test from 'ava';
import {existsSync} from 'node:fs';
import {execFile} from 'node:child_process';
import {chmod, chown, mkdtemp, rm, writeFile} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {promisify} from 'node:util';
import {join} from 'node:path';
import {connectSystemd} from '../../src/systemd/client.js';
import {restartUnits} from '../../src/systemd/restart.js';
import type {RestartFinish, RestartRecorder, VerifyResult} from '../../src/systemd/restart.js';
import type {StaleFile} from '../../src/systemd/reasons.js';
import {projectRoot} from '../helpers/cli.js';
import {startUserManager} from '../helpers/systemd-user.js';
import type {UserManager} from '../helpers/systemd-user.js';

async function manager(t: {teardown(fn: () => Promise<void>): void}): Promise<UserManager> {
	const m = await startUserManager();
	t.teardown(() => m.stop());
	return m;
}

/** Records calls in memory; begin notes whether the old process was still alive (job not yet issued). */
class MemoryRecorder implements RestartRecorder<StaleFile, number> {
	readonly begun: {unit: string; oldPids: number[]; oldAliveAtBegin: boolean}[] = [];
	readonly finished: {id: number; outcome: RestartFinish<StaleFile>}[] = [];
	async begin(unit: string, oldPids: number[]): Promise<number> {
		this.begun.push({unit, oldPids, oldAliveAtBegin: oldPids.every(p => existsSync(`/proc/${p}`))});
		return this.begun.length;
	}
	async finish(id: number, outcome: RestartFinish<StaleFile>): Promise<void> {
		this.finished.push({id, outcome});
	}
}

/** A verify that really checks the new processes: alive, and none of them is an old one. */
function verifyNotOld(oldPids: number[]) {
	const calls: {unit: string; newPids: number[]}[] = [];
	const verify = async (unit: string, newPids: number[]): Promise<VerifyResult<StaleFile>> => {
		calls.push({unit, newPids});
		const stale = newPids
			.filter(p => oldPids.includes(p) || !existsSync(`/proc/${p}`))
			.map(pid => ({pid, path: `/proc/${pid}`, deleted: false, superseded: true, staleReason: 'superseded', commit: null, version: null}));
		return {allCurrent: stale.length === 0, stale, unknown: []};
	};
	return {verify, calls};
}

const mainPid = async (m: UserManager, name: string): Promise<number> => Number((await m.show(name, ['MainPID'])).MainPID);

test('a restart gives JobRemoved done, new PIDs, and verdict verified', async t => {
	const m = await manager(t);
	await m.startUnit('lt-r.service', ['/bin/sh', '-c', 'sleep 600 & exec sleep 601']);
	const oldMain = await mainPid(m, 'lt-r.service');
	const oldPids = (await m.systemctl(['show', '-p', 'ControlGroup', '--value', 'lt-r.service'])).trim();
	t.true(oldPids.startsWith(m.cgroupRoot));

	const client = await connectSystemd({busAddress: m.busAddress});
	t.teardown(() => client.close());
	const rec = new MemoryRecorder();
	const {verify, calls} = verifyNotOld([oldMain]);
	const [out] = await restartUnits(client, [{name: 'lt-r.service', oldPids: [oldMain], staleFiles: []}], {verify, recorder: rec});

	t.is(out?.jobResult, 'done');
	t.is(out?.verdict, 'verified');
	const newMain = await mainPid(m, 'lt-r.service');
	t.not(newMain, oldMain);
	t.false(existsSync(`/proc/${oldMain}`));
	// New PIDs: the new main process and its helper, both in the unit's cgroup.
	t.is(out?.newPids.length, 2);
	t.true(out?.newPids.includes(newMain));
	t.deepEqual(calls, [{unit: 'lt-r.service', newPids: out?.newPids ?? []}]);
	t.is(Number((await m.show('lt-r.service', ['NRestarts'])).NRestarts), 0); // a manual restart is no auto-restart
	// Recorded: begin before the job (old process still alive then), finish with the verdict.
	t.deepEqual(rec.begun, [{unit: 'lt-r.service', oldPids: [oldMain], oldAliveAtBegin: true}]);
	t.is(rec.finished.length, 1);
	t.is(rec.finished[0]?.id, out?.recordId as number);
	t.is(rec.finished[0]?.outcome.verdict, 'verified');
	t.deepEqual(rec.finished[0]?.outcome.newPids, out?.newPids);
});

test('a unit whose restart fails gives verdict failed with Result recorded', async t => {
	const m = await manager(t);
	const marker = join(m.runtimeDir, 'fail-now');
	const script = join(m.runtimeDir, 'svc.sh');
	await writeFile(script, `#!/bin/sh\nif [ -e '${marker}' ]; then exit 1; fi\nexec sleep 600\n`);
	await chmod(script, 0o755);
	await m.startUnit('lt-fail.service', [script]);
	const oldMain = await mainPid(m, 'lt-fail.service');
	await writeFile(marker, '');

	const client = await connectSystemd({busAddress: m.busAddress});
	t.teardown(() => client.close());
	const rec = new MemoryRecorder();
	const {verify, calls} = verifyNotOld([oldMain]);
	const [out] = await restartUnits(client, [{name: 'lt-fail.service', oldPids: [oldMain], staleFiles: []}], {verify, recorder: rec});

	const shown = await m.show('lt-fail.service', ['Result', 'ExecMainStatus', 'ActiveState']);
	t.log(`job result ${out?.jobResult}, unit ${shown.ActiveState}/${shown.Result}`);
	t.is(out?.verdict, 'failed');
	t.is(shown.ActiveState, 'failed');
	t.is(out?.details.result, shown.Result);
	t.is(out?.details.result, 'exit-code');
	t.is(out?.details.execMainStatus, 1);
	t.is(out?.details.execMainStatus, Number(shown.ExecMainStatus));
	t.deepEqual(calls, [], 'verify is not asked about a unit that failed');
	t.is(rec.finished[0]?.outcome.verdict, 'failed');
	t.is(rec.finished[0]?.outcome.details.result, 'exit-code');
});

test('an old helper that survives the restart (KillMode=process) gives verdict still-stale', async t => {
	const m = await manager(t);
	await m.startUnit('lt-stale.service', ['/bin/sh', '-c', 'sleep 600 & exec sleep 601'], {properties: ['KillMode=process']});
	const cg = (await m.systemctl(['show', '-p', 'ControlGroup', '--value', 'lt-stale.service'])).trim();
	const {readCgroupPids} = await import('../../src/systemd/cgroup.js');
	const oldPids = (await readCgroupPids(cg)) ?? [];
	t.is(oldPids.length, 2);
	t.teardown(() => {
		for (const p of oldPids) {
			try {
				process.kill(p, 'SIGKILL');
			} catch {
				// gone
			}
		}
	});

	const client = await connectSystemd({busAddress: m.busAddress});
	t.teardown(() => client.close());
	const rec = new MemoryRecorder();
	const {verify} = verifyNotOld(oldPids);
	const [out] = await restartUnits(client, [{name: 'lt-stale.service', oldPids, staleFiles: []}], {verify, recorder: rec});
	t.is(out?.jobResult, 'done');
	t.is(out?.verdict, 'still-stale');
	// The old helper is still in the unit's cgroup, so it is among the new PIDs and reported stale.
	const survivors = oldPids.filter(p => out?.newPids.includes(p));
	t.is(survivors.length, 1);
	t.deepEqual(
		out?.details.stale.map(s => s.pid),
		survivors,
	);
	t.is(rec.finished[0]?.outcome.verdict, 'still-stale');
});

test('a restart refused by the manager is recorded as failed with its error', async t => {
	const m = await manager(t);
	const client = await connectSystemd({busAddress: m.busAddress});
	t.teardown(() => client.close());
	const rec = new MemoryRecorder();
	// RestartUnit of a unit with no unit file: the manager answers NoSuchUnit (it loads nothing).
	const [out] = await restartUnits(client, [{name: 'lt-nonexistent.service', oldPids: [], staleFiles: []}], {
		verify: async () => ({allCurrent: true, stale: [], unknown: []}),
		recorder: rec,
	});
	t.is(out?.verdict, 'failed');
	t.is(out?.jobResult, null);
	t.is(out?.details.error?.code, 'no-such-unit');
	t.is(rec.begun.length, 1);
	t.is(rec.finished[0]?.outcome.details.error?.code, 'no-such-unit');
});

test('dryRun changes nothing and records nothing', async t => {
	const m = await manager(t);
	await m.startUnit('lt-dry.service', ['/bin/sleep', '600']);
	const before = await m.show('lt-dry.service', ['MainPID', 'ActiveEnterTimestamp', 'NRestarts']);

	const client = await connectSystemd({busAddress: m.busAddress});
	t.teardown(() => client.close());
	const rec = new MemoryRecorder();
	let verified = 0;
	const outs = await restartUnits(client, [{name: 'lt-dry.service', oldPids: [Number(before.MainPID)], staleFiles: []}], {
		dryRun: true,
		verify: async () => {
			verified++;
			return {allCurrent: true, stale: [], unknown: []};
		},
		recorder: rec,
	});
	t.is(outs.length, 1);
	t.is(outs[0]?.verdict, 'would-restart');
	t.is(outs[0]?.details.mainPid, Number(before.MainPID));
	await new Promise(r => setTimeout(r, 500));
	t.deepEqual(await m.show('lt-dry.service', ['MainPID', 'ActiveEnterTimestamp', 'NRestarts']), before);
	t.is(verified, 0);
	t.deepEqual(rec.begun, []);
	t.deepEqual(rec.finished, []);
});

// livetree's own verification (restart-verify.ts), run by a user who may not read the unit's
// new processes (root's): it proves nothing about them, and the verdict must say so.
async function verifyAsNobody(pids: number[]): Promise<VerifyResult<StaleFile>> {
	const state = await mkdtemp(join(tmpdir(), 'livetree-verify-'));
	try {
		await chown(state, 65_534, 65_534);
		const dist = join(projectRoot, 'dist', 'src');
		const script = [
			`const {verifyProcesses} = await import(${JSON.stringify(join(dist, 'commands', 'restart-verify.js'))});`,
			`const {openScanner} = await import(${JSON.stringify(join(dist, 'collect.js'))});`,
			`const {readCommon} = await import(${JSON.stringify(join(dist, 'options.js'))});`,
			`const options = readCommon({'no-systemd': true, 'state-dir': ${JSON.stringify(state)}});`,
			`console.log(JSON.stringify(await verifyProcesses(options, ${JSON.stringify(pids)}, openScanner(options))));`,
		].join('\n');
		const {stdout} = await promisify(execFile)('runuser', ['-u', 'nobody', '--', process.execPath, '--input-type=module', '-e', script], {cwd: '/'});
		return JSON.parse(stdout) as VerifyResult<StaleFile>;
	} finally {
		await rm(state, {recursive: true, force: true});
	}
}

test('new processes the verification could not read give verdict unverified, never verified', async t => {
	const m = await manager(t);
	await m.startUnit('lt-unread.service', ['/bin/sh', '-c', 'sleep 600 & exec sleep 601']);
	const oldMain = await mainPid(m, 'lt-unread.service');
	const client = await connectSystemd({busAddress: m.busAddress});
	t.teardown(() => client.close());
	const rec = new MemoryRecorder();
	const [out] = await restartUnits(client, [{name: 'lt-unread.service', oldPids: [oldMain], staleFiles: []}], {
		verify: async (_unit, pids) => verifyAsNobody(pids),
		recorder: rec,
	});
	t.is(out?.jobResult, 'done');
	t.is(out?.newPids.length, 2);
	t.is(out?.verdict, 'unverified');
	t.deepEqual(out?.details.unknown, out?.newPids);
	t.deepEqual(out?.details.stale, []);
	t.is(rec.finished[0]?.outcome.verdict, 'unverified');
	const {renderRestarts} = await import('../../src/render/restarts.js');
	const {Chalk} = await import('chalk');
	t.is(
		renderRestarts([out!], new Chalk({level: 0})),
		`lt-unread.service: unverified (what PIDs ${out!.newPids.join(' ')} run is unknown: they could not be read); PIDs ${oldMain} -> ${out!.newPids.join(' ')}\n`,
	);
});
