// `livetree config-diff [DEPLOYMENT]`: a deployment's /etc against its /usr/etc, as
// `ostree admin config-diff` lists it, or on a plain host the drifted dpkg conffiles or rpm
// %config files (docs/config.md). The core decides; this prints.
import {checkDirectory} from '../collect.js';
import {NativeError} from '../errors/native-error.js';
import {UsageError} from '../errors/usage-error.js';
import type {Package} from '../model/document.js';
import {native} from '../native.js';
import {readCommon} from '../options.js';
import {printable, printableBytes} from '../render/reason.js';
import {commandHelp} from './help.js';
import {parseCommand} from './parse.js';
import {commandTable} from './table.js';

class ConfigDiffError extends NativeError {
	override name = 'ConfigDiffError';
}

/** What `config-diff --json` prints (the core's shape: native/core/src/config/config_diff.rs). */
export interface ConfigDiffDocument {
	kind: 'ostree' | 'packages';
	/** The package database a plain host's list comes from; null for an OSTree deployment. */
	manager: 'dpkg' | 'rpm' | null;
	deployment: {id: string; index: number; booted: boolean; path: string} | null;
	root: string | null;
	counts: {modified: number; added: number; removed: number};
	changes: Array<{change: 'M' | 'D' | 'A'; path: string; pathBase64: string; package: Package | null}>;
	warnings: Array<{code: string; message: string}>;
}

export async function configDiffCommand(argv: string[]): Promise<number> {
	const {values, positionals} = parseCommand('config-diff', commandTable['config-diff'], argv);
	if (values.help) {
		process.stdout.write(commandHelp('config-diff'));
		return 0;
	}

	if (positionals.length > 1) {
		throw new UsageError(`config-diff takes at most one DEPLOYMENT, not ${positionals.length}`);
	}

	const deployment = positionals[0];
	if (deployment === '') {
		throw new UsageError('config-diff: DEPLOYMENT is an index, OSNAME/CHECKSUM.SERIAL or CHECKSUM.SERIAL, not an empty string');
	}

	const options = readCommon(values);
	await checkDirectory('sysroot', options.sysroot);
	await checkDirectory('--run-dir', options.runDir);
	let text: string;
	try {
		text = native.configDiffSync({sysroot: options.sysroot, runDir: options.runDir, deployment});
	} catch (error) {
		throw ConfigDiffError.fromNative(error);
	}

	const doc = JSON.parse(text) as ConfigDiffDocument;
	if (options.json) {
		process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
	} else {
		for (const w of doc.warnings) {
			process.stderr.write(`livetree: warning: ${w.code}: ${printable(w.message)}\n`);
		}

		// ostree's own line: the letter, four spaces, the path.
		const lines = doc.changes.map(c => `${c.change}    ${printableBytes(Buffer.from(c.pathBase64, 'base64'))}\n`);
		process.stdout.write(lines.join(''));
	}

	// A difference found is one, whatever else could not be checked; with none found, what
	// could not be checked (every config-diff warning is such) makes the answer unknown, not
	// clean.
	if (doc.changes.length > 0) return 1;
	return doc.warnings.length > 0 ? 3 : 0;
}
