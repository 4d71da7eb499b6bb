// Damaged and looping repositories and sysroots: a warning names what is wrong, the rest is
// still reported, and nothing hangs. Real sysroots built with the ostree CLI, damaged here.
import {execFile, execFileSync} from 'node:child_process';
import {lstat, readdir, readFile, symlink, truncate, writeFile} from 'node:fs/promises';
import {join} from 'node:path';
import {promisify} from 'node:util';
import test from 'ava';
import type {StatusDocument} from '../src/model/document.js';
import {checkedStatus as status, runCommand as run} from './helpers/checked-status.js';
import {statusExitCode} from './helpers/exit-code.js';
import {Fixtures, ROOT} from './helpers/fixture.js';
import {schemaErrors} from './helpers/schema.js';

const execFileP = promisify(execFile);

/** The object file of CHECKSUM.KIND in a repo. */
function objectPath(repo: string, checksum: string, kind: string): string {
	return join(repo, 'objects', checksum.slice(0, 2), `${checksum.slice(2)}.${kind}`);
}

async function rootDirtree(repo: string, commit: string): Promise<string> {
	const {stdout} = await execFileP('ostree', [`--repo=${repo}`, 'ls', '-C', '-d', commit, '/']);
	const csum = stdout.trim().split(/\s+/)[4];
	if (!csum || !/^[0-9a-f]{64}$/.test(csum)) {
		throw new Error(`no dirtree checksum in ${stdout}`);
	}

	return csum;
}

async function flipLastByte(path: string): Promise<void> {
	const b = await readFile(path);
	b[b.length - 1] = b[b.length - 1]! ^ 0xff;
	await writeFile(path, b);
}

for (const damage of ['truncated commit', 'bit-flipped commit', 'truncated dirtree', 'bit-flipped dirtree'] as const) {
	test(`a ${damage}: a warning names the object, the rest is still reported`, async t => {
		const fx = new Fixtures();
		t.teardown(async () => fx.cleanup());
		const s = await fx.buildSysroot('two');
		const victim = s.deployments[1]!;
		const intact = s.deployments[0]!;
		let object: string;
		if (damage.endsWith('commit')) {
			object = victim.checksum;
			const p = objectPath(s.repo, object, 'commit');
			await (damage.startsWith('truncated') ? truncate(p, Math.floor((await lstat(p)).size / 2)) : flipLastByte(p));
		} else {
			// The 1.0 tree's root dirtree differs from 2.0's (usr/ differs), so only 1.0 is hit.
			object = await rootDirtree(s.repo, victim.checksum);
			t.not(object, await rootDirtree(s.repo, intact.checksum));
			const p = objectPath(s.repo, object, 'dirtree');
			await (damage.startsWith('truncated') ? truncate(p, 3) : flipLastByte(p));
		}

		const {doc} = await status(t, await fx.tempDir(), ['--sysroot', s.sysroot]);
		t.is(doc.deployments.length, 2);
		t.deepEqual(
			doc.deployments.map(d => d.checksum),
			[intact.checksum, victim.checksum],
		);
		t.is(doc.deployments[0]?.version, '2.0');
		// Objects are named by their file: objects/XX/REST.KIND.
		const file = objectPath(s.repo, object, damage.endsWith('commit') ? 'commit' : 'dirtree');
		t.true(
			doc.warnings.some(w => w.message.includes(file)),
			JSON.stringify(doc.warnings),
		);
	});
}

test('a repo whose config is garbage: a warning, deployments still listed', async t => {
	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const s = await fx.buildSysroot('one');
	await writeFile(join(s.repo, 'config'), Buffer.from([0x5b, 0x00, 0xff, 0x0a, 0x3d, 0x3d, 0x0a]));
	const {doc} = await status(t, await fx.tempDir(), ['--sysroot', s.sysroot]);
	t.is(doc.deployments.length, 1);
	t.true(
		doc.warnings.some(w => w.message.includes(join(s.repo, 'config')) || w.message.includes(s.repo)),
		JSON.stringify(doc.warnings),
	);
});

test('symlink loops in the sysroot and repo: no hang, the rest is reported', async t => {
	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const s = await fx.buildSysroot('two');
	const d = s.deployments[0]!;
	execFileSync('chattr', ['-i', d.path]);
	await symlink('.', join(d.path, 'usr/loop'));
	await symlink('a', join(d.path, 'b'));
	await symlink('b', join(d.path, 'a'));
	execFileSync('chattr', ['+i', d.path]);
	await symlink('.', join(s.repo, 'refs/heads/loop'));
	await symlink('..', join(s.repo, 'objects', (await readdir(join(s.repo, 'objects')))[0]!, 'loop'));
	await symlink('loop', join(s.sysroot, 'ostree/deploy/demo/deploy/loop'));
	// No hang: the scan ends (a loop followed for ever would meet the test's timeout), and
	// reports what the loops do not touch.
	const {doc} = await status(t, await fx.tempDir(), ['--sysroot', s.sysroot]);
	t.deepEqual(
		doc.deployments.map(x => x.checksum),
		s.deployments.map(x => x.checksum),
	);
});

test('ostree/deploy/OS/deploy is a symlink to itself: no hang, a warning says why', async t => {
	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const s = await fx.buildSysroot('one');
	const deploy = join(s.sysroot, 'ostree/deploy/demo/deploy');
	const moved = join(s.sysroot, 'ostree/deploy/demo/deploy.moved');
	await execFileP('mv', [deploy, moved]);
	await symlink('deploy', deploy);
	const r = await run(
		process.execPath,
		[join(ROOT, 'bin/livetree.js'), 'status', '--json', '--no-systemd', '--sysroot', s.sysroot, '--state-dir', await fx.tempDir()],
		// Bounded well past a loaded machine's scan of this host; a loop would never end.
		240_000,
	);
	await execFileP('rm', [deploy]);
	await execFileP('mv', [moved, deploy]);
	t.notRegex(r.stderr, /panick|at .*\.js:\d+/);
	const doc = JSON.parse(r.stdout) as StatusDocument;
	t.is(r.code, statusExitCode(doc), r.stderr);
	t.deepEqual(schemaErrors(doc), []);
	t.deepEqual(doc.deployments, []);
	// The boot entry still names the deployment; reaching it loops, and the warning says so.
	t.true(
		doc.warnings.some(w => w.code === 'deployment-missing' && /symbolic links/.test(w.message)),
		JSON.stringify(doc.warnings),
	);
});
