// Golden text: the terminal report and `explain`, rendered from a fixed document, with
// colour off and on. UPDATE_GOLDEN=1 rewrites the files (review the diff before committing).
import {existsSync, readFileSync, writeFileSync} from 'node:fs';
import {fileURLToPath} from 'node:url';
import test from 'ava';
import {Chalk} from 'chalk';
import type {StatusDocument} from '../src/model/document.js';
import {renderExplain} from '../src/render/explain.js';
import {renderHistory, renderRestarts} from '../src/render/restarts.js';
import {makeStyle} from '../src/render/style.js';
import {renderText} from '../src/render/text.js';
import {makeDocument, validateDocument} from './helpers/status-document.js';

const golden = (name: string) => fileURLToPath(new URL(`../../test/golden/${name}`, import.meta.url));

function check(t: import('ava').ExecutionContext, name: string, actual: string): void {
	const file = golden(name);
	if (process.env['UPDATE_GOLDEN'] === '1' || !existsSync(file)) {
		if (process.env['CI']) {
			t.fail(`${name} is missing; run UPDATE_GOLDEN=1 npx ava and commit it`);
			return;
		}

		writeFileSync(file, actual);
	}

	t.is(actual, readFileSync(file, 'utf8'));
}

const doc = makeDocument({generatedAt: new Date('2026-11-22T00:00:00Z')});

// Deployment lines carry the whole checksum, as `ostree admin status` prints it, and a
// unit name is never cut, so a line of one word may overflow; every other line fits.
function fits(out: string, width: number): string[] {
	return out.split('\n').filter(line => line.length > width && !/^[* ] \S+ [\da-f]{64}\.\d+/.test(line) && line.trim().includes(' '));
}

test('status text, colour off', t => {
	const out = renderText(doc, {style: new Chalk({level: 0}), verbose: false, width: 80});
	t.false(out.includes('\u001B['));
	t.deepEqual(fits(out, 80), [], 'fits 80 columns');
	check(t, 'status.txt', out);
});

test('status text, colour on', t => {
	const out = renderText(doc, {style: new Chalk({level: 1}), verbose: false, width: 80});
	t.true(out.includes('\u001B['));
	check(t, 'status-color.txt', out);
});

// 3000 processes of one command in one unit on one deleted library, plus two singles: the
// fleet is one line, not 3000 rows.
const longUnit = 'a-very-long-unit-name-that-must-never-be-cut@instance-42.service';

function fleet(): StatusDocument {
	const base = makeDocument({
		states: Array.from({length: 3002}, () => 'stale' as const),
		units: [{name: 'init.scope'}, {name: longUnit}],
		warnings: [],
		overlays: 0,
	});
	const processes = base.processes.map((p, i) =>
		i < 3000 ? {...p, comm: 'sleep', unit: 'init.scope'} : {...p, comm: 'backup-agent', unit: i === 3000 ? null : longUnit},
	);
	const units = base.units.map(u => ({...u, pids: processes.filter(p => p.unit === u.name).map(p => p.pid), needsRestart: true}));
	return {...base, processes, units, summary: {...base.summary, unitsNeedingRestart: 2}};
}

test('a fleet on a terminal: one line per group, paths shortened in the middle, never broken', t => {
	const doc = fleet();
	t.deepEqual(validateDocument(doc), []);
	const out = renderText(doc, {style: new Chalk({level: 1}), verbose: false, width: 60});
	t.true(out.includes('\u001B['));
	const plain = out.replace(/\u001B\[[\d;]*m/g, '');
	// The verdict wraps at spaces; read as one sentence it names both units, whole.
	t.regex(
		plain.split('\n\n')[0]!.replace(/\n\s*/g, ' '),
		/^Restart needed: 2 units \(init\.scope, a-very-long-unit-name-that-must-never-be-cut@instance-42\.service\) and 1 process in no unit, 3002/,
	);
	t.regex(plain, /3000 × sleep \(init\.scope\): \/usr\/lib\/…\/libc\.so\.6\s+\(deleted\)/);
	t.regex(plain, /PIDs 1000 1001 1002 1003 1004 1005 1006 1007 1008\s+1009 … and 2990 more/);
	t.deepEqual(fits(plain, 60), []);
	check(t, 'fleet-terminal.txt', out);
});

test('a fleet in a pipe: no colour, no wrapping, every path whole for grep', t => {
	const out = renderText(fleet(), {style: new Chalk({level: 0}), verbose: false});
	t.false(out.includes('\u001B['));
	const lines = out.split('\n');
	t.true(lines[0]!.startsWith('Restart needed:'), 'the verdict comes first');
	t.is(lines.filter(l => l.includes('/usr/lib/x86_64-linux-gnu/libc.so.6 (deleted)')).length, 3);
	t.true(lines.some(l => l.includes('3000 × sleep (init.scope): /usr/lib/x86_64-linux-gnu/libc.so.6 (deleted)')));
	t.true(lines.some(l => l.includes(`1 × backup-agent (${longUnit}): /usr/lib/x86_64-linux-gnu/libc.so.6 (deleted)`)));
	t.false(out.includes('…/'), 'no path is shortened');
	t.regex(out, /Next:\n {2}livetree explain 1000 +why/);
	t.regex(out, /livetree restart --needed --dry-run/);
	check(t, 'fleet-pipe.txt', out);
});

test('deployment lines as ostree admin status: (staged) alone, origin none or unknown', t => {
	const d = makeDocument({
		deployments: [
			{osname: 'debian', checksum: 'c'.repeat(64), version: '1', booted: true, refspec: null, hasOrigin: false},
			{osname: 'debian', checksum: 'd'.repeat(64), version: '2', staged: true, pending: true, refspec: null, hasOrigin: true},
		],
	});
	t.deepEqual(validateDocument(d), []);
	const out = renderText(d, {style: new Chalk({level: 0}), verbose: false});
	t.regex(out, new RegExp(`^\\* debian ${'c'.repeat(64)}\\.0\\n {4}Version: 1\\n {4}origin: none$`, 'm'));
	t.regex(out, new RegExp(`^ {2}debian ${'d'.repeat(64)}\\.0 \\(staged\\)\\n {4}Version: 2\\n {4}origin: <unknown origin type>$`, 'm'));
	t.notRegex(out, /\(pending\)/);
});

test('explain on a deployment since removed says so', t => {
	const d = makeDocument({deployments: [{osname: 'debian', checksum: `${'b'.repeat(63)}2`, version: '12.2', booted: true}]});
	const p = d.processes.find(q => q.needsRestart)!;
	const out = renderExplain(d, p, new Chalk({level: 0}), false);
	t.regex(out, /which has since been removed from the sysroot/);
	t.regex(out, /Next: livetree restart --dry-run cron\.service/);
	const text = renderText(d, {style: new Chalk({level: 0}), verbose: false});
	t.regex(text, /Processes in deployments since removed: 7/);
	t.regex(text, /, removed: 7 processes/);
});

test('history: a header, and no dangling PIDs', t => {
	const out = renderHistory(
		[
			{startedAt: '2026-11-22T00:00:00.000Z', unit: 'cron.service', state: 'finished', verdict: 'verified', jobResult: 'done', oldPids: [10], newPids: [11]},
			{startedAt: '2026-11-22T00:01:00.000Z', unit: 'gone.service', state: 'finished', verdict: 'failed', jobResult: 'failed', oldPids: [], newPids: []},
			{startedAt: '2026-11-22T00:02:00.000Z', unit: 'sshd.service', state: 'in-progress', verdict: null, jobResult: null, oldPids: [12], newPids: null},
		],
		new Chalk({level: 0}),
	);
	const lines = out.trimEnd().split('\n');
	t.regex(lines[0]!, /^STARTED \(UTC\) +UNIT +VERDICT +JOB +PROCESSES$/);
	t.regex(lines[1]!, /cron\.service +verified +done +PIDs 10 -> 11$/);
	t.regex(lines[2]!, /gone\.service +failed +failed +no process before, no process after$/);
	t.regex(lines[3]!, /sshd\.service +in progress \(interrupted\?\) +- +PIDs 12$/);
	t.notRegex(out, /- ->|-> -|-> *$/m);
	check(t, 'history.txt', out);
	const restarts = renderRestarts(
		[
			{
				unit: 'x.service',
				verdict: 'failed',
				dryRun: false,
				oldPids: [],
				newPids: [],
				jobResult: 'failed',
				details: {result: 'exit-code', execMainStatus: 1, stale: []},
			} as never,
		],
		new Chalk({level: 0}),
	);
	t.notRegex(restarts, /- ->|-> -/);
});

test('explain reads like an answer', t => {
	const p = doc.processes.find(q => q.needsRestart)!;
	const out = renderExplain(doc, p, new Chalk({level: 0}), false);
	t.regex(out, new RegExp(`^PID ${p.pid} \\(`));
	t.regex(out, /It needs a restart:/);
	check(t, 'explain.txt', out);
});

// Issue 22: 63 kernel threads and 9 unread processes read as "Nothing needs a restart (72
// processes checked)". An incomplete scan that found nothing has its own verdict, worded by
// whether the scan ran as root; kernel threads are no processes.
const booted = [{version: '12.1', booted: true}];

function incomplete(): StatusDocument {
	const d = makeDocument({
		deployments: booted,
		states: ['current', 'current', 'unknown', 'unknown'],
		units: [],
		overlays: 0,
		warnings: [
			{code: 'process-unreadable', message: 'PID 1002: /proc/1002/maps: permission denied', pid: 1002},
			{code: 'process-unreadable', message: 'PID 1003: /proc/1003/maps: permission denied', pid: 1003},
			{code: 'catalog-read-only', message: '/var/lib/livetree/catalog.sqlite: the catalog is read-only to this user', pid: null},
		],
	});
	return {...d, summary: {...d.summary, kernelThreads: 63}};
}

test('an incomplete scan that found nothing says unknown, never that nothing needs a restart', t => {
	const d = incomplete();
	t.deepEqual(validateDocument(d), []);
	t.is(d.summary.complete, false);
	const out = renderText(d, {style: new Chalk({level: 0}), verbose: false});
	const lines = out.split('\n');
	t.is(lines[0], 'Unknown for 2 of 4 processes: they could not be read (run as root); none of the other 2 needs a restart.');
	t.notRegex(out, /Nothing needs a restart|none needs a restart/);
	t.regex(out, /^Summary: 4 processes \(63 kernel threads not counted\): 2 read, none of them needs a restart;/m);
	// The two warnings that differ by their PID alone are one line; --verbose lists each.
	t.regex(out, /^ {2}process-unreadable: 2 processes: \/proc\/PID\/maps: permission denied \(PIDs 1002 1003\)$/m);
	const verbose = renderText(d, {style: new Chalk({level: 0}), verbose: true});
	t.regex(
		verbose,
		/^ {2}process-unreadable: PID 1002: \/proc\/1002\/maps: permission denied\n {2}process-unreadable: PID 1003: \/proc\/1003\/maps: permission denied$/m,
	);
	t.regex(out, /^ {9}2 processes could not be read: what they run is unknown \(run as root\)\.$/m);
	check(t, 'status-incomplete.txt', out);
	// As root, running as root is no advice: the warnings say what refused.
	const asRoot = renderText(d, {style: new Chalk({level: 0}), verbose: false, asRoot: true});
	t.is(asRoot.split('\n')[0], 'Unknown for 2 of 4 processes: they could not be read (even as root; see warnings); none of the other 2 needs a restart.');
	t.regex(asRoot, /what they run is unknown \(even as root; see warnings\)\./);
	t.notRegex(asRoot, /not root\?|run as root/);
	// Every process unread: nothing at all to say "none" about.
	const none = makeDocument({deployments: booted, states: ['unknown'], units: [], overlays: 0, warnings: []});
	const one = renderText(none, {style: new Chalk({level: 0}), verbose: false});
	t.is(one.split('\n')[0], 'Unknown for 1 of 1 process: it could not be read (run as root).');
	t.regex(one, /^Summary: 1 process: none could be read;/m);
	// Something to restart and some unread: exit 1's verdict, which says the unknown too.
	const mixed = makeDocument({deployments: booted, states: ['stale', 'unknown', 'unknown', 'current'], units: [], overlays: 0});
	t.is(
		renderText(mixed, {style: new Chalk({level: 0}), verbose: false}).split('\n')[0],
		'Restart needed: 1 process in no unit; unknown for 2 other processes: they could not be read (run as root).',
	);
	// A complete scan keeps the plain verdict.
	const clean = makeDocument({deployments: booted, states: ['current', 'current'], units: [], overlays: 0, warnings: []});
	t.is(renderText(clean, {style: new Chalk({level: 0}), verbose: false}).split('\n')[0], 'Nothing needs a restart (2 processes checked).');
});

test('explain of an unreadable process prints why, and what to do', t => {
	const d = incomplete();
	const p = d.processes.find(q => q.state === 'unknown')!;
	const out = renderExplain(d, p, new Chalk({level: 0}), false);
	t.regex(out, /what it runs is unknown \(run as root to read it\)\./);
	// Its own warning and the scan-wide one, not the other process's.
	t.regex(out, /^Warnings: 2\n {2}process-unreadable: PID 1002: \/proc\/1002\/maps: permission denied\n {2}catalog-read-only: /m);
	t.notRegex(out, /PID 1003/);
	check(t, 'explain-unknown.txt', out);
	const asRoot = renderExplain(d, p, new Chalk({level: 0}), false, {asRoot: true});
	t.regex(asRoot, /what it runs is unknown, even as root \(see the warnings below\)\./);
});

test('colour policy: always, never, auto on a TTY, NO_COLOR', t => {
	t.is(makeStyle('always', {isTTY: false}).level, 1);
	t.is(makeStyle('never', {isTTY: true}).level, 0);
	t.is(makeStyle('auto', {isTTY: false}).level, 0);
	const saved = process.env['NO_COLOR'];
	delete process.env['NO_COLOR'];
	t.is(makeStyle('auto', {isTTY: true}).level, 1);
	process.env['NO_COLOR'] = '1';
	t.is(makeStyle('auto', {isTTY: true}).level, 0);
	if (saved === undefined) {
		delete process.env['NO_COLOR'];
	} else {
		process.env['NO_COLOR'] = saved;
	}
});

test('long lists are cut with a hint to --verbose', t => {
	const many = makeDocument({states: Array.from({length: 30}, () => 'stale' as const)});
	const out = renderText(many, {style: new Chalk({level: 0}), verbose: false, width: 80});
	t.regex(out, /… and \d+ more groups \(--verbose lists all\)/);
	const all = renderText(many, {style: new Chalk({level: 0}), verbose: true, width: 80});
	t.notRegex(all, /--verbose lists all/);
});

// Every wording of the summary's first line, beside the verdict of the same document: all
// read, some unread, none read; with and without processes that need a restart. The two
// never disagree on how many were read or whether any needs a restart.
test('the summary line says how many were read and what they need, as the verdict does', t => {
	const plain = new Chalk({level: 0});
	const cases: Array<[Array<'current' | 'stale' | 'unknown'>, number | undefined, string, string]> = [
		[['current', 'current'], undefined, 'Nothing needs a restart (2 processes checked).', 'Summary: 2 processes, none needs a restart;'],
		[['stale', 'current'], undefined, 'Restart needed: 1 process in no unit.', 'Summary: 2 processes, 1 needs a restart;'],
		[
			['current', 'current', 'unknown'],
			undefined,
			'Unknown for 1 of 3 processes: it could not be read (run as root); none of the other 2 needs a restart.',
			'Summary: 3 processes: 2 read, none of them needs a restart;',
		],
		[
			['current', 'unknown', 'unknown'],
			undefined,
			'Unknown for 2 of 3 processes: they could not be read (run as root); the other process needs no restart.',
			'Summary: 3 processes: 1 read, it needs no restart;',
		],
		[
			['stale', 'stale', 'current', 'unknown'],
			undefined,
			'Restart needed: 2 processes in no unit; unknown for 1 other process: it could not be read (run as root).',
			'Summary: 4 processes: 3 read, 2 need a restart;',
		],
		[['unknown', 'unknown'], undefined, 'Unknown for 2 of 2 processes: they could not be read (run as root).', 'Summary: 2 processes: none could be read;'],
		// Unknown for another reason than permission (an unproven composefs image): see warnings.
		[['unknown', 'unknown'], 0, 'Unknown for 2 of 2 processes (see warnings).', 'Summary: 2 processes: none is known;'],
	];
	for (const [states, denied, verdict, summary] of cases) {
		const d = makeDocument({deployments: booted, states, units: [], overlays: 0, warnings: []});
		t.deepEqual(validateDocument(d), []);
		const lines = renderText(d, {style: plain, verbose: false, ...(denied === undefined ? {} : {denied})}).split('\n');
		t.is(lines[0], verdict, states.join(' '));
		t.is(lines.find(l => l.startsWith('Summary: '))?.replace(/ \d+ units? needs? a restart;$/, ''), summary, states.join(' '));
	}
});

test('warnings fold only when their messages differ by their own PID alone', t => {
	const unreadable = (pid: number, why = 'permission denied') => ({code: 'process-unreadable', message: `PID ${pid}: /proc/${pid}/maps: ${why}`, pid});
	const warnings = [
		...Array.from({length: 12}, (_, i) => unreadable(i === 0 ? 1 : 100 + i)),
		// Another cause: a line of its own.
		unreadable(7, 'no such file or directory'),
		// Another code with the same words: apart.
		{code: 'map-files-unreadable', message: 'PID 8: /proc/8/maps: permission denied', pid: 8},
		// A message naming a PID that is not its own, and two alike with no PID: as they are.
		{code: 'process-unreadable', message: 'PID 9: /proc/90/maps: permission denied', pid: 9},
		{code: 'catalog-read-only', message: '/var/lib/livetree/catalog.sqlite: read-only', pid: null},
		{code: 'catalog-read-only', message: '/var/lib/livetree/catalog.sqlite: read-only', pid: null},
		...Array.from({length: 8}, (_, i) => ({code: 'config-unreadable', message: `/etc/x${i}: permission denied`, pid: null})),
	];
	const d = makeDocument({deployments: booted, states: ['current'], units: [], overlays: 0, warnings});
	t.deepEqual(validateDocument(d), []);
	const out = renderText(d, {style: new Chalk({level: 0}), verbose: false}).split('\n');
	const at = out.indexOf('Warnings: 25');
	t.deepEqual(out.slice(at, at + 12), [
		'Warnings: 25',
		'  process-unreadable: 12 processes: /proc/PID/maps: permission denied (PIDs 1 101 102 103 104 105 106 107 108 109 … and 2 more)',
		'  process-unreadable: PID 7: /proc/7/maps: no such file or directory',
		'  map-files-unreadable: PID 8: /proc/8/maps: permission denied',
		'  process-unreadable: PID 9: /proc/90/maps: permission denied',
		'  catalog-read-only: /var/lib/livetree/catalog.sqlite: read-only',
		'  catalog-read-only: /var/lib/livetree/catalog.sqlite: read-only',
		'  config-unreadable: /etc/x0: permission denied',
		'  config-unreadable: /etc/x1: permission denied',
		'  config-unreadable: /etc/x2: permission denied',
		'  config-unreadable: /etc/x3: permission denied',
		// Fourteen lines, cut to ten: the count is of the warnings left out, not of lines.
		'  … and 4 more warnings (--verbose lists all)',
	]);
	const verbose = renderText(d, {style: new Chalk({level: 0}), verbose: true}).split('\n');
	const v = verbose.indexOf('Warnings: 25');
	t.deepEqual(
		verbose.slice(v + 1, v + 26),
		warnings.map(w => `  ${w.code}: ${w.message}`),
	);
});
