// npm's postinstall hook, for two different installs:
//
// - In a checkout (src/ is there, it is never packed): `npm install` / `npm ci` builds the
//   CLI, native addon and TypeScript, with the devDependencies just installed. The README's
//   scripts run `npm ci --ignore-scripts` and build on their own, so this is for people who
//   type `npm install` by habit.
// - In an installed package (`npm install -g livetree` or a packed tarball): the compiled
//   JavaScript is already in dist/, and the native addon normally comes from the platform
//   package (livetree-linux-x64-gnu), which native/binding.cjs resolves at run time. Only
//   when no addon loads (no platform package for this machine, or npm left the optional
//   dependency out) is it built here from the Rust sources shipped in native/, with cargo.
//   Plain cargo, not `napi build`: @napi-rs/cli is a devDependency, absent here.
import {spawnSync} from 'node:child_process';
import {copyFileSync, existsSync, readFileSync, rmSync} from 'node:fs';
import {dirname, join} from 'node:path';
import {fileURLToPath} from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const log = (message) => process.stderr.write(`livetree postinstall: ${message}\n`);

function run(command, args, options = {}) {
	const result = spawnSync(command, args, {cwd: root, stdio: 'inherit', ...options});
	if (result.error) {
		throw result.error;
	}
	return result.status ?? 1;
}

// The suffix napi-rs gives this platform's addon and platform package, e.g. linux-x64-gnu.
function platformSuffix() {
	if (process.platform !== 'linux') {
		return `${process.platform}-${process.arch}`;
	}
	const report = process.report?.getReport?.();
	const glibc = report && typeof report === 'object' && report.header?.glibcVersionRuntime;
	return `linux-${process.arch}-${glibc ? 'gnu' : 'musl'}`;
}

// Loads the addon in a child process: a broken addon must not take the install down with
// an uncaught native error, and this process must not keep it mapped.
function addonLoads() {
	const result = spawnSync(process.execPath, ['-e', "require('./native/binding.cjs').coreVersion()"], {
		cwd: root,
		stdio: ['ignore', 'ignore', 'pipe'],
	});
	return {ok: result.status === 0, error: result.stderr?.toString().trim().split('\n').slice(-3).join('\n')};
}

function buildFromSource() {
	const suffix = platformSuffix();
	const cargo = spawnSync('cargo', ['--version'], {stdio: 'ignore'});
	if (cargo.error || cargo.status !== 0) {
		log(`no prebuilt native addon for ${suffix} (package livetree-${suffix}) and no cargo to build one.`);
		log('Install a Rust toolchain (https://rustup.rs) and reinstall, or install livetree-' + suffix + '.');
		return 1;
	}
	// A target dir of its own, removed afterwards (it grows to hundreds of MB), unless the
	// caller chose one (CARGO_TARGET_DIR), e.g. to reuse a build between installs.
	const own = !process.env.CARGO_TARGET_DIR;
	const target = process.env.CARGO_TARGET_DIR ?? join(root, 'native', 'target');
	log(`no prebuilt native addon for ${suffix}: building it from source with cargo (a few minutes)`);
	const status = run('cargo', [
		'build', '--release', '--locked', '--manifest-path', join(root, 'native', 'Cargo.toml'), '-p', 'livetree-napi', '--lib',
	], {env: {...process.env, CARGO_TARGET_DIR: target}});
	if (status !== 0) {
		log('cargo build failed (see above)');
		return status;
	}
	copyFileSync(join(target, 'release', 'liblivetree_napi.so'), join(root, 'native', `livetree.${suffix}.node`));
	if (own) {
		rmSync(target, {recursive: true, force: true});
	}
	return 0;
}

function main() {
	if (existsSync(join(root, 'src', 'cli.ts'))) {
		// A checkout: build everything. devDependencies are there only in a checkout.
		const napi = join(root, 'node_modules', '.bin', 'napi');
		if (!existsSync(napi)) {
			log('a checkout without devDependencies: run `npm ci`, then `npm run build`');
			return 0;
		}
		return run('npm', ['run', 'build']);
	}
	const first = addonLoads();
	if (first.ok) {
		return 0;
	}
	const status = buildFromSource();
	if (status !== 0) {
		log(`the native addon does not load:\n${first.error}`);
		return status;
	}
	const second = addonLoads();
	if (!second.ok) {
		log(`built the native addon from source, but it does not load:\n${second.error}`);
		return 1;
	}
	const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
	log(`built the native addon of livetree ${pkg.version} from source`);
	return 0;
}

process.exitCode = main();
