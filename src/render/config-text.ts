// The "Config changed since start" group of the text report and of `explain`: configuration
// a running process depends on that changed after it started (processes[].configChanges,
// decided by the core). Times are UTC: HH:MM on the day of the report, else the date too.
import {printable} from './reason.js';
import type {ChalkInstance} from 'chalk';
import type {ConfigChange, Process, StatusDocument, Unit} from '../model/document.js';

const sources: Record<string, string> = {
	conffile: 'package conffile',
	'open-file': 'held open',
	'unit-file': 'unit file',
};

/** A time as the report shows it, in UTC: HH:MM when on `day` (YYYY-MM-DD), else YYYY-MM-DD HH:MM. */
export function clock(iso: string, day: string): string {
	const d = new Date(iso);
	if (Number.isNaN(d.getTime())) return iso;
	const text = d.toISOString();
	return text.startsWith(day) ? text.slice(11, 16) : `${text.slice(0, 10)} ${text.slice(11, 16)}`;
}

/** One line for one process's change: "/etc/x changed 14:03, sshd started 09:12 (package conffile)". */
export function changeLine(p: Process, c: ConfigChange, day: string): string {
	const started = p.startedAt ? `, ${printable(p.comm)} started ${clock(p.startedAt, day)}` : '';
	return `${c.path} changed ${clock(c.changedAt, day)}${started} (${sources[c.source] ?? c.source})`;
}

/** What applies a change: a unit file takes daemon-reload (when the manager has not loaded
 * it yet) and a restart; a unit that cannot be reloaded takes a restart; else a reload, with
 * what the unit's last reload since the process started left (units[].lastReload). */
export function applyWords(c: ConfigChange, unit: Unit | undefined, p?: Process, day = ''): string {
	if (c.source === 'unit-file') return unit?.needDaemonReload ? 'daemon-reload and restart to apply' : 'restart to apply';
	if (unit?.canReload === false) return 'restart to apply (it cannot be reloaded)';
	const last = unit?.lastReload;
	if (!last || !p?.startedAt || Date.parse(last.at) < Date.parse(p.startedAt)) return 'reload to apply';
	const at = clock(last.at, day);
	if (!last.succeeded) return `reload to apply (the last reload, ${at}, failed)`;
	return c.replaced && Date.parse(c.changedAt) < Date.parse(last.at)
		? `reload to apply (reloaded ${at}, but it still holds the file replaced before)`
		: `reload to apply (reloaded ${at}, before this change)`;
}

/** The group's lines: one heading, then per unit (or process outside any unit) its changes. */
export function configLines(doc: StatusDocument, style: ChalkInstance, limit: number | undefined): string[] {
	const needing = doc.processes.filter(p => p.needsReload);
	if (needing.length === 0) return [];
	const day = doc.generatedAt.slice(0, 10);
	const lines = ['', style.bold(`Config changed since start: ${needing.length} ${needing.length === 1 ? 'process' : 'processes'}`)];
	// One unit's processes share its configuration: say each path once per unit.
	const byOwner = new Map<string, Process[]>();
	for (const p of needing) {
		const owner = p.unit ? printable(p.unit) : `PID ${p.pid} (${printable(p.comm)})`;
		byOwner.set(owner, [...(byOwner.get(owner) ?? []), p]);
	}
	const owners = [...byOwner];
	for (const [owner, procs] of limit === undefined ? owners : owners.slice(0, limit)) {
		const seen = new Set<string>();
		for (const p of procs) {
			for (const c of p.configChanges ?? []) {
				if (seen.has(c.path)) continue;
				seen.add(c.path);
				const unit = p.unit ? doc.units.find(u => u.name === p.unit) : undefined;
				lines.push(`  ${owner}: ${changeLine(p, c, day)} — ${applyWords(c, unit, p, day)}`);
			}
		}
	}
	if (limit !== undefined && owners.length > limit) {
		lines.push(style.dim(`  … and ${owners.length - limit} more (--verbose lists all)`));
	}
	return lines;
}
