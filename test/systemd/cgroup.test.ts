// Unit names and timestamps, and the reasons sentences. (Which unit a /proc/PID/cgroup names is
// parsed in Rust: native/core/src/proc/cgroup.rs tests the captured files.)
import test from 'ava';
import type {MappedFile, Process} from '../../src/model/document.js';
import {addReasons, reasons} from '../../src/render/reason.js';
import {staleFiles, unitRestartInfo} from '../../src/systemd/reasons.js';
import {inCgroup, nameFromPath, usecToRfc3339} from '../../src/systemd/units.js';

test('unit object paths and timestamps', t => {
	t.is(nameFromPath('/org/freedesktop/systemd1/unit/lt_2da_2eservice'), 'lt-a.service');
	t.is(nameFromPath('/elsewhere'), null);
	t.is(usecToRfc3339(0n), null);
	t.is(usecToRfc3339(1_700_000_000_123_456n), '2023-11-14T22:13:20.123Z');
});

test('a cgroup path lies in a ControlGroup when it is that group or below it, never beside it', t => {
	t.true(inCgroup('/system.slice/sshd.service', '/system.slice/sshd.service'));
	t.true(inCgroup('/system.slice/sshd.service/sub', '/system.slice/sshd.service'));
	t.true(inCgroup('/system.slice/sshd.service', '/'));
	t.false(inCgroup('/system.slice/sshd.service-2', '/system.slice/sshd.service'));
	t.false(inCgroup('/system.slice', '/system.slice/sshd.service'));
	t.false(inCgroup('/user.slice/user-1000.slice/user@1000.service/app.slice/sshd.service', '/system.slice/sshd.service'));
	t.false(inCgroup(null, '/system.slice/sshd.service'));
	t.false(inCgroup(undefined, '/system.slice/sshd.service'));
	t.false(inCgroup('/system.slice/sshd.service', null));
});

test('reasons name the PID, the file, how it is stale, and its commit', t => {
	const commit = '47b67f0e9a3c1d2b4e5f60718293a4b5c6d7e8f90123456789abcdef01234567';
	const file = (path: string, deleted: boolean, superseded: boolean, c: string | null, version: string | null): MappedFile => ({
		path: `/sysroot/ostree/deploy/demo/deploy/${commit}.0${path}`,
		dev: '8:1',
		ino: 7,
		deleted,
		superseded,
		origin: {kind: c ? 'catalog' : 'untracked', commit: c, version, treePath: c ? path : null},
		staleReason: deleted ? 'deleted' : superseded ? 'superseded' : null,
		pathGone: deleted,
		identicalIn: null,
	});
	const proc = (pid: number, files: MappedFile[]): Process => ({
		pid,
		comm: 'd',
		root: {kind: 'deployment', deployment: `demo/${commit}.0`},
		unit: 'd.service',
		state: files.some(f => f.deleted || f.superseded) ? 'stale' : 'current',
		needsRestart: files.some(f => f.deleted || f.superseded),
		files,
	});
	const p812 = proc(812, [file('/usr/lib/libc.so.6', true, false, commit, '1.0')]);
	t.deepEqual(reasons(p812), ['PID 812 maps /usr/lib/libc.so.6 (deleted) from commit 47b67f0e9a… (1.0)']);
	const p9 = proc(9, [file('/usr/bin/x', false, true, null, null)]);
	// A deployment file is named by its path inside the tree, not its 100-character host path.
	t.is(reasons(p9)[0], 'PID 9 maps /usr/bin/x, since replaced by a newer file');
	const p813 = proc(813, [file('/usr/lib/ok.so', false, false, commit, '1.0')]);
	const info = unitRestartInfo({pids: [812, 813]}, [p812, p813, p9], addReasons);
	t.true(info.needsRestart);
	t.deepEqual(info.reasons, reasons(p812));
	t.deepEqual(unitRestartInfo({pids: [813]}, [p812, p813], addReasons), {needsRestart: false, reasons: []});
	t.deepEqual(
		staleFiles(p812).map(f => f.path),
		['/usr/lib/libc.so.6'],
	);
	t.deepEqual(staleFiles(p813), []);
});
