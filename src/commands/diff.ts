// `livetree diff A B`: what runs differently between two `status --json` documents
// (two hosts, or one host before and after a change). Exit 0 same, 1 different, 2 error.
import {readFile} from 'node:fs/promises';
import {UsageError} from '../errors/usage-error.js';
import {existsSync} from 'node:fs';
import {CatalogError} from '../errors/catalog-error.js';
import {diffSides, documentSide, notStatusDocument, type Side} from '../model/diff.js';
import {native} from '../native.js';
import {catalogPath, readCommon, type CommonOptions} from '../options.js';
import {timelineSide} from '../timeline/as-side.js';
import {localTime, parseTime} from '../timeline/time.js';
import type {StatusDocument} from '../model/document.js';
import {renderDiffText} from '../render/diff-text.js';
import {makeStyle, type ColorMode} from '../render/style.js';
import {catalogExists} from '../state-dir.js';
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

/** A file (or -), or @TIME: the catalog's timeline at that moment (docs/timeline.md). */
async function readSide(source: string, options: CommonOptions): Promise<Side> {
	if (!source.startsWith('@') || existsSync(source)) return documentSide(await readStatusDocument(source), source);
	const at = parseTime(source.slice(1), `diff ${source}`);
	const file = catalogPath(options);
	if (!catalogExists(file)) throw new CatalogError(`${file}: no catalog here, so no scan was recorded to compare with ${source}`, 'ENOENT', file);
	let answer;
	try {
		answer = native.catalogQueryTimeline(file, {since: at, until: at});
	} catch (error) {
		throw CatalogError.fromNative(error);
	}

	const gap = answer.gaps[0];
	if (answer.firstScan === undefined || answer.firstScan === null || gap) {
		const when =
			!gap || ((gap.from === null || gap.from === undefined) && (gap.to === null || gap.to === undefined))
				? 'no scan is recorded'
				: gap.from === null || gap.from === undefined
					? `no scan before ${localTime(gap.to!)}`
					: gap.to === null || gap.to === undefined
						? `no scan after ${localTime(gap.from)}`
						: `no scan between ${localTime(gap.from)} and ${localTime(gap.to)}`;
		throw new UsageError(`diff: ${when}: the timeline does not know what ran at ${localTime(at)}`);
	}

	return timelineSide(answer, at, source);
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
	const options = readCommon(values);
	const diff = diffSides(await readSide(a, options), await readSide(b, options));
	process.stdout.write(values.json ? `${JSON.stringify(diff, null, 2)}\n` : renderDiffText(diff, makeStyle(color as ColorMode)));
	return diff.differ ? 1 : 0;
}
