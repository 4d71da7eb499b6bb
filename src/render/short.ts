// Short forms of checksums, deployment ids and long lists, for sentences and tables. Apart from the
// colour policy (style.ts), which loads chalk: the restart reasons of `status --json` with
// systemd's units need these, and no colour.

// Checksums are 64 hex digits; people recognise them by their first ten.
export function short(checksum: string | null | undefined): string {
	return checksum ? `${checksum.slice(0, 10)}…` : '?';
}

// A deployment id (OSNAME/CHECKSUM.SERIAL) with its checksum shortened, for sentences.
export function shortId(id: string): string {
	const match = /^(.*\/)([\da-f]{64})(\.\d+)$/.exec(id);
	return match ? `${match[1]!}${short(match[2])}${match[3]!}` : id;
}

// A list for one line: its first `limit` items, then "… and N more" ("1 2 3 … and 990 more").
export function shortList(items: readonly (string | number)[], limit: number, separator = ' '): string {
	return items.length <= limit ? items.join(separator) : `${items.slice(0, limit).join(separator)} … and ${items.length - limit} more`;
}
