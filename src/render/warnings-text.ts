// The warnings of the text report, folded: as an ordinary user a scan gives one
// `process-unreadable: PID N: /proc/N/maps: permission denied` per process of root's, a
// thousand lines that differ by the PID alone. Warnings of one code whose messages differ
// only by their PID — a leading "PID N: " and "/proc/N/" paths, N being the warning's own
// `pid` — are one line: "process-unreadable: 1208 processes: /proc/PID/maps: permission
// denied (PIDs 1 19183 … and 1198 more)". Any other difference keeps a warning its own line.
// --verbose lists every warning as the document has it; the JSON is never folded.
import type {Warning} from '../model/document.js';
import {printable} from './reason.js';
import {shortList} from './short.js';

export interface WarningLine {
	text: string;
	/** How many of the document's warnings the line stands for. */
	count: number;
}

// The placeholder for the PID in a message's template; "\0" is in no message.
const hole = '\0';

// The message with its own PID taken out, or undefined when it names its PID nowhere we
// take it from (then it never folds).
function template(w: Warning): string | undefined {
	if (w.pid === null || w.pid === undefined) {
		return undefined;
	}

	const pid = String(w.pid);
	const prefix = `PID ${pid}: `;
	const head = w.message.startsWith(prefix) ? `${hole}: ` : '';
	const rest = head ? w.message.slice(prefix.length) : w.message;
	const proc = `/proc/${pid}`;
	let body = '';
	let from = 0;
	for (let at = rest.indexOf(proc); at !== -1; at = rest.indexOf(proc, at + proc.length)) {
		const next = rest[at + proc.length];
		// "/proc/12" within "/proc/123/maps" is not PID 12's path.
		if (next === undefined || next === '/' || next === ':' || next === ' ') {
			body += `${rest.slice(from, at)}/proc/${hole}`;
			from = at + proc.length;
		}
	}

	body += rest.slice(from);
	return head || body.includes(hole) ? `${head}${body}` : undefined;
}

export function foldWarnings(warnings: readonly Warning[], pidsShown: number): WarningLine[] {
	const entries: Array<{w: Warning; template?: string; pids: number[]}> = [];
	const byTemplate = new Map<string, {pids: number[]}>();
	for (const w of warnings) {
		const t = template(w);
		const key = t === undefined ? undefined : `${w.code}\n${t}`;
		const entry = key === undefined ? undefined : byTemplate.get(key);
		if (entry) {
			entry.pids.push(w.pid!);
			continue;
		}

		const fresh = {w, template: t, pids: t === undefined ? [] : [w.pid!]};
		entries.push(fresh);
		if (key !== undefined) {
			byTemplate.set(key, fresh);
		}
	}

	return entries.map(({w, template: t, pids}) => {
		if (t === undefined || pids.length < 2) {
			return {text: `${w.code}: ${printable(w.message)}`, count: 1};
		}

		const message = t.startsWith(`${hole}: `) ? t.slice(hole.length + 2) : t;
		return {
			text: `${w.code}: ${pids.length} processes: ${printable(message.replaceAll(hole, 'PID'))} (PIDs ${shortList(pids, pidsShown)})`,
			count: pids.length,
		};
	});
}
