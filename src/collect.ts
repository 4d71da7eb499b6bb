// One status collection: native scan, then systemd units, then the v1 document.
import {access, constants} from 'node:fs/promises';
import {ScanError} from './errors/scan-error.js';
import {hostFacts} from './host.js';
import {buildDocument, toPackage, withUnits} from './model/build.js';
import {rememberInstalled} from './model/installed.js';
import type {StatusDocument} from './model/document.js';
import {native, type ScanResult} from './native.js';
import {catalogPath, type CommonOptions} from './options.js';

export interface CollectOptions {
	pids?: number[];
}

export async function scanOnly(options: CommonOptions, extra: CollectOptions = {}): Promise<ScanResult> {
	await access(options.sysroot, constants.R_OK | constants.X_OK).catch((error: NodeJS.ErrnoException) => {
		throw new ScanError(`${options.sysroot}: cannot read sysroot (${error.code ?? error.message})`, error.code ?? 'EIO', options.sysroot);
	});
	try {
		return await native.scan({
			sysroot: options.sysroot,
			procRoot: options.procRoot,
			runDir: options.runDir,
			hostRoot: '/',
			catalogPath: catalogPath(options),
			...(extra.pids ? {pids: extra.pids} : {}),
			progress: Boolean(process.stderr.isTTY),
		});
	} catch (error) {
		throw ScanError.fromNative(error);
	}
}

export async function collect(options: CommonOptions, extra: CollectOptions = {}): Promise<StatusDocument> {
	const started = process.hrtime.bigint();
	const [scan, host] = await Promise.all([scanOnly(options, extra), hostFacts()]);
	const doc = buildDocument({scan, host, units: []});
	rememberInstalled(doc, scan.installedPackages.map(i => ({tree: i.tree, package: toPackage(i.package)})));
	if (options.bus) {
		// Units need the processes' states, so they are added to the built document.
		const {unitsForProcesses} = await import('./systemd/status-units.js');
		const {units, warnings} = await unitsForProcesses(doc.processes, options.bus);
		withUnits(doc, units, warnings);
	}

	doc.scanDurationSeconds = Number(process.hrtime.bigint() - started) / 1e9;
	return doc;
}
