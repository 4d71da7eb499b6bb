// The committed Rust lock files are what the builds use: cargo resolving with --locked
// changes nothing (native/ for the addon, native/fuzz/ for the fuzz targets, which
// scripts/fuzz.sh checks the same way before building). A lock that is not current would
// be rewritten by `npm test` and leave the checkout dirty.
import {execFile} from 'node:child_process';
import {readFile} from 'node:fs/promises';
import path from 'node:path';
import {promisify} from 'node:util';
import test from 'ava';
import {projectRoot} from './helpers/cli.js';

const run = promisify(execFile);

for (const crate of ['native', 'native/fuzz']) {
	test(`${crate}/Cargo.lock is current: cargo metadata --locked resolves it unchanged`, async t => {
		const lock = path.join(projectRoot, crate, 'Cargo.lock');
		const before = await readFile(lock, 'utf8');
		const r = await run('cargo', ['metadata', '--locked', '--format-version', '1', '--manifest-path', path.join(projectRoot, crate, 'Cargo.toml')], {
			maxBuffer: 64 << 20,
		}).then(
			() => ({code: 0, stderr: ''}),
			(error: {code: number; stderr: string}) => error,
		);
		t.is(r.code, 0, r.stderr);
		t.is(await readFile(lock, 'utf8'), before);
	});
}
