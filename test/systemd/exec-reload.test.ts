// The ExecReload value (a(sasbttttuii)) as both D-Bus clients give it, and when a reload it
// describes succeeded. The real manager's values are read in test/config-units.test.ts.
import test from 'ava';
import {lastReload, lastReloadUsec, parseExecReload, type ExecRun} from '../../src/systemd/exec-reload.js';
import {nameFromPath, pathFromName} from '../../src/systemd/units.js';

// One command as the bulk client gives it (64-bit integers as decimal text).
const bulk = (path: string, start: string, exit: string, code: number, status: number) => [
	path,
	[path, 'x'],
	false,
	start,
	'11',
	exit,
	'12',
	4242,
	code,
	status,
];

test("parseExecReload reads both clients' shapes and refuses any other", t => {
	const want: ExecRun[] = [{path: '/bin/kill', startUsec: 1765100000123456n, exitUsec: 1765100000124000n, pid: 4242, code: 1, status: 0}];
	t.deepEqual(parseExecReload([bulk('/bin/kill', '1765100000123456', '1765100000124000', 1, 0)]), want);
	// dbus-next: 64-bit integers as bigint.
	t.deepEqual(parseExecReload([['/bin/kill', ['/bin/kill', 'x'], false, 1765100000123456n, 11n, 1765100000124000n, 12n, 4242, 1, 0]]), want);
	t.deepEqual(parseExecReload([]), []);
	t.is(parseExecReload(null), null);
	t.is(parseExecReload('[]'), null);
	t.is(parseExecReload([['/bin/kill', [], false, '1', '1', '2', '2', 1, 1]]), null, 'nine fields');
	t.is(parseExecReload([bulk('/bin/kill', '-1', '2', 1, 0)]), null, 'a negative time');
	t.is(parseExecReload([bulk('/bin/kill', '1.5', '2', 1, 0)]), null, 'a fraction');
	t.is(parseExecReload([[7, [], false, '1', '1', '2', '2', 1, 1, 0]]), null, 'a path that is no string');
});

const run = (startUsec: bigint, exitUsec: bigint, code = 1, status = 0): ExecRun => ({path: '/bin/true', startUsec, exitUsec, pid: 1, code, status});

test("lastReloadUsec: the first command's start when every command exited 0, in order; else null", t => {
	t.is(lastReloadUsec([run(100n, 150n)]), 100n);
	t.is(lastReloadUsec([run(100n, 150n), run(150n, 190n)]), 100n);
	t.is(lastReloadUsec([]), null, 'no command');
	t.is(lastReloadUsec([run(0n, 0n, 0, 0)]), null, 'never run since the unit started');
	t.is(lastReloadUsec([run(100n, 0n, 0, 0)]), null, 'still running');
	t.is(lastReloadUsec([run(100n, 150n, 1, 1)]), null, 'exited 1');
	t.is(lastReloadUsec([run(100n, 150n, 2, 15)]), null, 'killed');
	t.is(lastReloadUsec([run(100n, 150n, 3, 6)]), null, 'dumped core');
	t.is(lastReloadUsec([run(100n, 150n), run(150n, 180n, 1, 1)]), null, 'the second failed');
	// The first failed this time and stopped the reload: the second holds an earlier run.
	t.is(lastReloadUsec([run(300n, 350n), run(150n, 180n)]), null, 'a command left from an earlier reload');
});

test('lastReload: the last reload that ended, and whether it succeeded; null for none or one running', t => {
	t.deepEqual(lastReload([run(100n, 150n), run(150n, 190n)]), {startUsec: 100n, succeeded: true});
	t.deepEqual(lastReload([run(100n, 150n, 1, 1), run(0n, 0n, 0, 0)]), {startUsec: 100n, succeeded: false});
	t.deepEqual(lastReload([run(300n, 350n, 1, 1), run(150n, 180n)]), {startUsec: 300n, succeeded: false});
	t.is(lastReload([]), null);
	t.is(lastReload([run(0n, 0n, 0, 0)]), null, 'none since the unit started');
	t.is(lastReload([run(100n, 150n), run(160n, 0n, 0, 0)]), null, 'the second still running');
});

test('pathFromName escapes as systemd does, and nameFromPath reads it back', t => {
	t.is(pathFromName('lt-a.service'), '/org/freedesktop/systemd1/unit/lt_2da_2eservice');
	t.is(pathFromName('user@0.service'), '/org/freedesktop/systemd1/unit/user_400_2eservice');
	t.is(pathFromName('0x.service'), '/org/freedesktop/systemd1/unit/_30x_2eservice');
	t.is(pathFromName('-.mount'), '/org/freedesktop/systemd1/unit/_2d_2emount');
	for (const name of ['lt-a.service', 'user@0.service', 'a\\x2db.service', 'x_y.socket']) t.is(nameFromPath(pathFromName(name)), name);
});
