// The configuration pass on real podman containers (issues 21 and 24): the open-file check
// bounds the newest change under a container's /etc from its root overlay's pieces (its own
// layer, the image layers, what podman bind-mounts under /etc) instead of reading every
// process's fd directory. The scanner's counter `configFdReads` says how many fd
// directories a scan read. Each container runs `sh`, which opens two files under /etc and
// then starts four `sleep`s that inherit them: the sleeps started after podman set the
// container up, so nothing under its /etc changed since they started until the test
// changes something there. A fuse-overlayfs container, whose mount lists no layers, has its
// fd directories read as before.
import {randomBytes} from 'node:crypto';
import {appendFile} from 'node:fs/promises';
import test from 'ava';
import {parseScan} from '../src/model/scan-parts.js';
import {native} from '../src/native.js';
import {containerPids, PodmanStore} from './helpers/podman.js';

const tag = randomBytes(4).toString('hex');
const base = `localhost/lt-cfg-base-${tag}:1`;
const pause = async (ms: number): Promise<void> => new Promise(r => setTimeout(r, ms));

let store: PodmanStore | undefined;

test.before(async () => {
	store = await PodmanStore.create();
	await store.importBase(base);
});

test.after.always(async () => {
	await store?.cleanup();
});

interface Held {
	id: string;
	pid: number;
	/** The four sleeps, children of the container's first process. */
	sleeps: number[];
	hostsPath: string;
}

/** A container whose processes hold /etc/debian_version (fd 3) and /etc/hosts (fd 4). */
async function holding(name: string, s: PodmanStore = store!, image = base): Promise<Held> {
	const script = 'exec 3</etc/debian_version 4</etc/hosts; for i in 1 2 3 4; do sleep 3600 & done; exec sleep 3600';
	await s.podman(['run', '-d', '--network', 'none', '--name', name, image, 'sh', '-c', script]);
	const c = JSON.parse(await s.podman(['container', 'inspect', name])) as Array<{Id: string; State: {Pid: number}; HostsPath: string}>;
	const {Id: id, State, HostsPath: hostsPath} = c[0]!;
	for (let i = 0; i < 50; i++) {
		const pids = await containerPids(id);
		const sleeps = pids.filter(p => p !== State.Pid);
		if (sleeps.length === 4) {
			return {id, pid: State.Pid, sleeps, hostsPath};
		}

		await pause(100);
	}

	throw new Error(`container ${name}: its four sleeps did not start`);
}

/** Each scanned PID's changed paths (sorted), and how many fd directories the scan read. */
async function scan(pids: number[]): Promise<{changed: Record<number, string[]>; fdReads: number}> {
	const scanner = new native.Scanner({sysroot: store!.dir, procRoot: '/proc', sysRoot: '/sys', runDir: '/run', hostRoot: '/', progress: false, kernel: false});
	try {
		const doc = parseScan(await scanner.scan({pids}));
		const changed: Record<number, string[]> = {};
		for (const p of doc.processes) {
			changed[p.pid] = (p.configChanges ?? []).map(c => c.path).sort();
		}

		return {changed, fdReads: scanner.stats().configFdReads};
	} finally {
		scanner.release();
	}
}

const each = (pids: number[], paths: string[]): Record<number, string[]> => Object.fromEntries(pids.map(p => [p, paths]));

test.serial('an unchanged container is judged without reading its fd directories; a file copied up in it is flagged', async t => {
	const c = await holding(`lt-cfg-copy-${tag}`);
	// podman created the mount point /etc/hosts in the container's own layer after its first
	// process started (runc does, for the bind mount): that process's fds are read; the
	// sleeps' are not.
	t.deepEqual(await scan(c.sleeps), {changed: each(c.sleeps, []), fdReads: 0});
	await pause(50);
	// A change inside the container: the file is copied up into the container's own layer.
	await store!.podman(['exec', `lt-cfg-copy-${tag}`, 'sh', '-c', 'echo edited >> /etc/debian_version']);
	const all = [c.pid, ...c.sleeps];
	t.deepEqual(await scan(all), {changed: each(all, ['/etc/debian_version']), fdReads: 5});
});

test.serial('a bind-mounted /etc/hosts rewritten after the processes started is flagged', async t => {
	const c = await holding(`lt-cfg-hosts-${tag}`);
	t.deepEqual(await scan(c.sleeps), {changed: each(c.sleeps, []), fdReads: 0});
	await pause(50);
	// podman's own file, bind-mounted on /etc/hosts: rewritten in place (as podman does when
	// a container joins its network), the same inode with a new change time.
	await appendFile(c.hostsPath, '10.0.0.9 added\n');
	const all = [c.pid, ...c.sleeps];
	t.deepEqual(await scan(all), {changed: each(all, ['/etc/hosts']), fdReads: 5});
	// The container's own /etc is untouched: the mount alone moved the newest change.
	t.deepEqual(await scan(c.sleeps), {changed: each(c.sleeps, ['/etc/hosts']), fdReads: 4});
});

test.serial('a file created under /etc in the container after its processes started makes their fds be read', async t => {
	const name = `lt-cfg-new-${tag}`;
	const c = await holding(name);
	t.deepEqual(await scan(c.sleeps), {changed: each(c.sleeps, []), fdReads: 0});
	await pause(50);
	// Nothing they hold changed, but /etc did: their fds are read, and nothing is flagged.
	await store!.podman(['exec', name, 'sh', '-c', 'echo new > /etc/livetree-new.conf']);
	t.deepEqual(await scan(c.sleeps), {changed: each(c.sleeps, []), fdReads: 4});
});

test.serial('a fuse-overlayfs container (its mount lists no layers) has its fds read, and a change is flagged as before', async t => {
	const fuse = await PodmanStore.create({fuse: true});
	t.teardown(async () => fuse.cleanup());
	const image = `localhost/lt-cfg-fuse-${tag}:1`;
	await fuse.importBase(image);
	const name = `lt-cfg-fuse-${tag}`;
	const c = await holding(name, fuse, image);
	// The overlay's pieces are not known: each process's fd directory is read.
	t.deepEqual(await scan(c.sleeps), {changed: each(c.sleeps, []), fdReads: 4});
	await pause(50);
	await fuse.podman(['exec', name, 'sh', '-c', 'echo edited >> /etc/debian_version']);
	t.deepEqual(await scan(c.sleeps), {changed: each(c.sleeps, ['/etc/debian_version']), fdReads: 4});
});
