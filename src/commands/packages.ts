// `livetree packages [NAME...]`: which versions of which packages are in memory, in which
// processes and units, and the version installed.
import {collect} from '../collect.js';
import {UsageError} from '../errors/usage-error.js';
import {exitCodes} from '../exit-codes.js';
import {comparedOf, installedOf} from '../model/installed.js';
import {buildPackages} from '../model/packages.js';
import {runningAsRoot} from '../host.js';
import {readCommon} from '../options.js';
import {writeOutputFile, checkWritable} from '../output-file.js';
import {commandHelp} from './help.js';
import {parseCommand} from './parse.js';
import {commandTable} from './table.js';

export async function packagesCommand(argv: string[]): Promise<number> {
	const {values, positionals} = parseCommand('packages', commandTable.packages, argv);
	if (values.help) {
		process.stdout.write(commandHelp('packages'));
		return 0;
	}

	const options = readCommon(values);
	const format = values.format ?? (options.json ? 'json' : 'text');
	if (!['text', 'json', 'prometheus'].includes(format)) {
		throw new UsageError(`--format must be text, json or prometheus, not "${format}"`);
	}

	if (values.textfile !== undefined) {
		await checkWritable('--textfile', values.textfile);
	}

	const doc = await collect(options);
	const report = buildPackages({
		doc,
		installed: installedOf(doc) ?? [],
		compared: comparedOf(doc),
		names: positionals,
	});
	const {renderPackagesPrometheus} = await import('../render/packages-prometheus.js');
	if (format === 'json') {
		process.stdout.write(`${JSON.stringify(report, null, process.stdout.isTTY ? 2 : undefined)}\n`);
	} else if (format === 'prometheus') {
		process.stdout.write(renderPackagesPrometheus(report));
	} else {
		const [{makeStyle}, {renderPackagesText}, {terminalWidth}] = await Promise.all([
			import('../render/style.js'),
			import('../render/packages-text.js'),
			import('../render/wrap.js'),
		]);
		process.stdout.write(
			renderPackagesText(report, makeStyle(options.color), options.verbose, {names: positionals, width: terminalWidth(), asRoot: runningAsRoot()}),
		);
	}

	if (values.textfile !== undefined) {
		await writeOutputFile('--textfile', values.textfile, renderPackagesPrometheus(report));
	}

	if (report.summary.mismatched > 0) {
		return exitCodes.needed;
	}

	// Nothing read runs another version, but some processes were not read: not clean.
	return report.summary.complete ? exitCodes.clean : exitCodes.unknown;
}
