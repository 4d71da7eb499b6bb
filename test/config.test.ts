// Issue 24: configuration changed since a process started. A real .deb with a conffile,
// built with dpkg-deb and installed with dpkg --root into a chroot tree, its daemon
// started chrooted; the conffile edited, a process started after the edit, and an upgrade
// with dpkg's conffile prompt answered by --force-confnew. Open files under /etc held by
// chrooted processes, edited in place and replaced by rename.
import {execFile} from 'node:child_process';
import {randomUUID} from 'node:crypto';
import {appendFile, copyFile, mkdir, rename, writeFile} from 'node:fs/promises';
import {join} from 'node:path';
import {promisify} from 'node:util';
import test from 'ava';
import {collect} from '../src/collect.js';
import type {Process, StatusDocument} from '../src/model/document.js';
import {exitCode} from '../src/commands/status.js';
import {readCommon} from '../src/options.js';
import {renderExplain} from '../src/render/explain.js';
import {renderPrometheus} from '../src/render/prometheus.js';
import {makeStyle} from '../src/render/style.js';
import {renderText} from '../src/render/text.js';
import {livetree} from './helpers/cli.js';
import {dpkgHostRoot} from './helpers/dpkg.js';
import {hostRootScanner} from './helpers/host-scanner.js';
import {FIXTURES, Fixtures} from './helpers/fixture.js';
import {schemaErrors} from './helpers/schema.js';

const run = promisify(execFile);
const pause = async (ms: number): Promise<void> => new Promise(r => setTimeout(r, ms));

/** Build livetree-confd VERSION (its daemon a copy of the tree's sleep, one conffile) and install it in ROOT. */
async function installConfd(fx: Fixtures, root: string, version: string, conf: string, extra: string[] = []): Promise<void> {
	const work = await fx.tempDir('livetree-confd-deb-');
	const pkg = join(work, 'pkg');
	await mkdir(join(pkg, 'DEBIAN'), {recursive: true});
	await mkdir(join(pkg, 'usr/sbin'), {recursive: true});
	await mkdir(join(pkg, 'etc/confd'), {recursive: true});
	await copyFile(join(root, 'usr/bin/sleep'), join(pkg, 'usr/sbin/confd'));
	// Other bytes per version, so an upgrade replaces the daemon too.
	await appendFile(join(pkg, 'usr/sbin/confd'), `confd ${version}`);
	await run('chmod', ['0755', join(pkg, 'usr/sbin/confd')]);
	await writeFile(join(pkg, 'etc/confd/confd.conf'), conf);
	await writeFile(join(pkg, 'DEBIAN/conffiles'), '/etc/confd/confd.conf\n');
	await writeFile(
		join(pkg, 'DEBIAN/control'),
		`Package: livetree-confd\nVersion: ${version}-1\nArchitecture: amd64\nMaintainer: livetree tests <root@localhost>\nDescription: a daemon with a conffile\n for livetree's configuration tests.\n`,
	);
	await run('dpkg-deb', ['--root-owner-group', '--build', pkg, join(work, 'confd.deb')]);
	await run('dpkg', [`--root=${root}`, '--force-unsafe-io', ...extra, '-i', join(work, 'confd.deb')]);
}

async function chrootTree(fx: Fixtures): Promise<string> {
	const root = await dpkgHostRoot(fx, '1.0', 'config');
	await mkdir(join(root, 'etc'), {recursive: true});
	return root;
}

/** A scan with `root` as the host root; one state directory per test, as a host keeps its catalog. */
async function scan(fx: Fixtures, root: string, pids: number[], state: string, hostRoot = root): Promise<StatusDocument> {
	const options = readCommon({sysroot: await fx.tempDir('livetree-no-sysroot-'), 'state-dir': state, 'no-systemd': true});
	const scanner = hostRootScanner(fx, options, hostRoot);
	const doc = await collect(options, {pids}, scanner);
	return doc;
}

function proc(doc: StatusDocument, pid: number): Process {
	const p = doc.processes.find(x => x.pid === pid);
	if (!p) throw new Error(`PID ${pid} not scanned`);
	return p;
}

/** The process's start as /proc/PID/stat and /proc/stat btime give it, to the second. */
async function startSeconds(pid: number): Promise<number> {
	const {readFile} = await import('node:fs/promises');
	const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
	const ticks = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
	const btime = Number(/^btime (\d+)$/m.exec(await readFile('/proc/stat', 'utf8'))![1]);
	const {stdout} = await run('getconf', ['CLK_TCK']);
	return btime + ticks / Number(stdout.trim());
}

test("a conffile of the daemon's package edited after it started is flagged; a daemon started after the edit is not; an upgrade with --force-confnew flags the later one", async t => {
	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const root = await chrootTree(fx);
	const state = await fx.tempDir();
	await installConfd(fx, root, '1.0', 'port = 1\n');
	const a = await fx.startChrooted(root, ['/usr/sbin/confd', '600']);

	const first = await scan(fx, root, [a.pid], state);
	t.deepEqual(schemaErrors(first), []);
	const pa = proc(first, a.pid);
	t.deepEqual(pa.configChanges, []);
	t.is(pa.needsReload, false);
	t.is(first.summary.processesNeedingReload, 0);
	// startedAt: from stat's start ticks and the boot time; within a second of btime + ticks/HZ.
	const started = Date.parse(pa.startedAt!);
	t.true(Math.abs(started / 1000 - (await startSeconds(a.pid))) < 1, `${pa.startedAt}`);

	await pause(50);
	await appendFile(join(root, 'etc/confd/confd.conf'), 'port = 2\n');
	const b = await fx.startChrooted(root, ['/usr/sbin/confd', '600']);
	const second = await scan(fx, root, [a.pid, b.pid], state);
	t.deepEqual(schemaErrors(second), []);
	const changed = proc(second, a.pid);
	t.is(changed.needsReload, true);
	t.is(changed.needsRestart, false);
	t.deepEqual(
		changed.configChanges!.map(c => [c.path, c.source, c.package?.name, c.package?.version]),
		[['/etc/confd/confd.conf', 'conffile', 'livetree-confd', '1.0-1']],
	);
	t.true(Date.parse(changed.configChanges![0]!.changedAt) > Date.parse(changed.startedAt!));
	t.deepEqual(proc(second, b.pid).configChanges, []);
	t.is(proc(second, b.pid).needsReload, false);
	t.is(second.summary.processesNeedingReload, 1);
	// Not a restart reason: exit 0 unless --fail-on-reload.
	t.is(second.summary.processesNeedingRestart, 0);
	t.is(exitCode(second), 0);
	t.is(exitCode(second, true), 1);
	const hhmm = (iso: string): string => new Date(iso).toISOString().slice(11, 16);
	const text = renderText(second, {style: makeStyle('never'), verbose: false});
	t.true(
		text.includes(
			`Config changed since start: 1 process\n  PID ${a.pid} (confd): /etc/confd/confd.conf changed ${hhmm(changed.configChanges![0]!.changedAt)}, confd started ${hhmm(changed.startedAt!)} (package conffile) — reload to apply\n`,
		),
		text,
	);
	t.regex(
		renderExplain(second, changed, makeStyle('never'), false),
		/Its configuration changed since it started[^\n]*\n {2}- \/etc\/confd\/confd\.conf changed \d\d:\d\d, confd started/,
	);
	t.regex(renderPrometheus(second), /^livetree_processes_needing_reload 1$/m);

	// The upgrade ships another conffile; dpkg keeps the local edit unless told: --force-confnew.
	await pause(50);
	await installConfd(fx, root, '2.0', 'port = 3\n', ['--force-confnew']);
	const third = await scan(fx, root, [a.pid, b.pid], state);
	t.deepEqual(schemaErrors(third), []);
	const upgraded = proc(third, b.pid);
	t.is(upgraded.needsReload, true);
	t.deepEqual(
		upgraded.configChanges!.map(c => [c.path, c.source, c.package?.name]),
		[['/etc/confd/confd.conf', 'conffile', 'livetree-confd']],
	);
	t.is(third.summary.processesNeedingReload, 2);

	// Scanned as the CLI does (host root /), the chroot is a foreign root: packages come from
	// the chroot's own database. C, started after the upgrade, runs livetree-confd 2.0-1:
	// nothing changed since; then its conffile is edited. A and B run daemons replaced before
	// any scan saw them as files of that root (the records above name them by their host-root
	// paths): their package is unknown there and no conffile is checked — never a guess.
	const c = await fx.startChrooted(root, ['/usr/sbin/confd', '600']);
	const quiet = await scan(fx, root, [c.pid], state, '/');
	t.deepEqual(schemaErrors(quiet), []);
	t.like(proc(quiet, c.pid), {root: {kind: 'foreign', deployment: null}, needsReload: false, configChanges: []});
	await pause(50);
	await appendFile(join(root, 'etc/confd/confd.conf'), 'port = 4\n');
	const foreign = await scan(fx, root, [a.pid, b.pid, c.pid], state, '/');
	t.deepEqual(schemaErrors(foreign), []);
	t.deepEqual(
		[a.pid, b.pid, c.pid]
			.map(pid => proc(foreign, pid))
			.map(p => [p.root.kind, p.configChanges!.map(c => [c.path, c.source, c.package?.name, c.package?.version])]),
		[
			['foreign', []],
			['foreign', []],
			['foreign', [['/etc/confd/confd.conf', 'conffile', 'livetree-confd', '2.0-1']]],
		],
	);
});

test('files under /etc a process holds open: edited in place, replaced by rename, untouched', async t => {
	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const root = await chrootTree(fx);
	const state = await fx.tempDir();
	await mkdir(join(root, 'etc/held'), {recursive: true});
	for (const f of ['edited.conf', 'renamed.conf', 'kept.conf']) {
		await writeFile(join(root, 'etc/held', f), `${f}\n`);
	}

	const hold = async (f: string) => fx.startChrooted(root, ['/bin/sh', '-c', `exec /usr/bin/sleep 600 3</etc/held/${f}`]);
	const edited = await hold('edited.conf');
	const renamed = await hold('renamed.conf');
	const kept = await hold('kept.conf');
	const pids = [edited.pid, renamed.pid, kept.pid];
	const before = await scan(fx, root, pids, state);
	t.deepEqual(
		pids.map(p => proc(before, p).configChanges),
		[[], [], []],
	);

	await pause(50);
	await appendFile(join(root, 'etc/held/edited.conf'), 'more\n');
	await writeFile(join(root, 'etc/held/renamed.conf.new'), 'new\n');
	await rename(join(root, 'etc/held/renamed.conf.new'), join(root, 'etc/held/renamed.conf'));
	const after = await scan(fx, root, pids, state);
	t.deepEqual(schemaErrors(after), []);
	t.deepEqual(
		pids.map(p => proc(after, p).configChanges!.map(c => [c.path, c.source, c.package])),
		[[['/etc/held/edited.conf', 'open-file', null]], [['/etc/held/renamed.conf', 'open-file', null]], []],
	);
	t.deepEqual(
		pids.map(p => proc(after, p).needsReload),
		[true, true, false],
	);
	t.is(after.summary.processesNeedingReload, 2);
});

test('status --help documents --fail-on-reload and the reload group', async t => {
	const r = await livetree(['status', '--help']);
	t.is(r.code, 0);
	t.regex(r.stdout, /--fail-on-reload\s+also exit 1 when a process needs a reload/);
	t.regex(r.stdout, /"Config changed since start"/);
});

test("an rpm %config file of the daemon's package (rpmbuild, rpm --root) edited after it started is flagged", async t => {
	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const root = join(await fx.tempDir('livetree-config-rpm-'), 'root');
	await run(join(FIXTURES, 'make-tree.sh'), [root, '--version', '1.0', '--marker', `config-rpm-${randomUUID()}`]);
	const work = await fx.tempDir('livetree-rconfd-rpm-');
	await mkdir(join(work, 'top/SOURCES'), {recursive: true});
	await copyFile(join(root, 'usr/bin/sleep'), join(work, 'top/SOURCES/rconfd'));
	await writeFile(join(work, 'top/SOURCES/rconfd.conf'), 'port = 1\n');
	await writeFile(
		join(work, 'top/rconfd.spec'),
		`Name: livetree-rconfd
Version: 1.0
Release: 1
Summary: a daemon with a config file
License: MIT
BuildArch: x86_64
AutoReqProv: no
%description
For livetree's configuration tests.
%install
install -D -m 0755 %{_sourcedir}/rconfd %{buildroot}/usr/sbin/rconfd
install -D -m 0644 %{_sourcedir}/rconfd.conf %{buildroot}/etc/rconfd/rconfd.conf
%files
/usr/sbin/rconfd
%config(noreplace) /etc/rconfd/rconfd.conf
`,
	);
	await run('rpmbuild', [
		'-bb',
		'--quiet',
		'--define',
		`_topdir ${join(work, 'top')}`,
		'--define',
		'__os_install_post %{nil}',
		'--define',
		'debug_package %{nil}',
		join(work, 'top/rconfd.spec'),
	]);
	await run('rpm', [
		`--root=${root}`,
		'--dbpath=/usr/lib/sysimage/rpm',
		'-i',
		'--nodeps',
		'--noscripts',
		join(work, 'top/RPMS/x86_64/livetree-rconfd-1.0-1.x86_64.rpm'),
	]);
	const d = await fx.startChrooted(root, ['/usr/sbin/rconfd', '600']);
	const state = await fx.tempDir();
	const before = await scan(fx, root, [d.pid], state, '/');
	t.deepEqual(schemaErrors(before), []);
	t.like(proc(before, d.pid), {root: {kind: 'foreign', deployment: null}, needsReload: false, configChanges: []});
	await pause(50);
	await appendFile(join(root, 'etc/rconfd/rconfd.conf'), 'port = 2\n');
	const after = await scan(fx, root, [d.pid], state, '/');
	t.deepEqual(schemaErrors(after), []);
	t.deepEqual(
		proc(after, d.pid).configChanges!.map(c => [c.path, c.source, c.package?.name, c.package?.version, c.package?.manager]),
		[['/etc/rconfd/rconfd.conf', 'conffile', 'livetree-rconfd', '1.0-1', 'rpm']],
	);
});
