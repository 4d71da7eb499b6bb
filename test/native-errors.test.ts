// Errors across the napi boundary: the real addon throws (or rejects with) JavaScript
// Errors whose code and path are properties; the CLI wraps them in classes named for the
// operation that failed and prints the message as it is, with no "[CODE]" prefix.
import {mkdir, mkdtemp, rm} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import test from 'ava';
import {CatalogError} from '../src/errors/catalog-error.js';
import {NativeError} from '../src/errors/native-error.js';
import {ScanError} from '../src/errors/scan-error.js';
import {WhichError} from '../src/errors/which-error.js';
import {native} from '../src/native.js';
import {livetree} from './helpers/cli.js';

type Coded = Error & {code?: unknown; path?: unknown};

async function scratch(t: {teardown: (f: () => Promise<void>) => void}): Promise<string> {
	const dir = await mkdtemp(join(tmpdir(), 'livetree-errors-'));
	t.teardown(async () => rm(dir, {recursive: true, force: true}));
	return dir;
}

test('a missing file crosses as code ENOENT with its path, sync and async', async t => {
	const dir = await scratch(t);
	const proc = join(dir, 'proc');
	const options = {sysroot: dir, procRoot: proc, runDir: dir, hostRoot: '/', catalogPath: join(dir, 'c.sqlite')};
	const sync = t.throws<Coded>(() => native.scanSync(options));
	t.is(sync?.code, 'ENOENT');
	t.is(sync?.path, proc);
	t.is(sync?.message, `${proc}: not found`);
	const async = await t.throwsAsync<Coded>(native.scan(options));
	t.is(async?.code, 'ENOENT');
	t.is(async?.path, proc);
	t.false(async!.message.startsWith('['), async!.message);

	const wrapped = ScanError.fromNative(async);
	t.true(wrapped instanceof NativeError);
	t.is(wrapped.name, 'ScanError');
	t.deepEqual([wrapped.code, wrapped.path, wrapped.message, wrapped.exitCode], ['ENOENT', proc, `${proc}: not found`, 2]);
});

test('a catalog that cannot be opened is ECATALOG, and a CatalogError', async t => {
	const dir = await scratch(t);
	// A directory where the database file should be.
	const error = t.throws<Coded>(() => native.catalogListRestarts(dir));
	t.is(error?.code, 'ECATALOG');
	t.is(error?.path, dir);
	const wrapped = CatalogError.fromNative(error);
	t.is(wrapped.name, 'CatalogError');
	t.is(wrapped.code, 'ECATALOG');
});

test('a bad which query is EINVAL without a path; a missing sysroot is ENOENT', async t => {
	const dir = await scratch(t);
	const bad = t.throws<Coded>(() => native.whichSync({sysroot: dir, runDir: dir, catalogPath: join(dir, 'c.sqlite'), query: '***', queryBase64: true}));
	t.is(bad?.code, 'EINVAL');
	t.is(bad?.path, undefined);
	t.regex(bad!.message, /^bad base64 query/);
	const missing = join(dir, 'missing');
	const gone = t.throws<Coded>(() => native.whichSync({sysroot: missing, runDir: dir, catalogPath: join(dir, 'c.sqlite'), query: '1:2:3'}));
	t.is(WhichError.fromNative(gone).code, 'ENOENT');
	t.is(WhichError.fromNative(gone).path, missing);
	// Something that is not an Error at all still becomes one, with an unknown code.
	t.is(WhichError.fromNative('odd').code, 'EUNKNOWN');
});

test('the CLI prints the native message as is and exits 2', async t => {
	const dir = await scratch(t);
	const missing = join(dir, 'missing');
	const r = await livetree(['which', '--sysroot', missing, '--state-dir', dir, '1:2:3']);
	t.is(r.code, 2, r.stderr);
	// The CLI checks the sysroot before the core is called: one line with the errno.
	t.is(r.stderr, `livetree: ${missing}: cannot read sysroot: no such directory (ENOENT)\n`);
	// A directory where the catalog file should be: a CatalogError, not an internal error.
	const state = join(dir, 'state');
	await mkdir(join(state, 'catalog.sqlite'), {recursive: true});
	const h = await livetree(['history', '--state-dir', state]);
	t.is(h.code, 2, h.stderr);
	t.true(h.stderr.startsWith(`livetree: ${join(state, 'catalog.sqlite')}: catalog error:`), h.stderr);
});
