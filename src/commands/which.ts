// `livetree which MAJOR:MINOR:INODE|PATH`: which commits hold that object, at which paths.
import {checkDirectory} from '../collect.js';
import {UsageError} from '../errors/usage-error.js';
import {WhichError} from '../errors/which-error.js';
import {native} from '../native.js';
import {catalogPath, readCommon} from '../options.js';
import {short} from '../render/style.js';
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
