// The packages report as a pure function of a status document and the installed versions:
// which running version is a mismatch (per tree, per architecture, never for foreign
// roots), the name filter, the text lines and the bounded Prometheus series.
import {execFile} from 'node:child_process';
import {readFileSync} from 'node:fs';
import {join} from 'node:path';
import test from 'ava';
import Ajv2020 from 'ajv/dist/2020.js';
import type {Package, Process, StatusDocument} from '../src/model/document.js';
import {buildPackages} from '../src/model/packages.js';
import {renderPackagesPrometheus} from '../src/render/packages-prometheus.js';
import {renderPackagesText} from '../src/render/packages-text.js';
import {makeStyle} from '../src/render/style.js';
import {projectRoot} from './helpers/cli.js';
import {makeDocument} from './helpers/status-document.js';

const ajv = new Ajv2020.default({allErrors: true, strict: false});
const validate = ajv.compile(JSON.parse(readFileSync(join(projectRoot, 'schema/packages.schema.json'), 'utf8')) as object);

function pkg(version: string, arch = 'amd64', name = 'libc6'): Package {
	return {name, version, arch, manager: 'dpkg', source: 'glibc', sourceVersion: version};
}

function proc(pid: number, kind: Process['root']['kind'], deployment: string | null, p: Package, deleted = false): Process {
	return {
		pid,
		comm: `p${pid}`,
		exe: null,
		root: {kind, deployment},
		unit: `u${pid % 3}.service`,
		state: deleted ? 'stale' : 'current',
		needsRestart: deleted,
		files: [
			{
				path: '/usr/lib/x86_64-linux-gnu/libc.so.6',
				dev: '0:1',
				ino: pid,
				deleted,
				pathGone: deleted,
				superseded: false,
				staleReason: deleted ? 'deleted' : null,
				identicalIn: null,
				origin: {kind: 'deployment', package: p},
			},
		],
	};
}

function scenario(extra: Process[] = []): {doc: StatusDocument; booted: string} {
	const doc = makeDocument({states: []});
	const booted = doc.deployments.find(d => d.booted)!.id;
	doc.processes = [
		proc(1, 'deployment', booted, pkg('2.36-1')),
		proc(2, 'deployment', booted, pkg('2.36-0'), true),
		proc(3, 'host', null, pkg('2.36-1')),
		proc(4, 'foreign', null, pkg('1.0')),
		proc(5, 'deployment', booted, pkg('2.30', 'i386')),
		...extra,
	];
	return {doc, booted};
}

function installed(booted: string) {
	return [
		{tree: booted, package: pkg('2.36-1')},
		{tree: booted, package: pkg('2.30', 'i386')},
		{tree: 'host', package: pkg('2.36-1')},
	];
}

test('a mismatch is per tree and per architecture, never in a foreign root', t => {
	const {doc, booted} = scenario();
	const r = buildPackages({doc, installed: installed(booted)});
	t.true(validate(r), JSON.stringify(validate.errors));
	t.is(r.installedTree, booted);
	const libc = r.packages[0]!;
	const line = (version: string, tree: string | null) => libc.running.find(v => v.version === version && v.tree === tree)!;
	t.false(line('2.36-1', booted).mismatch);
	t.true(line('2.36-0', booted).mismatch);
	t.is(line('2.36-0', booted).staleFiles, 1);
	t.false(line('2.36-1', 'host').mismatch);
	t.false(line('1.0', null).mismatch);
	t.false(line('2.30', booted).mismatch);
	t.deepEqual(line('2.30', booted).installedVersions, ['2.30']);
	t.deepEqual(line('2.36-0', booted).installedVersions, ['2.36-1']);
	t.true(libc.mismatch);
	t.deepEqual(r.summary, {packages: 1, mismatched: 1, processes: 5, processesUnreadable: 0, complete: true});
});

test('a package gone from the installed tree is a mismatch with installed empty', t => {
	const {doc, booted} = scenario();
	const r = buildPackages({doc, installed: installed(booted).filter(i => i.tree === 'host')});
	const deployed = r.packages[0]!.running.filter(v => v.tree === booted);
	t.true(deployed.every(v => v.mismatch));
	const prom = renderPackagesPrometheus(r);
	t.regex(prom, /^livetree_package_version_mismatch\{package="libc6",running="2\.36-1",installed=""\} 1$/m);
});

test('filter by binary or source name', t => {
	const {doc, booted} = scenario([proc(6, 'deployment', null, pkg('9', 'amd64', 'zlib1g'))]);
	doc.processes[5]!.files[0]!.origin.package!.source = 'zlib';
	t.deepEqual(
		buildPackages({doc, installed: installed(booted), names: ['zlib']}).packages.map(p => p.name),
		['zlib1g'],
	);
	t.deepEqual(
		buildPackages({doc, installed: installed(booted), names: ['glibc']}).packages.map(p => p.name),
		['libc6'],
	);
	t.deepEqual(buildPackages({doc, installed: installed(booted), names: ['nothing']}).packages, []);
});

test('text: one line per running version, saying where and against what', t => {
	const {doc, booted} = scenario();
	const text = renderPackagesText(buildPackages({doc, installed: installed(booted)}), makeStyle('never'), false);
	t.regex(text, /^libc6:amd64 2\.36-0 in memory in 1 process of 1 unit in deployments; 2\.36-1 installed$/m);
	t.regex(text, /^libc6:amd64 1\.0 in memory in 1 process of 1 unit in foreign roots; installed version unknown there$/m);
	t.regex(text, /^ {4}processes: 2 \(p2\)$/m);
	t.regex(text, /1 package in memory, 1 running a version other than the installed one/);
});

test('Prometheus: series only for mismatches, not growing with processes; promtool accepts it', async t => {
	const {doc, booted} = scenario();
	const few = renderPackagesPrometheus(buildPackages({doc, installed: installed(booted)}));
	const many = scenario(Array.from({length: 200}, (_, i) => proc(100 + i, 'deployment', booted, pkg('2.36-0'), true)));
	const lots = renderPackagesPrometheus(buildPackages({doc: many.doc, installed: installed(booted)}));
	const series = (s: string) => s.split('\n').filter(l => l.startsWith('livetree_package_version_mismatch{'));
	t.deepEqual(series(few), ['livetree_package_version_mismatch{package="libc6",running="2.36-0",installed="2.36-1"} 1']);
	t.deepEqual(series(lots), series(few));
	t.regex(few, /^livetree_packages_version_mismatched 1$/m);
	await new Promise<void>((resolve, reject) => {
		const child = execFile('promtool', ['check', 'metrics'], (error, _o, stderr) => (error ? reject(new Error(stderr)) : resolve()));
		child.stdin!.end(few);
	});
	t.pass();
});

test('containers: each compared with the image its name resolves to now; one series for the same mismatch in many', async t => {
	const {doc, booted} = scenario();
	const inContainer = (pid: number, id: string, version: string, now: string | null): Process => ({
		...proc(pid, 'container', null, pkg(version)),
		container: {
			engine: 'podman',
			id,
			name: `c${pid}`,
			image: {id: 'old', digest: null, name: 'localhost/web:latest', nameNowResolvesTo: now},
			imageOutdated: now !== 'old',
		},
	});
	doc.processes.push(inContainer(10, 'a', '2.36-0', 'new'), inContainer(11, 'b', '2.36-0', 'new'), inContainer(12, 'c', '2.36-0', null));
	const installedHere = [...installed(booted), ...['a', 'b'].map(id => ({tree: `container:${id}`, package: pkg('2.36-1')}))];
	const report = buildPackages({doc, installed: installedHere, compared: ['container:a', 'container:b']});
	t.true(validate(report), JSON.stringify(validate.errors));
	const lines = report.packages[0]!.running.filter(v => v.container);
	t.deepEqual(
		lines.map(v => [v.container!.id, v.tree, v.mismatch, v.installedVersions, v.container!.comparedImage, v.container!.uncompared]),
		[
			['a', 'container:a', true, ['2.36-1'], 'new', null],
			['b', 'container:b', true, ['2.36-1'], 'new', null],
			['c', null, false, [], null, 'its image name localhost/web:latest resolves to no image now'],
		],
	);
	// A container whose image's database was not read is not compared either.
	const unread = buildPackages({doc, installed: installedHere, compared: ['container:a']});
	t.like(
		unread.packages[0]!.running.find(v => v.container?.id === 'b'),
		{tree: null, mismatch: false, container: {uncompared: 'the package database of image new (what localhost/web:latest resolves to now) could not be read'}},
	);
	const prom = renderPackagesPrometheus(report);
	const series = prom.split('\n').filter(l => l.startsWith('livetree_package_version_mismatch{'));
	t.deepEqual(series, ['livetree_package_version_mismatch{package="libc6",running="2.36-0",installed="2.36-1"} 1']);
	await new Promise<void>((resolve, reject) => {
		const child = execFile('promtool', ['check', 'metrics'], (error, _o, stderr) => (error ? reject(new Error(stderr)) : resolve()));
		child.stdin!.end(prom);
	});
	const text = renderPackagesText(report, makeStyle('never'), false);
	t.regex(text, /^libc6:amd64 2\.36-0 in memory in 1 process of 1 unit in container c10; 2\.36-1 in image new, what localhost\/web:latest resolves to now$/m);
	t.regex(
		text,
		/^libc6:amd64 2\.36-0 in memory in 1 process of 1 unit in container c12; installed version not compared: its image name localhost\/web:latest resolves to no image now$/m,
	);
});
