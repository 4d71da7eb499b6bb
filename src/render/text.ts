// The terminal report, read at a glance: one verdict line first (what needs a restart or a
// reboot, how many units), then deployments in `ostree admin status` style, each with its
// overlays and its processes grouped by reason, then units, warnings, the summary and the
// next command to run.
//
// width: the terminal's columns; undefined in a pipe or a file, where no line is wrapped
// or shortened (grep finds every path whole).
import type {ChalkInstance} from 'chalk';
import type {Suggest} from '../commands/rerun.js';
import {complete} from '../model/complete.js';
import type {Container, Deployment, Process, StatusDocument} from '../model/document.js';
import {type ContainerProcs, foldContainers} from './container-fold.js';
import {containerName, imageNote, inContainer, restartAdvice} from './containers-text.js';
import {configLines} from './config-text.js';
import {kernelLines} from './kernel.js';
import {groupProcesses, type ProcessGroup} from './groups.js';
import {unitsNeedingRestart, unitsNeedingRestartCount} from '../model/process-units.js';
import {fileReason, printable, reason, reasons} from './reason.js';
import {removedDeploymentVersion, replacedBy, versionOf} from './replaced-by.js';
import {short, shortList} from './short.js';
import {foldWarnings} from './warnings-text.js';
import {layout} from './wrap.js';

export interface TextOptions {
	style: ChalkInstance;
	verbose: boolean;
	width?: number;
	/** Writes the commands suggested under "Next:" with the options that chose what was read. */
	suggest?: Suggest;
	// The scan ran as root: a process it could not read is then not a matter of running as
	// root (the warnings say what refused it). Default false: suggest running as root.
	asRoot?: boolean;
	// Of the unknown processes, how many we were not permitted to read (the core's count,
	// not in the document). Default: all of them. When some are unknown for another reason
	// (an unreadable maps for another cause, an unproven composefs image), the words point
	// to the warnings instead of to running as root.
	denied?: number;
}

// Past this many rows a list is cut, with a hint to --verbose.
const LIST_LIMIT = 10;

export function renderText(doc: StatusDocument, options: TextOptions): string {
	const {style} = options;
	const kernel = kernelLines(doc.kernel, style, options.verbose).flatMap(l =>
		layout(l.trimStart(), l.slice(0, l.length - l.trimStart().length), options.width, 2),
	);
	const lines: string[] = [...layout(verdictLine(doc, style, options), '', options.width, 2), '', ...kernel];
	if (!doc.sysroot.ostreeBooted && doc.sysroot.path === '/' && doc.deployments.length === 0) {
		lines.push(
			...layout(style.dim('This host is not booted from OSTree: no deployments; checking processes for deleted or replaced code.'), '', options.width),
		);
	} else if (doc.deployments.length === 0) {
		lines.push(...layout(style.dim(`No OSTree deployments under ${printable(doc.sysroot.path)}.`), '', options.width));
	}

	for (const d of doc.deployments) {
		lines.push(...deploymentLines(doc, d, options));
	}

	const elsewhere = doc.processes.filter(p => p.root.kind !== 'deployment' || !p.root.deployment || !doc.deployments.some(d => d.id === p.root.deployment));
	const undeployed = elsewhere.filter(p => p.root.kind === 'deployment');
	const inContainers = elsewhere.filter(p => p.root.kind === 'container');
	const others = elsewhere.filter(p => p.root.kind !== 'deployment' && p.root.kind !== 'container');
	if (undeployed.length > 0) {
		lines.push('', style.bold(`Processes in deployments since removed: ${undeployed.length}`));
		const gone = [...new Set(undeployed.map(p => p.root.deployment!))];
		for (const id of cut(gone, options.verbose)) {
			const procs = undeployed.filter(p => p.root.deployment === id);
			const [os, leaf] = id.split('/');
			const version = removedDeploymentVersion(
				id,
				procs.flatMap(p => p.files),
			);
			lines.push(
				`  ${os ?? ''} ${short(leaf)}${leaf?.slice(leaf.indexOf('.')) ?? ''}${version ? ` (${version})` : ''}, removed: ${count(procs.length, 'process', 'processes')}`,
			);
			lines.push(
				...groupLines(
					doc,
					procs.filter(p => p.needsRestart),
					options,
					'    ',
				),
			);
		}

		lines.push(...more(gone.length, 'deployments', options, '  '));
	}

	if (inContainers.length > 0) {
		lines.push(...containerLines(doc, inContainers, options));
	}

	if (others.length > 0) {
		const needing = others.filter(p => p.needsRestart);
		lines.push(
			'',
			`Other processes (host, foreign roots): ${others.length}${needing.length > 0 ? style.red(`, ${needing.length} need${needing.length === 1 ? 's' : ''} a restart`) : ''}`,
		);
		lines.push(...groupLines(doc, needing, options, '  '));
	}

	const unitsNeeding = doc.units.filter(u => u.needsRestart);
	if (unitsNeeding.length > 0) {
		lines.push('', style.bold(`Units that need a restart: ${unitsNeeding.length}`));
		for (const u of cut(unitsNeeding, options.verbose)) {
			const stale = doc.processes.filter(p => p.unit === u.name && p.needsRestart).length;
			lines.push(
				...layout(
					`${style.yellow(u.name)} (${u.activeState}/${u.subState}): ${count(stale, 'process', 'processes')} of ${u.pids.length}`,
					'  ',
					options.width,
					4,
				),
			);
		}

		lines.push(...more(unitsNeeding.length, 'units', options, '  '));
	}

	lines.push(...configLines(doc, style, options.verbose ? undefined : LIST_LIMIT));
	if (doc.warnings.length > 0) {
		lines.push('', style.yellow(`Warnings: ${doc.warnings.length}`));
		// Folded (warnings-text.ts) but with --verbose, which lists each as the document has it.
		const shown = options.verbose ? doc.warnings.map(w => ({text: `${w.code}: ${printable(w.message)}`, count: 1})) : foldWarnings(doc.warnings, LIST_LIMIT);
		for (const w of cut(shown, options.verbose)) {
			lines.push(...layout(w.text, '  ', options.width, 4));
		}

		const hidden = shown.slice(LIST_LIMIT).reduce((n, w) => n + w.count, 0);
		if (!options.verbose && hidden > 0) {
			lines.push(style.dim(`  … and ${hidden} more ${hidden === 1 ? 'warning' : 'warnings'} (--verbose lists all)`));
		}
	}

	lines.push(
		'',
		...summaryLine(doc, style, options)
			.split('\n')
			.flatMap(l => layout(l.trimStart(), l.startsWith(' ') ? '         ' : '', options.width, l.startsWith(' ') ? 0 : 9)),
	);
	lines.push(...nextLines(doc, options));
	return `${lines.join('\n')}\n`;
}

// Why processes are unknown, and what to do, after "Unknown for N of M processes": when
// every one was refused and we are not root, run as root; as root, something else refused
// them; when some are unknown for another reason, the warnings say which and why.
function unknownWhy(unread: number, options: TextOptions): string {
	const they = unread === 1 ? 'it' : 'they';
	if ((options.denied ?? unread) < unread) {
		return ' (see warnings)';
	}

	return `: ${they} could not be read ${options.asRoot ? '(even as root; see warnings)' : '(run as root)'}`;
}

// The first line: what needs doing, in one sentence. An incomplete scan that found
// nothing says it does not know, never that nothing needs a restart.
export function verdictLine(doc: StatusDocument, style: ChalkInstance, options: Partial<TextOptions> = {}): string {
	const needing = doc.processes.filter(p => p.needsRestart);
	const total = doc.summary.processes;
	const unread = complete(doc) ? 0 : doc.summary.processesUnreadable;
	const why = unknownWhy(unread, options as TextOptions);
	const parts: string[] = [];
	const init = needing.find(p => p.pid === 1);
	if (init) {
		parts.push(style.red.bold(`Reboot needed: PID 1 (${printable(init.comm)}) runs replaced code`));
	} else if (doc.kernel?.rebootNeeded) {
		// The Kernel block below says why in words; the verdict names the codes.
		parts.push(style.red.bold(`Reboot needed (${doc.kernel.reasons.map(r => r.code).join(', ')})`));
	}

	if (needing.length === 0 && unread > 0) {
		const others = total - unread;
		parts.push(
			style.yellow.bold(`Unknown for ${unread} of ${count(total, 'process', 'processes')}${why}`) +
				(others === 1 ? '; the other process needs no restart' : others > 0 ? `; none of the other ${others} needs a restart` : ''),
		);
	} else if (needing.length === 0) {
		parts.push(style.green.bold(`Nothing needs a restart (${count(total, 'process', 'processes')} checked)`));
	} else {
		const units = unitsNeedingRestart(doc);
		const outside = needing.filter(p => !p.unit).length;
		const what = [
			units.length > 0 && `${count(units.length, 'unit', 'units')} (${units.slice(0, 3).join(', ')}${units.length > 3 ? ', …' : ''})`,
			outside > 0 && `${count(outside, 'process', 'processes')} in no unit`,
		]
			.filter(Boolean)
			.join(' and ');
		parts.push(
			style.red.bold(`Restart needed: ${what || count(needing.length, 'process', 'processes')}`) +
				(units.length > 0 ? `, ${count(needing.length, 'process', 'processes')} in all` : ''),
		);
		if (unread > 0) {
			parts.push(style.yellow(`unknown for ${count(unread, 'other process', 'other processes')}${why}`));
		}
	}

	const staged = doc.deployments.find(d => d.staged || d.pending);
	if (staged) {
		parts.push(`a reboot boots ${staged.osname} ${short(staged.checksum)}.${staged.serial}${staged.version ? ` (${staged.version})` : ''}`);
	}

	return `${parts.join('; ')}.`;
}

export function summaryLine(doc: StatusDocument, style: ChalkInstance, options: Partial<TextOptions> = {}): string {
	const s = doc.summary;
	// Unread processes may need a restart too: never say "none" over them.
	const unread = s.processesUnreadable ?? 0;
	const refused = (options.denied ?? unread) >= unread;
	// All read: "7 processes, 3 need a restart"; some unread: "1210 processes: 2 read, none
	// of them needs a restart" (or "2 read, 1 needs a restart"), as the verdict counts them;
	// none read: "1 process: none could be read".
	const needing = s.processesNeedingRestart;
	const needs = style.red(`${needing} need${needing === 1 ? 's' : ''} a restart`);
	const restart =
		unread === 0
			? `, ${needing > 0 ? needs : style.green('none needs a restart')}`
			: unread === s.processes
				? `: ${style.yellow(refused ? 'none could be read' : 'none is known')}`
				: `: ${s.processes - unread} read, ${needing > 0 ? needs : style.yellow(s.processes - unread === 1 ? 'it needs no restart' : 'none of them needs a restart')}`;
	const unitCount = unitsNeedingRestartCount(doc);
	const units = `${unitCount} unit${unitCount === 1 ? ' needs' : 's need'} a restart`;
	const processes = `${unread} process${unread === 1 ? '' : 'es'}`;
	const runs = unread === 1 ? 'it runs' : 'they run';
	const unreadLine =
		unread === 0
			? ''
			: refused
				? `\n         ${style.yellow(`${processes} could not be read`)}: what ${runs} is unknown ${options.asRoot ? '(even as root; see warnings)' : '(run as root)'}.`
				: `\n         ${style.yellow(`${processes} unknown`)}: what ${runs} could not be told (see warnings).`;
	const containers = s.containers
		? `\n         ${count(s.containers, 'container', 'containers')}${s.containersOutdated ? style.red(`, ${s.containersOutdated} on an image whose name moved on`) : ''}.`
		: '';
	// Kernel threads run the kernel's code and map nothing: no processes here.
	const threads = s.kernelThreads ? ` (${s.kernelThreads} kernel thread${s.kernelThreads === 1 ? '' : 's'} not counted)` : '';
	return (
		`Summary: ${count(s.processes, 'process', 'processes')}${threads}${restart}; ${units};\n` +
		`         ${s.staleFiles} stale files, ${s.overlayFiles} overlay files, ${s.untrackedFiles} untracked files.${containers}${unreadLine}`
	);
}

// The commands to run next, when there is something to do. A command is printed whole,
// never wrapped or shortened (it is meant to be copied); its words are shell-quoted.
function nextLines(doc: StatusDocument, options: TextOptions): string[] {
	const {style, width} = options;
	const suggest: Suggest = options.suggest ?? ((command, ...args) => ['livetree', command, ...args].join(' '));
	// A process of a deployment first: that is the report's subject; then any.
	const first = doc.processes.find(p => p.needsRestart && p.root.kind === 'deployment') ?? doc.processes.find(p => p.needsRestart);
	if (!first) {
		return [];
	}

	const commands: Array<[string, string]> = [[suggest('explain', String(first.pid)), 'why this process needs a restart']];
	if (doc.units.some(u => u.needsRestart)) {
		commands.push([suggest('restart', '--needed', '--dry-run'), 'which units a restart would touch']);
	}

	const pad = Math.max(...commands.map(([c]) => c.length)) + 3;
	const lines = ['', 'Next:'];
	for (const [c, what] of commands) {
		// What it is for goes beside the command when both fit, else on the next line.
		lines.push(width === undefined || 2 + pad + what.length <= width ? `  ${c.padEnd(pad)}${style.dim(what)}` : `  ${c}\n    ${style.dim(what)}`);
	}

	if (doc.processes.some(p => p.needsRestart && !p.unit)) {
		lines.push(...layout(style.dim('(processes in no unit are restarted by whoever started them)'), '  ', width, 2));
	}

	return lines;
}

function deploymentLines(doc: StatusDocument, d: Deployment, options: TextOptions): string[] {
	const {style} = options;
	// As `ostree admin status` prints them: the whole checksum, and one flag: a staged
	// deployment is also pending, and ostree says only "(staged)".
	const flag = d.staged ? ' (staged)' : d.pending ? ' (pending)' : d.rollback ? ' (rollback)' : '';
	const marker = d.booted ? style.green('*') : ' ';
	const lines = [`${marker} ${style.bold(d.osname)} ${d.checksum}.${d.serial}${flag}`];
	if (d.version) {
		// ostree prints no Version line for a commit without one.
		lines.push(`    Version: ${d.version}`);
	}

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
		const how = mounted ? 'runs through composefs' : image ? 'has a composefs image, not mounted' : 'made for composefs, no image';
		lines.push(`    Composefs: ${how}${image ? ` (${image})` : ''}`);
	}

	if (d.pinned) {
		lines.push('    Pinned: yes');
	}

	lines.push(d.refspec ? `    origin refspec: ${d.refspec}` : d.hasOrigin === false ? '    origin: none' : '    origin: <unknown origin type>');
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
			lines.push(...layout(`${inside} (overlay ${o.device}${o.upperDir ? `, upper ${o.upperDir}` : ''})`, '    ', options.width, 4));
			if (o.files.length === 0) {
				lines.push('      (no files in the upper layer)');
			}

			for (const [commit, paths] of byCommit) {
				const label = commit ? `${short(commit)}${versionOf(doc, commit)}` : style.yellow('hotfix (no known commit)');
				lines.push(...layout(`${label}: ${paths.join(', ')}`, '      ', options.width, 4));
			}
		}
	}

	const procs = doc.processes.filter(p => p.root.kind === 'deployment' && p.root.deployment === d.id);
	const needing = procs.filter(p => p.needsRestart);
	const onOverlay = procs.filter(p => p.state === 'overlay');
	let line = `    Processes: ${procs.length}`;
	if (needing.length > 0) {
		line += style.red(`, ${needing.length} need${needing.length === 1 ? 's' : ''} a restart`);
	}

	if (onOverlay.length > 0) {
		line += `, ${onOverlay.length} run${onOverlay.length === 1 ? 's' : ''} live-applied code`;
	}

	lines.push(line);
	if (needing.length > 0 && onOverlay.length > 0) {
		lines.push(style.red('      Need a restart:'));
		lines.push(...groupLines(doc, needing, options, '        '));
	} else {
		lines.push(...groupLines(doc, needing, options, '      '));
	}

	if (onOverlay.length > 0) {
		lines.push(style.yellow('      Run live-applied code (no restart needed):'));
		lines.push(...groupLines(doc, onOverlay, options, '        ', liveWhy));
	}

	return lines;
}

// Why a process needs a restart, for a group line: the first stale file's reason, what
// replaced that file, and how many more files are stale.
function staleWhy(doc: StatusDocument, p: Process): string {
	const first = reason(p) ?? 'needs a restart';
	const file = p.files.find(f => fileReason(p, f) !== undefined);
	const now = file ? replacedBy(doc, p, file) : undefined;
	const others = reasons(p).length - 1;
	return `${first}${now ? ` (${now})` : ''}${others > 0 ? `, and ${count(others, 'more file', 'more files')}` : ''}`;
}

// What live-applied code a process runs: its first file from an overlay.
function liveWhy(doc: StatusDocument, p: Process): string {
	const f = p.files.find(x => x.origin.kind === 'overlay');
	if (!f) {
		return 'live-applied code';
	}

	const commit = f.origin.commit ? `commit ${short(f.origin.commit)}${versionOf(doc, f.origin.commit)}` : 'a hotfix of no known commit';
	return `${f.origin.treePath ?? f.path} from ${commit}`;
}

// Container processes, container by container: "3 × nginx in container web (image
// localhost/web:latest, tag now points to 89c4…): WHY", the PIDs, and how to restart it.
function containerLines(doc: StatusDocument, procs: Process[], options: TextOptions): string[] {
	const {style} = options;
	const byContainer = new Map<string, {c: Container | null; procs: Process[]}>();
	for (const p of procs) {
		const key = p.container ? `${p.container.engine}\0${p.container.id}` : '';
		const entry = byContainer.get(key) ?? {c: p.container ?? null, procs: []};
		entry.procs.push(p);
		byContainer.set(key, entry);
	}

	const containers = [...byContainer.values()];
	const outdated = containers.filter(x => x.c?.imageOutdated === true).length;
	const needing = procs.filter(p => p.needsRestart).length;
	const lines = [
		'',
		...layout(
			style.bold(`Containers: ${containers.length}`) +
				(outdated > 0 ? style.red(`, ${outdated} on an image whose name moved on`) : '') +
				`; ${count(procs.length, 'process', 'processes')}` +
				(needing > 0 ? style.red(`, ${needing} need${needing === 1 ? 's' : ''} a restart`) : ''),
			'',
			options.width,
			4,
		),
	];
	const why = (d: StatusDocument, p: Process) => (p.needsRestart ? staleWhy(d, p) : 'nothing it maps is stale');
	const entries = foldContainers(containers, p => why(doc, p));
	for (const entry of cut(entries, options.verbose)) {
		const [{c, procs: own}] = entry as [ContainerProcs, ...ContainerProcs[]];
		if (entry.length > 1 && c) {
			lines.push(...foldedContainerLines(doc, entry, c, options, why));
			continue;
		}

		const head = (g: ProcessGroup) =>
			`${g.pids.length} × ${printable(g.comm)} ${c ? inContainer(c) : 'in an unidentified container'}${g.unit ? ` (${style.yellow(printable(g.unit))})` : ''}: ${g.why}`;
		lines.push(...groupLines(doc, own, options, '  ', why, head));
		if (c && own.some(p => p.needsRestart)) {
			// Its command is never shortened (it is meant to be copied).
			lines.push(...layout(`Restart: ${restartAdvice(c, own, options.suggest)}`, '    ', options.width, 4, false));
		}
	}

	const hidden = options.verbose ? 0 : entries.slice(LIST_LIMIT).reduce((n, e) => n + e.length, 0);
	if (hidden > 0) {
		lines.push(style.dim(`  … and ${count(hidden, 'more container', 'more containers')} (--verbose lists all)`));
	}

	return lines;
}

// Containers that say the same thing (container-fold.ts), as one entry: "5 × sleep in
// each of 200 containers (image …): WHY", the PIDs, the containers' names, one restart
// advice. --verbose lists each container with its PIDs.
function foldedContainerLines(
	doc: StatusDocument,
	entry: ContainerProcs[],
	c: Container,
	options: TextOptions,
	why: (doc: StatusDocument, p: Process) => string,
): string[] {
	const {style} = options;
	const lines: string[] = [];
	const groupsOf = entry.map(x => ({name: printable(containerName(x.c!)), groups: groupProcesses(x.procs, p => why(doc, p))}));
	const key = (g: ProcessGroup) => JSON.stringify([g.comm, g.unit, g.why]);
	for (const g of groupsOf[0]!.groups) {
		const unit = g.unit ? ` (${style.yellow(printable(g.unit))})` : '';
		lines.push(
			...layout(`${g.pids.length} × ${printable(g.comm)} in each of ${entry.length} containers (${imageNote(c)})${unit}: ${g.why}`, '  ', options.width, 4),
		);
		// Each container has this group: the signature that folded them counts its processes.
		const perContainer = groupsOf.map(x => ({name: x.name, pids: x.groups.find(h => key(h) === key(g))?.pids ?? []}));
		if (options.verbose) {
			for (const x of perContainer) {
				lines.push(...layout(style.dim(`${x.name}: ${x.pids.length === 1 ? 'PID' : 'PIDs'} ${x.pids.join(' ')}`), '    ', options.width, 5));
			}
		} else {
			lines.push(
				...layout(
					style.dim(
						`PIDs ${pidList(
							perContainer.flatMap(x => x.pids),
							false,
						)}`,
					),
					'    ',
					options.width,
					5,
				),
			);
		}
	}

	if (!options.verbose) {
		const names = groupsOf.map(x => x.name);
		const list = `${shortList(names, LIST_LIMIT)}${names.length > LIST_LIMIT ? ' (--verbose lists all)' : ''}`;
		lines.push(...layout(style.dim(`Containers ${list}`), '    ', options.width, 5));
	}

	const all = entry.flatMap(x => x.procs);
	if (all.some(p => p.needsRestart)) {
		lines.push(...layout(`Restart: ${restartAdvice(c, all, options.suggest, true)}`, '    ', options.width, 4, false));
	}

	return lines;
}

// "3 × sleep (cron.service): WHY", then the PIDs.
function groupLines(
	doc: StatusDocument,
	procs: Process[],
	options: TextOptions,
	indent: string,
	why: (doc: StatusDocument, p: Process) => string = staleWhy,
	head: (g: ProcessGroup) => string = g => groupHead(g, options.style),
): string[] {
	const groups = groupProcesses(procs, p => why(doc, p));
	const lines: string[] = [];
	for (const g of cut(groups, options.verbose)) {
		lines.push(...layout(head(g), indent, options.width, 4));
		lines.push(...layout(options.style.dim(`${g.pids.length === 1 ? 'PID' : 'PIDs'} ${pidList(g.pids, options.verbose)}`), `${indent}  `, options.width, 5));
	}

	lines.push(...more(groups.length, 'groups', options, indent));
	return lines;
}

function groupHead(g: ProcessGroup, style: ChalkInstance): string {
	return `${g.pids.length} × ${printable(g.comm)} (${g.unit ? style.yellow(printable(g.unit)) : 'no unit'}): ${g.why}`;
}

// "1 2 3 … and 990 more" past LIST_LIMIT, but with --verbose.
function pidList(pids: readonly number[], verbose: boolean): string {
	return verbose ? pids.join(' ') : shortList(pids, LIST_LIMIT);
}

function count(n: number, one: string, many: string): string {
	return `${n} ${n === 1 ? one : many}`;
}

function cut<T>(list: T[], verbose: boolean): T[] {
	return verbose ? list : list.slice(0, LIST_LIMIT);
}

function more(total: number, what: string, options: TextOptions, indent: string): string[] {
	return !options.verbose && total > LIST_LIMIT ? [options.style.dim(`${indent}… and ${total - LIST_LIMIT} more ${what} (--verbose lists all)`)] : [];
}
