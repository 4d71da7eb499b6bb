// Issue 24 with a real systemd --user manager: units[] reload vs restart, and `livetree
// restart --reload-needed` reloading a unit with ExecReload whose daemon holds its
// configuration open, verified, while one without ExecReload is left alone; reloads made
// outside livetree. (`unit-file` changes: test/config-unit-files.test.ts.)
import {mkdtemp, readFile, readlink, rename, rm, stat, writeFile, appendFile} from 'node:fs/promises';
import os from 'node:os';
import {join} from 'node:path';
import test, {type ExecutionContext} from 'ava';
import {BulkSystemdClient} from '../src/systemd/bulk-client.js';
import {connectSystemd} from '../src/systemd/client.js';
import type {ExecRun} from '../src/systemd/exec-reload.js';
import {pathFromName} from '../src/systemd/units.js';
import type {Process} from '../src/model/document.js';
import {livetree} from './helpers/cli.js';
import {checkedDocument} from './helpers/exit-code.js';
import {schemaErrors} from './helpers/schema.js';
import type {UserManager} from './helpers/systemd-user.js';
import {changedAt, mainPid, managerAndState, proc, tick, unitOf, writeUnit} from './helpers/config-units.js';
import {childrenOf} from './helpers/proc-children.js';

// A daemon that holds its configuration open as /etc/default/lt-daemon.conf (a directory of
// the test's own bound over /etc/default in the daemon's private mount namespace: the host's
// /etc is untouched) and opens it again on SIGHUP (or, with `reopen` false, ignores it). The
// script lives beside the configuration.
async function daemon(dir: string, reopen = true): Promise<string> {
	const script = join(dir, 'daemon.sh');
	await writeFile(
		script,
		[
			'mount --bind "$1" /etc/default || exit 1',
			'exec 3</etc/default/lt-daemon.conf',
			reopen ? "trap 'exec 3</etc/default/lt-daemon.conf' HUP" : "trap ':' HUP",
			'while :; do sleep 1 3<&- & wait $!; done',
			'',
		].join('\n'),
	);
	return `/usr/bin/unshare -m --propagation private /bin/bash ${script} ${dir}`;
}

/**
 * The main PID of UNIT, a daemon() started by M, once it holds its configuration open and has
 * set its SIGHUP trap (its loop's first sleep runs): a reload before the trap kills it, and a
 * file replaced before it opened it is the one it holds (both seen on a loaded machine).
 */
async function daemonPid(m: UserManager, unit: string): Promise<number> {
	const deadline = Date.now() + 60_000;
	for (;;) {
		const pid = await mainPid(m, unit);
		if (pid > 0) {
			const held = await readlink(`/proc/${pid}/fd/3`).catch(() => '');
			const looping = await Promise.all((await childrenOf(pid)).map(async c => (await readFile(`/proc/${c}/comm`, 'utf8').catch(() => '')).trim()));
			if (held.endsWith('/lt-daemon.conf') && looping.includes('sleep')) return pid;
		}

		if (Date.now() > deadline) throw new Error(`${unit}: its daemon did not start within 60 s`);
		await tick();
	}
}

/** A daemon's configuration directory, removed at teardown: lt-daemon.conf holds `v1`. */
async function daemonEtc(t: ExecutionContext): Promise<string> {
	const dir = await mkdtemp(join(os.tmpdir(), 'livetree-cfgu-etc-'));
	t.teardown(async () => rm(dir, {recursive: true, force: true}));
	await writeFile(join(dir, 'lt-daemon.conf'), 'v1\n');
	return dir;
}

async function replace(file: string, text: string): Promise<void> {
	await writeFile(`${file}.new`, text);
	await rename(`${file}.new`, file);
}

test.serial('restart --reload-needed reloads a unit with ExecReload and verifies it; one without ExecReload is left alone', async t => {
	const {m, state, bus} = await managerAndState(t);
	const withReload = await daemonEtc(t);
	const noReload = await daemonEtc(t);
	await writeUnit(m, 'lt-reload.service', `[Service]\nExecStart=${await daemon(withReload)}\nExecReload=/bin/kill -HUP $MAINPID\n`);
	await writeUnit(m, 'lt-noreload.service', `[Service]\nExecStart=${await daemon(noReload)}\n`);
	await m.systemctl(['daemon-reload']);
	await m.systemctl(['start', 'lt-reload.service', 'lt-noreload.service']);
	await tick();
	const pid = await daemonPid(m, 'lt-reload.service');
	const otherPid = await daemonPid(m, 'lt-noreload.service');

	// Nothing changed yet: nothing to reload, and --reload-needed does nothing.
	const clean = checkedDocument(await livetree(['status', '--json', ...bus]));
	t.deepEqual(proc(clean, pid).configChanges, []);
	t.true(unitOf(clean, 'lt-reload.service').canReload);
	t.false(unitOf(clean, 'lt-noreload.service').canReload);
	const nothing = await livetree(['restart', '--reload-needed', ...bus]);
	t.is(nothing.code, 0, nothing.stderr);
	t.is(nothing.stdout, 'No unit needs a reload.\n');

	// Both configurations replaced (as editors and package managers do).
	await replace(join(withReload, 'lt-daemon.conf'), 'v2\n');
	await replace(join(noReload, 'lt-daemon.conf'), 'v2\n');
	const doc = checkedDocument(await livetree(['status', '--json', ...bus]));
	t.deepEqual(schemaErrors(doc), []);
	const main = proc(doc, pid);
	t.deepEqual(main.configChanges, [
		{path: '/etc/default/lt-daemon.conf', changedAt: await changedAt(join(withReload, 'lt-daemon.conf')), source: 'open-file', package: null, replaced: true},
	]);
	const unit = unitOf(doc, 'lt-reload.service');
	t.true(unit.needsReload);
	t.is(unit.applyConfigBy, 'reload');
	const other = unitOf(doc, 'lt-noreload.service');
	t.true(other.needsReload);
	t.is(other.applyConfigBy, 'restart');
	const text = await livetree(['status', '--color', 'never', '--verbose', ...bus]);
	t.true(text.stdout.includes('  lt-reload.service: /etc/default/lt-daemon.conf changed '), text.stdout);
	t.true(text.stdout.includes('(held open) — reload to apply\n'), text.stdout);
	t.true(text.stdout.includes('(held open) — restart to apply (it cannot be reloaded)\n'), text.stdout);

	// A dry run reloads nothing.
	const dry = await livetree(['restart', '--reload-needed', '--dry-run', ...bus]);
	t.is(dry.code, 0, dry.stderr);
	t.regex(dry.stdout, /^lt-noreload\.service: not reloaded: it cannot be reloaded \(no ExecReload\); instead: livetree restart lt-noreload\.service/m);
	t.regex(dry.stdout, /^lt-reload\.service: would reload; PIDs /m);
	t.deepEqual(JSON.parse((await livetree(['history', '--json', '--state-dir', state])).stdout), []);

	// The reload: the same process, its configuration read again. The unit that cannot be
	// reloaded is left alone, so not everything asked for is done: exit 1.
	const r = await livetree(['restart', '--reload-needed', '--json', ...bus]);
	t.is(r.code, 1, r.stdout + r.stderr);
	const outcomes = JSON.parse(r.stdout) as Array<{unit: string; action: string; verdict: string; jobResult?: string; skip?: {code: string}; oldPids: number[]}>;
	const byUnit = new Map(outcomes.map(o => [o.unit, o]));
	t.is(byUnit.get('lt-reload.service')?.verdict, 'reloaded', r.stdout);
	t.is(byUnit.get('lt-reload.service')?.jobResult, 'done');
	t.is(byUnit.get('lt-reload.service')?.action, 'reload');
	t.is(byUnit.get('lt-noreload.service')?.verdict, 'skipped');
	t.is(byUnit.get('lt-noreload.service')?.skip?.code, 'cannot-reload');
	t.is(outcomes.length, 2);
	t.is(await mainPid(m, 'lt-reload.service'), pid);
	t.is(await mainPid(m, 'lt-noreload.service'), otherPid);

	// Afterwards the reloaded unit is current (the scan knows the reload from the history);
	// the other still needs its restart.
	const after = checkedDocument(await livetree(['status', '--json', ...bus]));
	t.is(proc(after, pid).startedAt, main.startedAt);
	t.deepEqual(proc(after, pid).configChanges, []);
	t.false(unitOf(after, 'lt-reload.service').needsReload);
	t.true(unitOf(after, 'lt-noreload.service').needsReload);
	t.deepEqual(
		proc(after, otherPid).configChanges!.map(c => c.source),
		['open-file'],
	);

	// Recorded as restarts are.
	const history = JSON.parse((await livetree(['history', '--json', '--state-dir', state])).stdout) as Array<{
		unit: string;
		verdict: string;
		state: string;
		oldPids: number[];
		details: {action: string; processes: Array<{pid: number}>};
	}>;
	t.is(history.length, 1);
	t.is(history[0]!.unit, 'lt-reload.service');
	t.is(history[0]!.verdict, 'reloaded');
	t.is(history[0]!.state, 'done');
	t.is(history[0]!.details.action, 'reload');
	t.true(history[0]!.oldPids.includes(pid));

	// Again: only the one that cannot be reloaded is left, and still left alone.
	const again = await livetree(['restart', '--reload-needed', ...bus]);
	t.is(again.code, 1, again.stderr);
	t.is(again.stdout.split('\n').filter(Boolean).length, 1, again.stdout);
	t.regex(again.stdout, /^lt-noreload\.service: not reloaded/);
	// Changed once more after the reload: needs one again.
	await replace(join(withReload, 'lt-daemon.conf'), 'v3\n');
	const changedAgain = checkedDocument(await livetree(['status', '--json', ...bus]));
	t.deepEqual(
		proc(changedAgain, pid).configChanges!.map(c => c.source),
		['open-file'],
	);
});

test.serial(
	'restart --reload-needed: a daemon that keeps the replaced file is still-stale; one edited in place is reloaded, unverifiable; a changed unit file is left alone',
	async t => {
		const {m, state, bus} = await managerAndState(t);
		const dir = await daemonEtc(t);
		await writeUnit(m, 'lt-inplace.service', `[Service]\nExecStart=${await daemon(dir)}\nExecReload=/bin/kill -HUP $MAINPID\n`);
		const frag = await writeUnit(m, 'lt-frag.service', '[Service]\nExecStart=/bin/sleep 603\nExecReload=/bin/true\n');
		await m.systemctl(['daemon-reload']);
		await m.systemctl(['start', 'lt-inplace.service', 'lt-frag.service']);
		await tick();
		const pid = await daemonPid(m, 'lt-inplace.service');

		// A daemon that does not read its configuration on SIGHUP: the reload is done, the same
		// process runs, and it still holds the replaced file.
		const deafDir = await daemonEtc(t);
		await writeUnit(m, 'lt-deaf.service', `[Service]\nExecStart=${await daemon(deafDir, false)}\nExecReload=/bin/kill -HUP $MAINPID\n`);
		await m.systemctl(['daemon-reload']);
		await m.systemctl(['start', 'lt-deaf.service']);
		await tick();
		const deafPid = await daemonPid(m, 'lt-deaf.service');
		await replace(join(deafDir, 'lt-daemon.conf'), 'v2\n');
		const deaf = await livetree(['restart', '--reload-needed', '--json', ...bus]);
		t.is(deaf.code, 1, deaf.stdout + deaf.stderr);
		const [d] = JSON.parse(deaf.stdout) as Array<{
			unit: string;
			verdict: string;
			jobResult: string;
			details: {stale: Array<{path: string; replaced?: boolean}>};
		}>;
		t.is(d!.unit, 'lt-deaf.service');
		t.is(d!.jobResult, 'done');
		t.is(d!.verdict, 'still-stale');
		t.deepEqual(
			d!.details.stale.map(c => [c.path, c.replaced]),
			[['/etc/default/lt-daemon.conf', true]],
		);
		t.is(await mainPid(m, 'lt-deaf.service'), deafPid);
		// Not a reload that took: the next scan still says the change.
		const still = checkedDocument(await livetree(['status', '--json', ...bus]));
		t.true(unitOf(still, 'lt-deaf.service').needsReload);
		await m.systemctl(['stop', 'lt-deaf.service']);

		// Edited in place: the daemon holds the very file, so nothing it does is observable.
		await appendFile(join(dir, 'lt-daemon.conf'), 'v2\n');
		const doc = checkedDocument(await livetree(['status', '--json', ...bus]));
		t.deepEqual(proc(doc, pid).configChanges, [
			{path: '/etc/default/lt-daemon.conf', changedAt: await changedAt(join(dir, 'lt-daemon.conf')), source: 'open-file', package: null},
		]);
		const r = await livetree(['restart', '--reload-needed', '--color', 'never', ...bus]);
		t.is(r.code, 0, r.stdout + r.stderr);
		t.regex(
			r.stdout,
			/^lt-inplace\.service: reloaded, unverifiable \(the same process; nothing observable tells whether it read its configuration again\); PIDs /m,
		);
		t.is(await mainPid(m, 'lt-inplace.service'), pid);
		const after = checkedDocument(await livetree(['status', '--json', ...bus]));
		t.deepEqual(proc(after, pid).configChanges, []);
		const history = JSON.parse((await livetree(['history', '--json', '--state-dir', state])).stdout) as Array<{unit: string; verdict: string}>;
		t.deepEqual(
			history.map(h => [h.unit, h.verdict]),
			[
				['lt-inplace.service', 'reloaded-unverifiable'],
				['lt-deaf.service', 'still-stale'],
			],
		);

		// Its unit file changed: a reload does not load it, so it is left alone.
		await appendFile(frag, '# edited\n');
		const left = await livetree(['restart', '--reload-needed', '--json', ...bus]);
		t.is(left.code, 1, left.stderr);
		const [o] = JSON.parse(left.stdout) as Array<{unit: string; verdict: string; skip: {code: string; instead: string}}>;
		t.is(o!.unit, 'lt-frag.service');
		t.is(o!.verdict, 'skipped');
		t.is(o!.skip.code, 'unit-file-changed');
		t.is(o!.skip.instead, `systemctl --user daemon-reload, then livetree restart lt-frag.service --state-dir ${state} --bus-address ${m.busAddress}`);
	},
);

// The ExecReload of `names` as both D-Bus clients read it (they must agree).
async function execReloads(t: ExecutionContext, m: UserManager, names: string[]): Promise<Map<string, ExecRun[] | Error>> {
	const asked = names.map(name => ({name, path: pathFromName(name)}));
	const bulk = await BulkSystemdClient.connect(m.busAddress);
	if (!bulk) throw new Error(`no bulk client on ${m.busAddress}`);
	const fromBulk = await bulk.getExecReloads(asked).finally(() => bulk.close());
	const next = await connectSystemd({busAddress: m.busAddress});
	const fromNext = await next.getExecReloads(asked).finally(() => next.close());
	t.deepEqual(fromBulk, fromNext);
	return fromBulk;
}

function runsOf(got: Map<string, ExecRun[] | Error>, name: string): ExecRun[] {
	const runs = got.get(name);
	if (!Array.isArray(runs)) throw new Error(`${name}: ${String(runs)}`);
	return runs;
}

const usecIso = (usec: bigint) => new Date(Number(usec / 1000n)).toISOString();

// `systemctl reload` made outside livetree: the manager's ExecReload says when the last
// reload ran and how it ended; a change before a reload that succeeded is applied.
test.serial('a reload made outside livetree (systemctl reload) clears the changes before it; one after it, and a failed reload, do not', async t => {
	const {m, bus} = await managerAndState(t);
	const debug = {LIVETREE_DEBUG_SCANNER: '1'};
	const dir = await daemonEtc(t);
	const failDir = await daemonEtc(t);
	const conf = join(dir, 'lt-daemon.conf');
	const failConf = join(failDir, 'lt-daemon.conf');
	await writeUnit(m, 'lt-ext.service', `[Service]\nExecStart=${await daemon(dir)}\nExecReload=/bin/kill -HUP $MAINPID\n`);
	await writeUnit(m, 'lt-extfail.service', `[Service]\nExecStart=${await daemon(failDir)}\nExecReload=/bin/false\n`);
	await m.systemctl(['daemon-reload']);
	await m.systemctl(['start', 'lt-ext.service', 'lt-extfail.service']);
	await tick();
	const pid = await daemonPid(m, 'lt-ext.service');
	const failPid = await daemonPid(m, 'lt-extfail.service');

	// Nothing changed: nothing is asked about reloads.
	const clean = await livetree(['status', '--json', ...bus], debug);
	t.deepEqual(proc(checkedDocument(clean), pid).configChanges, []);
	t.false(clean.stderr.includes('ExecReload'), clean.stderr);
	t.false('lastReload' in unitOf(checkedDocument(clean), 'lt-ext.service'));

	// Reloaded before any change: that reload applies nothing after it.
	await m.systemctl(['reload', 'lt-ext.service']);
	const [first] = runsOf(await execReloads(t, m, ['lt-ext.service']), 'lt-ext.service');
	await tick();
	// Edited in place after the start: flagged, and ExecReload asked of these two units only.
	await appendFile(conf, 'v2\n');
	await appendFile(failConf, 'v2\n');
	const before = await livetree(['status', '--json', ...bus], debug);
	const doc = checkedDocument(before);
	t.deepEqual(schemaErrors(doc), []);
	t.deepEqual(proc(doc, pid).configChanges, [{path: '/etc/default/lt-daemon.conf', changedAt: await changedAt(conf), source: 'open-file', package: null}]);
	t.true(proc(doc, pid).needsReload);
	t.true(unitOf(doc, 'lt-ext.service').needsReload);
	t.is(unitOf(doc, 'lt-ext.service').applyConfigBy, 'reload');
	t.true(proc(doc, failPid).needsReload);
	t.true(before.stderr.includes('livetree: asked the manager for ExecReload of lt-ext.service, lt-extfail.service\n'), before.stderr);
	// The reload before the change is seen (after the start), and the core still says the
	// change made after it.
	t.true(before.stderr.includes(`livetree: reloads seen: PID ${pid} at ${usecIso(first!.startUsec)}\nlivetree: scanned PIDs ${pid};`), before.stderr);
	t.deepEqual(unitOf(doc, 'lt-ext.service').lastReload, {at: usecIso(first!.startUsec), succeeded: true});
	t.is(unitOf(doc, 'lt-extfail.service').lastReload, null);
	const beforeText = await livetree(['status', '--color', 'never', '--verbose', ...bus]);
	t.regex(
		beforeText.stdout,
		/^ {2}lt-ext\.service: \/etc\/default\/lt-daemon\.conf changed .* \(held open\) — reload to apply \(reloaded \d\d:\d\d, before this change\)$/m,
		beforeText.stdout,
	);
	t.regex(beforeText.stdout, /^ {2}lt-extfail\.service: \/etc\/default\/lt-daemon\.conf changed .* \(held open\) — reload to apply$/m, beforeText.stdout);

	// systemctl reload: both jobs are done and both units stay active; only ExecReload tells
	// that /bin/false failed.
	await tick();
	await m.systemctl(['reload', 'lt-ext.service']);
	await t.throwsAsync(m.systemctl(['reload', 'lt-extfail.service']));
	t.deepEqual(await m.show('lt-extfail.service', ['ActiveState', 'Result']), {ActiveState: 'active', Result: 'success'});
	t.is(await mainPid(m, 'lt-ext.service'), pid);

	// Both D-Bus clients read the same ExecReload: /bin/kill exited 0 after the process started.
	const got = await execReloads(t, m, ['lt-ext.service', 'lt-extfail.service']);
	const [kill] = runsOf(got, 'lt-ext.service');
	t.is(kill!.path, '/bin/kill');
	t.is(kill!.code, 1);
	t.is(kill!.status, 0);
	t.true(kill!.startUsec <= kill!.exitUsec);
	t.true(kill!.startUsec > first!.exitUsec);
	t.true(Number(kill!.startUsec / 1000n) >= Date.parse(proc(doc, pid).startedAt!));
	const [no] = runsOf(got, 'lt-extfail.service');
	t.deepEqual([no!.path, no!.code, no!.status], ['/bin/false', 1, 1]);

	// The next scan sees the reload: the change before it is applied; the failed one clears nothing.
	const after = await livetree(['status', '--json', ...bus], debug);
	const reloaded = checkedDocument(after);
	t.deepEqual(schemaErrors(reloaded), []);
	t.is(proc(reloaded, pid).startedAt, proc(doc, pid).startedAt);
	t.deepEqual(proc(reloaded, pid).configChanges, []);
	t.false(proc(reloaded, pid).needsReload);
	t.false(unitOf(reloaded, 'lt-ext.service').needsReload);
	t.is(unitOf(reloaded, 'lt-ext.service').applyConfigBy, null);
	t.deepEqual(proc(reloaded, failPid).configChanges, [
		{path: '/etc/default/lt-daemon.conf', changedAt: await changedAt(failConf), source: 'open-file', package: null},
	]);
	t.true(unitOf(reloaded, 'lt-extfail.service').needsReload);
	t.is(unitOf(reloaded, 'lt-extfail.service').applyConfigBy, 'reload');
	t.true(after.stderr.includes(`livetree: reloads seen: PID ${pid} at ${usecIso(kill!.startUsec)}\nlivetree: scanned PIDs ${pid};`), after.stderr);
	t.deepEqual(unitOf(reloaded, 'lt-ext.service').lastReload, {at: usecIso(kill!.startUsec), succeeded: true});
	t.deepEqual(unitOf(reloaded, 'lt-extfail.service').lastReload, {at: usecIso(no!.startUsec), succeeded: false});
	t.deepEqual(
		reloaded.warnings.filter(w => w.code === 'config-reloads'),
		[],
	);

	// Text, explain and the metrics agree.
	const text = await livetree(['status', '--color', 'never', '--verbose', ...bus]);
	t.false(text.stdout.includes('  lt-ext.service: '), text.stdout);
	t.regex(
		text.stdout,
		/^ {2}lt-extfail\.service: \/etc\/default\/lt-daemon\.conf changed .* \(held open\) — reload to apply \(the last reload, \d\d:\d\d, failed\)$/m,
		text.stdout,
	);
	const explained = await livetree(['explain', '--json', ...bus, String(pid)]);
	t.is(explained.code, 0, explained.stderr);
	const e = JSON.parse(explained.stdout) as Process;
	t.deepEqual([e.configChanges, e.needsReload], [[], false]);
	const metrics = await livetree(['status', '--format', 'prometheus', ...bus]);
	t.true(metrics.stdout.includes('livetree_unit_processes_needing_reload{unit="lt-ext.service"} 0\n'), metrics.stdout);
	t.true(metrics.stdout.includes('livetree_unit_processes_needing_reload{unit="lt-extfail.service"} 1\n'), metrics.stdout);

	// Changed again after the reload: said again, with the new change time.
	await tick();
	await appendFile(conf, 'v3\n');
	const later = checkedDocument(await livetree(['status', '--json', ...bus]));
	t.deepEqual(proc(later, pid).configChanges, [{path: '/etc/default/lt-daemon.conf', changedAt: await changedAt(conf), source: 'open-file', package: null}]);
	t.true(proc(later, pid).needsReload);
	t.true(unitOf(later, 'lt-ext.service').needsReload);
});

test.serial('a daemon that keeps its replaced configuration is still said after a systemctl reload; a reload in progress clears nothing', async t => {
	const {m, bus} = await managerAndState(t);
	const deaf = await daemonEtc(t);
	const hears = await daemonEtc(t);
	await writeUnit(m, 'lt-extdeaf.service', `[Service]\nExecStart=${await daemon(deaf, false)}\nExecReload=/bin/kill -HUP $MAINPID\n`);
	await writeUnit(m, 'lt-exthears.service', `[Service]\nExecStart=${await daemon(hears)}\nExecReload=/bin/kill -HUP $MAINPID\n`);
	// A reload still running: its first command has run, the second has not ended.
	const slow = await daemonEtc(t);
	await writeUnit(m, 'lt-extslow.service', `[Service]\nExecStart=${await daemon(slow)}\nExecReload=/bin/kill -HUP $MAINPID\nExecReload=/bin/sleep 60\n`);
	await m.systemctl(['daemon-reload']);
	await m.systemctl(['start', 'lt-extdeaf.service', 'lt-exthears.service', 'lt-extslow.service']);
	await tick();
	const deafPid = await daemonPid(m, 'lt-extdeaf.service');
	const hearsPid = await daemonPid(m, 'lt-exthears.service');
	const slowPid = await daemonPid(m, 'lt-extslow.service');
	await replace(join(deaf, 'lt-daemon.conf'), 'v2\n');
	await replace(join(hears, 'lt-daemon.conf'), 'v2\n');
	await appendFile(join(slow, 'lt-daemon.conf'), 'v2\n');
	await tick();
	await m.systemctl(['reload', 'lt-extdeaf.service', 'lt-exthears.service']);
	// The reload's kill has ended; the daemon that hears it reopens in its next turn, awaited.
	const fresh = (await stat(join(hears, 'lt-daemon.conf'))).ino;
	for (let i = 0; i < 600 && (await stat(`/proc/${hearsPid}/fd/3`).catch(() => null))?.ino !== fresh; i++) await tick();
	t.is((await stat(`/proc/${hearsPid}/fd/3`)).ino, fresh, 'lt-exthears reopened its configuration');
	await m.systemctl(['reload', '--no-block', 'lt-extslow.service']);
	for (let i = 0; i < 100 && (await m.show('lt-extslow.service', ['SubState']))['SubState'] !== 'reload'; i++) await tick();
	t.is((await m.show('lt-extslow.service', ['SubState']))['SubState'], 'reload');
	await tick();

	const doc = checkedDocument(await livetree(['status', '--json', ...bus]));
	// It still holds the file replaced before the reload: the reload did not apply it.
	t.deepEqual(proc(doc, deafPid).configChanges, [
		{path: '/etc/default/lt-daemon.conf', changedAt: await changedAt(join(deaf, 'lt-daemon.conf')), source: 'open-file', package: null, replaced: true},
	]);
	t.true(unitOf(doc, 'lt-extdeaf.service').needsReload);
	t.is(unitOf(doc, 'lt-extdeaf.service').lastReload?.succeeded, true);
	const text = await livetree(['status', '--color', 'never', '--verbose', ...bus]);
	t.regex(
		text.stdout,
		/^ {2}lt-extdeaf\.service: \/etc\/default\/lt-daemon\.conf changed .* \(held open\) — reload to apply \(reloaded \d\d:\d\d, but it still holds the file replaced before\)$/m,
		text.stdout,
	);
	// It opened the new file on the reload: nothing left.
	t.deepEqual(proc(doc, hearsPid).configChanges, []);
	t.false(unitOf(doc, 'lt-exthears.service').needsReload);
	// A reload in progress clears nothing, and no reload has ended.
	t.deepEqual(proc(doc, slowPid).configChanges, [
		{path: '/etc/default/lt-daemon.conf', changedAt: await changedAt(join(slow, 'lt-daemon.conf')), source: 'open-file', package: null},
	]);
	t.true(unitOf(doc, 'lt-extslow.service').needsReload);
	t.is(unitOf(doc, 'lt-extslow.service').lastReload, null);
});
