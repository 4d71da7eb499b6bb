// The JSON printer: the contract document, two-space indented, one trailing newline.
// It comes out in chunks, one per process, so that a report of thousands of processes is
// never held in memory a second time as one large string.
import type {StatusDocument} from '../model/document.js';

const mark = '\u0000processes\u0000';

export function renderJson(doc: StatusDocument): string {
	return [...jsonChunks(doc)].join('');
}

export function * jsonChunks(doc: StatusDocument): Generator<string> {
	// The document with a marker in place of its processes (key order kept), then the
	// processes one at a time where the marker was.
	const shell = JSON.stringify(Object.fromEntries(Object.entries(doc).map(([k, v]) => [k, k === 'processes' ? mark : v])), null, 2);
	const [head, tail] = shell.split(JSON.stringify(mark)) as [string, string];
	yield head;
	if (doc.processes.length === 0) {
		yield '[]';
	} else {
		yield '[';
		for (const [i, p] of doc.processes.entries()) {
			yield `${i === 0 ? '' : ','}\n    ${JSON.stringify(p, null, 2).replaceAll('\n', '\n    ')}`;
		}

		yield '\n  ]';
	}

	yield `${tail}\n`;
}
