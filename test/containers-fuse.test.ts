// A podman store mounted by fuse-overlayfs (what rootless podman used before unprivileged
// native overlay): the container's root mount lists no layers at all, so its store is the
// one its conmon names (`-b GRAPHROOT/overlay-containers/ID/userdata`) and its layers are
// the records' parent chain. fuse-overlayfs passes the layer files' inode numbers through,
// so each file's layer is still found by path and inode. Expected values come from podman
// and dpkg-query in the image.
import {randomBytes} from 'node:crypto';
import {readFile} from 'node:fs/promises';
import test from 'ava';
import {explainJson} from './helpers/cli.js';
import {buildDemoDeb, PodmanStore} from './helpers/podman.js';

const LIB = '/usr/lib/livetree-demo/libdemo.so.1';

test('a fuse-overlayfs container: store from its conmon, layers from the records, packages and a moved tag as with native overlay', async t => {
	const store = await PodmanStore.create({fuse: true});
	t.teardown(async () => store.cleanup());
	const tag = randomBytes(4).toString('hex');
	const base = `localhost/lt-fbase-${tag}:1`;
	const image = `localhost/lt-fuse-${tag}:latest`;
	const state = await store.stateDir();
	await store.importBase(base);
	const first = await store.buildWithDeb(image, base, await buildDemoDeb(store.dir, '1.0'));
	const name = `lt-fuse-${tag}`;
	const pid = await store.runDemo(name, image);
	const root = (await readFile(`/proc/${pid}/mountinfo`, 'utf8')).split('\n').find(l => l.split(' ')[4] === '/')!;
	t.regex(root, / - fuse\.fuse-overlayfs /);
	t.notRegex(root, /lowerdir=/);

	const explain = async () => explainJson(state, pid);

	const c = await store.container(name);
	const img = await store.image(image);
	const {code, p} = await explain();
	t.is(code, 0);
	t.deepEqual(p.container, store.currentRecord(c, first, img.Digest));
	const lowers = c.GraphDriver.Data.LowerDir.split(':').map(d => /\/overlay\/([\da-f]{64})\/diff$/.exec(d)![1]);
	const lib = p.files.find(f => f.path === LIB)!;
	t.deepEqual(lib.origin.layer, {id: lowers[0], diffDigest: img.RootFS.Layers[2], inCurrentImage: true});
	const dpkg = await store.dpkgVersion({image: first}, 'livetree-demo');
	t.is(lib.origin.package?.version, dpkg);

	const second = await store.buildWithDeb(image, base, await buildDemoDeb(store.dir, '2.0'));
	const after = await explain();
	t.is(after.code, 1);
	t.is(after.p.container?.imageOutdated, true);
	t.is(after.p.container?.image?.nameNowResolvesTo, second);
	t.is(after.p.files.find(f => f.path === LIB)?.staleReason, 'image-outdated');
	t.true(
		after.p.files.filter(f => f.path !== LIB).every(f => f.staleReason === null && f.origin.layer?.inCurrentImage === true),
		JSON.stringify(after.p.files),
	);
});
