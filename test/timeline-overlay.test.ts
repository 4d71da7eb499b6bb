// A live-applied overlay in the timeline and in diff: deployment 1.0 runs a process started
// before an overlayfs was mounted on its /usr and one started after, the overlay's upper
// layer holding 2.0's libdemo (checked out of the same repo with the real ostree), as a live
// update applies it (fixtures/overlay-ns.sh, in a private mount namespace). `livetree status
// --json` records a scan with both running and one after they are gone; `timeline --commit`,
// `--at` and `diff` must name the overlay file (PATH@OBJECT) and its source commit, for the
// process that maps it only, and when it ended. Assertions are about this test's processes.
import {writeFile} from 'node:fs/promises';
import {join} from 'node:path';
import {setTimeout as sleep} from 'node:timers/promises';
import test from 'ava';
import type {DiffDocument} from '../src/model/diff.js';
import type {StatusDocument} from '../src/model/document.js';
import type {TimelineDocument} from '../src/timeline/answer.js';
import {livetree} from './helpers/cli.js';
import {Fixtures} from './helpers/fixture.js';
import {checkoutLibdemo, overlayNs} from './helpers/overlay-ns.js';
import {schemaErrors} from './helpers/schema.js';
import {assertedTimeline, validateDiff} from './helpers/timeline.js';

const LIB = '/usr/lib/livetree-demo/libdemo.so.1';

test('a live-applied overlay: timeline --commit and --at name the overlay file and its commit for the process that maps it; diff says it went', async t => {
	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const built = await fx.buildSysroot('two');
	const old = built.deployments.find(d => d.version === '1.0')!;
	const next = built.deployments.find(d => d.version === '2.0')!;
	const ns = await overlayNs(t, fx, old.path, [`${old.path}/usr`], async upper => checkoutLibdemo(built.repo, next.checksum, upper));
	const object = await built.handle.objectChecksum(next.checksum, LIB);
	const state = await fx.tempDir('livetree-tl-overlay-');
	const dir = await fx.tempDir('livetree-tl-overlay-docs-');

	const scan = async (label: string): Promise<{doc: StatusDocument; file: string; at: number}> => {
		const r = await livetree(['status', '--json', '--no-systemd', '--sysroot', built.sysroot, '--state-dir', state]);
		if (r.code === 2) throw new Error(r.stderr);
		const doc = JSON.parse(r.stdout) as StatusDocument;
		t.deepEqual(schemaErrors(doc), []);
		const file = join(dir, `${label}.json`);
		await writeFile(file, r.stdout);
		return {doc, file, at: Math.floor(Date.parse(doc.generatedAt) / 1000)};
	};

	const during = await scan('during');
	const after = during.doc.processes.find(p => p.pid === ns.after)!;
	t.is(after.state, 'overlay');
	const lib = after.files.find(f => f.path.endsWith(LIB))!;
	t.is(lib.origin.kind, 'overlay');
	const key = `${lib.path}@${object}`;
	await ns.stop();
	// The next scan in a later second than the first (scan times are whole seconds).
	while (Math.floor(Date.now() / 1000) <= during.at) await sleep(50);
	const gone = await scan('gone');
	t.false(gone.doc.processes.some(p => p.pid === ns.after || p.pid === ns.before));

	const timeline = async (args: string[]): Promise<TimelineDocument> => assertedTimeline(t, state, args);

	const iso = (at: number) => new Date(at * 1000).toISOString().replace(/\.\d+Z$/, '.000Z');
	const ours = (doc: TimelineDocument) =>
		doc.intervals
			.filter(i => i.pid === ns.after || i.pid === ns.before)
			.map(i => [i.pid === ns.after ? 'after' : 'before', i.origin.kind, i.origin.key, i.firstSeen, i.endedAt])
			.sort();
	// 2.0's commit is in memory only through the overlay, in the process started after it.
	const byCommit = await timeline(['--commit', next.checksum.slice(0, 12)]);
	t.deepEqual(ours(byCommit), [['after', 'commit', next.checksum, iso(during.at), iso(gone.at)]]);
	// The overlay file itself (PATH@OBJECT), in that process only.
	const all = await timeline([]);
	t.deepEqual(
		ours(all).filter(r => r[1] === 'overlay'),
		[['after', 'overlay', key, iso(during.at), iso(gone.at)]],
	);
	// The deployment's own commit: both processes, until the scan that no longer saw them.
	const byOld = await timeline(['--commit', old.checksum]);
	t.deepEqual(
		ours(byOld).filter(r => r[1] === 'commit'),
		[
			['after', 'commit', old.checksum, iso(during.at), iso(gone.at)],
			['before', 'commit', old.checksum, iso(during.at), iso(gone.at)],
		],
	);
	// At the first scan the overlay file was in memory; at the second nothing of ours was.
	const atDuring = await timeline(['--at', `@${during.at}`]);
	t.deepEqual(
		ours(atDuring)
			.filter(r => r[1] === 'overlay' || r[2] === next.checksum)
			.map(r => r.slice(0, 3)),
		[
			['after', 'commit', next.checksum],
			['after', 'overlay', key],
		],
	);
	const atGone = await timeline(['--at', `@${gone.at}`]);
	t.deepEqual(ours(atGone), []);

	// diff: the overlay file ran before, not after (the processes share the group `sleep` with
	// any other sleep on the machine: only our overlay file is asserted).
	const d = await livetree(['diff', during.file, gone.file, '--json']);
	t.is(d.code, 1, d.stderr);
	const changes = JSON.parse(d.stdout) as DiffDocument;
	t.true(validateDiff(changes), JSON.stringify(validateDiff.errors));
	const overlayIn = (doc: DiffDocument) => [
		...doc.groups.changed.flatMap(g =>
			g.overlayFiles?.onlyA.includes(key) ? [`changed ${g.name} A`] : g.overlayFiles?.onlyB.includes(key) ? [`changed ${g.name} B`] : [],
		),
		...doc.groups.gone.flatMap(g => (g.overlayFiles.includes(key) ? [`gone ${g.name}`] : [])),
		...doc.groups.added.flatMap(g => (g.overlayFiles.includes(key) ? [`added ${g.name}`] : [])),
	];
	// In group `sleep`, on side A only: gone with our processes, or changed when other sleeps run.
	t.deepEqual(overlayIn(changes), [changes.groups.gone.some(g => g.name === 'sleep') ? 'gone sleep' : 'changed sleep A']);
	// The later document against what the timeline saw at the first scan: the same, the other way.
	const back = await livetree(['diff', gone.file, `@${during.at}`, '--state-dir', state, '--json']);
	t.is(back.code, 1, back.stderr);
	const backDoc = JSON.parse(back.stdout) as DiffDocument;
	t.true(validateDiff(backDoc), JSON.stringify(validateDiff.errors));
	t.deepEqual(overlayIn(backDoc), [backDoc.groups.added.some(g => g.name === 'sleep') ? 'added sleep' : 'changed sleep B']);
});
