// Colour policy: --color=always|never|auto; auto means a TTY and no NO_COLOR.
import {Chalk, type ChalkInstance} from 'chalk';

export type ColorMode = 'always' | 'never' | 'auto';

export function makeStyle(mode: ColorMode, stream: {isTTY?: boolean} = process.stdout): ChalkInstance {
	const noColor = process.env['NO_COLOR'] !== undefined && process.env['NO_COLOR'] !== '';
	const on = mode === 'always' || (mode === 'auto' && Boolean(stream.isTTY) && !noColor);
	return new Chalk({level: on ? 1 : 0});
}
