// The packages report for a person: one line per running version, so that "openssl
// 3.0.11 in memory in 12 processes of 3 units; 3.0.15 installed" is one line.
import {printable} from './reason.js';
import type {PackagesDocument, RunningVersion} from '../model/packages.js';
import type {ChalkInstance} from 'chalk';
import {layout} from './wrap.js';

export interface PackagesTextOptions {
	/** The names asked for (`livetree packages NAME…`): each that matched nothing is said. */
	names?: readonly string[];
	/** The terminal's columns; undefined in a pipe or a file (nothing is wrapped). */
	width?: number;
	/** Whether livetree runs as root: says what to do about processes it could not read. */
	asRoot?: boolean;
}

function count(n: number, one: string, many = `${one}s`): string {
	return `${n} ${n === 1 ? one : many}`;
}

export function renderPackagesText(doc: PackagesDocument, style: ChalkInstance, verbose: boolean, options: PackagesTextOptions = {}): string {
	const {width} = options;
	const lines: string[] = [];
	const names = options.names ?? [];
	const unmatched = names.filter(n => !doc.packages.some(p => p.name === n || p.source === n));
	if (names.length === 0 && doc.packages.length === 0) {
		lines.push(...layout("No package's files are in memory (no package database names any mapped file).", '', width));
	}

	for (const name of unmatched) {
		lines.push(
			...layout(`No package named ${name} is in memory: no process maps a file that a package of that name (or of that source package) installed.`, '', width),
		);
	}

	for (const p of doc.packages) {
		for (const v of p.running) {
			const versions = v.installedVersions;
			const installed = v.container
				? containerInstalled(v)
				: v.tree === null
					? 'installed version unknown there'
					: versions.length > 0
						? `${versions.join(', ')} installed`
						: 'not installed';
			const arch = v.arch && p.running.some(o => o.arch !== v.arch) ? `:${v.arch}` : '';
			const units = v.units.length > 0 ? ` of ${count(v.units.length, 'unit')}` : '';
			// One package may run in deployments, in the host root and in containers: say which.
			// A container's processes are always named by their container.
			const scope = v.container
				? ` in container ${v.container.name ?? v.container.id.slice(0, 12)}`
				: new Set(p.running.map(o => o.tree)).size > 1
					? ` ${treeLabel(v.tree)}`
					: '';
			const line = `${p.name}${arch} ${v.version} in memory in ${count(v.processes.length, 'process', 'processes')}${units}${scope}; ${installed}`;
			lines.push(...layout(v.mismatch ? style.red(line) : line, '', width, 4));
			if (verbose || v.mismatch) {
				lines.push(...details(v, verbose).flatMap(l => layout(l, '    ', width, 2)));
			}
		}
	}

	lines.push(
		'',
		...layout(
			`${count(doc.summary.packages, 'package')} in memory, ${doc.summary.mismatched} running a version other than the installed one${doc.installedTree ? ` (installed: deployment ${doc.installedTree})` : ''}.`,
			'',
			width,
		),
	);
	const unread = doc.summary.processesUnreadable;
	if (!doc.summary.complete) {
		// Not "nothing else runs": what the unread processes run was not seen.
		const what = unread === 1 ? '1 process could not be read' : `${unread} processes could not be read`;
		const why = options.asRoot === false ? ' (run as root)' : options.asRoot ? ' (even as root; see warnings)' : '';
		lines.push(...layout(style.yellow(`Unknown: ${what}${why}; which packages ${unread === 1 ? 'it runs' : 'they run'} is not in this list.`), '', width));
	}

	for (const w of doc.warnings) {
		lines.push(...layout(style.dim(`warning: ${printable(w.message)}`), '', width, 4));
	}

	return `${lines.join('\n')}\n`;
}

/** What a container's version is compared with: the image its image name resolves to now. */
function containerInstalled(v: RunningVersion): string {
	const c = v.container!;
	if (c.comparedImage === null) {
		return `installed version not compared: ${c.uncompared ?? 'unknown'}`;
	}

	const image = `image ${c.comparedImage.slice(0, 12)}, what ${c.imageName ?? 'its image name'} resolves to now`;
	return v.installedVersions.length > 0 ? `${v.installedVersions.join(', ')} in ${image}` : `not in ${image}`;
}

function treeLabel(tree: string | null): string {
	if (tree === null) {
		return 'in foreign roots';
	}

	return tree === 'host' ? 'in the host root' : 'in deployments';
}

function details(v: RunningVersion, verbose: boolean): string[] {
	const out: string[] = [];
	if (v.units.length > 0) {
		out.push(`units: ${v.units.join(', ')}`);
	}

	const shown = verbose ? v.processes : v.processes.slice(0, 10);
	out.push(
		`processes: ${shown.map(p => `${p.pid} (${printable(p.comm)})`).join(', ')}${shown.length < v.processes.length ? `, … ${v.processes.length - shown.length} more` : ''}`,
	);
	return out;
}
