// The site's restart policy: /etc/livetree/restart.conf (or --restart-config FILE).
//
//   # units livetree restart --needed never restarts; systemd globs; named units still restart
//   exclude sshd.service
//   exclude postgresql@*.service  pgbouncer.service
//
// A missing default file is no policy; a file named on the command line must exist. A line
// that does not parse is an error naming FILE:LINE: a policy silently half-applied is worse
// than none.
import {readFile} from 'node:fs/promises';
import {UsageError} from './errors/usage-error.js';

export const defaultRestartConfig = '/etc/livetree/restart.conf';

export interface Exclusion {
	pattern: string;
	source: string;
}

export function parseRestartConfig(text: string, file: string): Exclusion[] {
	const out: Exclusion[] = [];
	for (const [i, raw] of text.split('\n').entries()) {
		const line = raw.replace(/#.*/, '').trim();
		if (line === '') {
			continue;
		}

		const [directive, ...args] = line.split(/\s+/);
		if (directive !== 'exclude' || args.length === 0) {
			throw new UsageError(`${file}:${i + 1}: expected "exclude UNIT-PATTERN…", not "${line}"`);
		}

		for (const pattern of args) {
			out.push({pattern, source: `${file}:${i + 1}`});
		}
	}

	return out;
}

export async function loadRestartConfig(file: string | undefined): Promise<Exclusion[]> {
	const path = file ?? defaultRestartConfig;
	let text: string;
	try {
		text = await readFile(path, 'utf8');
	} catch (error) {
		const code = (error as NodeJS.ErrnoException).code ?? 'EIO';
		if (file === undefined && code === 'ENOENT') {
			return [];
		}

		throw new UsageError(`${path}: cannot read the restart policy (${code})`);
	}

	return parseRestartConfig(text, path);
}
