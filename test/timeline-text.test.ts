// The timeline as text (src/render/timeline-text.ts), --package: one line per unit, command or
// container; replicas of one image that tell the same story are one line naming them.
import test from 'ava';
import {Chalk} from 'chalk';
import type {TimelineDocument, TimelineInterval} from '../src/timeline/answer.js';
import {renderTimelineText} from '../src/render/timeline-text.js';
import {localTime} from '../src/timeline/time.js';

const first = '2026-12-07T10:00:00.000Z';
const last = '2026-12-07T11:00:00.000Z';
const ended = '2026-12-07T11:01:00.000Z';
const origin = {kind: 'package', key: 'libssl3=3.0.11-1~deb12u2', label: null};

function interval(pid: number, who: {unit?: string; container?: string}, gone: boolean): TimelineInterval {
	const end = gone ? ended : null;
	return {
		pid,
		startedAt: null,
		comm: 'nginx',
		unit: who.unit ?? null,
		container: who.container ?? null,
		process: {firstSeen: first, lastSeen: last, endedAt: end, endReason: gone ? 'gone' : null, restart: null},
		origin,
		firstSeen: first,
		lastSeen: last,
		endedAt: end,
	};
}

function document(intervals: TimelineInterval[]): TimelineDocument {
	return {
		schemaVersion: 1,
		query: {since: first, until: null, at: null, unit: null, package: 'libssl3', packageVersion: null, commit: null, container: null},
		coverage: {firstScan: first, latestScan: last, scans: 2, scanBefore: null, scanAfter: null, gaps: [], clockBack: []},
		intervals,
	};
}

const local = (iso: string) => localTime(Date.parse(iso) / 1000);

test('--package: twelve replicas that ran and went alike are one line; a container, a unit that differ keep theirs; names in counting order', t => {
	const intervals: TimelineInterval[] = [];
	// Inserted out of order: web-12 … web-1, each two processes, both gone by the same scan.
	for (let n = 12; n >= 1; n--) intervals.push(interval(1000 + 2 * n, {container: `web-${n}`}, true), interval(1001 + 2 * n, {container: `web-${n}`}, true));
	intervals.push(interval(301, {container: 'web-13'}, false), interval(302, {container: 'web-13'}, false));
	intervals.push(interval(500, {container: 'db'}, false));
	intervals.push(interval(42, {unit: 'nginx.service'}, false));
	const lines = renderTimelineText(document(intervals), new Chalk({level: 0})).split('\n');
	const at = lines.indexOf(`libssl3 3.0.11-1~deb12u2: in memory ${local(first)} → the latest scan (still in memory)`);
	t.not(at, -1, lines.join('\n'));
	t.deepEqual(lines.slice(at + 1, -1), [
		`  container db: 1 process (PID 500), ${local(first)} → now; still running at the latest scan`,
		`  12 containers (web-1, web-2, web-3, web-4, web-5, web-6, web-7, web-8, web-9, web-10 … and 2 more), in each: 2 processes, ${local(first)} → ${local(last)}; 2 gone (not seen by the next scan)`,
		`  container web-13: 2 processes (PID 301, 302), ${local(first)} → now; 2 still running at the latest scan`,
		`  nginx.service: 1 process (PID 42), ${local(first)} → now; still running at the latest scan`,
	]);
});

test('--package: two containers alike are folded too, each named; one alone keeps its PIDs', t => {
	const intervals = [interval(7, {container: 'a'}, true), interval(8, {container: 'b'}, true), interval(9, {container: 'c'}, false)];
	const text = renderTimelineText(document(intervals), new Chalk({level: 0}));
	t.true(text.includes(`\n  2 containers (a, b), in each: 1 process, ${local(first)} → ${local(last)}; gone (not seen by the next scan)\n`), text);
	t.true(text.includes(`\n  container c: 1 process (PID 9), ${local(first)} → now; still running at the latest scan\n`), text);
});

test('--package by source name: the header names the source; versions without a source are said, and no interval is not "nothing"', t => {
	const style = new Chalk({level: 0});
	const sourced = {...interval(42, {unit: 'nginx.service'}, false), origin: {...origin, source: 'openssl', sourceVersion: '3.0.11-1~deb12u2'}};
	const bySource = document([sourced]);
	bySource.query = {...bySource.query, package: 'openssl', packageVersion: '3.0.11'};
	bySource.coverage = {...bySource.coverage, unsourcedPackageVersions: 3};
	t.deepEqual(renderTimelineText(bySource, style).split('\n').slice(0, 4), [
		`Recorded scans: ${local(first)} … ${local(last)}; 2 in the asked range`,
		'3 package versions were recorded without their source package (before livetree recorded it): a source name may not match them',
		'',
		`libssl3 3.0.11-1~deb12u2 (source openssl 3.0.11-1~deb12u2): in memory ${local(first)} → the latest scan (still in memory)`,
	]);
	// Asked by its binary name: no source in the header (also when the source has that name).
	const byBinary = document([sourced]);
	t.is(renderTimelineText(byBinary, style).split('\n')[2], `libssl3 3.0.11-1~deb12u2: in memory ${local(first)} → the latest scan (still in memory)`);
	const sameName = document([{...sourced, origin: {...origin, key: 'bash=5.2.15-2', source: 'bash', sourceVersion: '5.2.15-2'}}]);
	sameName.query = {...sameName.query, package: 'bash'};
	t.is(renderTimelineText(sameName, style).split('\n')[2], `bash 5.2.15-2: in memory ${local(first)} → the latest scan (still in memory)`);
	// Nothing found, one version without a source in the range.
	const none = document([]);
	none.query = {...none.query, package: 'openssl'};
	none.coverage = {...none.coverage, unsourcedPackageVersions: 1};
	t.is(
		renderTimelineText(none, style),
		[
			`Recorded scans: ${local(first)} … ${local(last)}; 2 in the asked range`,
			'1 package version was recorded without its source package (before livetree recorded it): a source name may not match it',
			'Nothing matching was found in the asked range by binary or source name; the versions recorded without their source package (above) may be of this source.',
			'',
		].join('\n'),
	);
	// Counted and none: the plain answer.
	none.coverage = {...none.coverage, unsourcedPackageVersions: 0};
	t.true(renderTimelineText(none, style).endsWith('\nNothing matching was in memory in the asked range, by every scan recorded there.\n'));
});
