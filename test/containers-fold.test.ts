// Folded containers in the text report, with real podman: three containers of one image
// whose tag then moved (each runs one sleep on the old image's libdemo layer) say the same
// thing but for their names and PIDs, and are one entry; a fourth, of another image, stays
// its own. --verbose lists each folded container with its PIDs. The JSON document keeps
// every container apart (folding is the text report's alone).
import {randomBytes} from 'node:crypto';
import {mkdir} from 'node:fs/promises';
import {join} from 'node:path';
import test from 'ava';
import type {StatusDocument} from '../src/model/document.js';
import {livetree} from './helpers/cli.js';
import {buildDemoDeb, PodmanStore} from './helpers/podman.js';
import {validateDocument} from './helpers/status-document.js';

const tag = randomBytes(4).toString('hex');
const LIB = '/usr/lib/livetree-demo/libdemo.so.1';

test('three containers of one image whose tag moved are one entry; one of another image stays apart', async t => {
	const store = await PodmanStore.create();
	t.teardown(async () => store.cleanup());
	const base = `localhost/lt-fold-base-${tag}:1`;
	const image = `localhost/lt-fold-${tag}:latest`;
	const other = `localhost/lt-fold-other-${tag}:latest`;
	const deb1 = await buildDemoDeb(store.dir, '1.0');
	const deb2 = await buildDemoDeb(store.dir, '2.0');
	await store.importBase(base);
	const firstImage = await store.buildWithDeb(image, base, deb1);
	await store.buildWithDeb(other, base, deb1);
	const names = [1, 2, 3].map(i => `lt-fold-${i}-${tag}`);
	const pids: Record<string, number> = {};
	for (const name of names) {
		pids[name] = await store.runDemo(name, image);
	}

	const apart = `lt-fold-apart-${tag}`;
	const apartPid = await store.runDemo(apart, other);
	// The tag moves on: the three run a layer the image their name points to now lacks.
	const secondImage = await store.buildWithDeb(image, base, deb2);
	t.not(secondImage, firstImage);
	const state = join(store.dir, 'state');
	await mkdir(state);
	const args = ['status', '--no-systemd', '--color', 'never', '--state-dir', state];

	const json = await livetree([...args, '--json']);
	const doc = JSON.parse(json.stdout) as StatusDocument;
	t.deepEqual(validateDocument(doc), []);
	const ours = doc.processes.filter(p => p.container?.name?.endsWith(tag));
	// Every container is its own in the document, in PID order (PIDs wrap: sort as it does).
	const inOrder = names.sort((a, b) => ours.findIndex(p => p.pid === pids[a]) - ours.findIndex(p => p.pid === pids[b]));
	t.deepEqual(ours.map(p => [p.container!.name, p.pid, p.needsRestart]).sort(), [...names.map(n => [n, pids[n], true]), [apart, apartPid, false]].sort());
	const lib = ours.find(p => p.pid === pids[names[0]!])!.files.find(f => f.path === LIB)!;
	t.is(lib.staleReason, 'image-outdated');
	const layer = lib.origin.layer!.id.slice(0, 10);

	const text = (await livetree(args)).stdout;
	const lines = text.split('\n');
	const head = `  1 × sleep in each of 3 containers (image ${image}, tag now points to ${secondImage.slice(0, 10)}…): ${LIB} from image layer ${layer}… (livetree-demo 1.0-1), a layer the image its name points to now does not have`;
	const at = lines.indexOf(head);
	t.not(at, -1, text);
	t.deepEqual(lines.slice(at, at + 4), [
		head,
		`    PIDs ${inOrder.map(n => pids[n]).join(' ')}`,
		`    Containers ${inOrder.join(' ')}`,
		`    Restart: create each again from ${image} (podman restart would keep its old image); they run in no unit`,
	]);
	// None of the three has an entry of its own.
	t.false(
		names.some(n => text.includes(`in container ${n} `)),
		text,
	);

	// --verbose: each container of the entry on its own line, with its PIDs; no names line.
	// (Every entry is listed, however many other checkouts' tests run containers beside.)
	const verbose = (await livetree([...args, '--verbose'])).stdout.split('\n');
	const apartAt = verbose.indexOf(`  1 × sleep in container ${apart} (image ${other}): nothing it maps is stale`);
	t.not(apartAt, -1, verbose.join('\n'));
	t.is(verbose[apartAt + 1], `    PID ${apartPid}`);
	const vat = verbose.indexOf(head);
	t.not(vat, -1, verbose.join('\n'));
	t.deepEqual(verbose.slice(vat, vat + 5), [
		head,
		...inOrder.map(n => `    ${n}: PID ${pids[n]}`),
		`    Restart: create each again from ${image} (podman restart would keep its old image); they run in no unit`,
	]);
});
