// The terminal report: deployments in `ostree admin status` style, each followed by its
// overlays and the processes that need a restart, then a one-line summary.
import Table from 'cli-table3';
import type {ChalkInstance} from 'chalk';
import type {Deployment, Process, StatusDocument} from '../model/document.js';
import {short} from './style.js';
import {reason} from './reason.js';

export interface TextOptions {
	style: ChalkInstance;
	verbose: boolean;
	width?: number;
}

// Past this many rows a list is cut, with a hint to --verbose.
const LIST_LIMIT = 10;

export function renderText(doc: StatusDocument, options: TextOptions): string {
	const {style} = options;
	const lines: string[] = [];
	if (!doc.sysroot.ostreeBooted && doc.sysroot.path === '/' && doc.deployments.length === 0) {
		lines.push(style.dim('This host is not booted from OSTree: no deployments; checking processes for deleted or replaced code.'));
	} else if (doc.deployments.length === 0) {
		lines.push(style.dim(`No OSTree deployments under ${doc.sysroot.path}.`));
	}

	for (const d of doc.deployments) {
		lines.push(...deploymentLines(doc, d, options));
	}

	const elsewhere = doc.processes.filter(p => p.root.kind !== 'deployment' || !p.root.deployment
		|| !doc.deployments.some(d => d.id === p.root.deployment));
	const undeployed = elsewhere.filter(p => p.root.kind === 'deployment');
	const others = elsewhere.filter(p => p.root.kind !== 'deployment');
	if (undeployed.length > 0) {
		lines.push('', style.bold(`Processes in deployments that no longer exist: ${undeployed.length}`));
		const gone = [...new Set(undeployed.map(p => p.root.deployment!))];
		for (const id of cut(gone, options.verbose)) {
			const procs = undeployed.filter(p => p.root.deployment === id);
			const version = procs.flatMap(p => p.files).find(f => f.origin.commit && id.includes(f.origin.commit))?.origin.version;
			const [os, leaf] = id.split('/');
			lines.push(`  ${os ?? ''} ${short(leaf)}${leaf?.slice(leaf.indexOf('.')) ?? ''}${version ? ` (${version})` : ''}: ${procs.length} process${procs.length === 1 ? '' : 'es'}`);
			lines.push(...restartTable(procs, options, '    '));
		}

		if (!options.verbose && gone.length > LIST_LIMIT) {
			lines.push(style.dim(`  … and ${gone.length - LIST_LIMIT} more deployments (--verbose lists all)`));
		}
	}

	if (others.length > 0) {
		const needing = others.filter(p => p.needsRestart);
		lines.push('', `Other processes (host, foreign roots): ${others.length}${needing.length > 0 ? style.red(`, ${needing.length} need a restart`) : ''}`);
		lines.push(...restartTable(needing, options, '  '));
	}

	const unitsNeeding = doc.units.filter(u => u.needsRestart);
	if (unitsNeeding.length > 0) {
		lines.push('', style.bold('Units that need a restart:'));
		for (const u of cut(unitsNeeding, options.verbose)) {
			lines.push(`  ${style.yellow(u.name)} (${u.activeState}/${u.subState}, PIDs ${u.pids.join(' ')})`);
		}

		if (!options.verbose && unitsNeeding.length > LIST_LIMIT) {
			lines.push(style.dim(`  … and ${unitsNeeding.length - LIST_LIMIT} more (--verbose lists all)`));
		}
	}

	if (doc.warnings.length > 0) {
		lines.push('', style.yellow(`Warnings: ${doc.warnings.length}`));
		for (const w of cut(doc.warnings, options.verbose)) {
			lines.push(`  ${w.code}: ${oneLine(w.message)}`);
		}

		if (!options.verbose && doc.warnings.length > LIST_LIMIT) {
			lines.push(style.dim(`  … and ${doc.warnings.length - LIST_LIMIT} more (--verbose lists all)`));
		}
	}

	lines.push('', summaryLine(doc, style));
	return `${lines.join('\n')}\n`;
}

export function summaryLine(doc: StatusDocument, style: ChalkInstance): string {
	const s = doc.summary;
	const restart = s.processesNeedingRestart === 0
		? style.green('none needs a restart')
		: style.red(`${s.processesNeedingRestart} need${s.processesNeedingRestart === 1 ? 's' : ''} a restart`);
	const units = `${s.unitsNeedingRestart} unit${s.unitsNeedingRestart === 1 ? ' needs' : 's need'} a restart`;
	return `Summary: ${s.processes} processes, ${restart}; ${units};\n`
		+ `         ${s.staleFiles} stale files, ${s.overlayFiles} overlay files, ${s.untrackedFiles} untracked files.`;
}

function deploymentLines(doc: StatusDocument, d: Deployment, options: TextOptions): string[] {
	const {style} = options;
	const flags = [d.staged && 'staged', d.pending && 'pending', d.rollback && 'rollback']
		.filter(Boolean).map(f => ` (${String(f)})`).join('');
	const marker = d.booted ? style.green('*') : ' ';
	// ostree prints the whole checksum; where that would overflow the terminal, the first
	// ten digits (what people compare by eye) do, unless --verbose asks for all of it.
	const plain = `${marker} ${d.osname} ${d.checksum}.${d.serial}${flags}`;
	const checksum = options.verbose || plain.length <= (options.width ?? 80) ? d.checksum : short(d.checksum);
	const lines = [`${marker} ${style.bold(d.osname)} ${checksum}.${d.serial}${flags}`];
	lines.push(`    Version: ${d.version ?? '(none)'}`);
	if (d.unlocked !== 'none') {
		lines.push(`    Unlocked: ${style.yellow(d.unlocked)}`);
	}

	if (d.liveApply) {
		const live = d.liveApply.commit ? `${short(d.liveApply.commit)}${versionOf(doc, d.liveApply.commit)}` : '(none yet)';
		const inprogress = d.liveApply.inprogress ? `, in progress: ${short(d.liveApply.inprogress)}` : '';
		lines.push(`    Live-applied: ${style.yellow(live)}${inprogress}`);
	}

	if (d.composefs) {
		const {mounted, image} = d.composefs;
		const how = mounted ? 'runs through composefs' : (image ? 'has a composefs image, not mounted' : 'made for composefs, no image');
		lines.push(`    Composefs: ${how}${image ? ` (${image})` : ''}`);
	}

	if (d.pinned) {
		lines.push('    Pinned: yes');
	}

	lines.push(`    origin refspec: ${d.refspec ?? '(none)'}`);
	const overlays = doc.overlays.filter(o => o.lowerDeployment === d.id);
	if (overlays.length > 0) {
		lines.push('  Dynamic overlays:');
		for (const o of overlays) {
			const byCommit = new Map<string, string[]>();
			for (const f of o.files) {
				const key = f.commits[0] ?? '';
				byCommit.set(key, [...(byCommit.get(key) ?? []), f.path]);
			}

			// A mount inside the deployment is named as the deployment's own path (`/usr`).
			const inside = d.path && o.mountPoint.startsWith(`${d.path}/`) ? o.mountPoint.slice(d.path.length) : o.mountPoint;
			lines.push(`    ${inside} (overlay ${o.device}${o.upperDir ? `, upper ${o.upperDir}` : ''})`);
			if (o.files.length === 0) {
				lines.push('      (no files in the upper layer)');
			}

			for (const [commit, paths] of byCommit) {
				const label = commit ? `${short(commit)}${versionOf(doc, commit)}` : style.yellow('hotfix (no known commit)');
				lines.push(`      ${label}: ${paths.join(', ')}`);
			}
		}
	}

	const procs = doc.processes.filter(p => p.root.kind === 'deployment' && p.root.deployment === d.id);
	const needing = procs.filter(p => p.needsRestart);
	const onOverlay = procs.filter(p => p.state === 'overlay');
	let count = `    Processes: ${procs.length}`;
	if (needing.length > 0) {
		count += style.red(`, ${needing.length} need${needing.length === 1 ? 's' : ''} a restart`);
	}

	if (onOverlay.length > 0) {
		count += `, ${onOverlay.length} run live-applied code`;
	}

	lines.push(count);
	lines.push(...restartTable(needing, options, '    '));
	return lines;
}

function versionOf(doc: StatusDocument, commit: string): string {
	const version = doc.deployments.find(d => d.checksum === commit)?.version
		?? doc.processes.flatMap(p => p.files).find(f => f.origin.commit === commit)?.origin.version;
	return version ? ` (${version})` : '';
}

function restartTable(procs: Process[], options: TextOptions, indent: string): string[] {
	const needing = procs.filter(p => p.needsRestart);
	if (needing.length === 0) {
		return [];
	}

	const width = Math.max(options.width ?? 80, 60) - indent.length;
	const whyWidth = width - 8 - 12 - 18 - 5;
	const table = new Table({
		head: ['PID', 'COMMAND', 'UNIT', 'WHY'],
		style: {head: [], border: [], compact: true},
		colWidths: [8, 12, 18, whyWidth],
		wordWrap: false,
		chars: {
			top: '', 'top-mid': '', 'top-left': '', 'top-right': '', bottom: '', 'bottom-mid': '', 'bottom-left': '',
			'bottom-right': '', left: '', 'left-mid': '', mid: '', 'mid-mid': '', right: '', 'right-mid': '', middle: ' ',
		},
	});
	for (const p of cut(needing, options.verbose)) {
		table.push([String(p.pid), p.comm, p.unit ?? '-', wrap(reason(p) ?? '', whyWidth - 2)]);
	}

	const rows = table.toString().split('\n').map(l => `${indent}${l.trimEnd()}`);
	if (!options.verbose && needing.length > LIST_LIMIT) {
		rows.push(options.style.dim(`${indent}… and ${needing.length - LIST_LIMIT} more (--verbose lists all)`));
	}

	return rows;
}

function cut<T>(list: T[], verbose: boolean): T[] {
	return verbose ? list : list.slice(0, LIST_LIMIT);
}

function oneLine(s: string): string {
	return s.replaceAll('\n', '\\n');
}

// Wrap at spaces; a word longer than the column (a path) is cut into pieces that fit.
export function wrap(text: string, width: number): string {
	const lines: string[] = [];
	let line = '';
	for (const word of text.split(' ')) {
		let rest = word;
		while (rest.length > width) {
			if (line) {
				lines.push(line);
				line = '';
			}

			lines.push(rest.slice(0, width));
			rest = rest.slice(width);
		}

		if (line && line.length + 1 + rest.length > width) {
			lines.push(line);
			line = rest;
		} else {
			line = line ? `${line} ${rest}` : rest;
		}
	}

	if (line) {
		lines.push(line);
	}

	return lines.join('\n');
}
