// `livetree packages` with real podman containers (issue 21): each container's processes
// are a running version of their own, compared with the package database of the image the
// container's image name resolves to now — what `dpkg-query` says inside that image. One
// private store: an image built with livetree-demo 1.0-1, a container `old` of it, the
// image rebuilt under the same tag with 2.0-1, a container `new` of the rebuilt image.
import {randomBytes} from 'node:crypto';
import {readFileSync} from 'node:fs';
import {mkdir} from 'node:fs/promises';
import {join} from 'node:path';
import test from 'ava';
import Ajv2020 from 'ajv/dist/2020.js';
import type {PackagesDocument} from '../src/model/packages.js';
import {livetree, projectRoot} from './helpers/cli.js';
import {buildDemoDeb, PodmanStore} from './helpers/podman.js';

const ajv = new Ajv2020.default({allErrors: true, strict: false});
const validatePackages = ajv.compile(JSON.parse(readFileSync(join(projectRoot, 'schema/packages.schema.json'), 'utf8')) as object);
const tag = randomBytes(4).toString('hex');
const base = `localhost/lt-pbase-${tag}:1`;
const image = `localhost/lt-pkg-${tag}:latest`;

test('each container is compared with the image its name resolves to now', async t => {
	const store = await PodmanStore.create();
	t.teardown(async () => store.cleanup());
	const v1 = await buildDemoDeb(store.dir, '1.0');
	const v2 = await buildDemoDeb(store.dir, '2.0');
	await store.importBase(base);
	const firstImage = await store.buildWithDeb(image, base, v1);
	const oldName = `lt-pkg-old-${tag}`;
	const newName = `lt-pkg-new-${tag}`;
	const oldPid = await store.runDemo(oldName, image);
	const secondImage = await store.buildWithDeb(image, base, v2);
	t.not(secondImage, firstImage);
	const newPid = await store.runDemo(newName, image);
	const oldId = (await store.container(oldName)).Id;
	const newId = (await store.container(newName)).Id;
	// What the rebuilt image's own database says (a throwaway container of it).
	const inImage = await store.dpkgVersion({image}, 'livetree-demo');
	t.is(inImage, '2.0-1');

	const state = join(store.dir, 'state');
	await mkdir(state);
	const r = await livetree(['packages', '--json', '--no-systemd', '--state-dir', state, 'livetree-demo']);
	// The old container runs 1.0-1 where its image name now gives 2.0-1: a mismatch.
	t.is(r.code, 1, r.stderr);
	const doc = JSON.parse(r.stdout) as PackagesDocument;
	t.true(validatePackages(doc), JSON.stringify(validatePackages.errors));
	const demo = doc.packages.find(p => p.name === 'livetree-demo' && p.manager === 'dpkg')!;
	// Other tests' containers may run livetree-demo too: only this test's are looked at.
	const old = demo.running.filter(v => v.container?.id === oldId);
	const now = demo.running.filter(v => v.container?.id === newId);
	t.is(old.length, 1);
	t.is(now.length, 1);
	t.like(old[0], {
		version: '1.0-1',
		tree: `container:${oldId}`,
		mismatch: true,
		installedVersions: [inImage],
		processes: [{pid: oldPid, comm: 'sleep', unit: null}],
		container: {engine: 'podman', id: oldId, name: oldName, imageName: image, image: firstImage, comparedImage: secondImage, uncompared: null},
	});
	t.like(now[0], {
		version: '2.0-1',
		tree: `container:${newId}`,
		mismatch: false,
		installedVersions: [inImage],
		processes: [{pid: newPid, comm: 'sleep', unit: null}],
		container: {engine: 'podman', id: newId, name: newName, imageName: image, image: secondImage, comparedImage: secondImage, uncompared: null},
	});
	t.true(demo.mismatch);
	const ours = demo.installed.filter(i => i.tree === `container:${oldId}` || i.tree === `container:${newId}`);
	t.deepEqual(ours.map(i => `${i.tree} ${i.version} ${i.arch}`).sort(), [`container:${oldId} 2.0-1 amd64`, `container:${newId} 2.0-1 amd64`].sort());

	const text = await livetree(['packages', '--no-systemd', '--state-dir', state, 'livetree-demo']);
	t.is(text.code, 1, text.stderr);
	t.true(
		text.stdout.includes(
			`livetree-demo 1.0-1 in memory in 1 process in container ${oldName}; 2.0-1 in image ${secondImage.slice(0, 12)}, what ${image} resolves to now`,
		),
		text.stdout,
	);
	t.true(
		text.stdout.includes(
			`livetree-demo 2.0-1 in memory in 1 process in container ${newName}; 2.0-1 in image ${secondImage.slice(0, 12)}, what ${image} resolves to now`,
		),
		text.stdout,
	);

	// The image removed from under the name (untagged): nothing to compare with, said.
	await store.podman(['untag', image]);
	const gone = await livetree(['packages', '--json', '--no-systemd', '--state-dir', state, 'livetree-demo']);
	const after = (JSON.parse(gone.stdout) as PackagesDocument).packages.find(p => p.name === 'livetree-demo' && p.manager === 'dpkg')!;
	const oldAfter = after.running.find(v => v.container?.id === oldId)!;
	t.like(oldAfter, {
		tree: null,
		mismatch: false,
		installedVersions: [],
		container: {comparedImage: null, uncompared: `its image name ${image} resolves to no image now`},
	});
});
