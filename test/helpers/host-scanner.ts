// The native scanner as `livetree` opens it (src/collect.ts openScanner), but with a tree a
// test made as the host root: the CLI always scans host root `/`. No progress, no kernel.
// Released by OWNER's teardown (test/helpers/kept-scanner.ts says why).
import type {Scanner} from '../../src/collect.js';
import {type CommonOptions, catalogPath} from '../../src/options.js';
import {keptScanner, type Undoes} from './kept-scanner.js';

export function hostRootScanner(owner: Undoes, options: CommonOptions, hostRoot: string): Scanner {
	return keptScanner(owner, {
		sysroot: options.sysroot,
		procRoot: '/proc',
		sysRoot: '/sys',
		runDir: options.runDir,
		hostRoot,
		catalogPath: catalogPath(options),
		progress: false,
		kernel: false,
	});
}
