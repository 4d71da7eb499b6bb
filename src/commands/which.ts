// `livetree which MAJOR:MINOR:INODE|PATH`: which commits hold that object, at which paths.
import {checkDirectory} from '../collect.js';
import {UsageError} from '../errors/usage-error.js';
import {WhichError} from '../errors/which-error.js';
import {native} from '../native.js';
import {catalogPath, readCommon} from '../options.js';
import type {Package} from '../model/document.js';
import {packageLabel} from '../render/package-label.js';
import {printable} from '../render/reason.js';
import {short} from '../render/short.js';
import {prepareStateDir} from '../state-dir.js';
import {commandHelp} from './help.js';
import {parseCommand} from './parse.js';
import {commandTable} from './table.js';

export async function whichCommand(argv: string[]): Promise<number> {
	const {values, positionals} = parseCommand('which', commandTable.which, argv);
	if (values.help) {
		process.stdout.write(commandHelp('which'));
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
		const e = WhichError.fromNative(error);
		// No file here and no tree path a known commit holds: nothing to look up.
		if (e.code === 'ENOENT' && e.path === query) {
			// Node decodes arguments as UTF-8: a name that is not arrives with U+FFFD for its
			// bytes and names nothing; the file's device and inode still reach it.
			const mangled = query.includes('\uFFFD')
				? "; a name that is not UTF-8 reaches livetree with its bytes replaced: ask by MAJOR:MINOR:INODE, as stat -c '%Hd:%Ld:%i' prints it"
				: '';
			throw new WhichError(`${printable(query)}: no such file, and no known commit holds that path (ENOENT)${mangled}`, 'ENOENT', query);
		}

		throw e;
	}

	for (const w of options.json ? [] : result.warnings) {
		process.stderr.write(`livetree: warning: ${w.code}: ${printable(w.message)}\n`);
	}

	// The contract's shape of a package (origin.package): every field present, null when unknown.
	const pkg: Package | null = result.package
		? {
				name: result.package.name,
				version: result.package.version,
				arch: result.package.arch ?? null,
				manager: result.package.manager as Package['manager'],
				source: result.package.source ?? null,
				sourceVersion: result.package.sourceVersion ?? null,
			}
		: null;
	if (options.json) {
		process.stdout.write(`${JSON.stringify({...result, package: pkg}, null, 2)}\n`);
	} else {
		const name = printable(query);
		const object = result.objectChecksum ? ` (object ${result.objectChecksum})` : '';
		if (pkg) {
			process.stdout.write(`${name}: installed by package ${packageLabel(pkg)}, ${pkg.manager} (the host's package database)\n`);
		}

		if (result.hits.length === 0) {
			process.stdout.write(`${name}: in no known commit${object}${result.objectChecksum && !pkg ? "; no package of the host's database installed it" : ''}\n`);
		} else {
			process.stdout.write(`${name}${result.objectChecksum ? ` is object ${result.objectChecksum}` : ''}:\n`);
			for (const h of result.hits) {
				const deployed = h.deployments.length > 0 ? `, deployed as ${h.deployments.join(', ')}` : '';
				process.stdout.write(`  commit ${short(h.commit)}${h.version ? ` (${h.version})` : ''} at ${printable(h.treePath)}${deployed}\n`);
			}
		}
	}

	// Found: a known commit holds it, or a package of the host installed it.
	return result.hits.length > 0 || pkg ? 0 : 1;
}
