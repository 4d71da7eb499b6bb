// composefs exactly as upstream ostree writes and mounts it (issue 20): ostree 2026.x linked
// with libcomposefs from a cached Debian unstable root (scripts/ostree-sid.sh), its own
// `.ostree.cfs` written by `ostree admin deploy`, mounted by ostree-prepare-root as at boot
// (on this kernel straight from the file: no loop device), by mount.composefs, and through
// a loop device. Each before and after undeploy + prune, with a fresh catalog too. Over every
// file of every process these tests start, the bytes mapped are the bytes of the object
// livetree names: no process is ever attributed to an object with other bytes.
import test, {type ExecutionContext} from 'ava';
import {execFile, execFileSync, spawn} from 'node:child_process';
import {existsSync} from 'node:fs';
import {mkdir, mkdtemp, readFile, rm, stat} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {promisify} from 'node:util';
import {keptScanner} from './helpers/kept-scanner.js';
import {FIXTURES} from './helpers/fixture.js';
import {track} from './helpers/children.js';
import {file, idOf, proc} from './helpers/cfs-docs.js';
import {checkoutLibdemo, mountNamespace, type NsProcesses} from './helpers/overlay-ns.js';
import {livetree} from './helpers/cli.js';
import {schemaErrors} from './helpers/schema.js';
import {checkedDocument} from './helpers/exit-code.js';
import type {StatusDocument} from '../src/model/document.js';
import {parseScan} from '../src/model/scan-parts.js';

const execFileP = promisify(execFile);
const LIB = '/usr/lib/livetree-demo/libdemo.so.1';
const LIBC = '/usr/lib/x86_64-linux-gnu/libc.so.6';
const WAIT_MS = 90_000;
const SCRIPT = join(FIXTURES, 'upstream-cfs.sh');

type Mode = 'prepare-root' | 'mount-composefs' | 'loop';

interface Deployment {
	index: number;
	osname: string;
	checksum: string;
	serial: number;
	path: string;
}

interface State {
	deployments: Deployment[];
	commit?: string;
}

interface Running extends NsProcesses {
	/** The composefs mount point as maps paths show it. */
	mnt: string;
}

async function run(...args: string[]): Promise<State> {
	const {stdout} = await execFileP(SCRIPT, args, {maxBuffer: 16 << 20});
	return JSON.parse(stdout) as State;
}

/** A sysroot made and changed by upstream ostree, destroyed at teardown. */
async function sysroot(t: ExecutionContext): Promise<{s: string; repo: string; base: string}> {
	const base = await mkdtemp(join(tmpdir(), 'livetree-upcfs-'));
	const s = join(base, 'sysroot');
	t.teardown(async () => {
		await execFileP(join(FIXTURES, 'sysroot.sh'), ['destroy', s]).catch(() => undefined);
		await rm(base, {recursive: true, force: true});
	});
	await run('init', s, 'demo');
	return {s, repo: join(s, 'ostree/repo'), base};
}

/** Mount deployment INDEX's image as MODE says, in a private mount namespace, with demo-sleep chrooted in it. */
async function mountAndRun(t: ExecutionContext, base: string, mode: Mode, s: string, index: number, unlock?: {upper: string; work: string}): Promise<Running> {
	const out = await mkdtemp(join(base, `run-${mode}-`));
	const args = [SCRIPT, 'run', mode, s, String(index), out];
	if (unlock) {
		args.push(unlock.upper, unlock.work);
	}

	const logs = async () => (await Promise.all(['prepare-root.log', 'mount.log'].map(async f => readFile(join(out, f), 'utf8').catch(() => '')))).join('');
	const ns = await mountNamespace(t, out, args, {
		what: `the ${mode} mount`,
		at: '',
		timeoutMs: WAIT_MS,
		async why(pid) {
			const ps = await execFileP('ps', ['-o', 'pid,stat,wchan:32,args', '--ppid', String(pid), '-p', String(pid)]).then(
				r => r.stdout,
				() => '',
			);
			return `${await logs()} ${ps}`;
		},
	});
	const mnt = (await readFile(join(out, 'mnt'), 'utf8')).trim();
	return {...ns, mnt};
}

async function scan(s: string, repo: string, stateDir: string, pids: number[]): Promise<{doc: StatusDocument; code: number | null}> {
	await mkdir(stateDir, {recursive: true});
	const r = await livetree(['status', '--json', '--no-systemd', '--sysroot', s, '--state-dir', stateDir]);
	const doc = checkedDocument(r);
	// livetree never writes to the repo: upstream's own fsck passes after every scan.
	execFileSync(join(FIXTURES, 'upstream/ostree'), ['fsck', `--repo=${repo}`], {stdio: 'ignore'});
	// Only what this test made is looked at: other tests' processes share the host.
	doc.processes = doc.processes.filter(p => pids.includes(p.pid));
	return {doc, code: r.code};
}

/** Every object of the repo, copied while it exists (a prune removes them). */
async function keepObjects(repo: string, into: string): Promise<void> {
	await mkdir(into, {recursive: true});
	await execFileP('cp', ['-a', '-n', `${join(repo, 'objects')}/.`, into]);
}

/**
 * Over every file of the processes given: where livetree names an object, the bytes the
 * process maps (read through /proc/PID/map_files) are that object's bytes.
 */
async function bytesAgree(t: ExecutionContext, doc: StatusDocument, objects: string, pids: number[]): Promise<number> {
	let checked = 0;
	for (const pid of pids) {
		const p = proc(doc, pid);
		const maps = (await readFile(`/proc/${pid}/maps`, 'utf8')).split('\n');
		for (const f of p.files) {
			const csum = f.origin.objectChecksum;
			if (!csum || !['deployment', 'catalog'].includes(f.origin.kind)) {
				continue;
			}

			const [ma, mi] = f.dev.split(':').map(Number);
			const line = maps.find(l => {
				const m = /^(\S+) \S+ \S+ ([0-9a-f]+):([0-9a-f]+) (\d+)/.exec(l);
				return m && Number.parseInt(m[2]!, 16) === ma && Number.parseInt(m[3]!, 16) === mi && Number(m[4]) === f.ino;
			});
			t.truthy(line, `PID ${pid} maps ${f.path}`);
			const range = line!.split(' ')[0]!;
			const mapped = await readFile(`/proc/${pid}/map_files/${range}`);
			const object = await readFile(join(objects, csum.slice(0, 2), `${csum.slice(2)}.file`));
			t.true(mapped.equals(object), `PID ${pid} ${f.path}: the mapped bytes are object ${csum}`);
			checked++;
		}
	}

	return checked;
}

for (const mode of ['prepare-root', 'mount-composefs', 'loop'] as const) {
	test(`upstream ostree, ${mode}: each process is its own deployment's before a prune, stale after, never the survivor's`, async t => {
		const {s, repo, base} = await sysroot(t);
		const objects = join(base, 'objects-kept');
		const state = join(base, 'state');
		await mkdir(state);
		await run('commit', s, 'demo', '1.0');
		const st1 = await run('deploy', s, 'demo');
		const v1 = st1.deployments[0]!;
		t.true(existsSync(join(v1.path, '.ostree.cfs')), 'upstream ostree wrote the image');
		const p1 = await mountAndRun(t, base, mode, s, 0);
		if (mode !== 'loop') {
			// libcomposefs mounts the EROFS image straight from the file on this kernel.
			const loops = execFileSync('losetup', ['-n', '-O', 'BACK-FILE', '-l'], {encoding: 'utf8'});
			t.false(loops.includes(v1.path), 'no loop device holds the image');
		}

		const first = await scan(s, repo, state, [p1.pid]);
		t.deepEqual(schemaErrors(first.doc), []);
		const a = proc(first.doc, p1.pid);
		t.is(a.root.kind, 'deployment');
		t.is(a.root.deployment, idOf(v1));
		t.is(a.state, 'current');
		t.is(file(a, LIB).origin.commit, v1.checksum);
		t.is(file(a, LIB).origin.kind, 'deployment');
		t.is(a.files.filter(f => f.origin.kind === 'untracked').length, 0);
		t.is(first.doc.deployments[0]!.composefs?.mounted, true);
		await keepObjects(repo, objects);
		t.true((await bytesAgree(t, first.doc, objects, [p1.pid])) >= 3);

		// Version 2 deployed beside it: the two images number their files alike.
		await run('commit', s, 'demo', '2.0');
		const st2 = await run('deploy', s, 'demo');
		const v2 = st2.deployments[0]!;
		const p2 = await mountAndRun(t, base, mode, s, 0);
		t.is((await stat(`/proc/${p1.pid}/root${LIB}`)).ino, (await stat(`/proc/${p2.pid}/root${LIB}`)).ino);
		t.not(p1.device, p2.device);
		const both = await scan(s, repo, state, [p1.pid, p2.pid]);
		t.deepEqual(schemaErrors(both.doc), []);
		for (const [p, d] of [
			[p1, v1],
			[p2, v2],
		] as const) {
			const q = proc(both.doc, p.pid);
			t.is(q.root.deployment, idOf(d));
			t.is(q.state, 'current');
			t.is(file(q, LIB).origin.commit, d.checksum);
			// libc is one object in both commits: it goes to the process's own deployment.
			t.is(file(q, LIBC).origin.commit, d.checksum);
		}

		await keepObjects(repo, objects);
		await bytesAgree(t, both.doc, objects, [p1.pid, p2.pid]);

		// Undeploy 1.0 and prune its objects: its process runs on from the detached image.
		await run('undeploy', s, '1');
		await run('cleanup', s);
		t.false(existsSync(v1.path));
		const after = await scan(s, repo, state, [p1.pid, p2.pid]);
		t.deepEqual(schemaErrors(after.doc), []);
		t.is(after.code, 1);
		const old = proc(after.doc, p1.pid);
		t.is(old.root.kind, 'deployment');
		t.is(old.root.deployment, idOf(v1));
		t.is(old.state, 'stale');
		t.true(old.needsRestart);
		const lib = file(old, LIB);
		t.is(lib.origin.kind, 'catalog');
		t.is(lib.origin.commit, v1.checksum);
		t.is(lib.staleReason, 'removed-deployment');
		t.false(old.files.some(f => f.origin.commit === v2.checksum));
		// The survivor's own process stays its deployment's, and its mount is found.
		const cur = proc(after.doc, p2.pid);
		t.is(cur.root.deployment, idOf(v2));
		t.is(cur.state, 'current');
		t.false(cur.needsRestart);
		t.is(after.doc.deployments.length, 1);
		t.is(after.doc.deployments[0]!.composefs?.mounted, true);
		t.deepEqual(
			after.doc.warnings.filter(w => w.code.startsWith('composefs-') && (w.message.includes(p1.device) || w.message.includes(p2.device))),
			[],
		);
		t.true((await bytesAgree(t, after.doc, objects, [p1.pid, p2.pid])) >= 6);

		const text = await livetree(['explain', String(p1.pid), '--no-systemd', '--color', 'never', '--sysroot', s, '--state-dir', state]);
		t.is(text.code, 1);
		t.regex(text.stdout, /removed|no longer deployed/);

		// A catalog that never saw 1.0: the mount is never taken for 2.0's (same root nid, same
		// libc); a loop device still names the deleted image, a file-backed mount names nothing.
		const fresh = await scan(s, repo, join(base, 'fresh'), [p1.pid, p2.pid]);
		t.deepEqual(schemaErrors(fresh.doc), []);
		const q = proc(fresh.doc, p1.pid);
		t.not(q.root.deployment, idOf(v2));
		t.false(q.files.some(f => f.origin.commit === v2.checksum && f.origin.treePath === LIB));
		if (mode === 'loop') {
			t.is(q.root.deployment, idOf(v1));
			t.is(q.state, 'stale');
		} else {
			t.is(q.root.kind, 'unknown');
			t.is(q.state, 'unknown');
			t.false(q.needsRestart);
			const w = fresh.doc.warnings.filter(w => w.code === 'composefs-unidentified' && w.message.includes(`composefs mount ${p1.device} `));
			t.is(w.length, 1, JSON.stringify(fresh.doc.warnings));
		}

		t.is(proc(fresh.doc, p2.pid).root.deployment, idOf(v2));
		t.is(proc(fresh.doc, p2.pid).state, 'current');
		await bytesAgree(t, fresh.doc, objects, [p1.pid, p2.pid]);
	});
}

test('upstream ostree, prepare-root: a kept scanner checksums each mapped file once for the life of the mount', async t => {
	const {s, repo, base} = await sysroot(t);
	await run('commit', s, 'demo', '1.0');
	const st = await run('deploy', s, 'demo');
	const p = await mountAndRun(t, base, 'prepare-root', s, 0);
	const kept = keptScanner(t, {
		sysroot: s,
		procRoot: '/proc',
		runDir: join(base, 'run'),
		hostRoot: '/',
		catalogPath: join(base, 'kept.sqlite'),
		kernel: false,
	});
	const once = parseScan(kept.scanSync({pids: [p.pid]}));
	const first = kept.stats().composefsFilesHashed;
	t.is(once.processes[0]!.root.deployment, idOf(st.deployments[0]!));
	const maps = await readFile(`/proc/${p.pid}/maps`, 'utf8');
	const [ma, mi] = p.device.split(':').map(Number);
	const inodes = new Set(
		maps
			.split('\n')
			.map(l => /^\S+ \S+ \S+ ([0-9a-f]+):([0-9a-f]+) (\d+)/.exec(l))
			.filter(m => m && Number.parseInt(m[1]!, 16) === ma && Number.parseInt(m[2]!, 16) === mi && m[3] !== '0')
			.map(m => m![3]),
	);
	t.true(inodes.size >= 3);
	const again = parseScan(kept.scanSync({pids: [p.pid]}));
	t.is(again.processes[0]!.state, 'current');
	// The first scan checksummed every mapped file (and what it checked through the mount);
	// the second knows the mount's image from the first (the same mount, by its unique id)
	// and reads nothing.
	t.true(first >= inodes.size, `${first} files hashed, ${inodes.size} mapped`);
	t.is(kept.stats().composefsFilesHashed, 0);
	execFileSync(join(FIXTURES, 'upstream/ostree'), ['fsck', `--repo=${repo}`], {stdio: 'ignore'});
});

test('upstream ostree: a composefs digest the deployed image does not match is said truthfully, and prepare-root mounted it', async t => {
	const {s, repo, base} = await sysroot(t);
	const {commit} = await run('commit', s, 'demo', '1.0', '--digest');
	const st = await run('deploy', s, 'demo');
	const d = st.deployments[0]!;
	const p = await mountAndRun(t, base, 'prepare-root', s, 0);
	const {doc} = await scan(s, repo, join(base, 'state'), [p.pid]);
	t.deepEqual(schemaErrors(doc), []);
	const cfs = doc.deployments[0]!.composefs!;
	t.regex(cfs.digest ?? '', /^[0-9a-f]{64}$/);
	const have = execFileSync('fsverity', ['digest', '--compact', join(d.path, '.ostree.cfs')], {encoding: 'utf8'}).trim();
	t.not(have, cfs.digest, 'objects without fs-verity: the deployed image differs from the commit digest');
	const w = doc.warnings.filter(w => w.code === 'composefs-digest-mismatch' && w.message.includes(d.path));
	t.is(w.length, 1);
	t.true(w[0]!.message.includes(`commit ${commit} records ${cfs.digest}`), w[0]!.message);
	t.true(w[0]!.message.includes('unless prepare-root.conf sets `[composefs] enabled = signed`'), w[0]!.message);
	t.false(w[0]!.message.includes('would refuse'));
	// It is mounted and running: identified by its bytes all the same.
	const q = proc(doc, p.pid);
	t.is(q.root.deployment, idOf(d));
	t.is(q.state, 'current');
	t.true(cfs.mounted);
	t.true((await bytesAgree(t, doc, join(repo, 'objects'), [p.pid])) >= 3);
});

test("upstream ostree, prepare-root with /usr unlocked: lower files are the deployment's, upper ones overlay, the earlier process superseded", async t => {
	const {s, repo, base} = await sysroot(t);
	await run('commit', s, 'demo', '1.0');
	await run('deploy', s, 'demo');
	const {commit: next} = await run('commit', s, 'demo', '2.0');
	const st = await run('deploy', s, 'demo');
	const d = st.deployments[1]!;
	const upper = join(base, 'upper');
	const work = join(base, 'work');
	await mkdir(work);
	// 2.0's library checked out into the upper layer of 1.0's unlocked /usr (a hotfix).
	await checkoutLibdemo(repo, next!, upper, join(FIXTURES, 'upstream/ostree'));
	const p = await mountAndRun(t, base, 'prepare-root', s, 1, {upper, work});
	const {doc} = await scan(s, repo, join(base, 'state'), [p.pid, p.before!]);
	t.deepEqual(schemaErrors(doc), []);
	const after = proc(doc, p.pid);
	t.is(after.root.deployment, idOf(d), JSON.stringify({root: after.root, warnings: doc.warnings}));
	t.is(after.state, 'overlay');
	t.false(after.needsRestart);
	t.is(file(after, LIB).origin.kind, 'overlay');
	t.is(file(after, LIB).origin.commit, next);
	const libc = file(after, LIBC);
	t.is(libc.origin.kind, 'deployment');
	t.is(libc.origin.commit, d.checksum);
	t.is(after.files.filter(f => f.superseded || f.staleReason !== null).length, 0);
	const before = proc(doc, p.before!);
	t.is(before.state, 'stale');
	t.deepEqual(
		before.files.filter(f => f.superseded).map(f => f.path),
		[file(before, LIB).path],
	);
	t.true((await bytesAgree(t, doc, join(repo, 'objects'), [p.pid, p.before!])) >= 6);

	// The mount is identified through whichever process first maps from it (the earlier
	// one here), while the namespace's mount table may have been read through another (a
	// second reader takes the later process's batch first): the unlocked /usr is known to
	// cover the mount either way. 31 sleepers outside it put the earlier process last in
	// the first batch of 32, the later one alone in the second; a fresh scanner each time.
	const fillers = Array.from({length: 31}, () => track(t, spawn('sleep', ['600'], {stdio: 'ignore'}), 'sleep').child.pid!);
	for (let i = 0; i < 5; i++) {
		const fresh = keptScanner(t, {
			sysroot: s,
			procRoot: '/proc',
			runDir: join(base, 'run'),
			hostRoot: '/',
			catalogPath: join(base, `order-${i}.sqlite`),
			kernel: false,
		});
		const got = parseScan(fresh.scanSync({pids: [...fillers, p.before!, p.pid]}));
		const q = got.processes.find(x => x.pid === p.pid)!;
		t.is(q.root.deployment, idOf(d), JSON.stringify(got.warnings));
		t.is(got.processes.find(x => x.pid === p.before)!.root.deployment, idOf(d));
	}
});
