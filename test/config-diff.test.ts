// Issue 24, part B: `livetree config-diff` and `deployments[].etc`. On real OSTree sysroots
// (fixtures/build-sysroot.sh) with edits, additions, deletions, a chmod and a type change
// in each deployment's /etc, compared line by line with the real `ostree admin
// config-diff` run booted into that very deployment (fixtures/sysroot.sh booted-run), and
// for the default deployment also with `ostree admin --sysroot=S config-diff --os=OS`
// (ostree's only way on a sysroot that is not booted). On a plain host: a real .deb with
// conffiles installed with `dpkg --root`, edited and removed, compared with `debsums -ce`.
import {execFile} from 'node:child_process';
import {appendFile, chmod, mkdir, rename, rm, symlink, writeFile} from 'node:fs/promises';
import {join} from 'node:path';
import {promisify} from 'node:util';
import test from 'ava';
import type {ConfigDiffDocument} from '../src/commands/config-diff.js';
import type {StatusDocument} from '../src/model/document.js';
import {livetree} from './helpers/cli.js';
import {FIXTURES, Fixtures} from './helpers/fixture.js';

const run = promisify(execFile);

/** `ostree admin config-diff` booted into deployment INDEX of S (a fake boot: sysroot.sh booted-run). */
async function ostreeBooted(s: string, index: number, runDir: string): Promise<string> {
	const {stdout} = await run(join(FIXTURES, 'sysroot.sh'), ['booted-run', s, String(index), runDir, 'ostree', 'admin', 'config-diff'], {maxBuffer: 16 << 20});
	return stdout;
}

/** Edits in one deployment's /etc: what differs per deployment is named by `tag`. */
async function editEtc(deploy: string, tag: string): Promise<void> {
	const etc = join(deploy, 'etc');
	const usrEtc = join(deploy, 'usr/etc');
	// A directory both sides have, with a change, a removal and an addition inside (new
	// files in usr/etc, never an edit of its hard-linked objects).
	await mkdir(join(usrEtc, 'sub/deeper'), {recursive: true});
	await mkdir(join(etc, 'sub/deeper'), {recursive: true});
	for (const [name, text] of [
		['sub/same.conf', 'same\n'],
		['sub/edited.conf', 'shipped\n'],
		['sub/removed.conf', 'gone soon\n'],
		['sub/deeper/mode.conf', 'mode\n'],
		['typed', 'a file shipped\n'],
	] as const) {
		await writeFile(join(usrEtc, name), text);
		await writeFile(join(etc, name), text);
	}

	await writeFile(join(etc, 'sub/edited.conf'), `edited in ${tag}\n`);
	await rm(join(etc, 'sub/removed.conf'));
	await writeFile(join(etc, 'sub/added.conf'), 'added\n');
	await chmod(join(etc, 'sub/deeper/mode.conf'), 0o600);
	// A file where a directory is now: one M line, nothing below it listed.
	await rm(join(etc, 'typed'));
	await mkdir(join(etc, 'typed'));
	await writeFile(join(etc, 'typed/below'), 'x\n');
	// The shipped hostname (a copy in etc) edited; os-release (a symlink) removed.
	await appendFile(join(etc, 'hostname'), `${tag}\n`);
	await rm(join(etc, 'os-release'));
	// Additions at the top, one a directory with contents, enough names that readdir's order
	// (ext4: by hash) and GLib's (by inode) differ.
	await mkdir(join(etc, `dir-${tag}/inner`), {recursive: true});
	await writeFile(join(etc, `dir-${tag}/inner/file`), 'x\n');
	for (let i = 0; i < 25; i++) {
		await writeFile(join(etc, `${tag}-${i}.conf`), `${i}\n`);
	}

	await symlink('/nowhere', join(etc, `link-${tag}`));
}

function counts(lines: string): {modified: number; added: number; removed: number} {
	const all = lines.split('\n').filter(Boolean);
	return {
		modified: all.filter(l => l.startsWith('M    ')).length,
		added: all.filter(l => l.startsWith('A    ')).length,
		removed: all.filter(l => l.startsWith('D    ')).length,
	};
}

test.serial("config-diff of each deployment is ostree's list, line by line, and status counts it", async t => {
	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const s = await fx.buildSysroot('two');
	const [d0, d1] = s.deployments;
	await editEtc(d0!.path, 'zero');
	await editEtc(d1!.path, 'one');
	// Deployment 1 differs more: a shipped file chmod'ed there only.
	await chmod(join(d1!.path, 'etc/hostname'), 0o640);

	const runDir = await fx.tempDir('livetree-cfgdiff-run-');
	const expected = [await ostreeBooted(s.sysroot, 0, join(runDir, '0')), await ostreeBooted(s.sysroot, 1, join(runDir, '1'))];
	// ostree's other way for the default deployment of a sysroot that is not booted.
	const {stdout: byOs} = await run('ostree', ['admin', `--sysroot=${s.sysroot}`, 'config-diff', '--os=demo']);
	t.is(byOs, expected[0]!);
	// The lists are real: each deployment's own edits, and not equal to each other.
	t.true(expected[0]!.includes('A    zero-7.conf\n'));
	t.true(expected[1]!.includes('A    one-7.conf\n'));
	t.true(expected[1]!.includes('M    hostname\n'));
	t.true(expected[0]!.includes('M    typed\n'));
	t.false(expected[0]!.includes('typed/below'));

	for (const [i, d] of [d0!, d1!].entries()) {
		for (const name of [String(i), `demo/${d.checksum}.${d.serial}`, `${d.checksum}.${d.serial}`]) {
			const r = await livetree(['config-diff', name, '--sysroot', s.sysroot]);
			t.is(r.stdout, expected[i]!, `deployment ${name}`);
			t.is(r.code, 1, r.stderr);
		}

		const json = await livetree(['config-diff', String(i), '--sysroot', s.sysroot, '--json']);
		t.is(json.code, 1);
		const doc = JSON.parse(json.stdout) as ConfigDiffDocument;
		t.is(doc.kind, 'ostree');
		t.is(doc.deployment?.id, `demo/${d.checksum}.${d.serial}`);
		t.is(doc.deployment?.path, d.path);
		t.deepEqual(doc.counts, counts(expected[i]!));
		t.is(doc.changes.map(c => `${c.change}    ${c.path}\n`).join(''), expected[i]!);
	}

	// Not booted: the default deployment (index 0), as --os picks it.
	const plain = await livetree(['config-diff', '--sysroot', s.sysroot]);
	t.is(plain.stdout, expected[0]!);

	const status = await livetree(['status', '--json', '--sysroot', s.sysroot, '--no-systemd', '--state-dir', await fx.tempDir('livetree-cfgdiff-state-')]);
	const doc = JSON.parse(status.stdout) as StatusDocument;
	t.deepEqual(
		doc.deployments.map(d => d.etc),
		expected.map(e => counts(e)),
	);
});

test.serial('config-diff: a clean deployment exits 0; hostile names stay one escaped line; bad names exit 2', async t => {
	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const s = await fx.buildSysroot('one');
	const d = s.deployments[0]!;
	const clean = await livetree(['config-diff', '--sysroot', s.sysroot]);
	t.is(clean.code, 0, clean.stderr);
	t.is(clean.stdout, '');

	// A newline and a byte that is not UTF-8 in names.
	const newline = 'two\nlines.conf';
	const latin1 = Buffer.concat([Buffer.from(join(d.path, 'etc/caf')), Buffer.from([0xe9]), Buffer.from('.conf')]);
	await writeFile(join(d.path, 'etc', newline), 'x\n');
	await writeFile(latin1, 'x\n');
	const r = await livetree(['config-diff', '--sysroot', s.sysroot]);
	t.is(r.code, 1);
	t.deepEqual(r.stdout.split('\n').filter(Boolean).sort(), ['A    caf\\xe9.conf', 'A    two\\x0alines.conf']);
	const doc = JSON.parse((await livetree(['config-diff', '--sysroot', s.sysroot, '--json'])).stdout) as ConfigDiffDocument;
	t.deepEqual(doc.changes.map(c => Buffer.from(c.pathBase64, 'base64').toString('latin1')).sort(), ['caf\u00e9.conf', newline]);
	t.deepEqual(doc.counts, {modified: 0, added: 2, removed: 0});

	const missing = await livetree(['config-diff', '7', '--sysroot', s.sysroot]);
	t.is(missing.code, 2);
	t.regex(missing.stderr, /no deployment 7 \(deployments: 0 demo\/[0-9a-f]{64}\.0\)/);
	const two = await livetree(['config-diff', '0', '1', '--sysroot', s.sysroot]);
	t.is(two.code, 2);
	t.regex(two.stderr, /at most one DEPLOYMENT/);

	// An /etc that cannot be read (gone): exit 2 naming it, and status says null with a
	// warning. The deployment directory is immutable (ostree's chattr +i) until we lift it.
	await run('chattr', ['-i', d.path]);
	await rename(join(d.path, 'etc'), join(d.path, 'etc.moved'));
	const gone = await livetree(['config-diff', '--sysroot', s.sysroot]);
	t.is(gone.code, 2);
	t.true(gone.stderr.includes(join(d.path, 'etc')), gone.stderr);
	const status = JSON.parse(
		(await livetree(['status', '--json', '--sysroot', s.sysroot, '--no-systemd', '--state-dir', await fx.tempDir('livetree-cfgdiff-state-')])).stdout,
	) as StatusDocument;
	t.is(status.deployments[0]!.etc, null);
	t.true(status.warnings.some(w => w.code === 'config-etc'));
});

/** A .deb with three conffiles, built and installed into a fresh root with dpkg --root. */
async function rootWithConffiles(fx: Fixtures): Promise<string> {
	const work = await fx.tempDir('livetree-cfgdiff-deb-');
	const root = join(work, 'root');
	await mkdir(join(root, 'var/lib/dpkg/info'), {recursive: true});
	await mkdir(join(root, 'var/lib/dpkg/updates'), {recursive: true});
	await writeFile(join(root, 'var/lib/dpkg/status'), '');
	const pkg = join(work, 'pkg');
	await mkdir(join(pkg, 'DEBIAN'), {recursive: true});
	await mkdir(join(pkg, 'etc/cfgdiff'), {recursive: true});
	for (const name of ['a.conf', 'b.conf', 'kept.conf']) {
		await writeFile(join(pkg, 'etc/cfgdiff', name), `${name} as shipped\n`);
	}

	await writeFile(join(pkg, 'DEBIAN/conffiles'), '/etc/cfgdiff/a.conf\n/etc/cfgdiff/b.conf\n/etc/cfgdiff/kept.conf\n');
	await writeFile(
		join(pkg, 'DEBIAN/control'),
		'Package: livetree-cfgdiff\nVersion: 1.0-1\nArchitecture: all\nMaintainer: livetree tests <root@localhost>\nDescription: conffiles\n for config-diff tests.\n',
	);
	await run('dpkg-deb', ['--root-owner-group', '--build', pkg, join(work, 'cfgdiff.deb')]);
	await run('dpkg', [`--root=${root}`, '--force-unsafe-io', '--force-script-chrootless', '-i', join(work, 'cfgdiff.deb')]);
	return root;
}

test.serial('config-diff on a plain host: the conffiles debsums -ce lists, modified and missing', async t => {
	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const root = await rootWithConffiles(fx);
	const clean = await livetree(['config-diff', '--sysroot', root]);
	t.is(clean.code, 0, clean.stderr);
	t.is(clean.stdout, '');

	await writeFile(join(root, 'etc/cfgdiff/a.conf'), 'edited\n');
	await rm(join(root, 'etc/cfgdiff/b.conf'));
	// Same contents, other times and mode: not a change of contents.
	await chmod(join(root, 'etc/cfgdiff/kept.conf'), 0o600);

	const r = await livetree(['config-diff', '--sysroot', root]);
	t.is(r.code, 1, r.stderr);
	t.is(r.stdout, 'M    /etc/cfgdiff/a.conf\nD    /etc/cfgdiff/b.conf\n');

	// debsums reads the same database without being told our answer.
	const debsums = await run('debsums', [`--root=${root}`, '-ce']).then(
		x => ({code: 0, ...x}),
		(e: {code: number; stdout: string; stderr: string}) => e,
	);
	t.is(debsums.code, 2);
	t.deepEqual(
		debsums.stdout
			.split('\n')
			.filter(Boolean)
			.map(l => l.slice(root.length)),
		['/etc/cfgdiff/a.conf'],
	);
	t.regex(debsums.stderr, new RegExp(`missing file ${root}/etc/cfgdiff/b\\.conf \\(from livetree-cfgdiff package\\)`));

	const doc = JSON.parse((await livetree(['config-diff', '--sysroot', root, '--json'])).stdout) as ConfigDiffDocument;
	t.is(doc.kind, 'packages');
	t.is(doc.root, root);
	t.deepEqual(
		doc.changes.map(c => [c.change, c.path, c.package?.name, c.package?.version]),
		[
			['M', '/etc/cfgdiff/a.conf', 'livetree-cfgdiff', '1.0-1'],
			['D', '/etc/cfgdiff/b.conf', 'livetree-cfgdiff', '1.0-1'],
		],
	);

	// A DEPLOYMENT on a host with no OSTree: exit 2.
	const named = await livetree(['config-diff', '0', '--sysroot', root]);
	t.is(named.code, 2);
	t.regex(named.stderr, /no deployment 0 \(deployments: none\)/);
});

// config-diff wrote its warnings raw to stderr: a root whose name holds a newline and an
// escape sequence split the line and drove the terminal. They are escaped as every report
// escapes a name (printable); --json keeps the exact name.
test.serial('config-diff on a plain host: a warning naming a hostile path is one escaped line', async t => {
	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const installed = await rootWithConffiles(fx);
	// A conffile that is no regular file cannot be checked: a warning naming it in its root.
	await rm(join(installed, 'etc/cfgdiff/a.conf'));
	await mkdir(join(installed, 'etc/cfgdiff/a.conf'));
	const root = join(installed, '..', 'ro\u001B[31m\not');
	await rename(installed, root);
	const r = await livetree(['config-diff', '--sysroot', root]);
	t.is(r.code, 3, r.stderr);
	t.is(r.stdout, '');
	const escapedRoot = `${join(installed, '..')}/ro\\x1b[31m\\x0aot`;
	t.is(
		r.stderr,
		`livetree: warning: config-diff-unchecked: /etc/cfgdiff/a.conf of package livetree-cfgdiff: not checked: ${escapedRoot}/etc/cfgdiff/a.conf: corrupt: not a regular file\n`,
	);
	const doc = JSON.parse((await livetree(['config-diff', '--sysroot', root, '--json'])).stdout) as ConfigDiffDocument;
	t.deepEqual(doc.warnings, [
		{
			code: 'config-diff-unchecked',
			message: `/etc/cfgdiff/a.conf of package livetree-cfgdiff: not checked: ${root}/etc/cfgdiff/a.conf: corrupt: not a regular file`,
			pid: null,
		},
	]);
});
