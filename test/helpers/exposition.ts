// Test-side tools for exposition text: run the real promtool on it, and read
// samples back (with label values unescaped) so tests compare values, not lines.
import {spawnSync} from 'node:child_process';

export function promtoolCheck(text: string): {status: number | null; output: string} {
	const result = spawnSync('/usr/bin/promtool', ['check', 'metrics'], {input: text, encoding: 'utf8'});
	return {status: result.status, output: `${result.stdout}${result.stderr}`};
}

export interface ParsedSample {
	name: string;
	labels: Record<string, string>;
	value: number;
}

export interface Parsed {
	types: Map<string, string>;
	samples: ParsedSample[];
}

function unescape(value: string): string {
	return value.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
}

export function parseExposition(text: string): Parsed {
	const types = new Map<string, string>();
	const samples: ParsedSample[] = [];
	for (const line of text.split('\n')) {
		const type = /^# TYPE (\S+) (\S+)$/.exec(line);
		if (type) {
			types.set(type[1]!, type[2]!);
			continue;
		}

		if (line === '' || line.startsWith('#')) {
			continue;
		}

		const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
		if (!match) {
			throw new Error(`unparsable sample line: ${JSON.stringify(line)}`);
		}

		const labels: Record<string, string> = {};
		for (const pair of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
			labels[pair[1]!] = unescape(pair[2]!);
		}

		samples.push({name: match[1]!, labels, value: Number(match[3])});
	}

	return {types, samples};
}

export function valueOf(parsed: Parsed, name: string, labels: Record<string, string> = {}): number | undefined {
	return parsed.samples.find(s => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
}
