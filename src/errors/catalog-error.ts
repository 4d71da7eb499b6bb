// Reading, checking or rebuilding the catalog failed (`catalog`, `history`). Exit code 2.
import path from 'node:path';
import {shellWord} from '../commands/rerun.js';
import {defaultStateDir} from '../options.js';
import {NativeError} from './native-error.js';

export class CatalogError extends NativeError {
	override name = 'CatalogError';
}

/**
 * The core refuses a damaged catalog with a way out: "run `livetree catalog check` …, then
 * `livetree catalog rebuild` …". For a catalog outside the default state directory, those
 * commands name its `--state-dir` (shell-quoted), so that run as printed they inspect and
 * repair the catalog that was refused, not the default one.
 */
export function catalogHint(message: string, catalogPath: string | undefined): string {
	if (catalogPath === undefined) {
		return message;
	}

	return message.replaceAll(/`livetree catalog (check|rebuild)`/g, (_, what: 'check' | 'rebuild') => `\`${catalogCommandLine(what, catalogPath)}\``);
}

/**
 * `livetree catalog check` or `rebuild` of the catalog at `catalogPath`, as a shell runs it:
 * with its `--state-dir` (shell-quoted) unless it is the default state directory's.
 */
export function catalogCommandLine(what: 'check' | 'rebuild', catalogPath: string): string {
	const dir = path.dirname(catalogPath);
	if (path.basename(catalogPath) !== 'catalog.sqlite' || dir === defaultStateDir) {
		return `livetree catalog ${what}`;
	}

	return `livetree catalog ${what} --state-dir ${shellWord(dir)}`;
}
