// Containers with real podman (issue 21): a private store, a Debian base imported from the
// cached debootstrap tarball, an image built with `RUN dpkg -i` of a .deb this test makes,
// containers whose main process maps that package's library. livetree reads what the
// engine and the kernel show; every expected value comes from `podman inspect`, `podman
// image inspect` or `dpkg-query` run inside the image or the container (the test may call
// podman; livetree never does).
//
// One store for the file, in steps: the fields of a fresh container; an upgrade inside a
// container (`podman exec … dpkg -i`); then a rebuild that moves the tag, which makes the
// old containers' files of the rebuilt layer stale and leaves the shared base layer current.
import {randomBytes} from 'node:crypto';
import {mkdir, readFile, stat, utimes} from 'node:fs/promises';
import {join} from 'node:path';
import test from 'ava';
import type {MappedFile, Process, StatusDocument} from '../src/model/document.js';
import {parseScan} from '../src/model/scan-parts.js';
import {keptScanner} from './helpers/kept-scanner.js';
import {livetree} from './helpers/cli.js';
import {buildDemoDeb, containerPids, PodmanStore} from './helpers/podman.js';
import {validateDocument} from './helpers/status-document.js';

const tag = randomBytes(4).toString('hex');
const base = `localhost/lt-base-${tag}:1`;
const image = `localhost/lt-web-${tag}:latest`;
const LIB = '/usr/lib/livetree-demo/libdemo.so.1';
const LIBC = '/usr/lib/x86_64-linux-gnu/libc.so.6';

interface World {
	store: PodmanStore;
	state: string;
	debs: Record<string, string>;
	firstImage: string;
	web: {name: string; pid: number};
	app: {name: string; pid: number};
}

let world: World | undefined;

test.before(async () => {
	const store = await PodmanStore.create();
	world = {store} as World;
	const debs: Record<string, string> = {};
	for (const v of ['1.0', '2.0', '3.0']) {
		debs[v] = await buildDemoDeb(store.dir, v);
	}

	await store.importBase(base);
	const firstImage = await store.buildWithDeb(image, base, debs['1.0']!);
	const web = {name: `lt-web-${tag}`, pid: 0};
	const app = {name: `lt-app-${tag}`, pid: 0};
	web.pid = await store.runDemo(web.name, image);
	app.pid = await store.runDemo(app.name, image);
	const state = join(store.dir, 'state');
	await mkdir(state);
	world = {store, state, debs, firstImage, web, app};
});

test.after.always(async () => {
	await world?.store.cleanup();
});

function w(): World {
	if (!world?.web) {
		throw new Error('the podman store was not set up');
	}

	return world;
}

async function explainJson(pid: number): Promise<{code: number; p: Process}> {
	const r = await livetree(['explain', '--json', '--no-systemd', '--state-dir', w().state, String(pid)]);
	if (r.code !== 0 && r.code !== 1) {
		throw new Error(`explain exited ${r.code}: ${r.stderr}`);
	}

	return {code: r.code, p: JSON.parse(r.stdout) as Process};
}

function fileOf(p: Process, path: string): MappedFile {
	const f = p.files.find(x => x.path === path);
	if (!f) {
		throw new Error(`PID ${p.pid} maps no ${path}: ${p.files.map(x => x.path).join(' ')}`);
	}

	return f;
}

// The layer ID of a `…/overlay/ID/diff` directory podman names in GraphDriver.Data.
function layerIdOf(dir: string): string {
	const m = /\/overlay\/([\da-f]{64})\/diff$/.exec(dir);
	if (!m) {
		throw new Error(`not a layer directory: ${dir}`);
	}

	return m[1]!;
}

// What dpkg-query says inside IMAGE (a throwaway container) or inside a running container.
async function dpkgVersion(where: {image?: string; container?: string}, pkg: string): Promise<string> {
	return w().store.dpkgVersion(where, pkg);
}

test.serial('a container process names its container, image, layers and packages as podman and dpkg-query inside the image say', async t => {
	const {store, web, firstImage} = w();
	const c = await store.container(web.name);
	const img = await store.image(image);
	const {code, p} = await explainJson(web.pid);
	t.is(code, 0);
	t.deepEqual(p.root, {kind: 'container', deployment: null});
	t.deepEqual(p.container, {
		engine: 'podman',
		id: c.Id,
		name: c.Name,
		image: {id: c.Image, digest: img.Digest, name: c.ImageName, nameNowResolvesTo: img.Id},
		imageOutdated: false,
		storageRoot: store.root,
		unit: null,
	});
	t.is(c.Image, firstImage);
	t.is(p.state, 'current');
	t.false(p.needsRestart);
	// The layers as podman mounted them: the container's own (upper), then the image's,
	// top-most first; RootFS.Layers lists the image's diff digests base first.
	const lowers = c.GraphDriver.Data.LowerDir.split(':').map(layerIdOf);
	const diffs = img.RootFS.Layers;
	t.is(lowers.length, 3);
	t.is(diffs.length, 3);
	const lib = fileOf(p, LIB);
	t.is(lib.origin.kind, 'layer');
	t.deepEqual(lib.origin.layer, {id: lowers[0], diffDigest: diffs[2], inCurrentImage: true});
	t.is(lib.origin.treePath, LIB);
	t.like(lib.origin.package, {name: 'livetree-demo', manager: 'dpkg', version: await dpkgVersion({image: firstImage}, 'livetree-demo')});
	t.is(lib.origin.package?.version, '1.0-1');
	const libc = fileOf(p, LIBC);
	t.deepEqual(libc.origin.layer, {id: lowers[2], diffDigest: diffs[0], inCurrentImage: true});
	t.like(libc.origin.package, {name: 'libc6', version: await dpkgVersion({image: firstImage}, 'libc6')});
	t.true(
		p.files.every(f => f.staleReason === null && f.origin.kind === 'layer'),
		JSON.stringify(p.files),
	);
});

test.serial('a kept scanner reads the store records and image package databases again only when their files change', async t => {
	const {store, web, state, firstImage} = w();
	const scanner = keptScanner(t, {sysroot: state, procRoot: '/proc', sysRoot: '/sys', runDir: '/run', hostRoot: '/', progress: false, kernel: false});
	const scanWeb = async () => parseScan(await scanner.scan({pids: [web.pid]})).processes.find(p => p.pid === web.pid)!;
	const first = await scanWeb();
	t.is(fileOf(first, LIB).origin.package?.version, '1.0-1');
	// The three records files; two image databases (as of the RUN layer, and of the base
	// layer under libc).
	t.like(scanner.stats(), {containerStoreReads: 3, containerTableReads: 2});
	const again = await scanWeb();
	t.deepEqual(again.container, first.container);
	t.like(scanner.stats(), {containerStoreReads: 3, containerTableReads: 2});
	// Another container: podman rewrites the records it changes; only those are read again.
	const stamp = async (f: string) => stat(join(store.root, f)).then(s => `${s.ino}:${s.mtimeMs}:${s.size}`);
	const files = ['overlay-containers/containers.json', 'overlay-images/images.json', 'overlay-layers/layers.json'];
	const before = await Promise.all(files.map(stamp));
	await store.podman(['create', '--network', 'none', '--name', `lt-extra-${tag}`, image, 'true']);
	const changed = (await Promise.all(files.map(stamp))).filter((s, i) => s !== before[i]).length;
	t.true(changed >= 1, 'podman create rewrote a records file');
	const third = await scanWeb();
	t.deepEqual(third.container, first.container);
	t.like(scanner.stats(), {containerStoreReads: 3 + changed, containerTableReads: 2});
	await store.podman(['rm', `lt-extra-${tag}`]);

	// A process of the container that maps one more file of the base layer: the base
	// layer's table, kept for the paths the first scans asked of it, is read once more for
	// all of them together; then it serves either set without a read.
	const ZLIB = '/usr/lib/x86_64-linux-gnu/libz.so.1';
	const c = await store.container(web.name);
	await store.podman(['exec', '-d', web.name, 'env', `LD_PRELOAD=${ZLIB}`, 'sleep', 'infinity']);
	let zpid: number | undefined;
	for (let i = 0; i < 50 && zpid === undefined; i++) {
		for (const pid of await containerPids(c.Id)) {
			if ((await readFile(`/proc/${pid}/maps`, 'utf8').catch(() => '')).includes(ZLIB)) {
				zpid = pid;
			}
		}

		await new Promise(r => setTimeout(r, 100));
	}

	t.truthy(zpid, 'the exec-ed process maps zlib');
	try {
		const both = async () => parseScan(await scanner.scan({pids: [web.pid, zpid!]})).processes;
		const scanned = await both();
		const z = scanned.find(p => p.pid === zpid)!;
		// The link's target is what is mapped (libz.so.1.2.x).
		const zlib = z.files.find(f => f.path.startsWith(`${ZLIB}.`));
		t.is(zlib?.origin.package?.name, 'zlib1g');
		t.is(zlib?.origin.package?.version, await dpkgVersion({image: firstImage}, 'zlib1g'));
		t.is(fileOf(z, LIBC).origin.package?.version, fileOf(first, LIBC).origin.package?.version);
		t.deepEqual(scanned.find(p => p.pid === web.pid)!.files, first.files);
		t.like(scanner.stats(), {containerTableReads: 3});
		await both();
		await scanWeb();
		t.like(scanner.stats(), {containerTableReads: 3});
	} finally {
		process.kill(zpid!, 'SIGKILL');
	}
});

test.serial('a fresh scanner takes the image package tables from the catalog an earlier scan recorded them in, and reads a changed database again', async t => {
	const {store, web, state} = w();
	const catalogPath = join(state, 'layer-tables.sqlite');
	// Each released by the test's teardown, before the store's directories are removed.
	const fresh = () =>
		keptScanner(t, {sysroot: state, procRoot: '/proc', sysRoot: '/sys', runDir: '/run', hostRoot: '/', progress: false, kernel: false, catalogPath});
	const scanWeb = async (s: ReturnType<typeof fresh>) => parseScan(await s.scan({pids: [web.pid]})).processes.find(p => p.pid === web.pid)!;
	const first = fresh();
	const read = await scanWeb(first);
	// The two stacks a mapped file comes from: as of the RUN layer, and of the base layer.
	t.like(first.stats(), {containerTableReads: 2});
	t.is(fileOf(read, LIB).origin.package?.version, '1.0-1');
	// Another scanner (another `livetree status`): the same answers, no database read.
	const second = fresh();
	const recorded = await scanWeb(second);
	t.like(second.stats(), {containerTableReads: 0});
	t.deepEqual(recorded.files, read.files);
	// The base layer's dpkg status file changes (its stamp: a new mtime and ctime): both
	// stacks hold that layer, so both are read again, and answer as before.
	const c = await store.container(web.name);
	const baseDir = c.GraphDriver.Data.LowerDir.split(':').at(-1)!;
	layerIdOf(baseDir);
	const status = join(baseDir, 'var/lib/dpkg/status');
	const was = await stat(status);
	await utimes(status, was.atime, new Date(was.mtimeMs + 1000));
	const third = fresh();
	t.deepEqual((await scanWeb(third)).files, read.files);
	t.like(third.stats(), {containerTableReads: 2});
	const fourth = fresh();
	t.deepEqual((await scanWeb(fourth)).files, read.files);
	t.like(fourth.stats(), {containerTableReads: 0});
});

test.serial('an upgrade inside the container makes its process stale, naming the package version of the layer it still maps', async t => {
	const {store, app, firstImage} = w();
	await store.podman(['cp', w().debs['3.0']!, `${app.name}:/tmp/demo.deb`]);
	await store.podman(['exec', app.name, 'dpkg', '-i', '/tmp/demo.deb']);
	t.is(await dpkgVersion({container: app.name}, 'livetree-demo'), '3.0-1');
	const c = await store.container(app.name);
	const lowers = c.GraphDriver.Data.LowerDir.split(':').map(layerIdOf);
	const {code, p} = await explainJson(app.pid);
	t.is(code, 1);
	t.is(p.state, 'stale');
	const lib = fileOf(p, LIB);
	// dpkg renamed the new file over it: the old one has no link left, and the path names
	// the container's new copy (the core's rule: replaced, not merely removed).
	t.true(lib.deleted);
	t.true(lib.superseded);
	t.is(lib.staleReason, 'superseded');
	// Still the image layer's file, and its package as that layer installed it.
	t.is(lib.origin.layer?.id, lowers[0]);
	t.is(lib.origin.package?.version, await dpkgVersion({image: firstImage}, 'livetree-demo'));
	t.is(fileOf(p, LIBC).staleReason, null);

	// A process started after the upgrade maps the container's own copy: its own layer,
	// and the package version the container's database says.
	await store.podman(['exec', '-d', app.name, 'env', `LD_PRELOAD=${LIB}`, 'sleep', 'infinity']);
	const upper = layerIdOf(c.GraphDriver.Data.UpperDir);
	let fresh: number | undefined;
	for (let i = 0; i < 50 && fresh === undefined; i++) {
		for (const pid of await containerPids(c.Id)) {
			const maps = await readFile(`/proc/${pid}/maps`, 'utf8').catch(() => '');
			if (pid !== app.pid && maps.includes(LIB) && !maps.includes('(deleted)')) {
				fresh = pid;
			}
		}

		await new Promise(r => setTimeout(r, 100));
	}

	t.truthy(fresh, 'the exec-ed process runs');
	const after = await explainJson(fresh!);
	t.is(after.code, 0);
	t.is(after.p.state, 'current');
	const own = fileOf(after.p, LIB);
	t.deepEqual(own.origin.layer, {id: upper, diffDigest: null, inCurrentImage: null});
	t.is(own.origin.package?.version, await dpkgVersion({container: app.name}, 'livetree-demo'));
	t.is(own.origin.package?.version, '3.0-1');
});

test.serial('a rebuild that moves the tag makes the old image layer stale (image-outdated), not the base layer both images share', async t => {
	const {store, web, state, firstImage} = w();
	const secondImage = await store.buildWithDeb(image, base, w().debs['2.0']!);
	t.not(secondImage, firstImage);
	t.is((await store.image(image)).Id, secondImage);
	const {code, p} = await explainJson(web.pid);
	t.is(code, 1);
	t.is(p.state, 'stale');
	t.is(p.container?.imageOutdated, true);
	t.is(p.container?.image?.id, firstImage);
	t.is(p.container?.image?.nameNowResolvesTo, secondImage);
	const lib = fileOf(p, LIB);
	t.is(lib.staleReason, 'image-outdated');
	t.is(lib.origin.layer?.inCurrentImage, false);
	t.is(lib.origin.package?.version, '1.0-1');
	const libc = fileOf(p, LIBC);
	t.is(libc.staleReason, null);
	t.is(libc.origin.layer?.inCurrentImage, true);

	// A container of the new image runs what its name names: current.
	const fresh = {name: `lt-new-${tag}`, pid: await store.runDemo(`lt-new-${tag}`, image)};
	const now = await explainJson(fresh.pid);
	t.is(now.code, 0);
	t.is(now.p.container?.imageOutdated, false);
	t.is(now.p.container?.image?.id, secondImage);
	t.is(fileOf(now.p, LIB).origin.package?.version, await dpkgVersion({image: secondImage}, 'livetree-demo'));

	// The whole report: a valid document whose container counts are its processes'.
	const json = await livetree(['status', '--json', '--no-systemd', '--state-dir', state]);
	const doc = JSON.parse(json.stdout) as StatusDocument;
	t.deepEqual(validateDocument(doc), []);
	const ours = doc.processes.filter(q => q.container?.name?.endsWith(tag));
	// Sorted: the processes come in PID order, and PIDs wrap (pid_max 32768 here), so the
	// container started last may have the lowest.
	t.deepEqual([...new Set(ours.map(q => q.container!.name))].sort(), [web.name, w().app.name, fresh.name].sort());
	const ids = new Set(doc.processes.flatMap(q => (q.container ? [q.container.id] : [])));
	const outdated = new Set(doc.processes.flatMap(q => (q.container?.imageOutdated ? [q.container.id] : [])));
	t.is(doc.summary.containers, ids.size);
	t.is(doc.summary.containersOutdated, outdated.size);
	t.true(outdated.has(p.container!.id));

	// The text report groups them by container and says what the tag points to now.
	// --verbose: every container listed, however many other checkouts' tests run beside.
	const text = (await livetree(['status', '--no-systemd', '--verbose', '--state-dir', state])).stdout;
	t.regex(
		text,
		new RegExp(
			`1 × sleep in container ${web.name} \\(image ${image.replaceAll('.', '\\.')}, tag now points to ${secondImage.slice(0, 10)}…\\): ${LIB} from image layer ${lib.origin.layer!.id.slice(0, 10)}… \\(livetree-demo 1\\.0-1\\), a layer the image its name points to now does not have`,
		),
	);
	t.true(text.includes(`Restart: create it again from ${image} (podman restart ${web.name} would keep its old image); it runs in no unit`), text);
	t.true(text.includes(`1 × sleep in container ${fresh.name} (image ${image}): nothing it maps is stale`), text);

	// explain walks process → container → image → layer → package.
	const explained = (await livetree(['explain', '--no-systemd', '--state-dir', state, String(web.pid)])).stdout;
	const lines = explained.split('\n');
	t.is(lines[0], `PID ${web.pid} (sleep) runs in container ${web.name} (podman ${p.container!.id.slice(0, 12)}).`);
	t.is(
		lines[1],
		`Its image: ${image} (image ${firstImage.slice(0, 10)}…, manifest sha256:${p.container!.image!.digest!.slice(7, 17)}…); the name now points to image ${secondImage.slice(0, 10)}… (the tag moved on).`,
	);
	t.true(
		explained.includes(
			`from image layer ${lib.origin.layer!.id.slice(0, 10)}… (diff sha256:${lib.origin.layer!.diffDigest!.slice(7, 17)}…), a layer the image its name points to now does not have; package livetree-demo 1.0-1 (amd64)`,
		),
		explained,
	);
});
