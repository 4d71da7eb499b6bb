// A native Scanner a test keeps, closed before the test's directories are removed. A scanner
// left to the garbage collector closes its catalog whenever it is collected, and that close
// writes the catalog's stamp beside the file (docs/catalog-check.md): collected while a
// teardown removes the catalog's directory, the new stamp file made `rm -r` fail with
// ENOTEMPTY (seen in a run of the whole suite beside another checkout's).
import type {Scanner} from '../../src/collect.js';
import {native, type ScanOptions} from '../../src/native.js';

/** What undoes things in reverse order: an ava test's `t`, or a `Fixtures`. */
export interface Undoes {
	teardown(fn: () => void | Promise<void>): void;
}

/** `new native.Scanner(options)`, released by OWNER's teardown (before the directories made earlier are removed). */
export function keptScanner(owner: Undoes, options: ScanOptions): Scanner {
	const scanner = new native.Scanner(options);
	owner.teardown(() => scanner.release());
	return scanner;
}
