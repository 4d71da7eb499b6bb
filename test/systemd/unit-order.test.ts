// The order of units[] (src/systemd/unit-order.ts) is the default locale's collator's: the
// root collation computed without making a collator, checked against Intl.Collator itself.
import test from 'ava';
import {spawnSync} from 'node:child_process';
import {fileURLToPath} from 'node:url';
import {compareUnitNames, defaultLocaleIsRoot, sortByUnitName} from '../../src/systemd/unit-order.js';

const ALPHABET = [...'_-:.@\\0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'];
const sign = (n: number) => Math.sign(n);

test('every name of up to three characters of a unit name sorts as the root collator sorts it', t => {
	const names = [''];
	for (let len = 1; len <= 3; len++) {
		const last = names.filter(n => n.length === len - 1);
		for (const n of last) for (const c of ALPHABET) names.push(n + c);
	}
	t.is(ALPHABET.length, 68);
	t.is(names.length, 1 + 68 + 68 ** 2 + 68 ** 3);
	const root = new Intl.Collator('en-US');
	const ours = [...names].sort(compareUnitNames);
	const theirs = [...names].sort(root.compare);
	// Both are total orders (no two different names compare equal), so one sorted sequence
	// is one order: every pair compares alike.
	t.deepEqual(ours, theirs);
	t.is(new Set(ours).size, names.length);
});

test('random unit names of up to 40 characters compare as the root collator compares them', t => {
	const root = new Intl.Collator('en-US');
	let seed = 22;
	const next = () => {
		seed = (seed * 1103515245 + 12345) % 2 ** 31;
		return seed;
	};
	const name = () => Array.from({length: 1 + (next() % 40)}, () => ALPHABET[next() % ALPHABET.length]).join('');
	let differ = 0;
	for (let i = 0; i < 20000; i++) {
		const a = name();
		// Often the same name with one character or one letter's case changed.
		const b = i % 2 === 0 ? name() : a.slice(0, next() % a.length) + ALPHABET[next() % ALPHABET.length] + a.slice((next() % a.length) + 1);
		const c = i % 3 === 0 ? a.toUpperCase() : b;
		for (const [x, y] of [
			[a, b],
			[a, c],
			[c, a],
		] as const) {
			if (sign(compareUnitNames(x, y)) !== sign(root.compare(x, y))) differ++;
		}
	}
	t.is(differ, 0);
});

test('the names sort as localeCompare sorts them, in this process and under other locales (Danish: by the collator)', t => {
	const names = [
		'lt-b.service',
		'a_b.service',
		'a-b.service',
		'aB.service',
		'Ab.service',
		'a@1.service',
		'a1.service',
		'laa.service',
		'lz.service',
		'x\\x2dy.scope',
		'dbus-:1.2-org.a@0.service',
		'é.service',
	];
	const expected = [...names].sort((a, b) => a.localeCompare(b));
	t.deepEqual(
		sortByUnitName(names.map(name => ({name}))).map(u => u.name),
		expected,
	);
	t.deepEqual(
		sortByUnitName(names.filter(n => n !== 'é.service').map(name => ({name}))).map(u => u.name),
		expected.filter(n => n !== 'é.service'),
	);
	// The locale told by Intl.PluralRules is the collator's.
	t.is(defaultLocaleIsRoot(), /^(en|und)(-|$)/.test(new Intl.Collator().resolvedOptions().locale));

	const module = fileURLToPath(new URL('../../src/systemd/unit-order.js', import.meta.url));
	const plain = JSON.stringify(names.filter(n => n !== 'é.service'));
	const script = `const {sortByUnitName, defaultLocaleIsRoot} = await import(${JSON.stringify(module)}); const names = ${plain}; console.log(JSON.stringify({root: defaultLocaleIsRoot(), collator: new Intl.Collator().resolvedOptions().locale, plural: new Intl.PluralRules().resolvedOptions().locale, sorted: sortByUnitName(names.map(name => ({name}))).map(u => u.name), expected: [...names].sort((a, b) => a.localeCompare(b))}));`;
	for (const [lang, root] of [
		['C.UTF-8', true],
		['POSIX', true],
		['en_GB.UTF-8', true],
		['da_DK.UTF-8', false],
		['de_DE.UTF-8', false],
	] as const) {
		const env: NodeJS.ProcessEnv = {...process.env, LANG: lang};
		delete env.LC_ALL;
		delete env.LC_MESSAGES;
		delete env.LC_COLLATE;
		const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], {env, encoding: 'utf8'});
		t.is(run.status, 0, run.stderr);
		const out = JSON.parse(run.stdout) as {root: boolean; collator: string; plural: string; sorted: string[]; expected: string[]};
		t.is(out.root, root, lang);
		t.is(out.plural, out.collator, lang);
		t.deepEqual(out.sorted, out.expected, lang);
		if (lang === 'da_DK.UTF-8') t.true(out.sorted.indexOf('laa.service') > out.sorted.indexOf('lz.service'), 'Danish: aa after z');
	}
});
