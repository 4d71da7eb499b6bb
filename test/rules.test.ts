// The shipped Prometheus rules (prometheus/livetree.rules.yml) under the real promtool:
// `check rules` for syntax and PromQL, `test rules` for the unit tests in
// test/rules/livetree.rules.test.yml (every alert fires, stays quiet, and resolves).
import {spawnSync} from 'node:child_process';
import {mkdtemp, readFile, rm, writeFile} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import {projectRoot} from './helpers/cli.js';

const rulesFile = path.join(projectRoot, 'prometheus/livetree.rules.yml');
const testsFile = path.join(projectRoot, 'test/rules/livetree.rules.test.yml');

function promtool(args: string[], cwd = projectRoot): {status: number; output: string} {
	const result = spawnSync('promtool', args, {cwd, encoding: 'utf8'});
	return {status: result.status ?? -1, output: `${result.stdout}${result.stderr}`};
}

function alertNames(rules: string): string[] {
	return [...rules.matchAll(/^\s*- alert: (\S+)$/gm)].map(m => m[1]!);
}

test('promtool check rules accepts the rules file', t => {
	const result = promtool(['check', 'rules', rulesFile]);
	t.is(result.status, 0, result.output);
	t.regex(result.output, /SUCCESS: 19 rules found/);
});

test('promtool test rules passes the unit tests', t => {
	const result = promtool(['test', 'rules', testsFile]);
	t.is(result.status, 0, result.output);
	t.regex(result.output, /SUCCESS/);
});

test('every alert has a for:, a severity, the three annotations, and a test that it fires, stays quiet and resolves', async t => {
	const rules = await readFile(rulesFile, 'utf8');
	const tests = await readFile(testsFile, 'utf8');
	const names = alertNames(rules);
	t.true(names.length >= 7, names.join(' '));
	const blocks = rules.split(/^\s*- alert: /m).slice(1);
	for (const block of blocks) {
		const name = block.split('\n')[0]!;
		t.regex(block, /\n\s+for: \d+[smhdw]\n/, name);
		t.regex(block, /\n\s+severity: (critical|warning|info)\n/, name);
		for (const key of ['summary', 'description', 'runbook']) {
			t.regex(block, new RegExp(`\\n\\s+${key}: `), `${name} ${key}`);
		}

		t.regex(block, /\$labels\.instance/, `${name} names the host`);
		t.regex(block, /livetree |systemctl /, `${name} says what to run`);
		// One eval where it is quiet, one where it fires (exp_labels), and at least two quiet
		// ones in all: before it fires (for: not yet elapsed) and after it resolves.
		const evals = [...tests.matchAll(new RegExp(`alertname: ${name}\\n\\s+exp_alerts:( \\[\\])?`, 'g'))];
		t.true(evals.filter(m => m[1] === undefined).length >= 1, `${name} fires in a test`);
		t.true(evals.filter(m => m[1] !== undefined).length >= 2, `${name} is quiet before and after in a test`);
	}
});

test('the unit tests can fail: a rule with a longer for: breaks them (control)', async t => {
	const dir = await mkdtemp(path.join(os.tmpdir(), 'livetree-rules-'));
	t.teardown(async () => rm(dir, {recursive: true, force: true}));
	const rules = await readFile(rulesFile, 'utf8');
	const broken = rules.replace(/for: 24h/, 'for: 48h');
	t.not(broken, rules);
	await writeFile(path.join(dir, 'livetree.rules.yml'), broken);
	const tests = (await readFile(testsFile, 'utf8')).replace('../../prometheus/livetree.rules.yml', 'livetree.rules.yml');
	await writeFile(path.join(dir, 'tests.yml'), tests);
	const result = promtool(['test', 'rules', 'tests.yml'], dir);
	// promtool test rules: 1, a unit test failed.
	t.is(result.status, 1, result.output);
	t.regex(result.output, /LivetreeStaleCode/);
});

test('the rules file ships in the npm package', t => {
	// --ignore-scripts: listing what would be packed must not build anything.
	const result = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {cwd: projectRoot, encoding: 'utf8'});
	t.is(result.status, 0, result.stderr);
	const packed = JSON.parse(result.stdout) as Array<{files: Array<{path: string}>}>;
	const files = packed[0]!.files.map(f => f.path);
	t.true(files.includes('prometheus/livetree.rules.yml'), files.join('\n'));
	t.true(files.includes('docs/fleet.md'), 'and the page that explains it');
});
