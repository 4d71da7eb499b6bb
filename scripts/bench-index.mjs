// Helpers for the 100,000-object part of scripts/bench.sh.
//
//   node scripts/bench-index.mjs files DIR COUNT   write COUNT small files with distinct
//                                                  bytes under DIR (1,000 per subdirectory)
//   node scripts/bench-index.mjs scan SYSROOT CATALOG
//                                                  one native scan of this process only: the
//                                                  repo's inode index, plus the commit walk
//                                                  and catalog recording when CATALOG does
//                                                  not know the deployed commit yet
//   node scripts/bench-index.mjs load              load the addon only (node + addon start-up,
//                                                  the fixed cost inside every `scan` figure)
import {mkdirSync, writeFileSync} from 'node:fs';
import path from 'node:path';
import {parseScan} from '../dist/src/model/scan-parts.js';
import {native} from '../dist/src/native.js';

const [mode, ...args] = process.argv.slice(2);

if (mode === 'files') {
	const [dir, countText] = args;
	const count = Number(countText);
	if (!dir || !Number.isInteger(count) || count <= 0) {
		throw new Error('usage: files DIR COUNT');
	}

	// Distinct bytes per file, so every file is its own ostree object.
	for (let i = 0; i < count; i++) {
		const sub = path.join(dir, `d${String(Math.floor(i / 1000)).padStart(3, '0')}`);
		if (i % 1000 === 0) {
			mkdirSync(sub, {recursive: true});
		}

		writeFileSync(path.join(sub, `f${i}`), `livetree bench object ${i}\n`);
	}
} else if (mode === 'scan') {
	const [sysroot, catalogPath] = args;
	if (!sysroot || !catalogPath) {
		throw new Error('usage: scan SYSROOT CATALOG');
	}

	// This process alone: its own files (node, libc) are on the repo's device when the
	// sysroot is on the root filesystem, and a mapping on that device is what makes a scan
	// build the repo's inode index (it is built on first need). Checked below.
	const scanner = new native.Scanner({sysroot, catalogPath, kernel: false});
	const started = process.hrtime.bigint();
	const result = parseScan(scanner.scanSync({pids: [process.pid]}));
	const ms = Number(process.hrtime.bigint() - started) / 1e6;
	if (scanner.stats().indexBuilds !== 1) {
		process.stderr.write('bench-index: the scan did not build the inode index (is the sysroot on the root filesystem?)\n');
		process.exitCode = 1;
	}
	// A scan that could not read the repo would be fast and wrong: fail loudly instead.
	const bad = result.warnings.filter(w => ['repo-unreadable', 'repo-index', 'commit-unreadable', 'catalog-write'].includes(w.code));
	if (bad.length > 0 || result.deployments.length === 0) {
		process.stderr.write(`bench-index: scan incomplete: ${JSON.stringify(result.warnings)}\n`);
		process.exitCode = 1;
	}

	process.stderr.write(`bench-index: scan ${ms.toFixed(1)} ms in-process\n`);
} else if (mode === 'load') {
	if (typeof native.scanSync !== 'function') {
		process.exitCode = 1;
	}
} else {
	process.stderr.write('usage: bench-index.mjs files DIR COUNT | scan SYSROOT CATALOG | load\n');
	process.exitCode = 2;
}
