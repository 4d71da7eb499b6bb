// Issue 24: `livetree config-diff` on a plain host with an rpm database (rpmdb.sqlite, no
// dpkg database): real noarch rpms built with rpmbuild, installed into the test's own root
// with `rpm --root R --dbpath /var/lib/rpm -i --nodeps`, their %config files edited and
// removed, and livetree's list compared with what the real `rpm --root R -Va --configfiles`
// reports (its `5` digest column: modified; `missing`: missing), for each digest algorithm
// rpmbuild can record and for the %config flavours rpm -V treats apart (missingok, %ghost,
// %verify(not md5)). Then a damaged header and a database that is not one.
import {execFile} from 'node:child_process';
import {appendFile, mkdir, rm, symlink, writeFile} from 'node:fs/promises';
import {join} from 'node:path';
import {promisify} from 'node:util';
import test from 'ava';
import type {ConfigDiffDocument} from '../src/commands/config-diff.js';
import {livetree} from './helpers/cli.js';
import {Fixtures} from './helpers/fixture.js';

const run = promisify(execFile);
const DBPATH = '/var/lib/rpm';

/** Build a noarch rpm NAME 2.0-3 whose %files are FILES (spec lines naming /etc/NAME/X.conf
 * or /usr/share/NAME/plain), with digests by ALGO (PGPHASHALGO, rpmbuild's
 * _binary_filedigest_algorithm; undefined: rpmbuild's default). */
async function buildRpm(work: string, name: string, files: string[], algo?: number): Promise<string> {
	const top = join(work, `top-${name}`);
	await mkdir(join(top, 'SOURCES'), {recursive: true});
	const installs = files.map(line => {
		const path = line.split(' ').at(-1)!;
		return `mkdir -p %{buildroot}${path.slice(0, path.lastIndexOf('/'))} && printf '%s as shipped\\n' ${path} > %{buildroot}${path}`;
	});
	await writeFile(
		join(top, `${name}.spec`),
		`Name: ${name}
Version: 2.0
Release: 3
Summary: config files for livetree's config-diff tests
License: MIT
BuildArch: noarch
AutoReqProv: no
%description
For livetree's config-diff tests.
%install
${installs.join('\n')}
%files
${files.join('\n')}
`,
	);
	const defines = ['_topdir', top, '__os_install_post', '%{nil}', 'debug_package', '%{nil}'];
	if (algo !== undefined) {
		defines.push('_binary_filedigest_algorithm', String(algo));
	}

	const args = ['-bb', '--quiet'];
	for (let i = 0; i < defines.length; i += 2) {
		args.push('--define', `${defines[i]} ${defines[i + 1]}`);
	}

	await run('rpmbuild', [...args, join(top, `${name}.spec`)]);
	return join(top, 'RPMS/noarch', `${name}-2.0-3.noarch.rpm`);
}

async function install(root: string, rpms: string[]): Promise<void> {
	await run('rpm', [`--root=${root}`, `--dbpath=${DBPATH}`, '--define', '_db_backend sqlite', '-i', '--nodeps', '--noscripts', ...rpms]);
}

/** What `rpm --root R -Va --configfiles` reports: [M|D, path] per line with a `5` in the
 * digest column or `missing`, in rpm's order; and its exit code. */
async function rpmVerify(root: string): Promise<{code: number; lines: Array<[string, string]>; raw: string}> {
	const r = await run('rpm', [`--root=${root}`, `--dbpath=${DBPATH}`, '-Va', '--configfiles']).then(
		x => ({code: 0, stdout: x.stdout}),
		(e: {code: number; stdout: string}) => ({code: e.code, stdout: e.stdout}),
	);
	const lines: Array<[string, string]> = [];
	for (const line of r.stdout.split('\n').filter(Boolean)) {
		const m = /^missing\s+c (\/.*)$/.exec(line);
		if (m) {
			lines.push(['D', m[1]!]);
			continue;
		}

		const v = /^([.SM5DLUGTP?]{9})\s+c (\/.*)$/.exec(line);
		if (!v) {
			throw new Error(`unexpected rpm -V line: ${line}`);
		}

		if (v[1]![2] === '5') {
			lines.push(['M', v[2]!]);
		}
	}

	return {code: r.code, lines, raw: r.stdout};
}

async function configDiff(root: string): Promise<{code: number; doc: ConfigDiffDocument; stderr: string}> {
	const r = await livetree(['config-diff', '--sysroot', root, '--json']);
	return {code: r.code, doc: JSON.parse(r.stdout) as ConfigDiffDocument, stderr: r.stderr};
}

test.serial('config-diff on an rpm host: the %config files rpm -Va --configfiles reports, modified and missing', async t => {
	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const work = await fx.tempDir('livetree-cfgdiff-rpm-');
	const root = join(work, 'root');
	await mkdir(root);
	const rpm = await buildRpm(work, 'livetree-rpmcfg', [
		'%config(noreplace) /etc/rpmcfg/a.conf',
		'%config(noreplace) /etc/rpmcfg/b.conf',
		'%config(noreplace) /etc/rpmcfg/kept.conf',
		'%config(noreplace) /etc/rpmcfg/link.conf',
		'/usr/share/rpmcfg/plain',
	]);
	await install(root, [rpm]);
	// rpmbuild's default here: SHA256 digests (FILEDIGESTALGO 8).
	const {stdout: algo} = await run('rpm', [`--root=${root}`, `--dbpath=${DBPATH}`, '-q', '--qf', '%{FILEDIGESTALGO}', 'livetree-rpmcfg']);
	t.is(algo, '8');

	const clean = await livetree(['config-diff', '--sysroot', root]);
	t.is(clean.code, 0, clean.stderr);
	t.is(clean.stdout, '');
	t.is(clean.stderr, '');
	t.deepEqual(await rpmVerify(root), {code: 0, lines: [], raw: ''});

	await writeFile(join(root, 'etc/rpmcfg/a.conf'), 'edited\n');
	await rm(join(root, 'etc/rpmcfg/b.conf'));
	// Not %config: neither rpm -Va --configfiles nor config-diff lists it.
	await appendFile(join(root, 'usr/share/rpmcfg/plain'), 'edited\n');
	// A symlink that leads nowhere in place of a file: rpm (lstat) reports its L column,
	// neither 5 nor missing; livetree cannot read its contents and says so.
	await rm(join(root, 'etc/rpmcfg/link.conf'));
	await symlink('/nowhere', join(root, 'etc/rpmcfg/link.conf'));

	const rpmSays = await rpmVerify(root);
	t.is(rpmSays.code, 1);
	t.deepEqual(rpmSays.lines, [
		['M', '/etc/rpmcfg/a.conf'],
		['D', '/etc/rpmcfg/b.conf'],
	]);
	t.regex(rpmSays.raw, /^\.{4}L\.{4} {2}c \/etc\/rpmcfg\/link\.conf$/m);

	const text = await livetree(['config-diff', '--sysroot', root]);
	t.is(text.code, 1, text.stderr);
	t.is(text.stdout, 'M    /etc/rpmcfg/a.conf\nD    /etc/rpmcfg/b.conf\n');
	t.is(
		text.stderr,
		'livetree: warning: config-diff-unchecked: /etc/rpmcfg/link.conf of package livetree-rpmcfg: not checked: a symlink that leads to nothing is in its place\n',
	);

	const {code, doc} = await configDiff(root);
	t.is(code, 1);
	t.is(doc.kind, 'packages');
	t.is(doc.manager, 'rpm');
	t.is(doc.root, root);
	t.is(doc.deployment, null);
	t.deepEqual(doc.counts, {added: 0, modified: 1, removed: 1});
	t.deepEqual(
		doc.changes.map(c => [c.change, c.path]),
		rpmSays.lines,
	);
	t.deepEqual(doc.changes[0]!.package, {
		name: 'livetree-rpmcfg',
		version: '2.0-3',
		arch: 'noarch',
		manager: 'rpm',
		source: 'livetree-rpmcfg',
		sourceVersion: '2.0-3',
	});
	t.deepEqual(
		doc.warnings.map(w => w.code),
		['config-diff-unchecked'],
	);

	// A DEPLOYMENT on a host with no OSTree: exit 2, as with dpkg.
	const named = await livetree(['config-diff', '0', '--sysroot', root]);
	t.is(named.code, 2);
	t.regex(named.stderr, /no deployment 0 \(deployments: none\)/);
});

test.serial('config-diff on an rpm host: MD5, SHA1, SHA384 and SHA512 digests; missingok, %ghost and %verify(not md5) as rpm -V treats them', async t => {
	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const work = await fx.tempDir('livetree-cfgdiff-rpmalgo-');
	const root = join(work, 'root');
	await mkdir(root);
	const algos = {md5: 1, sha1: 2, sha384: 9, sha512: 10} as const;
	const rpms: string[] = [];
	for (const [label, algo] of Object.entries(algos)) {
		const n = `cfg-${label}`;
		rpms.push(
			await buildRpm(
				work,
				n,
				[
					`%config(noreplace) /etc/${n}/a.conf`,
					`%config(noreplace) /etc/${n}/b.conf`,
					`%config(missingok) /etc/${n}/missingok.conf`,
					`%ghost %config /etc/${n}/ghost.conf`,
					`%verify(not md5 size mtime) %config /etc/${n}/notmd5.conf`,
					`/usr/share/${n}/plain`,
				],
				algo,
			),
		);
	}

	await install(root, rpms);
	for (const [label, algo] of Object.entries(algos)) {
		const {stdout} = await run('rpm', [`--root=${root}`, `--dbpath=${DBPATH}`, '-q', '--qf', '%{FILEDIGESTALGO}', `cfg-${label}`]);
		// rpm writes no FILEDIGESTALGO for MD5, the default it assumes.
		t.is(stdout, algo === 1 ? '(none)' : String(algo), label);
	}

	for (const label of Object.keys(algos)) {
		const etc = join(root, 'etc', `cfg-${label}`);
		await appendFile(join(etc, 'a.conf'), 'edited\n');
		await rm(join(etc, 'b.conf'));
		// A ghost is not in the payload: made here, edited; rpm -V checks neither.
		await writeFile(join(etc, 'ghost.conf'), 'made later\n');
		if (label === 'md5') {
			// Gone: missingok is not reported, a %verify(not md5) file is.
			await rm(join(etc, 'missingok.conf'));
			await rm(join(etc, 'notmd5.conf'));
		} else {
			// Edited: missingok is a digest-checked file, %verify(not md5) is not.
			await appendFile(join(etc, 'missingok.conf'), 'edited\n');
			await appendFile(join(etc, 'notmd5.conf'), 'edited\n');
		}
	}

	const rpmSays = await rpmVerify(root);
	t.is(rpmSays.code, 1);
	const expected: Array<[string, string]> = [];
	for (const label of Object.keys(algos)) {
		const n = `/etc/cfg-${label}`;
		expected.push(['M', `${n}/a.conf`], ['D', `${n}/b.conf`]);
		expected.push(label === 'md5' ? ['D', `${n}/notmd5.conf`] : ['M', `${n}/missingok.conf`]);
	}

	// rpm's order is the database's (the order of installation); the list, sorted, is ours.
	const sorted = (l: Array<[string, string]>): string[] => l.map(([c, p]) => `${c} ${p}`).sort();
	t.deepEqual(sorted(rpmSays.lines), sorted(expected), rpmSays.raw);

	const {code, doc} = await configDiff(root);
	t.is(code, 1);
	t.is(doc.manager, 'rpm');
	// The same lines in the same order as rpm -Va.
	t.deepEqual(
		doc.changes.map(c => [c.change, c.path]),
		rpmSays.lines,
	);
	t.deepEqual(doc.warnings, []);
});

test.serial(
	'config-diff on an rpm host: a damaged header is a warning naming it; a database that is not one exits 2; no database at all is ENOTSUP',
	async t => {
		const fx = new Fixtures();
		t.teardown(async () => fx.cleanup());
		const work = await fx.tempDir('livetree-cfgdiff-rpmbad-');
		const root = join(work, 'root');
		await mkdir(root);
		const good = await buildRpm(work, 'cfg-good', ['%config(noreplace) /etc/cfg-good/a.conf']);
		const damaged = await buildRpm(work, 'cfg-damaged', ['%config(noreplace) /etc/cfg-damaged/a.conf']);
		await install(root, [good]);
		await install(root, [damaged]);
		const db = join(root, DBPATH, 'rpmdb.sqlite');
		// The second header's index entries zeroed (rpm: "damaged header #2 retrieved -- skipping"),
		// and the count of entries made larger than the blob.
		await run('python3', [
			'-c',
			`import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
(blob,) = c.execute("SELECT blob FROM Packages WHERE hnum = 2").fetchone()
c.execute("UPDATE Packages SET blob = ? WHERE hnum = 2", (b"\\x00\\xff\\xff\\xff" + blob[4:],))
c.commit()
c.close()`,
			db,
		]);
		await appendFile(join(root, 'etc/cfg-damaged/a.conf'), 'edited\n');

		// rpm skips it too, saying so.
		const rpmSays = await run('rpm', [`--root=${root}`, `--dbpath=${DBPATH}`, '-Va', '--configfiles']).then(
			x => ({code: 0, ...x}),
			(e: {code: number; stdout: string; stderr: string}) => e,
		);
		t.is(rpmSays.stdout, '');
		t.regex(rpmSays.stderr, /h# +2 /);

		const clean = await livetree(['config-diff', '--sysroot', root]);
		t.is(clean.code, 0);
		t.is(clean.stdout, '');
		t.is(
			clean.stderr,
			`livetree: warning: config-package-db: ${db}: header 2: implausible header: 16777215 entries, ${(await rpmDataLength(db, 2)).toString()} data bytes: unreadable, its %config files were not checked\n`,
		);

		await appendFile(join(root, 'etc/cfg-good/a.conf'), 'edited\n');
		const {code, doc} = await configDiff(root);
		t.is(code, 1);
		t.deepEqual(
			doc.changes.map(c => [c.change, c.path, c.package?.name]),
			[['M', '/etc/cfg-good/a.conf', 'cfg-good']],
		);
		t.deepEqual(
			doc.warnings.map(w => w.code),
			['config-package-db'],
		);

		// Not a database: exit 2, naming the file.
		await writeFile(db, 'not sqlite\n');
		await rm(`${db}-wal`, {force: true});
		await rm(`${db}-shm`, {force: true});
		const broken = await livetree(['config-diff', '--sysroot', root]);
		t.is(broken.code, 2);
		t.true(broken.stderr.includes(db), broken.stderr);
		t.regex(broken.stderr, /not an rpm sqlite database/);

		// Neither dpkg nor rpm: ENOTSUP, exit 2.
		await rm(join(root, DBPATH), {recursive: true});
		const none = await livetree(['config-diff', '--sysroot', root]);
		t.is(none.code, 2);
		t.regex(none.stderr, /neither an OSTree sysroot nor a dpkg or rpm \(rpmdb\.sqlite\) database/);
		// A Berkeley DB rpm database (not read): ENOTSUP naming it, exit 2, never an empty list.
		await mkdir(join(root, DBPATH));
		await writeFile(join(root, DBPATH, 'Packages'), 'berkeley\n');
		const bdb = await livetree(['config-diff', '--sysroot', root]);
		t.is(bdb.code, 2);
		t.is(bdb.stdout, '');
		t.true(bdb.stderr.includes(`${join(root, DBPATH, 'Packages')}: a Berkeley DB or ndb rpm database`), bdb.stderr);
	},
);

/** The data length (`dl`, the blob's second big-endian u32) of header HNUM in DB. */
async function rpmDataLength(db: string, hnum: number): Promise<number> {
	const {stdout} = await run('python3', [
		'-c',
		`import sqlite3, sys
c = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True)
(blob,) = c.execute("SELECT blob FROM Packages WHERE hnum = ?", (int(sys.argv[2]),)).fetchone()
print(int.from_bytes(blob[4:8], "big"))`,
		db,
		String(hnum),
	]);
	return Number(stdout.trim());
}
