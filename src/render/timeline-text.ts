// `livetree timeline` as text: what the scans cover (and do not), then either each version
// of a package or commit (--package, --commit) with from when to when and in which units,
// or each unit's processes with the code they ran. Local times; JSON has UTC.
import {printable} from './reason.js';
import type {ChalkInstance} from 'chalk';
import type {TimelineDocument, TimelineInterval} from '../timeline/answer.js';
import {localTime} from '../timeline/time.js';
import {short, shortList} from './short.js';

/** The earliest of ISO times (they sort as strings). */
function earliest(times: string[]): string {
	return [...times].sort()[0]!;
}

function t(iso: string | null): string {
	return iso === null ? '?' : localTime(Date.parse(iso) / 1000);
}

function coverageLines(doc: TimelineDocument, style: ChalkInstance): string[] {
	const c = doc.coverage;
	if (c.firstScan === null) {
		return [style.yellow('No scan is recorded in this catalog: nothing is known about what ran (livetree status, as root, records one).')];
	}

	const lines = [`Recorded scans: ${t(c.firstScan)} … ${t(c.latestScan)}${doc.query.at === null ? `; ${c.scans} in the asked range` : ''}`];
	for (const g of c.gaps) {
		const from = g.from === null ? (doc.query.at ?? doc.query.since) : g.from;
		const to = g.to === null ? (doc.query.at ?? doc.query.until) : g.to;
		const what = g.from === null ? 'before the first scan' : g.to === null ? 'after the latest scan' : 'a gap';
		lines.push(style.yellow(`no scan between ${t(from)} and ${t(to)} (${what}): what ran then is not known`));
	}

	for (const at of c.clockBack) lines.push(style.yellow(`the clock went back at the scan of ${t(at)}: intervals before it end there, not merged`));
	const n = c.unsourcedPackageVersions ?? 0;
	if (n > 0) {
		const one = n === 1;
		lines.push(
			style.yellow(
				`${n} package version${one ? ' was' : 's were'} recorded without ${one ? 'its' : 'their'} source package (before livetree recorded it): a source name may not match ${one ? 'it' : 'them'}`,
			),
		);
	}

	return lines;
}

/** " (source openssl 3.0.11-1~deb12u2)" when --package named the source, not the binary. */
function viaSource(doc: TimelineDocument, o: TimelineInterval['origin']): string {
	const asked = doc.query.package;
	if (o.kind !== 'package' || asked === null || !o.source || o.source !== asked || o.key.startsWith(`${asked}=`)) return '';
	return ` (source ${o.source}${o.sourceVersion ? ` ${o.sourceVersion}` : ''})`;
}

function originLabel(kind: string, key: string, label: string | null): string {
	switch (kind) {
		case 'package': {
			return key.replace('=', ' ');
		}

		case 'commit':
		case 'overlay': {
			const k = /^[\da-f]{64}$/.test(key) ? short(key) : key;
			return `${kind} ${k}${label ? ` (${label})` : ''}`;
		}

		case 'deployment': {
			const m = /^(.*\/)([\da-f]{64})(\.\d+)$/.exec(key);
			return `deployment ${m ? `${m[1]!}${short(m[2])}${m[3]!}` : key}${label ? ` (${label})` : ''}`;
		}

		default: {
			return `${kind} ${key}${label ? ` (${label})` : ''}`;
		}
	}
}

function ending(i: TimelineInterval): string {
	const p = i.process;
	if (p.endedAt === null) return 'still running at the latest scan';
	if (p.restart) return `ended by livetree restart #${p.restart.id} (${p.restart.verdict ?? 'in progress'}), gone by ${t(p.endedAt)}`;
	if (p.endReason === 'clock-back') return `interval closed at ${t(p.lastSeen)}: the clock went back`;
	return `gone by ${t(p.endedAt)}`;
}

/** What ended a group's intervals, counted: "1 ended by livetree restart #3 (verified), 2 still running". */
function endings(group: TimelineInterval[]): string {
	const counts = new Map<string, number>();
	for (const r of group) {
		const p = r.process;
		const why =
			r.endedAt === null
				? 'still running at the latest scan'
				: p.restart && r.endedAt === p.endedAt
					? `ended by livetree restart #${p.restart.id} (${p.restart.verdict ?? 'in progress'})`
					: p.endReason === 'clock-back' && r.endedAt === p.endedAt
						? 'closed when the clock went back'
						: r.endedAt === p.endedAt
							? 'gone (not seen by the next scan)'
							: 'no longer mapped by its process';
		counts.set(why, (counts.get(why) ?? 0) + 1);
	}

	return [...counts].map(([why, n]) => (group.length === 1 ? why : `${n} ${why}`)).join(', ');
}

function who(i: TimelineInterval): string {
	return i.unit ? printable(i.unit) : i.container ? `container ${printable(i.container)}` : `${printable(i.comm)} (no unit)`;
}

/** Names in the order people count them: lt-bench-2 before lt-bench-10. */
const byName = (x: string, y: string): number => x.localeCompare(y, 'en', {numeric: true});

/** Names listed on a folded line before "… and N more" (--json lists every interval). */
const foldedNames = 10;

/** --package / --commit: each version, from when to when, in which processes. */
function byOrigin(doc: TimelineDocument, style: ChalkInstance): string[] {
	const groups = new Map<string, TimelineInterval[]>();
	for (const i of doc.intervals) {
		const k = `${i.origin.kind}\u0000${i.origin.key}`;
		const rows = groups.get(k);
		if (rows) rows.push(i);
		else groups.set(k, [i]);
	}

	const sorted = [...groups.values()].sort((a, b) => (a[0]!.firstSeen < b[0]!.firstSeen ? -1 : 1));
	const lines: string[] = [];
	for (const rows of sorted) {
		const first = earliest(rows.map(r => r.firstSeen));
		const open = rows.some(r => r.endedAt === null);
		const last = rows.reduce((m, r) => (r.lastSeen !== null && r.lastSeen > m ? r.lastSeen : m), first);
		const o = rows[0]!.origin;
		lines.push(
			'',
			style.bold(`${originLabel(o.kind, o.key, o.label)}${viaSource(doc, o)}: in memory ${t(first)} → ${open ? 'the latest scan (still in memory)' : t(last)}`),
		);
		lines.push(...whoLines(rows));
	}

	return lines;
}

/**
 * One line per unit (or command without one, or container), however many processes it had.
 * Containers whose lines would say the same but for their name (as many processes, the same
 * times, the same endings: replicas of one image) are one line naming them.
 */
function whoLines(rows: TimelineInterval[]): string[] {
	const byWho = new Map<string, TimelineInterval[]>();
	for (const r of rows) {
		const name = who(r);
		const group = byWho.get(name);
		if (group) group.push(r);
		else byWho.set(name, [r]);
	}

	// A unit's or command's line as it is; a container's kept apart until its peers are known.
	type Alike = {containers: string[]; count: number; pids: string; tail: string};
	const entries: Array<{line: string} | Alike> = [];
	const alike = new Map<string, Alike>();
	for (const [name, group] of [...byWho].sort(([x], [y]) => byName(x, y))) {
		const from = earliest(group.map(r => r.firstSeen));
		const running = group.filter(r => r.endedAt === null).length;
		const to = running > 0 ? 'now' : t(group.reduce((m, r) => (r.lastSeen !== null && r.lastSeen > m ? r.lastSeen : m), from));
		const tail = `${t(from)} → ${to}; ${endings(group)}`;
		const pids = group.length <= 3 ? ` (PID ${group.map(r => r.pid).join(', ')})` : '';
		const container = group[0]!.unit ? null : group[0]!.container;
		if (container) {
			const key = `${group.length}\u0000${tail}`;
			const same = alike.get(key);
			if (same) {
				same.containers.push(printable(container));
			} else {
				const entry = {containers: [printable(container)], count: group.length, pids, tail};
				alike.set(key, entry);
				entries.push(entry);
			}

			continue;
		}

		entries.push({line: `  ${name}: ${processes(group.length)}${pids}, ${tail}`});
	}

	return entries.map(e => {
		if ('line' in e) return e.line;
		if (e.containers.length === 1) return `  container ${e.containers[0]!}: ${processes(e.count)}${e.pids}, ${e.tail}`;
		return `  ${e.containers.length} containers (${shortList(e.containers, foldedNames, ', ')}), in each: ${processes(e.count)}, ${e.tail}`;
	});
}

function processes(n: number): string {
	return `${n} process${n === 1 ? '' : 'es'}`;
}

/** Per unit: each process, when it was seen, what ended it, and the code it ran. */
function byUnit(doc: TimelineDocument, style: ChalkInstance): string[] {
	const units = new Map<string, Map<string, TimelineInterval[]>>();
	for (const i of doc.intervals) {
		const u = who(i);
		const processes = units.get(u) ?? new Map<string, TimelineInterval[]>();
		const k = `${i.pid}\u0000${i.startedAt ?? ''}\u0000${i.process.firstSeen}`;
		processes.set(k, [...(processes.get(k) ?? []), i]);
		units.set(u, processes);
	}

	const lines: string[] = [];
	for (const [unit, processes] of [...units].sort(([a], [b]) => (a < b ? -1 : 1))) {
		lines.push('', style.bold(unit));
		const ordered = [...processes.values()].sort((a, b) => (a[0]!.process.firstSeen < b[0]!.process.firstSeen ? -1 : 1));
		for (const rows of ordered) {
			const p = rows[0]!;
			const seen = `seen ${t(p.process.firstSeen)} → ${p.process.endedAt === null ? 'now' : t(p.process.lastSeen)}`;
			lines.push(`  PID ${p.pid} (${printable(p.comm)})${p.startedAt ? ` started ${t(p.startedAt)}` : ''}, ${seen}; ${ending(p)}`);
			const order = ['deployment', 'commit', 'overlay', 'image', 'layer', 'package'];
			const code = [...rows]
				.sort((a, b) => order.indexOf(a.origin.kind) - order.indexOf(b.origin.kind) || (a.origin.key < b.origin.key ? -1 : 1))
				.map(r => {
					const partial =
						r.firstSeen !== p.process.firstSeen
							? ` from ${t(r.firstSeen)}`
							: r.endedAt !== null && r.endedAt !== p.process.endedAt
								? ` until ${t(r.lastSeen)}`
								: '';
					return `${originLabel(r.origin.kind, r.origin.key, r.origin.label)}${partial}`;
				});
			lines.push(`      ${code.join(', ')}`);
		}
	}

	return lines;
}

export function renderTimelineText(doc: TimelineDocument, style: ChalkInstance): string {
	const q = doc.query;
	const lines = coverageLines(doc, style);
	if (q.at !== null) {
		const between = doc.coverage.scanBefore && doc.coverage.scanAfter ? ` (scans at ${t(doc.coverage.scanBefore)} and ${t(doc.coverage.scanAfter)})` : '';
		lines.push(`In memory at ${t(q.at)}${between}:`);
	}

	if (doc.coverage.firstScan === null) return `${lines.join('\n')}\n`;
	if (doc.intervals.length === 0) {
		const covered = doc.coverage.gaps.length === 0;
		const unsourced = (doc.coverage.unsourcedPackageVersions ?? 0) > 0;
		lines.push(
			unsourced
				? 'Nothing matching was found in the asked range by binary or source name; the versions recorded without their source package (above) may be of this source.'
				: covered
					? 'Nothing matching was in memory in the asked range, by every scan recorded there.'
					: 'Nothing matching was seen by the scans recorded in the asked range; the gaps above are not known.',
		);
		return `${lines.join('\n')}\n`;
	}

	lines.push(...(q.package !== null || q.commit !== null ? byOrigin(doc, style) : byUnit(doc, style)));
	return `${lines.join('\n')}\n`;
}
