// `livetree catalog check|rebuild`: inspect the catalog, or move a damaged one aside and
// salvage what can be read. Nothing recorded is deleted.
import {parseArgs} from 'node:util';
import {CatalogError} from '../errors/catalog-error.js';
import {UsageError} from '../errors/usage-error.js';
import {native} from '../native.js';
import {catalogPath, commonOptions, readCommon} from '../options.js';
import {prepareStateDir} from '../state-dir.js';

export const catalogHelp = `Usage: livetree catalog (check | rebuild) [--state-dir DIR] [--json]

  check     integrity check, schema version and row counts; changes nothing
  rebuild   move the catalog aside (catalog.sqlite.corrupt-TIME), create a fresh one,
            and copy into it everything still readable; lists what was lost

Exit codes: 0 healthy / rebuilt, 1 check found damage, 2 error.
`;

export async function catalogCommand(argv: string[]): Promise<number> {
	const {values, positionals} = parseArgs({args: argv, options: commonOptions, allowPositionals: true, strict: true});
	if (values.help) {
		process.stdout.write(catalogHelp);
		return 0;
	}

	const options = readCommon(values);
	// check only reads; rebuild writes, but into a state directory that must already exist.
	await prepareStateDir(options, 'read');
	const path = catalogPath(options);
	try {
		if (positionals[0] === 'check' && positionals.length === 1) {
			const r = native.catalogCheck(path);
			process.stdout.write(options.json ? `${JSON.stringify(r, null, 2)}\n`
				: `${r.path}: ${r.ok ? 'ok' : 'DAMAGED'}; schema ${r.schemaVersion ?? '?'}; ${r.commits ?? '?'} commits, ${r.files ?? '?'} files, ${r.deployments ?? '?'} deployments, ${r.restarts ?? '?'} restarts (${r.restartsInProgress ?? 0} in progress)\n${r.problems.map(p => `  ${p}\n`).join('')}`);
			return r.ok ? 0 : 1;
		}

		if (positionals[0] === 'rebuild' && positionals.length === 1) {
			const r = native.catalogRebuild(path);
			process.stdout.write(options.json ? `${JSON.stringify(r, null, 2)}\n`
				: `${r.path}: rebuilt${r.movedTo ? `; the old file is kept as ${r.movedTo}` : ''}; salvaged ${r.commitsSalvaged} commits, ${r.deploymentsSalvaged} deployments, ${r.restartsSalvaged} restarts\n${r.lost.map(l => `  lost: ${l}\n`).join('')}`);
			return 0;
		}
	} catch (error) {
		throw CatalogError.fromNative(error);
	}

	throw new UsageError('catalog takes check or rebuild');
}
