// Processes of the host as /proc shows them, for tests that wait on processes they started.
import {readdir, readFile} from 'node:fs/promises';

/** The PIDs whose parent is `pid` (from /proc/PID/stat: /proc/PID/task/TID/children may not be built in). */
export async function childrenOf(pid: number): Promise<number[]> {
	const out: number[] = [];
	for (const name of await readdir('/proc')) {
		if (!/^\d+$/.test(name)) continue;
		const stat = await readFile(`/proc/${name}/stat`, 'utf8').catch(() => '');
		const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
		if (ppid === pid) out.push(Number(name));
	}

	return out;
}
