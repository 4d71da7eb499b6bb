// Colour policy: --color=always|never|auto; auto means a TTY and no NO_COLOR.
import {Chalk, type ChalkInstance} from 'chalk';

export type ColorMode = 'always' | 'never' | 'auto';

export function makeStyle(mode: ColorMode, stream: {isTTY?: boolean} = process.stdout): ChalkInstance {
	const noColor = process.env['NO_COLOR'] !== undefined && process.env['NO_COLOR'] !== '';
	const on = mode === 'always' || (mode === 'auto' && Boolean(stream.isTTY) && !noColor);
	return new Chalk({level: on ? 1 : 0});
}

// Checksums are 64 hex digits; people recognise them by their first ten.
export function short(checksum: string | null | undefined): string {
	return checksum ? `${checksum.slice(0, 10)}…` : '?';
}

// A deployment id (OSNAME/CHECKSUM.SERIAL) with its checksum shortened, for sentences.
export function shortId(id: string): string {
	const match = /^(.*\/)([\da-f]{64})(\.\d+)$/.exec(id);
	return match ? `${match[1]!}${short(match[2])}${match[3]!}` : id;
}
