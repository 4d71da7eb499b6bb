// Issue 5 end to end: a real systemd --user manager on a real dbus-daemon, units whose
// processes run chrooted in real fixture deployments, and the livetree CLI against them.
import {existsSync} from 'node:fs';
import {rm, symlink, writeFile} from 'node:fs/promises';
import {join} from 'node:path';
import test from 'ava';
import type {StatusDocument} from '../src/model/document.js';
import {livetree} from './helpers/cli.js';
import {Fixtures} from './helpers/fixture.js';
import {schemaErrors} from './helpers/schema.js';
import {startUserManager} from './helpers/systemd-user.js';
import {statusExitCode} from './helpers/exit-code.js';

test.serial('units that map an undeployed tree need a restart; restart verifies, fails, records', async t => {
	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const m = await startUserManager();
	t.teardown(async () => m.stop());
	const s = await fx.initSysroot();
	const v1 = await s.commit('1.0');
	const st1 = await s.deploy();
	const d1 = st1.deployments[0]!;
	// Units start through a link that always names the newest deployment, as a real
	// host's /usr does after an upgrade.
	const base = await fx.tempDir();
	const current = join(base, 'current');
	await symlink(d1.path, current);
	const marker = join(base, 'fail');
	const state = await fx.tempDir();
	await m.startUnit('lt-app.service', ['/usr/sbin/chroot', current, '/usr/bin/demo-sleep', '600'], {properties: ['Restart=no']});
	await m.startUnit(
		'lt-helper.service',
		['/bin/sh', '-c', `/usr/sbin/chroot ${current} /usr/bin/demo-sleep 601 & exec /usr/sbin/chroot ${current} /usr/bin/demo-sleep 602`],
		{properties: ['Restart=no']},
	);
	await m.startUnit('lt-flaky.service', ['/bin/sh', '-c', `test -e ${marker} && exit 1; exec /usr/sbin/chroot ${current} /usr/bin/demo-sleep 603`], {
		properties: ['Restart=no'],
	});

	// A scan before the upgrade (as livetree-scan.timer does) records 1.0 in the catalog,
	// so its files can be traced after the tree is gone.
	const before = await livetree(['status', '--json', '--no-systemd', '--sysroot', s.path, '--state-dir', state]);
	t.is(before.code, statusExitCode(JSON.parse(before.stdout) as StatusDocument), before.stderr);

	// Upgrade: 2.0 deployed, 1.0 undeployed and cleaned up.
	await s.commit('2.0');
	const st2 = await s.deploy();
	const d2 = st2.deployments[0]!;
	await rm(current);
	await symlink(d2.path, current);
	await s.undeploy(1);
	await s.cleanup();

	const bus = ['--bus-address', m.busAddress, '--sysroot', s.path, '--state-dir', state];
	const status = await livetree(['status', '--json', ...bus]);
	t.is(status.code, 1, status.stderr);
	const doc = JSON.parse(status.stdout) as StatusDocument;
	t.deepEqual(schemaErrors(doc), []);
	const app = doc.units.find(u => u.name === 'lt-app.service');
	t.truthy(app, JSON.stringify(doc.units.map(u => u.name)));
	t.true(app!.needsRestart);
	t.true(
		app!.reasons!.some(r => r.includes('/usr/lib/livetree-demo/libdemo.so.1 (deleted)') && r.includes(`${v1.slice(0, 10)}… (1.0)`)),
		JSON.stringify(app!.reasons),
	);
	// The unit's properties agree with systemctl show.
	const shown = await m.show('lt-app.service', ['MainPID', 'ActiveState', 'SubState', 'Result', 'NRestarts', 'ExecMainStatus']);
	t.is(app!.mainPid, Number(shown['MainPID']));
	t.is(app!.activeState, shown['ActiveState'] ?? '');
	t.is(app!.subState, shown['SubState'] ?? '');
	t.is(app!.result, shown['Result'] ?? null);
	t.is(app!.nRestarts, Number(shown['NRestarts']));
	t.is(app!.execMainStatus, Number(shown['ExecMainStatus']));
	// A unit with a helper process outside its main PID lists both, and both are stale.
	const helper = doc.units.find(u => u.name === 'lt-helper.service')!;
	t.true(helper.pids.length >= 2, JSON.stringify(helper));
	t.true(helper.needsRestart);
	for (const pid of helper.pids) {
		const p = doc.processes.find(q => q.pid === pid)!;
		t.is(p.unit, 'lt-helper.service');
	}

	const oldMain = app!.mainPid ?? -1;

	// A dry run changes nothing and records nothing.
	const dry = await livetree(['restart', '--needed', '--dry-run', ...bus]);
	t.is(dry.code, 0, dry.stderr);
	t.regex(dry.stdout, /lt-app\.service: would-restart/);
	t.is(Number((await m.show('lt-app.service', ['MainPID']))['MainPID']), oldMain);
	t.deepEqual(JSON.parse((await livetree(['history', '--json', '--state-dir', state])).stdout), []);

	// A real restart of the app: verified (its new process runs 2.0).
	const restart = await livetree(['restart', 'lt-app.service', '--json', ...bus], {LIVETREE_DEBUG_SCANNER: '1'});
	t.is(restart.code, 0, restart.stdout + restart.stderr);
	const [outcome] = JSON.parse(restart.stdout) as Array<{verdict: string; newPids: number[]; jobResult: string}>;
	t.is(outcome!.verdict, 'verified');
	t.is(outcome!.jobResult, 'done');
	t.false(outcome!.newPids.includes(oldMain));
	// The verification scanned the unit's new PIDs only, with what the first scan loaded.
	const scans = restart.stderr.split('\n').filter(line => line.startsWith('livetree: scanned'));
	t.deepEqual(scans, [
		'livetree: scanned every process; knowledge loads 1, index builds 1, catalog opens 1',
		`livetree: scanned PIDs ${outcome!.newPids.join(',')}; knowledge loads 1, index builds 1, catalog opens 1`,
	]);

	// A restart whose new ExecStart exits 1: failed, with the unit's Result.
	await writeFile(marker, '');
	const failed = await livetree(['restart', 'lt-flaky.service', '--json', ...bus]);
	t.is(failed.code, 1, failed.stderr);
	const [bad] = JSON.parse(failed.stdout) as Array<{verdict: string; details: {result: string; execMainStatus: number}}>;
	t.is(bad!.verdict, 'failed');
	t.is(bad!.details.result, 'exit-code');
	t.is(bad!.details.execMainStatus, 1);

	// History, read by a fresh process: both attempts, with verdicts and results.
	const history = JSON.parse((await livetree(['history', '--json', '--state-dir', state])).stdout) as Array<{
		unit: string;
		verdict: string;
		state: string;
		jobResult: string;
		details: {result: string};
	}>;
	t.deepEqual(
		history.map(h => [h.unit, h.verdict, h.state]),
		[
			['lt-flaky.service', 'failed', 'done'],
			['lt-app.service', 'verified', 'done'],
		],
	);
	t.is(history[0]!.details.result, 'exit-code');
	t.true(existsSync(join(state, 'catalog.sqlite')));

	// After the restart, the app no longer needs one.
	const after = JSON.parse((await livetree(['status', '--json', ...bus])).stdout) as StatusDocument;
	t.false(after.units.find(u => u.name === 'lt-app.service')!.needsRestart);
});

test('no bus: status still reports processes, units empty, warning systemd-unavailable', async t => {
	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const state = await fx.tempDir();
	const r = await livetree(['status', '--json', '--bus-address', `unix:path=${state}/no-such-bus`, '--state-dir', state]);
	const doc = JSON.parse(r.stdout) as StatusDocument;
	t.is(r.code, statusExitCode(doc), r.stderr);
	t.deepEqual(schemaErrors(doc), []);
	t.deepEqual(doc.units, []);
	t.true(doc.processes.length > 0);
	t.true(doc.warnings.some(w => w.code === 'systemd-unavailable'));
});
