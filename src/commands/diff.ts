// `livetree diff A B`: what runs differently between two `status --json` documents
// (two hosts, or one host before and after a change). Exit 0 same, 1 different, 2 error.
import {readFile} from 'node:fs/promises';
import {UsageError} from '../errors/usage-error.js';
import {diffDocuments, notStatusDocument} from '../model/diff.js';
import type {StatusDocument} from '../model/document.js';
import {renderDiffText} from '../render/diff-text.js';
import {makeStyle, type ColorMode} from '../render/style.js';
import {commandHelp} from './help.js';
import {parseCommand} from './parse.js';
import {commandTable} from './table.js';

/** Read and check one side: FILE, or - for standard input. */
export async function readStatusDocument(source: string): Promise<StatusDocument> {
	let text: string;
	try {
		text = source === '-' ? await readStdin() : await readFile(source, 'utf8');
	} catch (error) {
		throw new UsageError(`diff: cannot read ${source}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
	}

	let value: unknown;
	try {
		value = JSON.parse(text) as unknown;
	} catch (error) {
		throw new UsageError(`diff: ${source} is not JSON (${(error as Error).message})`);
	}

	const problem = notStatusDocument(value);
	if (problem) {
		throw new UsageError(`diff: ${source} is not a status document: ${problem}`);
	}

	return value as StatusDocument;
}

async function readStdin(): Promise<string> {
	const chunks: Buffer[] = [];
	for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
	return Buffer.concat(chunks).toString('utf8');
}

export async function diffCommand(argv: string[]): Promise<number> {
	const {values, positionals} = parseCommand('diff', commandTable.diff, argv);
	if (values.help) {
		process.stdout.write(commandHelp('diff'));
		return 0;
	}

	if (positionals.length !== 2) {
		throw new UsageError(`diff takes two status documents, A and B, not ${positionals.length} (see livetree diff --help)`);
	}

	const color = values.color;
	if (color !== 'always' && color !== 'never' && color !== 'auto') {
		throw new UsageError(`--color must be always, never or auto, not "${color}"`);
	}

	const [a, b] = positionals as [string, string];
	if (a === '-' && b === '-') throw new UsageError('diff: only one side can be standard input (-)');
	const docA = await readStatusDocument(a);
	const docB = await readStatusDocument(b);
	const diff = diffDocuments(docA, docB, {a, b});
	process.stdout.write(values.json ? `${JSON.stringify(diff, null, 2)}\n` : renderDiffText(diff, makeStyle(color as ColorMode)));
	return diff.differ ? 1 : 0;
}
