// One status collection: native scan, then systemd units, then the v1 document.
import {access, constants, stat} from 'node:fs/promises';
import path from 'node:path';
import {ScanError} from './errors/scan-error.js';
import {hostFacts} from './host.js';
import type {StatusDocument} from './model/document.js';
import type {UnitTable} from './model/unit-table.js';
import type {KernelThread, ScanParts} from './model/scan-parts.js';
import {debugLine} from './debug-line.js';
import {native} from './native.js';
import {catalogPath, type CommonOptions} from './options.js';
import {prepareStateDir} from './state-dir.js';
import type {ReloadSeen} from './systemd/outside-reloads.js';

export interface CollectOptions {
	pids?: number[];
	// Have the core write the processes apart, as the contract's JSON text, for a caller
	// that prints them unchanged (`status --json` without systemd's units): the document's
	// `processes` is then empty and `processesText` holds them. When units are to be added
	// to the processes, they are written apart with the table of what the units need of them,
	// and printed through it (`unitTable`, model/unit-table.ts).
	processesApart?: boolean;
	// Have the core build the timeline's observation of this whole scan and keep it in the
	// scanner, for `recordTimeline` (src/timeline/record.ts).
	observe?: boolean;
	// Reloads just made (restart --reload-needed's verification): a change before one counts
	// as applied (the catalog's recorded reloads the core reads itself).
	reloaded?: Array<{pid: number; startedAt: string; atMs: number}>;
	// Have the core write the processes apart with the unit table (scanOnly; set by
	// collectPrintable for processesApart with units to add).
	unitTable?: boolean;
	// Called once the core's scan runs on the thread pool: the modules the caller needs only
	// after the scan load meanwhile, on a core the scan leaves free (its attribution is one
	// thread), instead of before it.
	scanning?: () => void;
}

// A document whose processes may be JSON text (see CollectOptions.processesApart), and
// what the scan knew beside it.
export interface Collected {
	doc: StatusDocument;
	// The processes' JSON text, its UTF-8 bytes as the core wrote them (ScanParts).
	processesText?: Buffer;
	// The processes as the core wrote them with what the units changed, printed through it
	// (processesApart with units to add; model/unit-table.ts). `doc.processes` is then empty.
	unitTable?: UnitTable;
	// The kernel threads the scan saw and left out of the processes.
	kernelThreads: KernelThread[];
	// Of the unknown processes, those whose maps we were not permitted to read, and those
	// whose maps could not be read for another reason (see ProcessCounts); the rest of the
	// unknown ones were read (an unproven composefs image, say).
	unread: {denied: number; failed: number};
}

export type Scanner = InstanceType<typeof native.Scanner>;

// A native scanner for these options' places. It keeps what it knows (deployments, the
// repo's index, the open catalog) between scans and reloads only what changed on disk
// (the rule is in native/core/src/scanner.rs): the exporter and `restart` keep one.
export function openScanner(options: CommonOptions): Scanner {
	return new native.Scanner({
		sysroot: options.sysroot,
		procRoot: options.procRoot,
		sysRoot: options.sysRoot,
		runDir: options.runDir,
		hostRoot: '/',
		catalogPath: catalogPath(options),
		progress: Boolean(process.stderr.isTTY),
		kernel: true,
	});
}

export async function scanOnly(options: CommonOptions, extra: CollectOptions = {}, scanner: Scanner = openScanner(options)): Promise<ScanParts> {
	// Asked at once (one wait on the thread pool, not six); the first failure in this order
	// is the one said, as when they were asked one after another. The state directory, which
	// may be created, only once they passed.
	const checked = await Promise.allSettled([
		checkDirectory('sysroot', options.sysroot),
		checkDirectory('--proc-root', options.procRoot),
		checkDirectory('--run-dir', options.runDir),
	]);
	for (const c of checked) {
		if (c.status === 'rejected') {
			throw c.reason;
		}
	}

	await prepareStateDir(options, 'record');

	try {
		const scan = scanner.scan({
			...(extra.pids ? {pids: extra.pids} : {}),
			...(extra.processesApart ? {processesApart: true} : {}),
			...(extra.unitTable && !extra.processesApart ? {unitTable: true} : {}),
			...(extra.observe && !extra.pids ? {observe: true} : {}),
			...(extra.reloaded ? {reloaded: extra.reloaded} : {}),
			// A whole-host report includes the kernel; a look at a few PIDs does not.
			kernel: !extra.pids,
		});
		extra.scanning?.();
		const [json, {parseScan}] = await Promise.all([scan, import('./model/scan-parts.js')]);
		debugScan(scanner, extra.pids);
		return parseScan(json);
	} catch (error) {
		throw ScanError.fromNative(error);
	}
}

// One debug line per scan saying which processes it read and how often the scanner has
// loaded what it knows.
function debugScan(scanner: Scanner, pids: number[] | undefined): void {
	const debug = debugLine();
	if (!debug) {
		return;
	}

	const s = scanner.stats();
	const which = pids ? `PIDs ${pids.join(',')}` : 'every process';
	// Processes read before the scan was asked for (src/early.ts) are said only when there were.
	const early = s.earlyReads > 0 ? `, early reads ${s.earlyReads}` : '';
	debug(`scanned ${which}; knowledge loads ${s.knowledgeLoads}, index builds ${s.indexBuilds}, catalog opens ${s.catalogOpens}${early}`);
}

export async function collect(options: CommonOptions, extra: CollectOptions = {}, scanner?: Scanner): Promise<StatusDocument> {
	return (await collectPrintable(options, {...extra, processesApart: false}, scanner)).doc;
}

export async function collectPrintable(options: CommonOptions, extra: CollectOptions = {}, scanner?: Scanner): Promise<Collected> {
	const started = process.hrtime.bigint();
	// A bus whose socket is not there is known before the scan, from one stat: the report
	// is then what --no-systemd gives plus a warning, without loading the D-Bus library.
	const noBus = options.bus ? await (await import('./systemd/bus-address.js')).busMissing(options.bus) : null;
	const bus = noBus === null ? options.bus : undefined;
	// Units are added to the processes; without them the core may write the processes apart,
	// with them apart too, with the table of what the units need of each (printed with what
	// the units changed).
	const apart = Boolean(extra.processesApart) && !bus;
	const table = Boolean(extra.processesApart) && Boolean(bus);
	// One scanner for the scan and for judging again the processes of units reloaded outside
	// livetree (told of those reloads beside the ones asked for here).
	const kept = scanner ?? openScanner(options);
	// What systemd can tell before the scan has answered is asked while it runs, and the
	// module that words the units' reasons is loaded meanwhile. With the unit table, the unit
	// files are checked after the scan, from the starts it read (not each main process's
	// `stat` again).
	const ahead = bus
		? import('./systemd/status-units.js').then(async m => ({m, ahead: m.startAhead(bus, options.procRoot, !table), wording: import('./render/reason.js')}))
		: undefined;
	// What builds the document loads while the core scans.
	let building: Promise<[typeof import('./model/build.js'), typeof import('./model/installed.js')]> | undefined;
	const scanning = () => {
		building = Promise.all([import('./model/build.js'), import('./model/installed.js')]);
		extra.scanning?.();
	};

	let scanned: [ScanParts, Awaited<ReturnType<typeof hostFacts>>];
	try {
		scanned = await Promise.all([scanOnly(options, {...extra, processesApart: apart, unitTable: table, scanning}, kept), hostFacts()]);
	} catch (error) {
		// The connection opened meanwhile is closed, whatever it answered.
		void ahead?.then(async a => a.ahead).then(a => 'close' in a && a.close());
		throw error;
	}

	const [scan, host] = scanned;
	// Set: scanOnly returned a scan, so it started one.
	const [{buildDocument, withUnits}, {rememberInstalled}] = await building!;
	const doc = buildDocument({scan, host});
	rememberInstalled(doc, scan.installedPackages, scan.comparedTrees ?? []);
	if (ahead) {
		// Units need the processes' states, so they are added to the built document.
		const {m, ahead: asked, wording} = await ahead;
		const {staleWords, reasonSentence} = await wording;
		const rejudge = async (reloaded: readonly ReloadSeen[]) =>
			(await scanOnly(options, {pids: reloaded.map(r => r.pid), reloaded: [...(extra.reloaded ?? []), ...reloaded]}, kept)).processes;
		const processes = scan.unitTable ?? (await import('./model/unit-table.js')).scannedProcesses(doc.processes);
		const {units, warnings, answered} = await m.unitsForProcesses(processes, asked, {words: staleWords, sentence: reasonSentence}, options.procRoot, rejudge);
		withUnits(doc, units, warnings, answered, scan.unitTable);
	} else if (noBus !== null) {
		withUnits(doc, [], [{code: 'systemd-unavailable', message: noBus, pid: null}], false);
	}

	if (options.sysroot !== '/' && !(await isDirectory(path.join(options.sysroot, 'ostree')))) {
		// `/` without OSTree is a plain host; a directory named with --sysroot is meant to be one.
		doc.warnings.push({
			code: 'not-a-sysroot',
			message: `${options.sysroot}: no ostree/ directory here, so this is not an OSTree sysroot; no deployments were read`,
			pid: null,
		});
	}

	doc.scanDurationSeconds = Number(process.hrtime.bigint() - started) / 1e9;
	const beside = {kernelThreads: scan.kernelThreads, unread: {denied: scan.counts.processesDenied, failed: scan.counts.processesReadFailed}};
	if (scan.processesText !== undefined) return {doc, processesText: scan.processesText, ...beside};
	return scan.unitTable === undefined ? {doc, ...beside} : {doc, unitTable: scan.unitTable, ...beside};
}

// The sysroot, proc root and run directory must be directories we may read; say which of
// those one is not, with the errno the system gave (ENOTDIR for a file, not EACCES).
export async function checkDirectory(what: string, dir: string): Promise<void> {
	const fail = (why: string, code: string) => new ScanError(`${dir}: cannot read ${what}: ${why} (${code})`, code, dir);
	const info = await stat(dir).catch((error: NodeJS.ErrnoException) => {
		const code = error.code ?? 'EIO';
		throw fail(code === 'ENOENT' ? 'no such directory' : code === 'ENOTDIR' ? 'a part of the path is not a directory' : 'cannot stat it', code);
	});
	if (!info.isDirectory()) {
		throw fail('not a directory', 'ENOTDIR');
	}

	await access(dir, constants.R_OK | constants.X_OK).catch((error: NodeJS.ErrnoException) => {
		throw fail('permission denied', error.code ?? 'EACCES');
	});
}

async function isDirectory(dir: string): Promise<boolean> {
	return stat(dir).then(
		s => s.isDirectory(),
		() => false,
	);
}
