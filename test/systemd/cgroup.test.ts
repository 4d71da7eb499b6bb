// Unit names and timestamps, and the reasons sentences. (Which unit a /proc/PID/cgroup names is
// parsed in Rust: native/core/src/proc/cgroup.rs tests the captured files.)
import test from 'ava';
import type {MappedFile, Process} from '../../src/model/document.js';
import {addReasons, reasonSentence, reasons, staleWords} from '../../src/render/reason.js';
import {staleFiles, unitRestartInfo, type DescribeProcess} from '../../src/systemd/reasons.js';
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
	const describe: DescribeProcess = {words: staleWords, sentence: reasonSentence};
	const info = unitRestartInfo({pids: [812, 813]}, [p812, p813, p9], describe);
	t.true(info.needsRestart);
	t.deepEqual(info.reasons, reasons(p812));
	t.deepEqual(unitRestartInfo({pids: [813]}, [p812, p813], describe), {needsRestart: false, reasons: []});
	// Processes sharing their root and stale files (as the unit table gives them) are worded
	// once and said each with its PID; a process with another root of another kind, with the
	// same files, has its own words; each sentence once, in the processes' order.
	const root = {kind: 'deployment' as const};
	const files = [
		{...file('/usr/lib/libc.so.6', false, true, commit, '1.0'), path: '/srv/root/usr/lib/libc.so.6'},
		file('/usr/lib/libz.so.1', true, false, null, null),
	];
	const shared = [20, 21, 22].map(pid => ({pid, needsRestart: true as const, root, files, configChanges: [], needsReload: false}));
	const foreign = {pid: 23, needsRestart: true as const, root: {kind: 'foreign' as const}, files, configChanges: [], needsReload: false};
	const asked: string[][] = [];
	const counting: DescribeProcess = {
		words: p => {
			asked.push([String(p.root.kind), ...p.files.map(f => f.path)]);
			return staleWords(p);
		},
		sentence: reasonSentence,
	};
	const run = unitRestartInfo({pids: [20, 21, 22, 23]}, [...shared, foreign, shared[0]!], counting);
	t.is(asked.length, 3);
	const each = (pid: number, kind: 'deployment' | 'foreign'): string[] => {
		const into = new Set<string>();
		addReasons({pid, root: {kind}, files}, into);
		return [...into];
	};
	t.deepEqual(run, {needsRestart: true, reasons: [...each(20, 'deployment'), ...each(21, 'deployment'), ...each(22, 'deployment'), ...each(23, 'foreign')]});
	// The deleted file first (the more telling), each named as its root's kind has it.
	t.deepEqual(each(20, 'deployment'), [
		'PID 20 maps /usr/lib/libz.so.1 (deleted)',
		'PID 20 maps /usr/lib/libc.so.6 from commit 47b67f0e9a… (1.0), since replaced by a newer file',
	]);
	t.deepEqual(each(23, 'foreign'), [
		'PID 23 maps /usr/lib/libz.so.1 (deleted)',
		'PID 23 maps /srv/root/usr/lib/libc.so.6, the same bytes as /usr/lib/libc.so.6 of commit 47b67f0e9a… (1.0), since replaced by a newer file',
	]);
	t.deepEqual(
		staleFiles(p812).map(f => f.path),
		['/usr/lib/libc.so.6'],
	);
	t.deepEqual(staleFiles(p813), []);
});
