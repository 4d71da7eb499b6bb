// Issue 12: livetree installed as users install a CLI. The project and its platform package
// are packed with the real `npm pack`, installed globally into a temporary prefix with the
// real `npm install -g --prefix`, and the installed `livetree` command scans a real sysroot.
//
// The pack runs in a copy of the checkout (tracked files, plus what `npm test` built, with
// LIVETREE_PACK_SKIP_BUILD=1): prepack edits package.json for the length of a pack, and a
// rebuild would rewrite native/livetree.linux-x64-gnu.node, while other test files read
// both.
import {execFile, spawn} from 'node:child_process';
import {existsSync} from 'node:fs';
import {cp, mkdir, readFile, symlink} from 'node:fs/promises';
import {homedir} from 'node:os';
import {dirname, join} from 'node:path';
import {promisify} from 'node:util';
import test from 'ava';
import type {StatusDocument} from '../src/model/document.js';
import {type CliResult, outcome, projectRoot} from './helpers/cli.js';
import {Fixtures} from './helpers/fixture.js';
import {schemaErrors} from './helpers/schema.js';
import {statusExitCode} from './helpers/exit-code.js';

const run = promisify(execFile);
const big = {maxBuffer: 64 * 1024 * 1024};

// The checkout as git sees it, plus the build outputs, with node_modules linked.
async function stage(dir: string): Promise<string> {
	const {stdout} = await run('git', ['ls-files', '-z'], {cwd: projectRoot, ...big});
	const built = ['dist/src', 'native/binding.cjs', 'native/livetree.linux-x64-gnu.node'];
	for (const file of [...stdout.split('\0').filter(Boolean), ...built]) {
		if (existsSync(join(projectRoot, file))) {
			await mkdir(dirname(join(dir, file)), {recursive: true});
			await cp(join(projectRoot, file), join(dir, file), {recursive: true});
		}
	}

	await symlink(join(projectRoot, 'node_modules'), join(dir, 'node_modules'));
	// `napi pre-publish` reads the last commit message (git log -1): a checkout has one.
	const git = ['-c', 'user.name=livetree-test', '-c', 'user.email=test@livetree.invalid'];
	await run('git', ['init', '-q'], {cwd: dir});
	await run('git', [...git, 'add', '-A'], {cwd: dir, ...big});
	await run('git', [...git, 'commit', '-q', '-m', 'staged for npm pack'], {cwd: dir, ...big});
	return dir;
}

async function npmPack(checkout: string, dir: string, destination: string): Promise<string> {
	const {stdout} = await run('npm', ['pack', dir, '--pack-destination', destination, '--json'], {
		cwd: checkout,
		env: {...process.env, LIVETREE_PACK_SKIP_BUILD: '1'},
		...big,
	});
	// Lifecycle scripts print before the JSON document.
	const json = stdout.slice(stdout.indexOf('['));
	const [packed] = JSON.parse(json) as Array<{filename: string}>;
	return join(destination, packed!.filename);
}

async function tarList(tarball: string): Promise<string[]> {
	const {stdout} = await run('tar', ['tzf', tarball], big);
	return stdout
		.trim()
		.split('\n')
		.map(line => line.replace(/^package\//, ''));
}

async function installGlobal(prefix: string, tarballs: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
	const {stdout, stderr} = await run('npm', ['install', '-g', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', ...tarballs], {
		cwd: join(prefix, '..'),
		env: {...process.env, ...env},
		...big,
	});
	return stdout + stderr;
}

async function installed(command: string, args: string[]): Promise<CliResult> {
	// A PATH with nothing of the checkout on it: the command runs from the prefix alone.
	return outcome(
		spawn(command, args, {
			env: {...process.env, PATH: `${join(command, '..')}:/usr/sbin:/usr/bin:/sbin:/bin`},
			stdio: ['ignore', 'pipe', 'pipe'],
		}),
	);
}

// One sysroot with a process chrooted into its deployment, scanned by the installed command.
async function scanWith(t: import('ava').ExecutionContext, fx: Fixtures, bin: string): Promise<void> {
	const s = await fx.initSysroot();
	const commit = await s.commit('1.0');
	const d = (await s.deploy()).deployments[0]!;
	const proc = await fx.startChrooted(d.path, ['/usr/bin/demo-sleep', '600']);
	const state = await fx.tempDir();
	const r = await installed(bin, ['status', '--json', '--no-systemd', '--sysroot', s.path, '--state-dir', state]);
	const doc = JSON.parse(r.stdout) as StatusDocument;
	t.is(r.code, statusExitCode(doc), r.stderr);
	t.deepEqual(schemaErrors(doc), []);
	const p = doc.processes.find(q => q.pid === proc.pid);
	t.truthy(p, `PID ${proc.pid} not in the installed command's report`);
	t.deepEqual(p!.root, {kind: 'deployment', deployment: `demo/${commit}.0`});
	const lib = p!.files.find(f => f.origin.treePath === '/usr/lib/livetree-demo/libdemo.so.1');
	t.is(lib?.origin.commit, commit);
}

// Packed once for both tests: prepack edits package.json for the length of a pack, so two
// packs at once would race.
const packs = new Fixtures();
let packed: Promise<{main: string; platform: string}> | undefined;
async function tarballs(): Promise<{main: string; platform: string}> {
	packed ??= (async () => {
		const dir = await packs.tempDir();
		const checkout = await stage(join(dir, 'checkout'));
		const main = await npmPack(checkout, '.', dir);
		const platform = await npmPack(checkout, './npm/linux-x64-gnu', dir);
		// postpack put package.json back: no optionalDependencies the registry lacks.
		const after = JSON.parse(await readFile(join(checkout, 'package.json'), 'utf8')) as {optionalDependencies?: unknown};
		if (after.optionalDependencies !== undefined) {
			throw new Error('postpack left optionalDependencies in package.json');
		}

		return {main, platform};
	})();
	return packed;
}

test.after.always(async () => packs.cleanup());

test('npm pack, npm install -g into a prefix: the installed livetree runs from the platform package', async t => {
	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const work = await fx.tempDir();
	const {main, platform} = await tarballs();
	const pkg = JSON.parse(await readFile(join(projectRoot, 'package.json'), 'utf8')) as {version: string};

	// Only what users need: compiled JavaScript, the loader, Rust sources for the fallback.
	const files = await tarList(main);
	t.true(files.includes('dist/src/cli.js'));
	t.true(files.includes('native/binding.cjs'));
	t.true(files.includes('bin/livetree.js'));
	t.deepEqual(
		files.filter(
			f => /^(test|fixtures|dist\/test|src|reports|native\/core\/tests)\//.test(f) || f.endsWith('.node') || (f.endsWith('.ts') && !f.endsWith('.d.ts')),
		),
		[],
	);
	const manifest = JSON.parse((await run('tar', ['xzf', main, '-O', 'package/package.json'])).stdout) as {optionalDependencies?: Record<string, string>};
	t.deepEqual(manifest.optionalDependencies, {'livetree-linux-x64-gnu': pkg.version});
	t.deepEqual((await tarList(platform)).sort(), ['README.md', 'livetree.linux-x64-gnu.node', 'package.json']);

	const prefix = join(work, 'prefix');
	await installGlobal(prefix, [platform, main]);
	const bin = join(prefix, 'bin', 'livetree');
	const lib = join(prefix, 'lib', 'node_modules');
	t.true(existsSync(join(lib, 'livetree-linux-x64-gnu', 'livetree.linux-x64-gnu.node')));
	// The addon came from the platform package, not from a build in the installed package.
	t.false(existsSync(join(lib, 'livetree', 'native', 'livetree.linux-x64-gnu.node')));

	const version = await installed(bin, ['--version']);
	t.is(version.code, 0, version.stderr);
	t.is(version.stdout.trim(), `livetree ${pkg.version}`);
	await scanWith(t, fx, bin);
});

test('without the platform package, the install builds the addon from the shipped sources with cargo', async t => {
	// A release build of the addon: 4m 50s once beside another checkout's suite, whose same
	// test waited on the shared target directory's lock; ava's 5 minutes without a result
	// would end every running file.
	t.timeout(1_500_000);
	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const work = await fx.tempDir();
	const {main} = await tarballs();
	const prefix = join(work, 'prefix');
	// The registry has no livetree-linux-x64-gnu: npm skips the optional dependency, and
	// the postinstall hook compiles native/ with cargo. Its target directory is kept in the
	// cache outside the repo (as scripts/fuzz.sh does), so only livetree's own two crates
	// are compiled again on the next run: from scratch this takes minutes on 2 cores.
	const cache = process.env['LIVETREE_CACHE'] ?? join(process.env['XDG_CACHE_HOME'] ?? join(homedir(), '.cache'), 'livetree');
	const log = await installGlobal(prefix, [main], {CARGO_TARGET_DIR: join(cache, 'install-target')});
	const lib = join(prefix, 'lib', 'node_modules');
	t.false(existsSync(join(lib, 'livetree-linux-x64-gnu')));
	t.true(existsSync(join(lib, 'livetree', 'native', 'livetree.linux-x64-gnu.node')), log);
	t.false(existsSync(join(lib, 'livetree', 'native', 'target')));
	await scanWith(t, fx, join(prefix, 'bin', 'livetree'));
});
