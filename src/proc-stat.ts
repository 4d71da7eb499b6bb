// /proc/PID/stat: whether a process is a kernel thread (PF_KTHREAD in the flags field).
// A kernel thread maps no files: "it runs current code" would be a claim about nothing.
import {readFile} from 'node:fs/promises';
import path from 'node:path';

const PF_KTHREAD = 0x0020_0000;

/** The flags field of a /proc/PID/stat line, or null when it does not parse. */
export function statFlags(line: string): number | null {
	// comm is in parentheses and may hold spaces and ')': the fields start after the last ')'.
	const fields = line.slice(line.lastIndexOf(')') + 2).split(' ');
	const flags = Number(fields[6]);
	return Number.isInteger(flags) ? flags : null;
}

export async function isKernelThread(procRoot: string, pid: number): Promise<boolean> {
	const line = await readFile(path.join(procRoot, String(pid), 'stat'), 'utf8').catch(() => '');
	const flags = statFlags(line);
	return flags !== null && (flags & PF_KTHREAD) !== 0;
}
