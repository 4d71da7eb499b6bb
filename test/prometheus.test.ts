import {chmod, mkdir, readFile} from 'node:fs/promises';
import {join} from 'node:path';
import test from 'ava';
import type {ProcessState, StatusDocument} from '../src/model/document.js';
import {renderPrometheus} from '../src/render/prometheus.js';
import {parseExposition, promtoolCheck, valueOf} from './helpers/exposition.js';
import {hostile, hostileDocument, makeDocument, validateDocument} from './helpers/status-document.js';
import {shellWord} from '../src/commands/rerun.js';
import {projectRoot} from './helpers/cli.js';
import {Fixtures} from './helpers/fixture.js';
import {inPidNamespace, sleepCopy, twoStaleSleepers, unitCgroups} from './helpers/unit-cgroup.js';

const allStates: ProcessState[] = ['current', 'overlay', 'stale', 'foreign', 'unknown'];

test('the handwritten documents are valid v1 documents', t => {
	t.deepEqual(validateDocument(makeDocument()), []);
	t.deepEqual(validateDocument(hostileDocument()), []);
});

test('promtool check metrics can fail (control: a counter without _total)', t => {
	const result = promtoolCheck('# HELP x_count bad\n# TYPE x_count counter\nx_count 1\n');
	// promtool: 3, lint problems found (1 would be a failure to read the input).
	t.is(result.status, 3, result.output);
});

test('promtool check metrics passes on the output, with and without exporter facts', t => {
	for (const text of [
		renderPrometheus(makeDocument()),
		renderPrometheus(makeDocument(), {scanErrorsTotal: 3, scansTotal: 9, up: false}),
		renderPrometheus(makeDocument({states: [], units: [], warnings: [], deployments: [], overlays: 0})),
		renderPrometheus(hostileDocument(), {scanErrorsTotal: 0, scansTotal: 1, up: true}),
	]) {
		const result = promtoolCheck(text);
		t.is(result.status, 0, `${result.output}\n${text}`);
		t.is(result.output.trim(), '', 'no lint remarks');
	}
});

test('livetree_processes has every state, zeros included, with counts from the document', t => {
	const doc = makeDocument();
	const parsed = parseExposition(renderPrometheus(doc));
	const series = parsed.samples.filter(s => s.name === 'livetree_processes');
	t.deepEqual(series.map(s => s.labels.state).sort(), [...allStates].sort());
	for (const state of allStates) {
		t.is(valueOf(parsed, 'livetree_processes', {state}), doc.processes.filter(p => p.state === state).length, state);
	}

	t.is(valueOf(parsed, 'livetree_processes', {state: 'foreign'}), 0);
	t.true((valueOf(parsed, 'livetree_processes', {state: 'stale'}) ?? 0) > 0);
});

// Issue 22: a scan that could not read every process is no all-clear, in the metrics too.
test('livetree_scan_complete says whether every process was read; kernel threads are counted apart', t => {
	const incomplete = makeDocument({states: ['current', 'unknown']});
	const parsed = parseExposition(renderPrometheus({...incomplete, summary: {...incomplete.summary, kernelThreads: 63}}));
	t.is(valueOf(parsed, 'livetree_scan_complete'), 0);
	t.is(valueOf(parsed, 'livetree_kernel_threads'), 63);
	t.is(valueOf(parsed, 'livetree_processes', {state: 'unknown'}), 1);
	const complete = parseExposition(renderPrometheus(makeDocument({states: ['current', 'stale']})));
	t.is(valueOf(complete, 'livetree_scan_complete'), 1);
	t.is(valueOf(complete, 'livetree_kernel_threads'), 0);
	// A document without the field (an older livetree's) is judged by its unread count.
	const {complete: _, ...older} = incomplete.summary;
	t.is(valueOf(parseExposition(renderPrometheus({...incomplete, summary: older})), 'livetree_scan_complete'), 0);
});

test('summary gauges, per-unit and per-deployment series carry the document values', t => {
	const doc = makeDocument();
	const parsed = parseExposition(renderPrometheus(doc));
	t.is(valueOf(parsed, 'livetree_processes_needing_restart'), doc.summary.processesNeedingRestart);
	t.is(valueOf(parsed, 'livetree_units_needing_restart'), doc.summary.unitsNeedingRestart);
	t.is(valueOf(parsed, 'livetree_stale_files'), doc.summary.staleFiles);
	t.is(valueOf(parsed, 'livetree_overlay_files'), doc.summary.overlayFiles);
	t.is(valueOf(parsed, 'livetree_untracked_files'), doc.summary.untrackedFiles);
	t.is(valueOf(parsed, 'livetree_overlays'), doc.overlays.length);
	t.is(valueOf(parsed, 'livetree_scan_duration_seconds'), doc.scanDurationSeconds);
	t.is(valueOf(parsed, 'livetree_last_scan_timestamp_seconds'), Date.parse(doc.generatedAt) / 1000);
	for (const unit of doc.units) {
		t.is(valueOf(parsed, 'livetree_unit_needs_restart', {unit: unit.name}), unit.needsRestart ? 1 : 0, unit.name);
	}

	t.true(doc.units.some(u => u.needsRestart) && doc.units.some(u => !u.needsRestart), 'the fixture has both kinds of unit');
	for (const d of doc.deployments) {
		t.is(valueOf(parsed, 'livetree_deployment_processes', {deployment: d.id, osname: d.osname}), d.processCount);
		t.is(
			valueOf(parsed, 'livetree_deployment_info', {
				deployment: d.id,
				osname: d.osname,
				checksum: d.checksum,
				version: d.version ?? '',
				booted: String(d.booted),
				pinned: String(d.pinned),
				staged: String(d.staged),
				unlocked: d.unlocked,
			}),
			1,
		);
	}

	t.is(valueOf(parsed, 'livetree_scan_warnings', {code: 'EACCES'}), 2);
	t.is(valueOf(parsed, 'livetree_scan_warnings', {code: 'VANISHED'}), 1);
});

test('exporter-only counters appear only when given, and _total is exactly the counters', t => {
	const plain = parseExposition(renderPrometheus(makeDocument()));
	t.is(valueOf(plain, 'livetree_scan_errors_total'), undefined);
	t.is(valueOf(plain, 'livetree_up'), undefined);

	const text = renderPrometheus(makeDocument(), {scanErrorsTotal: 4, scansTotal: 10, up: false});
	const parsed = parseExposition(text);
	t.is(valueOf(parsed, 'livetree_scan_errors_total'), 4);
	t.is(valueOf(parsed, 'livetree_scans_total'), 10);
	t.is(valueOf(parsed, 'livetree_up'), 0);
	t.true(parsed.types.size >= 15);
	for (const [name, type] of parsed.types) {
		t.true(name.startsWith('livetree_'), name);
		t.is(name.endsWith('_total'), type === 'counter', name);
	}
});

test('label cardinality does not grow with processes or files', t => {
	const few = makeDocument({states: ['current', 'stale']});
	const many = makeDocument({states: Array.from({length: 2000}, (_, i) => allStates[i % allStates.length]!)});
	const fewSamples = parseExposition(renderPrometheus(few)).samples;
	const manySamples = parseExposition(renderPrometheus(many)).samples;
	t.is(manySamples.length, fewSamples.length);
	const labelNames = new Set(manySamples.flatMap(s => Object.keys(s.labels)));
	for (const forbidden of ['pid', 'path', 'file', 'comm', 'exe', 'ino']) {
		t.false(labelNames.has(forbidden), forbidden);
	}
});

test('hostile label values are escaped (backslash, quote, newline) and read back exactly', t => {
	const doc = hostileDocument();
	const text = renderPrometheus(doc);
	// Every sample stays on one line: the newline inside a value is escaped.
	t.false(text.split('\n').some(line => line.startsWith('he said') || line.startsWith('name.service')));
	t.true(text.includes(String.raw`livetree_unit_needs_restart{unit="dev-disk-by\\x2duuid-1234\\x2d5678.device"}`));
	t.true(text.includes(String.raw`unit="weird\"unit\nname.service"`));
	t.true(text.includes(String.raw`version="he said \"hi\"\nthen left \\o/ {x=\"y\"} — ünïcode"`));

	const parsed = parseExposition(text);
	const info = parsed.samples.find(s => s.name === 'livetree_deployment_info');
	t.is(info?.labels.version, hostile.version);
	t.is(info?.labels.osname, 'de"b\\ian');
	t.is(valueOf(parsed, 'livetree_unit_needs_restart', {unit: hostile.unit}), doc.units[0]!.needsRestart ? 1 : 0);
	t.is(valueOf(parsed, 'livetree_scan_warnings', {code: hostile.warningCode}), 1);
	t.is(promtoolCheck(text).status, 0);
});

test('rendering is a pure function of the document', t => {
	const doc = makeDocument();
	const before = JSON.stringify(doc);
	t.is(renderPrometheus(doc), renderPrometheus(structuredClone(doc)));
	t.is(JSON.stringify(doc), before);
});

// Without systemd's answer (--no-systemd, no bus) a process's unit is read from its cgroup.
// The text report counts those units; the series said livetree_unit_needs_restart nothing
// and livetree_units_needing_restart 0 while livetree_unit_processes_needing_reload named
// the same unit. One rule now (model/process-units.ts): every per-unit series names the
// cgroup-named unit, and the count agrees with the text; the JSON contract's
// summary.unitsNeedingRestart stays systemd's count. In a PID namespace of its own, as root,
// with a real cgroup named as a manager would name it.
test('without systemd, the per-unit series and the unit count name the units read from cgroups, as the text does', async t => {
	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const dir = await fx.tempDir('livetree-prom-cgroup-');
	await chmod(dir, 0o755);
	const state = join(dir, 'state');
	await mkdir(state);
	const exe = await sleepCopy(dir);
	const groups = await unitCgroups(t, 'livetree-prom', 'lt-prom.service');
	const q = shellWord;
	const lt = [process.execPath, join(projectRoot, 'bin/livetree.js'), 'status', '--no-systemd', '--state-dir', state].map(a => q(a)).join(' ');
	const script = [
		...twoStaleSleepers(exe, groups),
		`${lt} --json --output ${q(join(dir, 'status.json'))}; echo "json $?"`,
		`${lt} --format prometheus --output ${q(join(dir, 'status.prom'))}; echo "prometheus $?"`,
		`${lt} --color never --output ${q(join(dir, 'status.txt'))}; echo "text $?"`,
	].join('\n');
	const r = await inPidNamespace(script);
	t.is(r.code, 0, r.stderr);
	t.is(r.stdout, 'json 1\nprometheus 1\ntext 1\n', r.stderr);

	const doc = JSON.parse(await readFile(join(dir, 'status.json'), 'utf8')) as StatusDocument;
	t.deepEqual(doc.units, []);
	t.is(doc.summary.unitsNeedingRestart, 0, "the contract's field counts systemd's units");
	t.deepEqual(
		doc.processes
			.filter(p => p.needsRestart)
			.map(p => p.unit)
			.sort(),
		['lt-prom.service', null],
	);

	const text = await readFile(join(dir, 'status.txt'), 'utf8');
	// The namespace's sh (its PID 1), the stale lt-sleep in the unit's cgroup and the one in none.
	t.is(text.split('\n')[0], 'Restart needed: 1 unit (lt-prom.service) and 1 process in no unit, 2 processes in all.');
	t.regex(text, /^Summary: 3 processes(?: \(\d+ kernel threads? not counted\))?, 2 need a restart; 1 unit needs a restart;$/m);

	const prom = await readFile(join(dir, 'status.prom'), 'utf8');
	const check = promtoolCheck(prom);
	t.is(check.status, 0, `${check.output}\n${prom}`);
	t.is(check.output.trim(), '');
	const parsed = parseExposition(prom);
	t.is(valueOf(parsed, 'livetree_processes_needing_restart'), 2);
	t.is(valueOf(parsed, 'livetree_units_needing_restart'), 1);
	const unit = {unit: 'lt-prom.service'};
	t.is(valueOf(parsed, 'livetree_unit_needs_restart', unit), 1);
	t.is(valueOf(parsed, 'livetree_unit_processes_needing_restart', unit), 1);
	t.is(valueOf(parsed, 'livetree_unit_processes_needing_reload', unit), 0);
	// The same units in every per-unit family, and no other.
	for (const family of ['livetree_unit_needs_restart', 'livetree_unit_processes_needing_restart', 'livetree_unit_processes_needing_reload']) {
		t.deepEqual(
			parsed.samples.filter(s => s.name === family).map(s => s.labels),
			[unit],
			family,
		);
	}
});
