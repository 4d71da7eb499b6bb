// `livetree which MAJOR:MINOR:INODE|PATH`: which commits hold that object, at which paths.
import {parseArgs} from 'node:util';
import {checkDirectory} from '../collect.js';
import {UsageError} from '../errors/usage-error.js';
import {WhichError} from '../errors/which-error.js';
import {native} from '../native.js';
import {catalogPath, commonOptions, readCommon} from '../options.js';
import {short} from '../render/style.js';
import {prepareStateDir} from '../state-dir.js';

export const whichHelp = `Usage: livetree which (MAJOR:MINOR:INODE | PATH) [options]

Which commits hold a file, and at which paths. MAJOR:MINOR:INODE is what
/proc/PID/maps shows (device in decimal); PATH is a file on disk (found by inode in
the repo, or by its ostree checksum in the catalog) or a path inside trees such as
/usr/lib/libc.so.6.

Options: --sysroot, --state-dir, --json (see livetree status --help)
Exit codes: 0 found, 1 not in any known commit, 2 error.
`;

export async function whichCommand(argv: string[]): Promise<number> {
	const {values, positionals} = parseArgs({args: argv, options: commonOptions, allowPositionals: true, strict: true});
	if (values.help) {
		process.stdout.write(whichHelp);
		return 0;
	}

	if (positionals.length !== 1) {
		throw new UsageError('which takes one MAJOR:MINOR:INODE or PATH');
	}

	const query = positionals[0]!;
	if (query.trim() === '') {
		throw new UsageError('which takes a MAJOR:MINOR:INODE or a PATH, not an empty string');
	}

	// Anything shaped like numbers and colons is meant as a device and inode, never a file name
	// to look up: `254:246999` lacks the minor number.
	if (/^[\da-fA-F]+(:[\da-fA-F]+)*( \d+)?$/.test(query) && /[:\s]/.test(query) && !/^\d+:\d+[: ]\d+$/.test(query)) {
		throw new UsageError(`"${query}" is not MAJOR:MINOR:INODE (three decimal numbers, e.g. 254:1:246999, as stat -c '%Hd:%Ld:%i' prints them)`);
	}

	const options = readCommon(values);
	await checkDirectory('sysroot', options.sysroot);
	await checkDirectory('--run-dir', options.runDir);
	await prepareStateDir(options, 'read');
	let result;
	try {
		result = native.whichSync({sysroot: options.sysroot, runDir: options.runDir, catalogPath: catalogPath(options), query});
	} catch (error) {
		throw WhichError.fromNative(error);
	}

	for (const w of options.json ? [] : result.warnings) {
		process.stderr.write(`livetree: warning: ${w.code}: ${w.message}\n`);
	}

	if (options.json) {
		process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
	} else if (result.hits.length === 0) {
		process.stdout.write(`${positionals[0]!}: in no known commit${result.objectChecksum ? ` (object ${result.objectChecksum})` : ''}\n`);
	} else {
		process.stdout.write(`${positionals[0]!}${result.objectChecksum ? ` is object ${result.objectChecksum}` : ''}:\n`);
		for (const h of result.hits) {
			const deployed = h.deployments.length > 0 ? `, deployed as ${h.deployments.join(', ')}` : '';
			process.stdout.write(`  commit ${short(h.commit)}${h.version ? ` (${h.version})` : ''} at ${h.treePath}${deployed}\n`);
		}
	}

	return result.hits.length > 0 ? 0 : 1;
}
