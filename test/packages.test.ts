// Issue 15 end to end: OSTree trees carrying a real dpkg database (installed with the real
// dpkg --root, moved into /usr as Debian-derived OSTree builders do), a process mapping a
// packaged library, the library upgraded in a new commit, the old deployment undeployed
// and pruned: the old process is still named with the old package version, through the
// catalog, and `livetree packages` reports the mismatch.
import {execFile} from 'node:child_process';
import {readFileSync} from 'node:fs';
import {appendFile, readFile, writeFile} from 'node:fs/promises';
import {join} from 'node:path';
import {promisify} from 'node:util';
import test from 'ava';
import Ajv2020 from 'ajv/dist/2020.js';
import {collect} from '../src/collect.js';
import type {MappedFile, Process, StatusDocument} from '../src/model/document.js';
import {installedOf} from '../src/model/installed.js';
import {buildPackages, type PackagesDocument} from '../src/model/packages.js';
import {readCommon} from '../src/options.js';
import {renderPackagesText} from '../src/render/packages-text.js';
import {makeStyle} from '../src/render/style.js';
import {livetree, projectRoot} from './helpers/cli.js';
import {commitWithDb} from './helpers/dpkg-commit.js';
import {dpkgHostRoot, dpkgUpgrade} from './helpers/dpkg.js';
import {hostRootScanner} from './helpers/host-scanner.js';
import {Fixtures} from './helpers/fixture.js';
import {schemaErrors} from './helpers/schema.js';
import {checkedDocument, packagesExitCode} from './helpers/exit-code.js';

const run = promisify(execFile);
const ajv = new Ajv2020.default({allErrors: true, strict: false});
const validatePackages = ajv.compile(JSON.parse(readFileSync(join(projectRoot, 'schema/packages.schema.json'), 'utf8')) as object);

async function status(sysroot: string, state: string): Promise<StatusDocument> {
	return checkedDocument(await livetree(['status', '--json', '--no-systemd', '--sysroot', sysroot, '--state-dir', state]));
}

function file(p: Process, treePath: string): MappedFile {
	const f = p.files.find(x => x.origin.treePath === treePath);
	if (!f) {
		throw new Error(`${treePath} not mapped by ${p.pid}: ${p.files.map(x => x.path).join(', ')}`);
	}

	return f;
}

/** `promtool check metrics` on TEXT; throws with promtool's complaint. */
async function promtoolCheck(text: string): Promise<void> {
	await new Promise<void>((resolve, reject) => {
		const child = execFile('promtool', ['check', 'metrics'], (error, _stdout, stderr) => {
			if (error) {
				reject(new Error(`promtool: ${stderr}`));
			} else {
				resolve();
			}
		});
		child.stdin!.end(text);
	});
}

async function hostPackage(name: string): Promise<{version: string; arch: string; source: string; sourceVersion: string}> {
	// biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own ${field} format, not a JavaScript template
	const {stdout} = await run('dpkg-query', ['-W', '-f', '${Version}\t${Architecture}\t${source:Package}\t${source:Version}', name]);
	const [version, arch, source, sourceVersion] = stdout.trim().split('\t') as [string, string, string, string];
	return {version, arch, source, sourceVersion};
}

test('package versions of a deployment, and of its pruned commit through the catalog', async t => {
	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const s = await fx.initSysroot();
	const v1 = await commitWithDb(fx, s, '1.0');
	const d1 = (await s.deploy()).deployments[0]!;
	const proc = await fx.startChrooted(d1.path, ['/usr/bin/demo-sleep', '600']);
	const state = await fx.tempDir();

	const first = await status(s.path, state);
	t.deepEqual(schemaErrors(first), []);
	const p1 = first.processes.find(p => p.pid === proc.pid)!;
	const lib = file(p1, '/usr/lib/livetree-demo/libdemo.so.1');
	t.is(lib.origin.commit, v1);
	t.deepEqual(lib.origin.package, {
		name: 'livetree-demo',
		version: '1.0-1',
		arch: 'amd64',
		manager: 'dpkg',
		source: 'livetree-demo-src',
		sourceVersion: '1.0',
	});
	// libc in the tree is the host's libc6 (make-tree.sh copied it, dpkg-tree.sh its record):
	// dpkg lists it under /lib, the commit holds it under /usr/lib.
	const libc = p1.files.find(f => f.origin.treePath?.endsWith('/libc.so.6'))!;
	t.truthy(libc);
	t.is(libc.origin.treePath!.startsWith('/usr/lib/'), true);
	const host = await hostPackage('libc6');
	t.like(libc.origin.package, {name: 'libc6', manager: 'dpkg', ...host});
	const sleep = file(p1, '/usr/bin/sleep');
	t.like(sleep.origin.package, {name: 'coreutils', ...(await hostPackage('coreutils'))});

	// Nothing mismatches yet.
	const same = await livetree(['packages', '--json', '--no-systemd', '--sysroot', s.path, '--state-dir', state, 'livetree-demo']);
	const sameDoc = JSON.parse(same.stdout) as PackagesDocument;
	t.is(same.code, packagesExitCode(sameDoc), same.stderr);
	t.true(validatePackages(sameDoc), JSON.stringify(validatePackages.errors));
	t.is(sameDoc.installedTree, `demo/${v1}.0`);
	// Only what this test runs: other tests' trees are foreign roots here, and a foreign
	// root's processes name packages from that root's own database; other tests'
	// containers are compared with their own images (and may mismatch).
	const mine = (d: PackagesDocument) => d.packages.filter(p => p.running.some(v => v.processes.some(q => q.pid === proc.pid)));
	t.deepEqual(
		mine(sameDoc).flatMap(p => p.running.filter(v => v.processes.some(q => q.pid === proc.pid)).map(v => v.mismatch)),
		[false],
	);
	t.deepEqual(
		mine(sameDoc).map(p => p.name),
		['livetree-demo'],
	);

	// Upgrade: 2.0 in a new commit, the old deployment undeployed and its commit pruned.
	const v2 = await commitWithDb(fx, s, '2.0');
	await s.deploy();
	await s.undeploy(1);
	await s.cleanup();
	await t.throwsAsync(run('ostree', [`--repo=${join(s.path, 'ostree/repo')}`, 'show', v1]));

	const after = await status(s.path, state);
	t.deepEqual(schemaErrors(after), []);
	const p2 = after.processes.find(p => p.pid === proc.pid)!;
	const gone = file(p2, '/usr/lib/livetree-demo/libdemo.so.1');
	t.true(gone.deleted);
	t.is(gone.origin.kind, 'catalog');
	t.is(gone.origin.commit, v1);
	t.like(gone.origin.package, {name: 'livetree-demo', version: '1.0-1', sourceVersion: '1.0'});

	const r = await livetree(['packages', '--json', '--no-systemd', '--sysroot', s.path, '--state-dir', state]);
	t.is(r.code, 1, r.stderr);
	const doc = JSON.parse(r.stdout) as PackagesDocument;
	t.true(validatePackages(doc), JSON.stringify(validatePackages.errors));
	t.is(doc.installedTree, `demo/${v2}.0`);
	const demo = doc.packages.find(p => p.name === 'livetree-demo' && p.manager === 'dpkg')!;
	t.true(demo.mismatch);
	// Other tests' containers running livetree-demo are compared with their own images.
	t.deepEqual(
		demo.installed.filter(i => !i.tree.startsWith('container:')),
		[{version: '2.0-1', arch: 'amd64', tree: `demo/${v2}.0`}],
	);
	// Versions counted against this sysroot's tree (other tests' foreign roots count against none).
	const counted = demo.running.filter(v => v.tree !== null && !v.container);
	t.is(counted.length, 1);
	t.like(counted[0], {version: '1.0-1', tree: `demo/${v2}.0`, mismatch: true, staleFiles: 1});
	t.deepEqual(
		counted[0]!.processes.map(p => p.pid),
		[proc.pid],
	);
	// libc did not change between the commits: same version, no mismatch (in the
	// deployment, nor in host processes, which count against the host's own database).
	// (Only the versions this sysroot's deployments and the host root run: another checkout's
	// containers on this machine may run another libc6 than their image's name gives now.)
	const ours = (v: {tree: string | null}) => v.tree === 'host' || (v.tree?.startsWith('demo/') ?? false);
	const libc6 = doc.packages.find(p => p.name === 'libc6')!.running.filter(ours);
	t.deepEqual(
		libc6.map(v => [v.tree, v.mismatch]),
		libc6.map(v => [v.tree, false]),
	);
	t.true(libc6.some(v => v.tree === `demo/${v2}.0`));
	t.deepEqual(
		doc.packages.filter(p => p.running.some(v => v.mismatch && v.tree?.startsWith('demo/'))).map(p => p.name),
		['livetree-demo'],
	);

	// The filter, by source package name: the demo alone, mismatched (exit 1) ...
	const bySource = await livetree(['packages', '--json', '--no-systemd', '--sysroot', s.path, '--state-dir', state, 'livetree-demo-src']);
	t.is(bySource.code, 1);
	t.deepEqual(
		mine(JSON.parse(bySource.stdout) as PackagesDocument).map(p => p.name),
		['livetree-demo'],
	);
	// ... and by binary package name: libc6 alone, which runs its installed version (exit 0).
	const only = await livetree(['packages', '--json', '--no-systemd', '--sysroot', s.path, '--state-dir', state, 'libc6']);
	const onlyDoc = JSON.parse(only.stdout) as PackagesDocument;
	t.is(onlyDoc.summary.mismatched, 0);
	t.is(only.code, packagesExitCode(onlyDoc));
	t.deepEqual([...new Set(onlyDoc.packages.map(p => p.name))], ['libc6']);
	t.deepEqual(
		mine(onlyDoc).map(p => p.name),
		['libc6'],
	);
	t.true(onlyDoc.packages[0]!.running.some(v => v.tree === `demo/${v2}.0` && v.processes.some(q => q.pid === proc.pid)));

	const text = await livetree(['packages', '--no-systemd', '--color', 'never', '--sysroot', s.path, '--state-dir', state]);
	t.is(text.code, 1);
	// "in deployments" is said when the package also runs elsewhere on the host (another
	// checkout's tests, containers): the deployments are this sysroot's alone.
	t.regex(text.stdout, /^livetree-demo 1\.0-1 in memory in 1 process( in deployments)?; 2\.0-1 installed$/m);
	// Host processes run in cgroups of units even without systemd's answers: "of N units" then.
	t.regex(text.stdout, /^libc6 \S+ in memory in \d+ process(es)?( of \d+ units?)? in deployments; \S+ installed$/m);
	t.regex(text.stdout, /^libc6 \S+ in memory in \d+ process(es)?( of \d+ units?)? in the host root; \S+ installed$/m);

	const prom = await livetree(['packages', '--format', 'prometheus', '--no-systemd', '--sysroot', s.path, '--state-dir', state]);
	t.regex(prom.stdout, /^livetree_package_version_mismatch\{package="livetree-demo",running="1\.0-1",installed="2\.0-1"\} 1$/m);
	t.regex(prom.stdout, /^livetree_packages_version_mismatched 1$/m);
	t.notRegex(prom.stdout, /mismatch\{package="libc6"/);
	await promtoolCheck(prom.stdout);
	// The same series in the status metrics (what the exporter and --textfile serve).
	const statusProm = await livetree(['status', '--format', 'prometheus', '--no-systemd', '--sysroot', s.path, '--state-dir', state]);
	t.regex(statusProm.stdout, /^livetree_package_version_mismatch\{package="livetree-demo",running="1\.0-1",installed="2\.0-1"\} 1$/m);
	t.regex(statusProm.stdout, /^livetree_processes\{/m);
	await promtoolCheck(statusProm.stdout);

	const ex = await livetree(['explain', String(proc.pid), '--no-systemd', '--color', 'never', '--sysroot', s.path, '--state-dir', state]);
	t.regex(ex.stdout, /libdemo\.so\.1 \(deleted\).*package livetree-demo 1\.0-1 \(amd64, source livetree-demo-src 1\.0\)/s);
});

test('a damaged dpkg database in a commit gives warnings, never a failed scan', async t => {
	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const s = await fx.initSysroot();
	await commitWithDb(fx, s, '1.0', {
		async damage(db) {
			// status cut inside the last stanza (libdemo's), a .list with a name that is not UTF-8.
			const status = await readFile(join(db, 'status'));
			await writeFile(join(db, 'status'), status.subarray(0, status.lastIndexOf('Version: ') + 4));
			await appendFile(join(db, 'info/dash.list'), Buffer.from([0x2f, 0x75, 0x73, 0x72, 0x2f, 0xff, 0xfe, 0x0a]));
		},
	});
	const d = (await s.deploy()).deployments[0]!;
	const proc = await fx.startChrooted(d.path, ['/usr/bin/demo-sleep', '600']);
	const state = await fx.tempDir();
	const doc = await status(s.path, state);
	t.deepEqual(schemaErrors(doc), []);
	// The commit's database warnings (no PID); other tests' trees are foreign roots here,
	// whose own databases' warnings name their processes.
	const warnings = doc.warnings.filter(w => w.code === 'package-db' && w.pid === null).map(w => w.message);
	t.true(
		warnings.some(m => m.includes('usr/share/dpkg/database/status') && m.includes('truncated')),
		warnings.join('\n'),
	);
	t.true(
		warnings.some(m => m.includes('not UTF-8')),
		warnings.join('\n'),
	);
	// A second scan reads the table from the catalog, and still says it is partial.
	const again = await status(s.path, state);
	t.deepEqual(
		again.warnings.filter(w => w.code === 'package-db' && w.pid === null).map(w => w.message),
		warnings,
	);
	const p = doc.processes.find(q => q.pid === proc.pid)!;
	// The cut stanza names no package; the others still do.
	t.is(file(p, '/usr/lib/livetree-demo/libdemo.so.1').origin.package, null);
	t.is(file(p, '/usr/bin/sleep').origin.package?.name, 'coreutils');
});

test('an rpm database in the commits: the old version named through the catalog, checked against rpm -qf', async t => {
	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const s = await fx.initSysroot();
	const rpmCommit = async (version: string) => commitWithDb(fx, s, version, {script: 'rpm-tree.sh'});
	const v1 = await rpmCommit('1.0');
	const d1 = (await s.deploy()).deployments[0]!;
	const proc = await fx.startChrooted(d1.path, ['/usr/bin/demo-sleep', '600']);
	const state = await fx.tempDir();
	const qf = async (deployment: string) =>
		(
			await run('rpm', [
				`--root=${deployment}`,
				'--dbpath=/usr/lib/sysimage/rpm',
				'-qf',
				'/usr/lib/livetree-demo/libdemo.so.1',
				'--qf',
				'%{NAME} %{EPOCH}:%{VERSION}-%{RELEASE} %{ARCH} %{SOURCERPM}',
			])
		).stdout.trim();

	const first = await status(s.path, state);
	const lib = file(first.processes.find(p => p.pid === proc.pid)!, '/usr/lib/livetree-demo/libdemo.so.1');
	t.is(lib.origin.commit, v1);
	const want = (await qf(d1.path)).split(' ');
	t.deepEqual(lib.origin.package, {
		name: want[0],
		version: want[1],
		arch: want[2],
		manager: 'rpm',
		source: 'livetree-demo',
		sourceVersion: '1.0-1',
	});
	t.is(want[3], 'livetree-demo-1.0-1.src.rpm');

	await rpmCommit('2.0');
	const d2 = (await s.deploy()).deployments[0]!;
	await s.undeploy(1);
	await s.cleanup();
	const after = await status(s.path, state);
	t.deepEqual(schemaErrors(after), []);
	const gone = file(after.processes.find(p => p.pid === proc.pid)!, '/usr/lib/livetree-demo/libdemo.so.1');
	t.is(gone.origin.kind, 'catalog');
	t.like(gone.origin.package, {name: 'livetree-demo', version: '1:1.0-1', manager: 'rpm'});

	const r = await livetree(['packages', '--json', '--no-systemd', '--sysroot', s.path, '--state-dir', state, 'livetree-demo']);
	t.is(r.code, 1, r.stderr);
	// Other tests' trees are foreign roots here, whose processes name their own packages
	// (dpkg ones too): this test's is the rpm one, counted against this sysroot's tree.
	const demo = (JSON.parse(r.stdout) as PackagesDocument).packages.find(p => p.manager === 'rpm')!;
	t.is(demo.manager, 'rpm');
	const counted = demo.running.filter(v => v.tree !== null && !v.container);
	t.is(counted.length, 1);
	t.like(counted[0], {version: '1:1.0-1', mismatch: true, installedVersions: [(await qf(d2.path)).split(' ')[1]!]});
});

test('a commit recorded before package tables existed gets its table at the next scan', async t => {
	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const s = await fx.initSysroot();
	const v1 = await commitWithDb(fx, s, '1.0');
	const d = (await s.deploy()).deployments[0]!;
	const proc = await fx.startChrooted(d.path, ['/usr/bin/demo-sleep', '600']);
	const state = await fx.tempDir();
	await status(s.path, state);
	// What a catalog written by a livetree without package tables holds for that commit.
	await run('python3', [
		'-c',
		`import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.execute("DELETE FROM commit_packages"); c.execute("DELETE FROM commit_package_list"); c.execute("DELETE FROM package_scans")
c.commit()`,
		join(state, 'catalog.sqlite'),
	]);
	const doc = await status(s.path, state);
	const lib = file(doc.processes.find(p => p.pid === proc.pid)!, '/usr/lib/livetree-demo/libdemo.so.1');
	t.is(lib.origin.commit, v1);
	t.like(lib.origin.package, {name: 'livetree-demo', version: '1.0-1'});
});

test('a host file replaced by a dpkg upgrade names the version a scan recorded, and `packages` reports the mismatch', async t => {
	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	// A host root without OSTree: a real dpkg database in var/lib/dpkg, livetree-demo 5.0-1
	// installed by dpkg --root, a process chrooted in it mapping its library.
	const root = await dpkgHostRoot(fx, '5.0', 'host-pkg');
	const proc = await fx.startChrooted(root, ['/usr/bin/demo-sleep', '600']);
	const sysroot = await fx.tempDir('livetree-no-sysroot-');
	const lib = join(root, 'usr/lib/livetree-demo/libdemo.so.1');
	// The CLI always scans with host root `/`; these are its own steps (collect, then the
	// packages model and renderer of `livetree packages`) with the test's root as host root.
	const scanWith = async (state: string): Promise<StatusDocument> => {
		const options = readCommon({sysroot, 'state-dir': state, 'no-systemd': true});
		const scanner = hostRootScanner(fx, options, root);
		return collect(options, {pids: [proc.pid]}, scanner);
	};
	const libOf = (doc: StatusDocument): MappedFile => {
		const p = doc.processes.find(x => x.pid === proc.pid)!;
		const f = p.files.find(x => x.path === lib);
		if (!f) throw new Error(`${lib} not mapped: ${p.files.map(x => x.path).join(', ')}`);
		return f;
	};
	const state = await fx.tempDir();

	const first = await scanWith(state);
	t.deepEqual(schemaErrors(first), []);
	t.like(libOf(first), {deleted: false, superseded: false});
	t.like(libOf(first).origin.package, {name: 'livetree-demo', version: '5.0-1'});

	await dpkgUpgrade(fx, root, '6.0');
	// biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own ${field} format, not a JavaScript template
	const {stdout: installed} = await run('dpkg-query', [`--admindir=${join(root, 'var/lib/dpkg')}`, '-W', '-f', '${Version}', 'livetree-demo']);
	t.is(installed, '6.0-1');

	const second = await scanWith(state);
	t.deepEqual(schemaErrors(second), []);
	const old = libOf(second);
	// dpkg renamed the new file over it: unlinked, and its path names the new file.
	t.like(old, {deleted: true, superseded: true, staleReason: 'superseded'});
	t.is(old.ino, libOf(first).ino);
	t.deepEqual(old.origin.package, {
		name: 'livetree-demo',
		version: '5.0-1',
		arch: 'amd64',
		manager: 'dpkg',
		source: 'livetree-demo-src',
		sourceVersion: '5.0',
	});
	const report = buildPackages({doc: second, installed: installedOf(second) ?? [], names: ['livetree-demo']});
	t.true(validatePackages(report), JSON.stringify(validatePackages.errors));
	// `livetree packages` exits 1 exactly when this count is not 0.
	t.is(report.summary.mismatched, 1);
	const demo = report.packages.find(p => p.name === 'livetree-demo')!;
	t.deepEqual(
		demo.running.map(r => [r.version, r.tree, r.mismatch, r.installedVersions, r.processes.map(p => p.pid)]),
		[['5.0-1', 'host', true, ['6.0-1'], [proc.pid]]],
	);
	const text = renderPackagesText(report, makeStyle('never'), false);
	t.regex(text, /livetree-demo 5\.0-1 in memory in 1 process.*6\.0-1 installed/);

	// A catalog that never saw the 5.0 file: no package, rather than a guess.
	const fresh = await scanWith(await fx.tempDir());
	t.is(libOf(fresh).origin.package, null);
	t.is(buildPackages({doc: fresh, installed: installedOf(fresh) ?? [], names: ['livetree-demo']}).summary.mismatched, 0);
});
