// Golden text: the terminal report and `explain`, rendered from a fixed document, with
// colour off and on. UPDATE_GOLDEN=1 rewrites the files (review the diff before committing).
import {existsSync, readFileSync, writeFileSync} from 'node:fs';
import {fileURLToPath} from 'node:url';
import test from 'ava';
import {Chalk} from 'chalk';
import {renderExplain} from '../src/render/explain.js';
import {makeStyle} from '../src/render/style.js';
import {renderText} from '../src/render/text.js';
import {makeDocument} from './helpers/status-document.js';

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

test('status text, colour off', t => {
	const out = renderText(doc, {style: new Chalk({level: 0}), verbose: false, width: 80});
	t.false(out.includes('\u001B['));
	t.true(out.split('\n').every(line => line.length <= 80), 'fits 80 columns');
	check(t, 'status.txt', out);
});

test('status text, colour on', t => {
	const out = renderText(doc, {style: new Chalk({level: 1}), verbose: false, width: 80});
	t.true(out.includes('\u001B['));
	check(t, 'status-color.txt', out);
});

test('explain reads like an answer', t => {
	const p = doc.processes.find(q => q.needsRestart)!;
	const out = renderExplain(doc, p, new Chalk({level: 0}), false);
	t.regex(out, new RegExp(`^PID ${p.pid} \\(`));
	t.regex(out, /It needs a restart:/);
	check(t, 'explain.txt', out);
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
	t.regex(out, /… and \d+ more \(--verbose lists all\)/);
	const all = renderText(many, {style: new Chalk({level: 0}), verbose: true, width: 80});
	t.notRegex(all, /--verbose lists all/);
});
