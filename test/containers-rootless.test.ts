// A rootless podman container (user `nobody`, a store in its home, one mapped ID): no
// cgroup names it on this host (rootless podman on cgroup v1 makes none), so the container
// is known by its root mount's upper layer, which names the user's store. livetree run as
// root and as that user itself says the same. Expected values come from podman.
import {randomBytes} from 'node:crypto';
import {chown, mkdir, readFile} from 'node:fs/promises';
import {join} from 'node:path';
import test from 'ava';
import type {Process} from '../src/model/document.js';
import {livetree, livetreeAs} from './helpers/cli.js';
import {PodmanStore} from './helpers/podman.js';

const LIBC = '/usr/lib/x86_64-linux-gnu/libc.so.6';

test('a rootless container of user nobody: container, image, layer and package, for root and for nobody alike', async t => {
	const store = await PodmanStore.create({rootless: 'nobody'});
	t.teardown(async () => store.cleanup());
	const tag = randomBytes(4).toString('hex');
	const image = `localhost/lt-rootless-${tag}:1`;
	await store.importBase(image);
	const name = `lt-rootless-${tag}`;
	await store.podman(['run', '-d', '--network', 'none', '--name', name, image, 'sleep', 'infinity']);
	const c = await store.container(name);
	const img = await store.image(image);
	const pid = c.State.Pid;
	t.is((await readFile(`/proc/${pid}/status`, 'utf8')).match(/^Uid:\s+(\d+)/m)?.[1], '65534');
	t.false((await readFile(`/proc/${pid}/cgroup`, 'utf8')).includes('libpod'), 'no cgroup names the container');
	const state = join(store.dir, 'state');
	await mkdir(state);
	await chown(state, 65534, 65534);

	const expected = {
		engine: 'podman',
		id: c.Id,
		name: c.Name,
		image: {id: img.Id, digest: img.Digest, name: c.ImageName, nameNowResolvesTo: img.Id},
		imageOutdated: false,
		storageRoot: store.root,
		unit: null,
	};
	const libcVersion = await store.dpkgVersion({container: name}, 'libc6');
	for (const [who, r] of [
		['root', await livetree(['explain', '--json', '--no-systemd', '--state-dir', state, String(pid)])],
		['nobody', await livetreeAs('nobody', ['explain', '--json', '--no-systemd', '--state-dir', state, String(pid)])],
	] as const) {
		t.is(r.code, 0, `${who}: ${r.stderr}`);
		const p = JSON.parse(r.stdout) as Process;
		t.deepEqual(p.container, expected, who);
		const libc = p.files.find(f => f.path === LIBC)!;
		t.deepEqual(
			libc.origin.layer,
			{id: /\/overlay\/([\da-f]{64})\/diff/.exec(c.GraphDriver.Data.LowerDir)![1], diffDigest: img.RootFS.Layers[0], inCurrentImage: true},
			who,
		);
		t.is(libc.origin.package?.version, libcVersion, who);
		t.is(p.state, 'current', who);
	}
});
