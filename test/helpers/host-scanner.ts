// The native scanner as `livetree` opens it (src/collect.ts openScanner), but with a tree a
// test made as the host root: the CLI always scans host root `/`. No progress, no kernel.
import type {Scanner} from '../../src/collect.js';
import {native} from '../../src/native.js';
import {type CommonOptions, catalogPath} from '../../src/options.js';

export function hostRootScanner(options: CommonOptions, hostRoot: string): Scanner {
	return new native.Scanner({
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
