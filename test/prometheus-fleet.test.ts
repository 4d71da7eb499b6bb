// The metrics the fleet rules need: stale processes per unit, and restart verdicts
// from the catalog's history (a real catalog, written through the native API the
// restart command uses, read back by `livetree status --textfile`).
import {mkdir, mkdtemp, readFile, rm} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import {restartFamilies} from '../src/render/prometheus-fleet.js';
import {renderPrometheus} from '../src/render/prometheus.js';
import {livetree} from './helpers/cli.js';
import {parseExposition, promtoolCheck, valueOf} from './helpers/exposition.js';
import {recordRestart} from './helpers/restart-history.js';
import {makeDocument} from './helpers/status-document.js';
import {metricsExitCode, statusExitCode, textExitCode} from './helpers/exit-code.js';
import type {StatusDocument} from '../src/model/document.js';

test("livetree_unit_processes_needing_restart counts each unit's stale processes", t => {
	const doc = makeDocument();
	const text = renderPrometheus(doc);
	t.is(promtoolCheck(text).status, 0, promtoolCheck(text).output);
	const parsed = parseExposition(text);
	for (const unit of doc.units) {
		const expected = doc.processes.filter(p => p.unit === unit.name && p.needsRestart).length;
		t.is(valueOf(parsed, 'livetree_unit_processes_needing_restart', {unit: unit.name}), expected, unit.name);
	}

	t.true(
		doc.units.some(u => doc.processes.some(p => p.unit === u.name && p.needsRestart)),
		'the fixture has a unit with stale processes',
	);
});

test('restart verdicts: the newest finished attempt per unit decides; in-progress ones and unknown verdicts are left out', t => {
	const families = restartFamilies([
		{id: 1, unit: 'db.service', state: 'done', verdict: 'failed'},
		{id: 2, unit: 'web.service', state: 'done', verdict: 'still-stale'},
		{id: 4, unit: 'db.service', state: 'done', verdict: 'verified'},
		{id: 3, unit: 'web.service', state: 'done', verdict: 'verified'},
		{id: 5, unit: 'web.service', state: 'in-progress'},
		{id: 6, unit: 'odd.service', state: 'done', verdict: 'something-new'},
	]);
	const text = renderPrometheus(makeDocument(), {restarts: [{id: 1, unit: 'db.service', state: 'done', verdict: 'failed'}]});
	t.is(promtoolCheck(text).status, 0, promtoolCheck(text).output);
	const byKey = new Map(families.flatMap(f => f.samples.map(s => [`${f.name}${JSON.stringify(s.labels)}`, s.value])));
	t.is(byKey.get('livetree_restarts_total{"verdict":"failed"}'), 1);
	t.is(byKey.get('livetree_restarts_total{"verdict":"verified"}'), 2);
	t.is(byKey.get('livetree_restarts_total{"verdict":"still-stale"}'), 1);
	t.is(byKey.get('livetree_unit_last_restart_verdict{"unit":"db.service","verdict":"verified"}'), 1);
	t.is(byKey.get('livetree_unit_last_restart_verdict{"unit":"db.service","verdict":"failed"}'), 0);
	t.is(byKey.get('livetree_unit_last_restart_verdict{"unit":"web.service","verdict":"still-stale"}'), 0, 'id 3 is newer than id 2');
	t.is(byKey.get('livetree_unit_last_restart_verdict{"unit":"web.service","verdict":"verified"}'), 1);
	t.false([...byKey.keys()].some(k => k.includes('odd.service')));
	t.deepEqual(restartFamilies(undefined), [], 'no history, no claim');
});

test('livetree status --textfile carries the verdicts of a real catalog', async t => {
	const dir = await mkdtemp(path.join(os.tmpdir(), 'livetree-fleet-metrics-'));
	t.teardown(async () => rm(dir, {recursive: true, force: true}));
	const state = path.join(dir, 'state');
	const textfile = path.join(dir, 'livetree.prom');
	// --state-dir must exist (a mistyped one is an error, never created).
	await mkdir(state);
	// A first scan creates the catalog; then two restarts are recorded as `livetree restart` does.
	const first = await livetree(['status', '--no-systemd', '--json', '--state-dir', state]);
	t.is(first.code, statusExitCode(JSON.parse(first.stdout) as StatusDocument), first.stderr);
	recordRestart(state, 'db.service', 'failed');
	recordRestart(state, 'web.service', 'verified');

	const r = await livetree(['status', '--no-systemd', '--state-dir', state, '--textfile', textfile, '--output', path.join(dir, 'out.txt')]);
	const text = await readFile(textfile, 'utf8');
	t.is(r.code, textExitCode(await readFile(path.join(dir, 'out.txt'), 'utf8')), r.stderr);
	t.is(r.code, metricsExitCode(text));
	t.is(promtoolCheck(text).status, 0, promtoolCheck(text).output);
	const parsed = parseExposition(text);
	t.is(valueOf(parsed, 'livetree_unit_last_restart_verdict', {unit: 'db.service', verdict: 'failed'}), 1);
	t.is(valueOf(parsed, 'livetree_unit_last_restart_verdict', {unit: 'web.service', verdict: 'verified'}), 1);
	t.is(valueOf(parsed, 'livetree_restarts_total', {verdict: 'failed'}), 1);

	// --format prometheus says the same.
	const stdout = await livetree(['status', '--no-systemd', '--state-dir', state, '--format', 'prometheus']);
	t.is(valueOf(parseExposition(stdout.stdout), 'livetree_unit_last_restart_verdict', {unit: 'db.service', verdict: 'failed'}), 1);
});
