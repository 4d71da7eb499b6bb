// The stale check of a container's mapped files (issue 21): what each mapped path names now
// is looked up through the process's own root, once per (mount namespace, root) view, and
// that root (`/proc/PID/root`) is opened once per view for all its paths, not once per path.
// The scanner's counter `rootOpens` says how many roots a scan opened. Two containers of one
// image, five processes each: a file replaced inside one of them is superseded for its five
// processes only, the other container's root answering for its own.
import {randomBytes} from 'node:crypto';
import test from 'ava';
import {parseScan} from '../src/model/scan-parts.js';
import {native} from '../src/native.js';
import {containerPids, PodmanStore} from './helpers/podman.js';

const tag = randomBytes(4).toString('hex');
const base = `localhost/lt-stale-base-${tag}:1`;
const pause = async (ms: number): Promise<void> => new Promise(r => setTimeout(r, ms));

let store: PodmanStore | undefined;

test.before(async () => {
	store = await PodmanStore.create();
	await store.importBase(base);
});

test.after.always(async () => {
	await store?.cleanup();
});

/** A container of five `sleep`s (the first process execs into the last); their PIDs. */
async function sleeps(name: string): Promise<number[]> {
	const script = 'for i in 1 2 3 4; do sleep 3600 & done; exec sleep 3600';
	await store!.podman(['run', '-d', '--network', 'none', '--name', name, base, 'sh', '-c', script]);
	const {Id: id} = await store!.container(name);
	for (let i = 0; i < 50; i++) {
		const pids = await containerPids(id);
		if (pids.length === 5) {
			return pids.sort((a, b) => a - b);
		}

		await pause(100);
	}

	throw new Error(`container ${name}: its five sleeps did not start`);
}

/** Each scanned PID's stale files (path: reason, sorted), and how many roots the scan opened. */
async function scan(pids: number[]): Promise<{stale: Record<number, string[]>; rootOpens: number}> {
	const scanner = new native.Scanner({sysroot: store!.dir, procRoot: '/proc', sysRoot: '/sys', runDir: '/run', hostRoot: '/', progress: false, kernel: false});
	try {
		const doc = parseScan(await scanner.scan({pids}));
		const stale: Record<number, string[]> = {};
		for (const p of doc.processes) {
			stale[p.pid] = p.files
				.filter(f => f.staleReason !== null)
				.map(f => `${f.path}: ${f.staleReason}`)
				.sort();
		}

		return {stale, rootOpens: scanner.stats().rootOpens};
	} finally {
		scanner.release();
	}
}

const each = (pids: number[], stale: string[]): Record<number, string[]> => Object.fromEntries(pids.map(p => [p, stale]));

test.serial('each container root is opened once for all its paths; a file replaced in one container is superseded there only', async t => {
	const a = await sleeps(`lt-stale-a-${tag}`);
	const b = await sleeps(`lt-stale-b-${tag}`);
	// Each process maps sleep, the loader and libc: three paths per container, one root.
	t.deepEqual(await scan([...a, ...b]), {stale: {...each(a, []), ...each(b, [])}, rootOpens: 2});
	// A new sleep renamed over the old one inside container a (a copy-up into its own layer):
	// the path names another file there now, and still the image's in container b.
	await store!.podman(['exec', `lt-stale-a-${tag}`, 'sh', '-c', 'cp /usr/bin/sleep /usr/bin/sleep.new && mv /usr/bin/sleep.new /usr/bin/sleep']);
	t.deepEqual(await scan([...a, ...b]), {stale: {...each(a, ['/usr/bin/sleep: superseded']), ...each(b, [])}, rootOpens: 2});
	// Container b alone, then its processes with a's after them: one root each time per view.
	t.deepEqual(await scan(b), {stale: each(b, []), rootOpens: 1});
	t.deepEqual(await scan([...b, ...a]), {stale: {...each(b, []), ...each(a, ['/usr/bin/sleep: superseded'])}, rootOpens: 2});
});
