// Times on the command line (--since, --until, --at, diff's @TIME), as epoch seconds.
// A date or date and time without a zone is local time, as people read their clocks.
import {UsageError} from '../errors/usage-error.js';

const units: Record<string, number> = {s: 1, m: 60, h: 3600, d: 86_400, w: 7 * 86_400};

export function parseTime(text: string, option: string, now = Date.now()): number {
	const t = text.trim();
	if (t === 'now') return Math.floor(now / 1000);
	const epoch = /^@?(\d{9,})$/.exec(t);
	if (epoch) return Number(epoch[1]);
	// 3h, 7d, 2w; also as people write them: "7 days ago", "30 min", "1 week ago".
	const ago = /^(\d+)\s*(s|secs?|seconds?|m|mins?|minutes?|h|hrs?|hours?|d|days?|w|weeks?)(?:\s+ago)?$/.exec(t);
	if (ago) return Math.floor(now / 1000) - Number(ago[1]) * units[ago[2]![0]!]!;
	// Date.parse takes a bare date as UTC midnight but a date and time as local: make both local.
	const local = /^\d{4}-\d{2}-\d{2}$/.test(t) ? `${t}T00:00:00` : t.replace(/^(\d{4}-\d{2}-\d{2}) (\d)/, '$1T$2');
	const ms = /^\d{4}-\d{2}-\d{2}/.test(local) ? Date.parse(local) : Number.NaN;
	if (Number.isNaN(ms)) {
		throw new UsageError(`${option}: cannot read "${text}" as a time (2026-12-01, "2026-12-01 14:00", 2026-12-01T14:00:00Z, @EPOCH, 3h, 7d, "7 days ago")`);
	}

	return Math.floor(ms / 1000);
}

// Scans share their times: thousands of intervals start at the same scan.
const isoCache = new Map<number, string>();

export function iso(seconds: number | null | undefined): string | null {
	if (seconds === null || seconds === undefined) return null;
	let s = isoCache.get(seconds);
	if (s === undefined) {
		s = new Date(seconds * 1000).toISOString();
		isoCache.set(seconds, s);
	}

	return s;
}

/** Local time for text: date and time to the second. */
export function localTime(seconds: number): string {
	const d = new Date(seconds * 1000);
	const p = (n: number) => String(n).padStart(2, '0');
	return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}
