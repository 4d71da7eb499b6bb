// `livetree status` (also `livetree admin status`): what is running, per deployment.
import {collectPrintable, openScanner} from '../collect.js';
import {ScanError} from '../errors/scan-error.js';
import {UsageError} from '../errors/usage-error.js';
import type {StatusDocument} from '../model/document.js';
import {exitCodes} from '../exit-codes.js';
import {runningAsRoot} from '../host.js';
import {readCommon, type CommonOptions} from '../options.js';
import {complete} from '../model/complete.js';
import {printable} from '../render/reason.js';
import {parseCommand} from './parse.js';
import {suggestFor} from './rerun.js';
import {commandTable} from './table.js';
import {recordTimeline, willRecord} from '../timeline/record.js';
import type {ExporterFacts} from '../render/prometheus.js';

// The metrics' renderer and the restart history load only for the outputs that need them:
// `status --json` from cron is mostly Node's start-up and the scan.
const prometheus = async () => import('../render/prometheus.js');
// What prints the report loads while the core scans (collect.ts, `scanning`).
const printers = async () => Promise.all([import('../render/json.js'), import('../output-file.js')]);

export async function statusCommand(argv: string[]): Promise<number> {
	const {values} = parseCommand('status', commandTable.status, argv);
	if (values.help) {
		process.stdout.write((await import('./help.js')).commandHelp('status'));
		return 0;
	}

	const options = readCommon(values);
	const format = values.format ?? (options.json ? 'json' : 'text');
	if (!['text', 'json', 'prometheus'].includes(format)) {
		throw new UsageError(`--format must be text, json or prometheus, not "${format}"`);
	}

	if (values.output !== undefined || values.textfile !== undefined) {
		const {checkWritable} = await import('../output-file.js');
		if (values.output !== undefined) {
			await checkWritable('--output', values.output);
		}

		if (values.textfile !== undefined) {
			await checkWritable('--textfile', values.textfile);
		}
	}

	// Indented for a person at a terminal; compact for programs and files.
	const pretty = values.output === undefined && Boolean(process.stdout.isTTY);
	// Compact JSON with nothing to add to the processes prints them as the core wrote them.
	const asText = format === 'json' && !pretty && values.textfile === undefined;
	const scanner = openScanner(options);
	let printing: ReturnType<typeof printers> | undefined;
	const scanning = () => {
		printing = printers();
	};

	// The timeline's observation is built by the core during the scan, when it is recorded.
	const {doc, processesText, unitTable, unread} = await collectPrintable(options, {processesApart: asText, observe: willRecord(), scanning}, scanner);
	// Set: collectPrintable returned a scan, so it started one.
	const [{jsonChunks}, {writeOutputFile}] = await printing!;
	const {processes} = doc.summary;
	if (processes > 0 && unread.denied + unread.failed === processes && unread.failed > 0) {
		// Partial results are reported, and processes we may not read are an answer
		// (unknown, exit 3: run as root); none read at all, and not merely for want of
		// permission, is a failed scan.
		throw new ScanError(`no process could be scanned under ${options.procRoot} (${doc.warnings[0]?.message ?? 'unreadable'})`, 'EIO');
	}

	// Every whole scan is recorded in the catalog's timeline (docs/timeline.md).
	recordTimeline(options, doc, scanner, 'status', warn, unitTable);
	// Close the catalog now: its last close records the stamp that lets the next status
	// skip the catalog's quick_check (docs/catalog-check.md).
	scanner.release();

	// The restart history feeds only the metrics; read it once, and only for them.
	const metrics = format === 'prometheus' || values.textfile !== undefined;
	const facts: ExporterFacts = metrics ? {restarts: (await import('../restart-history.js')).readRestartHistory(options, warn)} : {};
	const output =
		format === 'json'
			? jsonChunks(doc, pretty, processesText ?? unitTable)
			: await render(doc, format, facts, options, values.output !== undefined, unread.denied);
	if (values.output === undefined) {
		await writeOut(output);
	} else {
		await writeOutputFile('--output', values.output, output);
	}

	if (values.textfile !== undefined) {
		await writeOutputFile('--textfile', values.textfile, (await prometheus()).renderPrometheus(doc, facts));
	}

	return exitCode(doc, values['fail-on-reload'] === true);
}

function warn(message: string): void {
	process.stderr.write(`livetree status: ${printable(message)}\n`);
}

// 1 when something needs a restart (or a reboot), whatever could not be read, or (with
// --fail-on-reload) some process needs a reload; else 3 when some process could not be read
// (unknown is not clean), else 0.
export function exitCode(doc: StatusDocument, failOnReload = false): number {
	const s = doc.summary;
	const reload = failOnReload && (s.processesNeedingReload ?? 0) > 0;
	if (s.processesNeedingRestart > 0 || s.unitsNeedingRestart > 0 || s.rebootNeeded === true || reload) {
		return exitCodes.needed;
	}

	return complete(doc) ? exitCodes.clean : exitCodes.unknown;
}

// Text or Prometheus; JSON is streamed by the caller.
async function render(doc: StatusDocument, format: string, facts: ExporterFacts, options: CommonOptions, toFile: boolean, denied: number): Promise<string> {
	if (format === 'prometheus') {
		return (await prometheus()).renderPrometheus(doc, facts);
	}

	const {color, verbose} = options;

	const [{makeStyle}, {renderText}, {terminalWidth}] = await Promise.all([
		import('../render/style.js'),
		import('../render/text.js'),
		import('../render/wrap.js'),
	]);
	const style = makeStyle(toFile && color === 'auto' ? 'never' : color);
	// A terminal's width wraps long lines; a pipe or a file gets them whole (no width).
	const width = toFile ? undefined : terminalWidth();
	// The commands under "Next:" read what this run read (its sysroot, catalog, bus, …).
	return renderText(doc, {style, verbose, width, asRoot: runningAsRoot(), denied, suggest: suggestFor(options)});
}

// stdout may be a pipe: wait for each chunk to drain so a large report is not buffered whole.
async function writeOut(output: string | Iterable<string | Uint8Array>): Promise<void> {
	for (const chunk of typeof output === 'string' ? [output] : output) {
		if (!process.stdout.write(chunk)) {
			await new Promise(resolve => process.stdout.once('drain', resolve));
		}
	}
}
