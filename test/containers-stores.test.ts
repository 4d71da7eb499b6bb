// An additional image store (bootc hosts keep their bound images in /usr/lib/bootc/storage):
// the image and its layers live in one store, the container in another that reads the
// first as `additionalimagestore`. The container's mount names the image store's layers,
// so livetree finds the image there, and a tag moved in the image store makes the
// container's image outdated. Expected values come from podman.
import {randomBytes} from 'node:crypto';
import test from 'ava';
import {explainJson} from './helpers/cli.js';
import {buildDemoDeb, PodmanStore} from './helpers/podman.js';

const LIB = '/usr/lib/livetree-demo/libdemo.so.1';

test('a container whose image lies in an additional image store: image, layers and a moved tag from that store', async t => {
	const images = await PodmanStore.create();
	t.teardown(async () => images.cleanup());
	const tag = randomBytes(4).toString('hex');
	const base = `localhost/lt-sbase-${tag}:1`;
	const image = `localhost/lt-store-${tag}:latest`;
	await images.importBase(base);
	const first = await images.buildWithDeb(image, base, await buildDemoDeb(images.dir, '1.0'));
	const store = await PodmanStore.create({imageStore: images.root});
	// Removed before the image store: its containers use the image store's layers.
	t.teardown(async () => store.cleanup());
	const state = await store.stateDir();
	const name = `lt-store-${tag}`;
	const pid = await store.runDemo(name, image);
	const explain = async () => explainJson(state, pid);

	const c = await store.container(name);
	const img = await images.image(image);
	const {code, p} = await explain();
	t.is(code, 0);
	t.deepEqual(p.container, store.currentRecord(c, first, img.Digest));
	// The image's layers are the image store's directories.
	t.true(
		c.GraphDriver.Data.LowerDir.split(':').every(d => d.startsWith(`${images.root}/overlay/`)),
		c.GraphDriver.Data.LowerDir,
	);
	const lib = p.files.find(f => f.path === LIB)!;
	t.deepEqual(lib.origin.layer, {
		id: /\/overlay\/([\da-f]{64})\/diff/.exec(c.GraphDriver.Data.LowerDir)![1],
		diffDigest: img.RootFS.Layers[2],
		inCurrentImage: true,
	});
	t.is(lib.origin.package?.version, '1.0-1');

	// The tag moves in the image store.
	const second = await images.buildWithDeb(image, base, await buildDemoDeb(images.dir, '2.0'));
	const after = await explain();
	t.is(after.code, 1);
	t.is(after.p.container?.imageOutdated, true);
	t.is(after.p.container?.image?.nameNowResolvesTo, second);
	t.is(after.p.files.find(f => f.path === LIB)?.staleReason, 'image-outdated');
});
