// Issue 24 with a real systemd --user manager: `unit-file` changes, a unit's fragment or
// drop-in edited after its main process (else its first process) started, until
// daemon-reload and a restart; measured from the scan's starts as from each process's stat.
import {spawn} from 'node:child_process';
import {appendFile, mkdir, readFile, writeFile} from 'node:fs/promises';
import {join} from 'node:path';
import test from 'ava';
import {livetree} from './helpers/cli.js';
import {changedAt, mainPid, managerAndState, proc, tick, unitOf, writeUnit} from './helpers/config-units.js';
import {checkedDocument} from './helpers/exit-code.js';
import {schemaErrors} from './helpers/schema.js';

test.serial('unit-file: a fragment edited after the start is a change until daemon-reload and a restart; a later start is not flagged', async t => {
	const {m, bus} = await managerAndState(t);

	const frag = await writeUnit(m, 'lt-unitfile.service', '[Service]\nExecStart=/bin/sleep 600\n');
	const dropDir = `${frag}.d`;
	await mkdir(dropDir);
	const dropIn = join(dropDir, 'env.conf');
	await writeFile(dropIn, '[Service]\nEnvironment=LT=1\n');
	// Edited, then loaded (daemon-reload), then started: nothing to flag.
	const late = await writeUnit(m, 'lt-unitfile-late.service', '[Service]\nExecStart=/bin/sleep 601\n');
	// Edited while running and restarted without daemon-reload: its new process runs the
	// definition loaded before the edit.
	const stale = await writeUnit(m, 'lt-unitfile-stale.service', '[Service]\nExecStart=/bin/sleep 602\n');
	await m.systemctl(['daemon-reload']);
	await m.systemctl(['start', 'lt-unitfile.service', 'lt-unitfile-stale.service']);
	await tick();
	await appendFile(late, '# edited before its start\n');
	await m.systemctl(['daemon-reload']);
	await appendFile(stale, '# edited, never loaded\n');
	await tick();
	await m.systemctl(['start', 'lt-unitfile-late.service']);
	await m.systemctl(['restart', 'lt-unitfile-stale.service']);
	await tick();
	await appendFile(frag, '# edited after the start\n');
	t.is((await m.show('lt-unitfile.service', ['NeedDaemonReload']))['NeedDaemonReload'], 'yes');
	t.is((await m.show('lt-unitfile-stale.service', ['NeedDaemonReload']))['NeedDaemonReload'], 'yes');
	const pid = await mainPid(m, 'lt-unitfile.service');

	const r = await livetree(['status', '--json', ...bus]);
	const doc = checkedDocument(r);
	t.deepEqual(schemaErrors(doc), []);
	const unit = unitOf(doc, 'lt-unitfile.service');
	t.is(unit.fragmentPath, frag);
	t.deepEqual(unit.dropInPaths, [dropIn]);
	t.true(unit.needDaemonReload);
	t.false(unit.canReload);
	t.true(unit.needsReload);
	t.is(unit.applyConfigBy, 'restart');
	t.false(unit.needsRestart);
	const p = proc(doc, pid);
	t.true(p.needsReload);
	t.false(p.needsRestart);
	t.deepEqual(p.configChanges, [{path: frag, changedAt: await changedAt(frag), source: 'unit-file', package: null}]);
	// Loaded and edited before its start: not flagged.
	const lateUnit = unitOf(doc, 'lt-unitfile-late.service');
	t.false(lateUnit.needDaemonReload);
	t.false(lateUnit.needsReload);
	t.is(lateUnit.applyConfigBy, null);
	t.deepEqual(proc(doc, await mainPid(m, 'lt-unitfile-late.service')).configChanges, []);
	// Started after the edit, from the definition loaded before it: NeedDaemonReload names the fragment.
	const staleMain = proc(doc, await mainPid(m, 'lt-unitfile-stale.service'));
	t.deepEqual(staleMain.configChanges, [{path: stale, changedAt: await changedAt(stale), source: 'unit-file', package: null}]);
	t.true(doc.summary.processesNeedingReload! >= 2);

	// Text, explain, --fail-on-reload.
	const text = await livetree(['status', '--color', 'never', '--verbose', ...bus]);
	t.regex(
		text.stdout,
		new RegExp(
			`  lt-unitfile\\.service: ${frag.replace(/[.]/g, '\\.')} changed \\d\\d:\\d\\d, sleep started \\d\\d:\\d\\d \\(unit file\\) — daemon-reload and restart to apply\\n`,
		),
		text.stdout,
	);
	const explain = await livetree(['explain', String(pid), '--color', 'never', ...bus]);
	t.is(explain.code, 0, explain.stderr);
	t.regex(explain.stdout, /Its configuration changed since it started/);
	t.true(explain.stdout.includes(`  - ${frag} changed `), explain.stdout);
	t.true(explain.stdout.includes('(unit file) — daemon-reload and restart to apply'), explain.stdout);
	const fail = await livetree(['status', '--json', '--fail-on-reload', ...bus]);
	t.is(fail.code, 1, fail.stderr);

	// daemon-reload alone: the manager has it, the running process still does not.
	await m.systemctl(['daemon-reload']);
	const reloaded = checkedDocument(await livetree(['status', '--json', ...bus]));
	t.false(unitOf(reloaded, 'lt-unitfile.service').needDaemonReload);
	t.deepEqual(
		proc(reloaded, pid).configChanges!.map(c => c.source),
		['unit-file'],
	);
	const text2 = await livetree(['status', '--color', 'never', '--verbose', ...bus]);
	t.true(text2.stdout.includes('(unit file) — restart to apply'), text2.stdout);

	// A restart: the new main process started after the change, with the definition on disk.
	await m.systemctl(['restart', 'lt-unitfile.service']);
	const after = checkedDocument(await livetree(['status', '--json', ...bus]));
	const newPid = await mainPid(m, 'lt-unitfile.service');
	t.not(newPid, pid);
	t.deepEqual(proc(after, newPid).configChanges, []);
	t.false(proc(after, newPid).needsReload);
	t.false(unitOf(after, 'lt-unitfile.service').needsReload);
	t.is(unitOf(after, 'lt-unitfile.service').applyConfigBy, null);
});

// Compact `status --json` measures each unit's files from the starts the scan read (the
// unit table's `starts`); every other output from each process's `stat` read again. A scope
// has no main process: it is measured from the first started of its processes.
test.serial("unit-file: a scope without a main process, and a service, measured from the scan's starts, say what stat says", async t => {
	const {m, state, bus} = await managerAndState(t);
	const scope = spawn('systemd-run', ['--user', '--scope', '--unit=lt-uf-scope', '--', '/bin/sh', '-c', 'sleep 600 & exec sleep 601'], {
		env: m.env,
		stdio: 'ignore',
	});
	t.teardown(() => scope.kill('SIGKILL'));
	const frag = await writeUnit(m, 'lt-uf-main.service', '[Service]\nExecStart=/bin/sleep 603\n');
	await m.systemctl(['daemon-reload']);
	await m.systemctl(['start', 'lt-uf-main.service']);
	let scopeFrag = '';
	for (let i = 0; i < 100 && !scopeFrag.endsWith('.scope'); i++) {
		await tick();
		scopeFrag = (await m.show('lt-uf-scope.scope', ['FragmentPath']))['FragmentPath'] ?? '';
	}

	t.regex(scopeFrag, /\/lt-uf-scope\.scope$/);
	await tick();
	await appendFile(scopeFrag, '# edited after its processes started\n');
	await appendFile(frag, '# edited after the start\n');
	// Loaded: no NeedDaemonReload to name the files whatever the start; only the start tells.
	await m.systemctl(['daemon-reload']);
	t.is((await m.show('lt-uf-scope.scope', ['NeedDaemonReload']))['NeedDaemonReload'], 'no');
	t.is((await m.show('lt-uf-main.service', ['NeedDaemonReload']))['NeedDaemonReload'], 'no');

	const compact = checkedDocument(await livetree(['status', '--json', ...bus]));
	// --textfile: the processes parsed whole, the unit files checked from `stat`.
	const textfile = join(state, 'livetree.prom');
	const whole = checkedDocument(await livetree(['status', '--json', '--textfile', textfile, ...bus]));
	t.true((await readFile(textfile, 'utf8')).includes('livetree_'));
	const scopeUnit = unitOf(compact, 'lt-uf-scope.scope');
	t.is(scopeUnit.mainPid, null);
	t.is(scopeUnit.pids.length, 2);
	t.false(scopeUnit.needDaemonReload);
	t.true(scopeUnit.needsReload);
	t.is(scopeUnit.applyConfigBy, 'restart');
	const scopeChange = [{path: scopeFrag, changedAt: await changedAt(scopeFrag), source: 'unit-file', package: null}];
	const mainChange = [{path: frag, changedAt: await changedAt(frag), source: 'unit-file', package: null}];
	const main = await mainPid(m, 'lt-uf-main.service');
	for (const doc of [compact, whole]) {
		for (const pid of scopeUnit.pids) {
			t.deepEqual(proc(doc, pid).configChanges, scopeChange);
			t.true(proc(doc, pid).needsReload);
		}

		t.deepEqual(proc(doc, main).configChanges, mainChange);
		t.deepEqual(unitOf(doc, 'lt-uf-scope.scope'), scopeUnit);
		t.deepEqual(unitOf(doc, 'lt-uf-main.service'), unitOf(compact, 'lt-uf-main.service'));
	}
});
