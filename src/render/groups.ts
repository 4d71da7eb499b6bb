// Processes that share one reason are one line: "3000 × sleep (init.scope): /usr/lib/…".
// A group is the same unit, command and reason (the words reason.ts gives the files), so
// a fleet of identical workers reads as one fact, however many PIDs it has.
import type {Process} from '../model/document.js';

export interface ProcessGroup {
	comm: string;
	unit: string | null;
	why: string;
	pids: number[];
}

// Groups in order of first appearance; why(p) is the reason text of the group.
export function groupProcesses(procs: readonly Process[], why: (p: Process) => string): ProcessGroup[] {
	const groups = new Map<string, ProcessGroup>();
	for (const p of procs) {
		const text = why(p);
		const key = JSON.stringify([p.unit, p.comm, text]);
		const group = groups.get(key);
		if (group) {
			group.pids.push(p.pid);
		} else {
			groups.set(key, {comm: p.comm, unit: p.unit, why: text, pids: [p.pid]});
		}
	}

	// Largest first: the fleet of 3000 matters more than the one-off.
	return [...groups.values()].sort((a, b) => b.pids.length - a.pids.length);
}
