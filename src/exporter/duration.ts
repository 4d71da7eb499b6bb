// Durations on the command line: "10s", "500ms", "2m", "1h", or bare seconds.
import {UsageError} from '../errors/usage-error.js';

const unitSeconds: Record<string, number> = {ms: 0.001, s: 1, m: 60, h: 3600};

export function parseDuration(text: string, option: string): number {
	const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
	if (!match) {
		throw new UsageError(`${option} must be a duration such as 10s, 500ms or 2m, not "${text}"`);
	}

	return Number(match[1]) * unitSeconds[match[2] ?? 's']!;
}
