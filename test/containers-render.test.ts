// The container parts of the renderers on a handwritten document (checked against both
// schemas): Prometheus series under the real promtool, the text report's grouping and
// restart advice per engine and unit, explain's own-layer wording. test/containers.test.ts
// covers the same with real podman; this covers what that machine cannot run (a unit, other
// engines, a name that resolves to nothing, hostile names).
import test from 'ava';
import type {Container, MappedFile, Process, StatusDocument} from '../src/model/document.js';
import {renderExplain} from '../src/render/explain.js';
import {renderPrometheus} from '../src/render/prometheus.js';
import {makeStyle} from '../src/render/style.js';
import {renderText} from '../src/render/text.js';
import {parseExposition, promtoolCheck, valueOf} from './helpers/exposition.js';
import {makeDocument, validateDocument} from './helpers/status-document.js';

const hex = (c: string) => c.repeat(64);
const style = makeStyle('never');

function container(name: string | null, over: Partial<Container> = {}): Container {
	return {
		engine: 'podman',
		id: hex(name?.[0] ?? 'f'),
		name,
		image: {id: hex('1'), digest: `sha256:${hex('d')}`, name: 'localhost/web:latest', nameNowResolvesTo: hex('1')},
		imageOutdated: false,
		storageRoot: '/var/lib/containers/storage',
		unit: null,
		...over,
	};
}

function layerFile(path: string, ino: number, layer: MappedFile['origin']['layer'], staleReason: string | null = null): MappedFile {
	return {
		path,
		dev: '0:53',
		ino,
		deleted: staleReason === 'deleted',
		superseded: false,
		origin: {
			kind: 'layer',
			deployment: null,
			commit: null,
			objectChecksum: null,
			treePath: path,
			version: null,
			package: {name: 'livetree-demo', version: '1.0-1', arch: 'amd64', manager: 'dpkg', source: 'livetree-demo', sourceVersion: '1.0-1'},
			layer,
		},
		staleReason,
		pathGone: staleReason === 'deleted',
		identicalIn: null,
	};
}

function proc(pid: number, c: Container, files: MappedFile[], unit: string | null = null): Process {
	const stale = files.some(f => f.staleReason !== null);
	return {
		pid,
		comm: 'nginx',
		exe: '/usr/sbin/nginx',
		root: {kind: 'container', deployment: null},
		unit,
		state: stale ? 'stale' : 'current',
		needsRestart: stale,
		files,
		container: c,
	};
}

/** DOC with its summary's process counts taken from its processes and the counts given. */
function summarized(doc: StatusDocument, counts: Pick<StatusDocument['summary'], 'staleFiles' | 'containers' | 'containersOutdated'>): StatusDocument {
	doc.summary = {
		...doc.summary,
		processes: doc.processes.length,
		processesNeedingRestart: doc.processes.filter(p => p.needsRestart).length,
		...counts,
	};
	return doc;
}

function containerDocument(): StatusDocument {
	const doc = makeDocument({states: [], units: [], warnings: [], deployments: [], overlays: 0});
	const old = {id: hex('b'), diffDigest: `sha256:${hex('c')}`, inCurrentImage: false};
	const base = {id: hex('a'), diffDigest: `sha256:${hex('e')}`, inCurrentImage: true};
	const web = container('web', {
		imageOutdated: true,
		image: {id: hex('1'), digest: `sha256:${hex('d')}`, name: 'localhost/web:latest', nameNowResolvesTo: hex('2')},
	});
	const quadlet = container('db', {
		unit: 'db.service',
		image: {id: hex('3'), digest: null, name: 'localhost/db:1', nameNowResolvesTo: null},
		imageOutdated: true,
	});
	const crio = container(null, {engine: 'cri-o', id: hex('9'), imageOutdated: null, image: {id: hex('4'), digest: null, name: null, nameNowResolvesTo: null}});
	const hostile = container('we"b\\\nx', {id: hex('7'), imageOutdated: false});
	doc.processes.push(
		...[101, 102, 103].map(pid => proc(pid, web, [layerFile('/usr/lib/libdemo.so.1', 7, old, 'image-outdated'), layerFile('/usr/lib/libc.so.6', 8, base)])),
		proc(201, quadlet, [layerFile('/usr/lib/libdemo.so.1', 9, {id: hex('5'), diffDigest: null, inCurrentImage: null}, 'deleted')], 'db.service'),
		proc(301, crio, [layerFile('/usr/lib/libdemo.so.1', 10, base, 'deleted')]),
		proc(401, hostile, [layerFile('/usr/lib/libdemo.so.1', 11, {id: hex('6'), diffDigest: null, inCurrentImage: null})]),
	);
	return summarized(doc, {staleFiles: 3, containers: 4, containersOutdated: 2});
}

test('the handwritten container document is a valid v1 document', t => {
	t.deepEqual(validateDocument(containerDocument()), []);
});

test('per-container series pass promtool and carry the document values; a container whose image state is unknown has no image series', t => {
	const text = renderPrometheus(containerDocument());
	const check = promtoolCheck(text);
	t.is(check.status, 0, `${check.output}\n${text}`);
	t.is(check.output.trim(), '');
	const parsed = parseExposition(text);
	t.is(valueOf(parsed, 'livetree_containers'), 4);
	t.is(valueOf(parsed, 'livetree_containers_image_outdated'), 2);
	t.is(valueOf(parsed, 'livetree_container_image_outdated', {engine: 'podman', container: 'web', image: 'localhost/web:latest'}), 1);
	t.is(valueOf(parsed, 'livetree_container_image_outdated', {engine: 'podman', container: 'db', image: 'localhost/db:1'}), 1);
	t.is(valueOf(parsed, 'livetree_container_image_outdated', {engine: 'podman', container: 'we"b\\\nx', image: 'localhost/web:latest'}), 0);
	t.is(valueOf(parsed, 'livetree_container_processes', {engine: 'podman', container: 'web'}), 3);
	t.is(valueOf(parsed, 'livetree_container_processes_needing_restart', {engine: 'podman', container: 'web'}), 3);
	t.is(valueOf(parsed, 'livetree_container_processes_needing_restart', {engine: 'cri-o', container: hex('9').slice(0, 12)}), 1);
	t.false(parsed.samples.some(s => s.name === 'livetree_container_image_outdated' && s.labels.engine === 'cri-o'));
});

test('the text report groups processes by container and names how each is restarted', t => {
	const text = renderText(containerDocument(), {style, verbose: false});
	t.true(text.includes('Containers: 4, 2 on an image whose name moved on; 6 processes, 5 need a restart'), text);
	t.true(
		text.includes(
			`3 × nginx in container web (image localhost/web:latest, tag now points to ${hex('2').slice(0, 10)}…): /usr/lib/libdemo.so.1 from image layer ${hex('b').slice(0, 10)}… (livetree-demo 1.0-1), a layer the image its name points to now does not have`,
		),
		text,
	);
	t.true(text.includes('Restart: create it again from localhost/web:latest (podman restart web would keep its old image); it runs in no unit'), text);
	t.true(
		text.includes(
			"1 × nginx in container db (image localhost/db:1, a name that resolves to no image now) (db.service): /usr/lib/libdemo.so.1 (deleted) from the container's own layer (livetree-demo 1.0-1)",
		),
		text,
	);
	t.true(text.includes('Restart: restart unit db.service (livetree restart db.service)'), text);
	t.true(text.includes(`Restart: crictl stop ${hex('9').slice(0, 12)} (its pod's kubelet starts it again)`), text);
	t.true(text.includes('1 × nginx in container we"b\\\\x0ax (image localhost/web:latest): nothing it maps is stale'), text);
	t.true(text.includes('         4 containers, 2 on an image whose name moved on.'), text);
	t.false(text.includes('Other processes'), 'container processes are not foreign');
});

test('at 40 columns the containers headline is wrapped, not cut or overflowing', t => {
	const text = renderText(containerDocument(), {style, verbose: false, width: 40});
	const at = text.split('\n').indexOf('Containers: 4, 2 on an image whose name');
	t.not(at, -1, text);
	t.deepEqual(text.split('\n').slice(at, at + 3), ['Containers: 4, 2 on an image whose name', '    moved on; 6 processes, 5 need a', '    restart']);
});

test('explain names a file of the container own layer as written inside it, and the unit that runs the container', t => {
	const doc = containerDocument();
	const db = doc.processes.find(p => p.pid === 201)!;
	const text = renderExplain(doc, db, style, false);
	t.true(text.startsWith(`PID 201 (nginx) runs in container db (podman ${hex('d').slice(0, 12)}).\n`), text);
	t.true(text.includes('Its image: localhost/db:1 (image 3333333333…); the name resolves to no image now.'), text);
	t.true(text.includes(`from the container's own layer ${hex('5').slice(0, 10)}… (written inside the container); package livetree-demo 1.0-1 (amd64)`), text);
	t.true(text.endsWith('Next: livetree restart --dry-run db.service\n'), text);
	const crio = renderExplain(doc, doc.processes.find(p => p.pid === 301)!, style, false);
	t.true(crio.includes('Its image: created from an image ID, no name (image 4444444444…).'), crio);
	t.true(crio.endsWith(`Next: crictl stop ${hex('9').slice(0, 12)} (its pod's kubelet starts it again)\n`), crio);
});

// Containers fold only when their entries would say the same but for name, ID and PIDs.
function foldDocument(): StatusDocument {
	const doc = makeDocument({states: [], units: [], warnings: [], deployments: [], overlays: 0});
	const old = {id: hex('b'), diffDigest: `sha256:${hex('c')}`, inCurrentImage: false};
	const base = {id: hex('a'), diffDigest: `sha256:${hex('e')}`, inCurrentImage: true};
	const moved = {image: {id: hex('1'), digest: `sha256:${hex('d')}`, name: 'localhost/web:latest', nameNowResolvesTo: hex('2')}, imageOutdated: true};
	const files = (ino: number) => [layerFile('/usr/lib/libdemo.so.1', ino, old, 'image-outdated'), layerFile('/usr/lib/libc.so.6', ino + 1, base)];
	let pid = 100;
	// web-0 … web-11: two nginx each, the same stale layer: one entry.
	for (let i = 0; i < 12; i++) {
		const c = container(`web-${i}`, {id: `${i}`.padStart(64, 'c'), ...moved});
		doc.processes.push(proc(pid++, c, files(10)), proc(pid++, c, files(10)));
	}

	// Of the same image, but one nginx maps a deleted file as well: its own entry.
	const odd = container('web-odd', {id: hex('8'), ...moved});
	doc.processes.push(proc(pid++, odd, files(10)), proc(pid++, odd, [...files(10), layerFile('/usr/lib/libextra.so', 30, base, 'deleted')]));
	// Of the same image, in a unit: its own entry (the unit restarts it).
	const inUnit = container('web-unit', {id: hex('9'), unit: 'web.service', ...moved});
	doc.processes.push(proc(pid++, inUnit, files(10), 'web.service'), proc(pid++, inUnit, files(10), 'web.service'));
	// Two CRI-O containers with no name, nothing stale: one entry, no restart advice.
	for (const id of ['5', '6']) {
		const c = container(null, {
			engine: 'cri-o',
			id: hex(id),
			imageOutdated: false,
			image: {id: hex('4'), digest: null, name: 'registry/app:1', nameNowResolvesTo: hex('4')},
		});
		doc.processes.push(proc(pid++, c, [layerFile('/usr/lib/libc.so.6', 40, base)]));
	}

	return summarized(doc, {staleFiles: 2, containers: 16, containersOutdated: 14});
}

test('containers that say the same thing but for name, ID and PIDs are one entry; any other difference keeps one apart', t => {
	const doc = foldDocument();
	t.deepEqual(validateDocument(doc), []);
	const lines = renderText(doc, {style, verbose: false}).split('\n');
	const at = lines.findIndex(l => l.startsWith('Containers: '));
	const why = `/usr/lib/libdemo.so.1 from image layer ${hex('b').slice(0, 10)}… (livetree-demo 1.0-1), a layer the image its name points to now does not have`;
	const image = `image localhost/web:latest, tag now points to ${hex('2').slice(0, 10)}…`;
	t.deepEqual(lines.slice(at, at + 17), [
		'Containers: 16, 14 on an image whose name moved on; 30 processes, 28 need a restart',
		`  2 × nginx in each of 12 containers (${image}): ${why}`,
		'    PIDs 100 101 102 103 104 105 106 107 108 109 … and 14 more',
		'    Containers web-0 web-1 web-2 web-3 web-4 web-5 web-6 web-7 web-8 web-9 … and 2 more (--verbose lists all)',
		'    Restart: create each again from localhost/web:latest (podman restart would keep its old image); they run in no unit',
		`  1 × nginx in each of 2 containers (image registry/app:1): nothing it maps is stale`,
		'    PIDs 128 129',
		`    Containers ${hex('5').slice(0, 12)} ${hex('6').slice(0, 12)}`,
		`  1 × nginx in container web-odd (${image}): ${why}`,
		'    PID 124',
		`  1 × nginx in container web-odd (${image}): /usr/lib/libextra.so (deleted) from image layer ${hex('a').slice(0, 10)}… (livetree-demo 1.0-1), and 1 more file`,
		'    PID 125',
		'    Restart: create it again from localhost/web:latest (podman restart web-odd would keep its old image); it runs in no unit',
		`  2 × nginx in container web-unit (${image}) (web.service): ${why}`,
		'    PIDs 126 127',
		'    Restart: restart unit web.service (livetree restart web.service)',
		'',
	]);
	// --verbose: every container of an entry on a line of its own, with its PIDs.
	const verbose = renderText(doc, {style, verbose: true}).split('\n');
	const v = verbose.indexOf(`  2 × nginx in each of 12 containers (${image}): ${why}`);
	t.deepEqual(verbose.slice(v + 1, v + 14), [
		...Array.from({length: 12}, (_, i) => `    web-${i}: PIDs ${100 + 2 * i} ${101 + 2 * i}`),
		'    Restart: create each again from localhost/web:latest (podman restart would keep its old image); they run in no unit',
	]);
});
