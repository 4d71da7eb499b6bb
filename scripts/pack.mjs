// npm's prepack / postpack hooks: `npm pack` and `npm publish` ship what a user needs and
// nothing that has to be compiled with devDependencies (napi-rs convention).
//
//   node scripts/pack.mjs prepare   (prepack)
//     1. build: the native addon (napi build) and the TypeScript (tsc into dist/), unless
//        LIVETREE_PACK_SKIP_BUILD=1 says both are already built (the install test packs
//        what `npm test` built: rebuilding would rewrite the .node file other tests have
//        loaded);
//     2. `napi artifacts`: copy native/livetree.linux-x64-gnu.node into the platform
//        package npm/linux-x64-gnu/ (packed on its own: `npm pack ./npm/linux-x64-gnu`);
//     3. `napi pre-publish --skip-optional-publish`: add the platform packages to
//        optionalDependencies of package.json, so an install from the registry fetches
//        the prebuilt addon. package.json is saved first and put back by `restore`: the
//        repo's package.json must not name a package the registry does not have yet, or
//        `npm ci` refuses the lock file.
//   node scripts/pack.mjs restore   (postpack)
import {spawnSync} from 'node:child_process';
import {copyFileSync, existsSync, mkdirSync, readFileSync, rmSync} from 'node:fs';
import {dirname, join} from 'node:path';
import {fileURLToPath} from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const saved = join(root, 'node_modules', '.livetree-pack', 'package.json');
const napi = join(root, 'node_modules', '.bin', 'napi');

function run(command, args) {
	const result = spawnSync(command, args, {cwd: root, stdio: ['ignore', 'inherit', 'inherit']});
	if (result.error) {
		throw result.error;
	}
	if (result.status !== 0) {
		throw new Error(`${command} ${args.join(' ')} exited with ${result.status}`);
	}
}

function prepare() {
	if (process.env.LIVETREE_PACK_SKIP_BUILD === '1') {
		for (const file of ['dist/src/cli.js', 'native/binding.cjs', 'native/livetree.linux-x64-gnu.node']) {
			if (!existsSync(join(root, file))) {
				throw new Error(`LIVETREE_PACK_SKIP_BUILD=1 but ${file} is missing: run npm run build`);
			}
		}
	} else {
		run('npm', ['run', 'build']);
	}
	run(napi, ['artifacts', '--output-dir', 'native', '--npm-dir', 'npm']);
	// napi artifacts also drops a copy at the package root; the tarball does not list it.
	rmSync(join(root, 'livetree.linux-x64-gnu.node'), {force: true});
	mkdirSync(dirname(saved), {recursive: true});
	copyFileSync(join(root, 'package.json'), saved);
	run(napi, ['pre-publish', '--npm-dir', 'npm', '--tag-style', 'npm', '--skip-optional-publish']);
	const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
	if (!pkg.optionalDependencies?.['livetree-linux-x64-gnu']) {
		throw new Error('napi pre-publish did not add livetree-linux-x64-gnu to optionalDependencies');
	}
}

function restore() {
	if (existsSync(saved)) {
		copyFileSync(saved, join(root, 'package.json'));
		rmSync(saved);
	}
}

const step = process.argv[2];
if (step === 'prepare') {
	try {
		prepare();
	} catch (error) {
		restore();
		throw error;
	}
} else if (step === 'restore') {
	restore();
} else {
	process.stderr.write('usage: node scripts/pack.mjs prepare|restore\n');
	process.exitCode = 2;
}
