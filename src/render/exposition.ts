// The Prometheus text exposition format (version 0.0.4), written by hand so that
// rendering stays a synchronous pure function of its input: the status command
// calls it inline and the exporter caches its result per scan.

export type MetricType = 'gauge' | 'counter' | 'untyped';

export interface Sample {
	labels?: Record<string, string>;
	value: number;
}

export interface Family {
	name: string;
	help: string;
	type: MetricType;
	samples: Sample[];
}

// Label values may hold anything (unit names carry backslashes, commit versions
// are free text); the format escapes exactly backslash, double quote and newline.
export function escapeLabelValue(value: string): string {
	return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

// HELP text escapes backslash and newline, but not quotes.
function escapeHelp(text: string): string {
	return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

export function formatValue(value: number): string {
	if (Number.isNaN(value)) {
		return 'NaN';
	}

	if (value === Number.POSITIVE_INFINITY) {
		return '+Inf';
	}

	if (value === Number.NEGATIVE_INFINITY) {
		return '-Inf';
	}

	return String(value);
}

function formatLabels(labels: Record<string, string> | undefined): string {
	const entries = Object.entries(labels ?? {});
	if (entries.length === 0) {
		return '';
	}

	return `{${entries.map(([key, value]) => `${key}="${escapeLabelValue(value)}"`).join(',')}}`;
}

export function formatFamily(family: Family): string {
	const lines = [`# HELP ${family.name} ${escapeHelp(family.help)}`, `# TYPE ${family.name} ${family.type}`];
	for (const sample of family.samples) {
		lines.push(`${family.name}${formatLabels(sample.labels)} ${formatValue(sample.value)}`);
	}

	return `${lines.join('\n')}\n`;
}

export function formatExposition(families: Family[]): string {
	return families.map(formatFamily).join('');
}
