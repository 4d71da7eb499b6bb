// `livetree diff` as text: deployments, then units, containers and processes added, gone and
// changed, each change as "in A → in B". Times are local, as everywhere in text output.
import {printable} from './reason.js';
import type {ChalkInstance} from 'chalk';
import type {DiffDocument, GroupChange, GroupSummary, SetChange} from '../model/diff.js';
import {localTime} from '../timeline/time.js';
import {short, shortId} from './short.js';

function when(iso: string): string {
	const d = new Date(iso);
	return Number.isNaN(d.getTime()) ? iso : localTime(d.getTime() / 1000);
}

function commitLabel(doc: DiffDocument, commit: string): string {
	const version = doc.commitVersions[commit];
	return version ? `${short(commit)} (${version})` : short(commit);
}

const dimensionNames = {commits: 'commit', packages: 'package', images: 'image', overlayFiles: 'overlay file'} as const;

function label(doc: DiffDocument, dimension: keyof typeof dimensionNames, value: string): string {
	return dimension === 'commits' ? commitLabel(doc, value) : dimension === 'packages' ? value.replace('=', ' ') : value;
}

function groupName(g: {kind: string; name: string}): string {
	return g.kind === 'unit' ? printable(g.name) : `${g.kind} ${printable(g.name)}`;
}

function summaryLine(doc: DiffDocument, g: GroupSummary): string {
	const parts = [
		`${g.processes} process${g.processes === 1 ? '' : 'es'}`,
		...g.commits.map(c => `commit ${commitLabel(doc, c)}`),
		...g.packages.slice(0, 3).map(p => p.replace('=', ' ')),
		...(g.packages.length > 3 ? [`${g.packages.length - 3} more packages`] : []),
		...g.images,
		...(g.overlayFiles.length > 0 ? [`${g.overlayFiles.length} overlay file${g.overlayFiles.length === 1 ? '' : 's'}`] : []),
	];
	return parts.join(', ');
}

function setLines(doc: DiffDocument, dimension: keyof typeof dimensionNames, change: SetChange | undefined, style: ChalkInstance): string[] {
	if (!change) return [];
	const a = change.onlyA.map(v => label(doc, dimension, v)).join(', ') || '—';
	const b = change.onlyB.map(v => label(doc, dimension, v)).join(', ') || '—';
	return [`      ${dimensionNames[dimension].padEnd(13)}${style.red(a)} → ${style.green(b)}`];
}

function changeLines(doc: DiffDocument, g: GroupChange, style: ChalkInstance): string[] {
	const lines = [`  ~ ${groupName(g)}`];
	for (const dimension of ['commits', 'packages', 'images', 'overlayFiles'] as const) lines.push(...setLines(doc, dimension, g[dimension], style));
	if (g.needsRestart.a !== null && g.needsRestart.b !== null && g.needsRestart.a !== g.needsRestart.b) {
		lines.push(`      ${'needs restart'.padEnd(13)}${g.needsRestart.a ? 'yes' : 'no'} → ${g.needsRestart.b ? 'yes' : 'no'}`);
	}

	return lines;
}

export function renderDiffText(doc: DiffDocument, style: ChalkInstance): string {
	const out = [`A: ${doc.a.source} (${doc.a.hostname}, ${when(doc.a.generatedAt)})`, `B: ${doc.b.source} (${doc.b.hostname}, ${when(doc.b.generatedAt)})`];
	const notes = doc.notes.map(n => style.yellow(`note: ${n}`));
	if (!doc.differ) {
		out.push('', `No difference in ${doc.notes.length > 0 ? '' : 'deployments or in '}what units, containers and processes run.`, ...notes);
		return `${out.join('\n')}\n`;
	}

	const {deployments, groups} = doc;
	if (deployments.added.length + deployments.gone.length + deployments.changed.length > 0) {
		out.push('', style.bold('Deployments'));
		for (const d of deployments.added) out.push(style.green(`  + ${shortId(d.id)}${d.version ? ` (${d.version})` : ''}${d.booted ? ' booted' : ''}`));
		for (const d of deployments.gone) out.push(style.red(`  - ${shortId(d.id)}${d.version ? ` (${d.version})` : ''}${d.booted ? ' booted' : ''}`));
		for (const c of deployments.changed) {
			out.push(`  ~ ${shortId(c.id)}: ${c.fields.map(f => `${f.field} ${JSON.stringify(f.a)} → ${JSON.stringify(f.b)}`).join(', ')}`);
		}
	}

	if (groups.added.length + groups.gone.length + groups.changed.length > 0) {
		out.push('', style.bold('Units, containers and processes'));
		for (const g of groups.added) out.push(style.green(`  + ${groupName(g)}: ${summaryLine(doc, g)}`));
		for (const g of groups.gone) out.push(style.red(`  - ${groupName(g)}: ${summaryLine(doc, g)}`));
		for (const g of groups.changed) out.push(...changeLines(doc, g, style));
	}

	if (notes.length > 0) out.push('', ...notes);
	return `${out.join('\n')}\n`;
}
