// `livetree which PATH` (issue 22): a path that is neither a file here nor a tree path a
// known commit holds is an error naming it (exit 2), not "in no known commit"; a file of the
// host names the package that installed it, as the host's own package tool says.
import {execFileSync} from 'node:child_process';
import {existsSync} from 'node:fs';
import {writeFile} from 'node:fs/promises';
import {join} from 'node:path';
import test from 'ava';
import type {StatusDocument} from '../src/model/document.js';
import {livetree} from './helpers/cli.js';
import {statusExitCode} from './helpers/exit-code.js';
import {Fixtures} from './helpers/fixture.js';

interface WhichJson {
	hits: Array<{commit: string; treePath: string}>;
	package: {name: string; version: string; arch: string | null; manager: string; source: string | null; sourceVersion: string | null} | null;
}

// The owner of PATH as the host's package tool says: `dpkg-query -S` or `rpm -qf`.
function ownerByTool(path: string): {manager: string; name: string; version: string} {
	if (existsSync('/var/lib/dpkg/status')) {
		// Debian is usr-merged and dpkg knows many files by their old name (/bin/sleep).
		const query = (p: string) => execFileSync('dpkg-query', ['-S', p], {encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore']});
		let found: string;
		try {
			found = query(path);
		} catch {
			found = query(path.replace(/^\/usr\//, '/'));
		}

		const name = found.split(':')[0]!.trim();
		// biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own format, not a template
		const version = execFileSync('dpkg-query', ['-W', '-f', '${Version}', name], {encoding: 'utf8'}).trim();
		return {manager: 'dpkg', name, version};
	}

	const [name, version] = execFileSync('rpm', ['-qf', '--qf', '%{NAME} %{EPOCHNUM}:%{VERSION}-%{RELEASE}', path], {encoding: 'utf8'}).split(' ');
	return {manager: 'rpm', name: name!, version: version!.replace(/^0:/, '')};
}

test('which of a path that is no file and no known tree path: one line naming it, exit 2', async t => {
	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const state = await fx.tempDir();
	for (const args of [['/nonexistent/x'], ['/nonexistent/x', '--json'], ['relative/nowhere']]) {
		const r = await livetree(['which', ...args, '--state-dir', state]);
		t.is(r.code, 2, args.join(' '));
		t.is(r.stdout, '');
		t.is(r.stderr, `livetree: ${args[0]!}: no such file, and no known commit holds that path (ENOENT)\n`);
	}
});

test('which of a tree path a recorded commit holds still answers when no such file is here', async t => {
	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const s = await fx.initSysroot();
	const commit = await s.commit('1.0');
	await s.deploy();
	const state = await fx.tempDir();
	// A scan records the deployed commit's files in the catalog.
	const scan = await livetree(['status', '--json', '--no-systemd', '--sysroot', s.path, '--state-dir', state]);
	t.is(scan.code, statusExitCode(JSON.parse(scan.stdout) as StatusDocument), scan.stderr);
	t.false(existsSync('/usr/lib/livetree-demo/libdemo.so.1'), 'the demo library is no file of this host');
	const r = await livetree(['which', '/usr/lib/livetree-demo/libdemo.so.1', '--json', '--sysroot', s.path, '--state-dir', state]);
	t.is(r.code, 0, r.stderr);
	const doc = JSON.parse(r.stdout) as WhichJson;
	t.deepEqual(
		doc.hits.map(h => [h.commit, h.treePath]),
		[[commit, '/usr/lib/livetree-demo/libdemo.so.1']],
	);
	t.is(doc.package, null);
});

test("which of a host file names the package that installed it, as the host's package tool does", async t => {
	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const state = await fx.tempDir();
	const sleep = execFileSync('sh', ['-c', 'command -v sleep'], {encoding: 'utf8'}).trim();
	const libc = execFileSync('sh', ['-c', `ldd ${sleep} | awk '$1 == "libc.so.6" {print $3}'`], {encoding: 'utf8'}).trim();
	for (const path of [sleep, libc]) {
		const owner = ownerByTool(path);
		const r = await livetree(['which', path, '--json', '--state-dir', state]);
		t.is(r.code, 0, `${path}: ${r.stderr}`);
		const doc = JSON.parse(r.stdout) as WhichJson;
		t.like(doc.package, owner, path);
		const text = await livetree(['which', path, '--state-dir', state]);
		t.is(text.code, 0);
		t.regex(
			text.stdout,
			new RegExp(
				`^${path}: installed by package ${owner.name} ${owner.version.replaceAll('+', '\\+')} .*, ${owner.manager} \\(the host's package database\\)$`,
				'm',
			),
		);
	}

	// A file no package installed: said so, exit 1 (found nowhere).
	const mine = join(await fx.tempDir(), 'mine');
	await writeFile(mine, 'not from any package\n');
	const r = await livetree(['which', mine, '--state-dir', state]);
	t.is(r.code, 1, r.stderr);
	t.regex(r.stdout, new RegExp(`^${mine}: in no known commit \\(object [\\da-f]{64}\\); no package of the host's database installed it\\n$`));
	const json = JSON.parse((await livetree(['which', mine, '--json', '--state-dir', state])).stdout) as WhichJson;
	t.is(json.package, null);
});
