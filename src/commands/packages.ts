// `livetree packages [NAME...]`: which versions of which packages are in memory, in which
// processes and units, and the version installed.
import {parseArgs} from 'node:util';
import {collect} from '../collect.js';
import {UsageError} from '../errors/usage-error.js';
import {installedOf} from '../model/installed.js';
import {buildPackages} from '../model/packages.js';
import {commonOptions, readCommon} from '../options.js';
import {writeAtomic} from '../write-atomic.js';

export const packagesHelp = `Usage: livetree packages [NAME...] [options]

List the packages whose code is in memory: each version running, the processes and
units running it, and the version installed in the booted (else default) deployment,
or on a host without OSTree in the host's own package database. NAME filters by
binary or source package name.

Options:
  --json                 print the packages document (schema/packages.schema.json)
  --format FORMAT        text (default), json or prometheus
  --textfile FILE        also write the Prometheus metrics to FILE atomically
  --sysroot, --state-dir, --user, --bus-address, --no-systemd, --color, -v/--verbose
                         as for livetree status

Exit codes: 0 every package runs its installed version, 1 some package runs another
version, 2 the scan failed.
`;

export async function packagesCommand(argv: string[]): Promise<number> {
	const {values, positionals} = parseArgs({
		args: argv,
		options: {...commonOptions, format: {type: 'string'}, textfile: {type: 'string'}},
		allowPositionals: true,
		strict: true,
	});
	if (values.help) {
		process.stdout.write(packagesHelp);
		return 0;
	}

	const options = readCommon(values);
	const format = values.format ?? (options.json ? 'json' : 'text');
	if (!['text', 'json', 'prometheus'].includes(format)) {
		throw new UsageError(`--format must be text, json or prometheus, not "${format}"`);
	}

	const doc = await collect(options);
	const report = buildPackages({
		doc,
		installed: installedOf(doc) ?? [],
		names: positionals,
	});
	const {renderPackagesPrometheus} = await import('../render/packages-prometheus.js');
	if (format === 'json') {
		process.stdout.write(`${JSON.stringify(report, null, process.stdout.isTTY ? 2 : undefined)}\n`);
	} else if (format === 'prometheus') {
		process.stdout.write(renderPackagesPrometheus(report));
	} else {
		const [{makeStyle}, {renderPackagesText}] = await Promise.all([import('../render/style.js'), import('../render/packages-text.js')]);
		process.stdout.write(renderPackagesText(report, makeStyle(options.color), options.verbose));
	}

	if (values.textfile !== undefined) {
		await writeAtomic(values.textfile, renderPackagesPrometheus(report));
	}

	return report.summary.mismatched > 0 ? 1 : 0;
}
