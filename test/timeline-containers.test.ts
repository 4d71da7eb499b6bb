// A container whose tag moved, in the timeline and in diff, with real podman: a container runs
// an image with livetree-demo 1.0-1; a rebuild moves the image name to one with 2.0-1; the
// container is created again from the name (what restarting its Quadlet unit does). `livetree
// status --json` (as root, recording) scans before and after; `timeline --container`,
// `timeline --at` and `diff` (two documents, and a document against the timeline) must say
// which image and package version ran when. Assertions are about this test's container only:
// the scans also see every other process on the machine.
import {randomBytes} from 'node:crypto';
import {mkdir, writeFile} from 'node:fs/promises';
import {join} from 'node:path';
import {setTimeout as sleep} from 'node:timers/promises';
import test from 'ava';
import type {DiffDocument} from '../src/model/diff.js';
import type {StatusDocument} from '../src/model/document.js';
import type {TimelineDocument} from '../src/timeline/answer.js';
import {livetree} from './helpers/cli.js';
import {buildDemoDeb, PodmanStore} from './helpers/podman.js';
import {schemaErrors} from './helpers/schema.js';
import {assertedTimeline, validateDiff} from './helpers/timeline.js';

test('a container created again after its tag moved: timeline --container, --at and diff say which image and version ran when', async t => {
	const store = await PodmanStore.create();
	t.teardown(async () => store.cleanup());
	const tag = randomBytes(4).toString('hex');
	const base = `localhost/lt-tlc-base-${tag}:1`;
	const image = `localhost/lt-tlc-web-${tag}:latest`;
	const name = `lt-tlc-web-${tag}`;
	const state = join(store.dir, 'state');
	await mkdir(state);

	await store.importBase(base);
	const firstImage = await store.buildWithDeb(image, base, await buildDemoDeb(store.dir, '1.0'));
	const firstDigest = (await store.image(firstImage)).Digest;
	const oldPid = await store.runDemo(name, image);

	const scan = async (label: string): Promise<{doc: StatusDocument; file: string; at: number}> => {
		const r = await livetree(['status', '--json', '--no-systemd', '--state-dir', state]);
		if (r.code === 2) throw new Error(r.stderr);
		const doc = JSON.parse(r.stdout) as StatusDocument;
		t.deepEqual(schemaErrors(doc), []);
		const file = join(store.dir, `${label}.json`);
		await writeFile(file, r.stdout);
		return {doc, file, at: Math.floor(Date.parse(doc.generatedAt) / 1000)};
	};

	const before = await scan('before');
	const mine = (doc: StatusDocument) => doc.processes.filter(p => p.container?.name === name);
	t.deepEqual(
		mine(before.doc).map(p => [p.pid, p.container?.image?.id, p.container?.imageOutdated]),
		[[oldPid, firstImage, false]],
	);

	// The tag moves on; the running container keeps the old image until it is created again.
	const secondImage = await store.buildWithDeb(image, base, await buildDemoDeb(store.dir, '2.0'));
	const secondDigest = (await store.image(secondImage)).Digest;
	t.not(secondDigest, firstDigest);
	await store.podman(['rm', '--force', '--time', '0', name]);
	const newPid = await store.runDemo(name, image);
	// The next scan in a later second than the first (scan times are whole seconds).
	while (Math.floor(Date.now() / 1000) <= before.at) await sleep(50);
	const after = await scan('after');
	t.deepEqual(
		mine(after.doc).map(p => [p.pid, p.container?.image?.id, p.container?.imageOutdated]),
		[[newPid, secondImage, false]],
	);

	const timeline = async (args: string[]): Promise<TimelineDocument> => assertedTimeline(t, state, args);

	const iso = (at: number) => new Date(at * 1000).toISOString().replace(/\.\d+Z$/, '.000Z');
	// The container's history: the old process with the old image and 1.0-1 until the scan
	// that no longer saw it; the new one with the new image and 2.0-1, still running.
	const history = await timeline(['--container', name]);
	const rows = (doc: TimelineDocument, kind: string) =>
		doc.intervals
			.filter(i => i.origin.kind === kind && (kind !== 'package' || i.origin.key.startsWith('livetree-demo=')))
			.map(i => [i.pid, i.container, i.origin.key, i.origin.label, i.firstSeen, i.endedAt])
			// First seen first (the answer's own order is not the question here).
			.sort((x, y) => String(x[4]).localeCompare(String(y[4])));
	t.deepEqual(rows(history, 'image'), [
		[oldPid, name, firstDigest, image, iso(before.at), iso(after.at)],
		[newPid, name, secondDigest, image, iso(after.at), null],
	]);
	t.deepEqual(rows(history, 'package'), [
		[oldPid, name, 'livetree-demo=1.0-1', 'dpkg', iso(before.at), iso(after.at)],
		[newPid, name, 'livetree-demo=2.0-1', 'dpkg', iso(after.at), null],
	]);
	t.true(history.intervals.every(i => i.container === name));
	// Its layers are intervals too: the base layer both images share in both processes.
	const layers = history.intervals.filter(i => i.origin.kind === 'layer');
	t.deepEqual([...new Set(layers.map(i => i.pid))].sort(), [oldPid, newPid].sort());

	// What ran at the first scan: the old process and image only.
	const atBefore = await timeline(['--at', `@${before.at}`, '--container', name]);
	t.deepEqual([...new Set(atBefore.intervals.map(i => i.pid))], [oldPid]);
	t.deepEqual(
		rows(atBefore, 'image').map(r => r[2]),
		[firstDigest],
	);
	// Another container name: nothing of ours.
	const other = await timeline(['--container', `${name}-none`]);
	t.deepEqual(other.intervals, []);

	// Text: the container's history at a glance.
	const text = await livetree(['timeline', '--state-dir', state, '--container', name, '--color', 'never']);
	t.is(text.code, 0, text.stderr);
	t.regex(text.stdout, new RegExp(name));
	t.regex(text.stdout, /livetree-demo 1\.0-1/);

	// diff of the two documents: the container's group runs another image and version; exit 1.
	const d = await livetree(['diff', before.file, after.file, '--json']);
	t.is(d.code, 1, d.stderr);
	const changes = JSON.parse(d.stdout) as DiffDocument;
	t.true(validateDiff(changes), JSON.stringify(validateDiff.errors));
	const group = changes.groups.changed.find(g => g.name === name);
	t.is(group?.kind, 'container');
	// Images as diff spells them (`image NAME DIGEST`), and the image layers only one runs: the
	// layer each build added (with libdemo); the base layer both share is no difference.
	const layersOf = (doc: StatusDocument) =>
		new Set(mine(doc).flatMap(p => p.files.flatMap(f => (f.origin.layer ? [`layer ${f.origin.layer.diffDigest ?? f.origin.layer.id}`] : []))));
	const [layersA, layersB] = [layersOf(before.doc), layersOf(after.doc)];
	const onlyA = [`image ${image} ${firstDigest}`, ...[...layersA].filter(l => !layersB.has(l))].sort();
	const onlyB = [`image ${image} ${secondDigest}`, ...[...layersB].filter(l => !layersA.has(l))].sort();
	t.deepEqual(onlyA.length, 2, JSON.stringify(onlyA));
	t.deepEqual({onlyA: [...(group?.images?.onlyA ?? [])].sort(), onlyB: [...(group?.images?.onlyB ?? [])].sort()}, {onlyA, onlyB});
	t.deepEqual(group?.packages, {onlyA: ['livetree-demo=1.0-1'], onlyB: ['livetree-demo=2.0-1']});
	const dText = await livetree(['diff', before.file, after.file, '--color', 'never']);
	t.is(dText.code, 1);
	t.regex(dText.stdout, /livetree-demo 1\.0-1 → livetree-demo 2\.0-1/);

	// The document after, against what the timeline saw at the first scan: the same change.
	const fromTimeline = await livetree(['diff', after.file, `@${before.at}`, '--state-dir', state, '--json']);
	t.is(fromTimeline.code, 1, fromTimeline.stderr);
	const back = JSON.parse(fromTimeline.stdout) as DiffDocument;
	t.true(validateDiff(back), JSON.stringify(validateDiff.errors));
	const backGroup = back.groups.changed.find(g => g.name === name);
	t.deepEqual({onlyA: [...(backGroup?.images?.onlyA ?? [])].sort(), onlyB: [...(backGroup?.images?.onlyB ?? [])].sort()}, {onlyA: onlyB, onlyB: onlyA});
	t.deepEqual(backGroup?.packages, {onlyA: ['livetree-demo=2.0-1'], onlyB: ['livetree-demo=1.0-1']});
});
