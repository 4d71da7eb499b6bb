// The tests' schema check (test/helpers/schema.ts) works in a fresh clone: with no
// ../shared beside the checkout it validates against the shipped schema alone and says so;
// with ../shared there it checks the shared contract too.
import {execFile} from 'node:child_process';
import {copyFile, mkdir, mkdtemp, readFile, rm, symlink, writeFile} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {promisify} from 'node:util';
import test from 'ava';
import {projectRoot} from './helpers/cli.js';

const run = promisify(execFile);

// A checkout of just what the helper reads, at DIR/clone, with node_modules linked in.
async function clone(dir: string): Promise<string> {
	const at = path.join(dir, 'clone');
	await mkdir(path.join(at, 'dist/test/helpers'), {recursive: true});
	await mkdir(path.join(at, 'schema'));
	await copyFile(path.join(projectRoot, 'dist/test/helpers/schema.js'), path.join(at, 'dist/test/helpers/schema.js'));
	await copyFile(path.join(projectRoot, 'schema/status.schema.json'), path.join(at, 'schema/status.schema.json'));
	await writeFile(path.join(at, 'package.json'), '{"type": "module"}\n');
	await symlink(path.join(projectRoot, 'node_modules'), path.join(at, 'node_modules'));
	return at;
}

// schemaErrors of a document that lacks every required field, and what the helper said.
async function check(at: string): Promise<{errors: string[]; skipped: string | null; stderr: string}> {
	const script = `import('${path.join(at, 'dist/test/helpers/schema.js')}').then(m => console.log(JSON.stringify({errors: m.schemaErrors({}), skipped: m.sharedSkipped ?? null})))`;
	const env = {...process.env};
	delete env['LIVETREE_SHARED'];
	const {stdout, stderr} = await run(process.execPath, ['-e', script], {env});
	return {...(JSON.parse(stdout) as {errors: string[]; skipped: string | null}), stderr};
}

test('without ../shared the schema check uses schema/status.schema.json and says the contract was left out', async t => {
	const dir = await mkdtemp(path.join(os.tmpdir(), 'livetree-schema-'));
	t.teardown(async () => rm(dir, {recursive: true, force: true}));
	const at = await clone(dir);
	const alone = await check(at);
	t.true(alone.errors.length > 0 && alone.errors.every(e => e.startsWith('shipped: ')), JSON.stringify(alone.errors));
	t.true(alone.errors.includes("shipped:  must have required property 'schemaVersion'"), JSON.stringify(alone.errors));
	t.regex(alone.skipped ?? '', /^no \.\.\/shared\/contract\/status\.schema\.json beside the checkout/);
	t.is(
		alone.stderr
			.split('\n')
			.filter(l => l.startsWith('note: '))
			.join('\n'),
		`note: ${alone.skipped!}`,
	);

	// With the contract beside it (one more required field), both are checked, silently.
	const contract = JSON.parse(await readFile(path.join(projectRoot, 'schema/status.schema.json'), 'utf8')) as {required: string[]};
	contract.required = [...contract.required, 'onlyInTheSharedContract'];
	await mkdir(path.join(dir, 'shared/contract'), {recursive: true});
	await writeFile(path.join(dir, 'shared/contract/status.schema.json'), JSON.stringify(contract));
	const both = await check(at);
	t.is(both.skipped, null);
	t.false(both.stderr.includes('note: '), both.stderr);
	t.true(both.errors.includes("shared:  must have required property 'onlyInTheSharedContract'"), JSON.stringify(both.errors));
	t.true(both.errors.includes("shipped:  must have required property 'schemaVersion'"));
});
