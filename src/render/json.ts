// The JSON printer: the contract document and one trailing newline; two-space indented
// for a person at a terminal, compact for programs (half the bytes, half the time on a
// host of thousands of processes). It comes out in chunks, so that a
// large report is never held in memory a second time as one string; processes are gathered
// into chunks of about 64 KiB, as one write(2) per process would cost a system call each.
import type {StatusDocument} from '../model/document.js';
import type {UnitTable} from '../model/unit-table.js';

const mark = '\u0000processes\u0000';
const chunkSize = 64 * 1024;
const utf8 = new TextDecoder();

export function renderJson(doc: StatusDocument, pretty = true): string {
	return [...jsonChunks(doc, pretty)].join('');
}

// `processesText`: the processes as the core wrote them (compact JSON, the contract's array,
// in UTF-8 bytes), printed in place of `doc.processes` when given, as they are; or the table
// through which they print with what systemd's units changed (model/unit-table.ts). Only for
// compact output.
export function* jsonChunks(doc: StatusDocument, pretty = true, processesText?: Uint8Array | UnitTable): Generator<string | Uint8Array> {
	// The document with a marker in place of its processes (key order kept), then the
	// processes one at a time where the marker was.
	const indent = pretty ? 2 : undefined;
	const shell = JSON.stringify(Object.fromEntries(Object.entries(doc).map(([k, v]) => [k, k === 'processes' ? mark : v])), null, indent);
	const [head, tail] = shell.split(JSON.stringify(mark)) as [string, string];
	yield head;
	if (processesText !== undefined && pretty) {
		// The text is compact; indenting it would mean parsing it after all.
		throw new TypeError('jsonChunks: processes given as text print compact only');
	}

	if (processesText instanceof Uint8Array) {
		yield processesText;
	} else if (processesText) {
		// Runs of unchanged processes are slices of the core's text.
		yield* chunks(processesText.printAll());
	} else if (doc.processes.length === 0) {
		yield '[]';
	} else {
		yield* chunks(processTexts(doc, pretty));
	}

	yield `${tail}\n`;
}

// Each process's text as the array holds it (with its separator), between the brackets.
function* processTexts(doc: StatusDocument, pretty: boolean): Generator<string> {
	yield '[';
	for (const [i, p] of doc.processes.entries()) {
		yield pretty ? `${i === 0 ? '' : ','}\n    ${JSON.stringify(p, null, 2).replaceAll('\n', '\n    ')}` : `${i === 0 ? '' : ','}${JSON.stringify(p)}`;
	}

	yield pretty ? '\n  ]' : ']';
}

// `pieces` gathered into chunks of about `chunkSize`; a piece that long by itself is written
// as it is, not copied into a chunk first (bytes, UTF-8, as bytes: not made a string).
function* chunks(pieces: Iterable<string | Uint8Array>): Generator<string | Uint8Array> {
	let chunk = '';
	for (const piece of pieces) {
		if (piece.length >= chunkSize) {
			if (chunk !== '') yield chunk;
			yield piece;
			chunk = '';
			continue;
		}

		chunk += typeof piece === 'string' ? piece : utf8.decode(piece);
		if (chunk.length >= chunkSize) {
			yield chunk;
			chunk = '';
		}
	}

	if (chunk !== '') yield chunk;
}
