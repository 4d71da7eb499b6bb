// Line layout for the text report. At a terminal, long lines wrap at spaces with a hanging
// indent; a word (a path) is never broken: one wider than the line is shortened in its
// middle ("/usr/lib/…/libc.so.6"). In a pipe or a file (no width) nothing wraps or is
// shortened, so grep finds every path whole.

// Fit a path into width characters by dropping directories from its middle.
export function elide(word: string, width: number): string {
	if (word.length <= width || !word.startsWith('/')) {
		return word;
	}

	const parts = word.split('/');
	const last = parts.length - 1;
	// Keep the leading directories that fit together with the file name.
	for (let keep = last - 1; keep >= 1; keep--) {
		const candidate = [...parts.slice(0, keep), '…', parts[last]].join('/');
		if (candidate.length <= width) {
			return candidate;
		}
	}

	return `…/${parts[last]!}`;
}

// Lay out text starting with indent; continuation lines get indent + hang spaces.
// Words move whole to the next line; only a path is ever shortened, never broken, and
// only when `shorten` (explain's answer names every path whole: a longer word overflows).
export function layout(text: string, indent: string, width: number | undefined, hang = 2, shorten = true): string[] {
	if (width === undefined) {
		return [`${indent}${text}`];
	}

	const first = width - indent.length;
	const rest = first - hang;
	const lines: string[] = [];
	let line = '';
	let room = first;
	for (let raw of text.split(' ')) {
		const left = room - visible(line).length - 1;
		// A path that does not fit what is left of the line is shortened to fit there
		// ("/usr/lib/…/libc.so.6") while its file name fits; the full path is in the pipe
		// output and in `livetree explain`.
		if (shorten && line && raw.startsWith('/') && raw.length > left && elide(raw, left).length <= left && !elide(raw, left).startsWith('…')) {
			raw = elide(raw, left);
		}

		if (line && visible(line).length + 1 + visible(raw).length > room) {
			lines.push(line);
			line = '';
			room = rest;
		}

		const word = shorten ? elide(raw, Math.max(room, 20)) : raw;
		line = line ? `${line} ${word}` : word;
	}

	lines.push(line);
	return lines.map((l, i) => `${indent}${i === 0 ? '' : ' '.repeat(hang)}${l}`);
}

// Text length as shown: without ANSI colour codes.
function visible(s: string): string {
	// eslint-disable-next-line no-control-regex
	return s.replace(/\u001B\[[\d;]*m/g, '');
}

/**
 * The width text output wraps at: the terminal's columns when stdout is one (80 when it
 * says none), undefined in a pipe or a file (nothing wrapped, so grep finds whole lines).
 */
export function terminalWidth(stream: {isTTY?: boolean; columns?: number} = process.stdout): number | undefined {
	return stream.isTTY ? stream.columns || 80 : undefined;
}
