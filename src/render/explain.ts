// `livetree explain PID`: an answer, not a dump. "Which tree is PID 4242 running?"
import type {ChalkInstance} from 'chalk';
import type {Suggest} from '../commands/rerun.js';
import type {MappedFile, Process, StatusDocument} from '../model/document.js';
import {applyWords, changeLine} from './config-text.js';
import {containerName, imageSentence, restartAdvice} from './containers-text.js';
import {packageLabel} from './package-label.js';
import {fileReason, printable, staleFiles, treePathOf} from './reason.js';
import {removedDeploymentVersion, replacedBy} from './replaced-by.js';
import {short, shortId} from './short.js';
import {layout} from './wrap.js';

// How an unknown process is worded: `asRoot`, the scan ran as root (then running as root
// is no advice); `denied`, its maps were refused (the core's count; by default, when a
// process-unreadable warning names it). An unknown process whose maps were read (an
// unproven composefs image) is pointed to the warnings.
export interface ExplainAccess {
	asRoot?: boolean;
	denied?: boolean;
}

export interface ExplainOptions extends ExplainAccess {
	/** The terminal's columns; undefined in a pipe or a file (nothing is wrapped). */
	width?: number;
	/** Writes the suggested next command with the options that chose what was read. */
	suggest?: Suggest;
}

// At a terminal, sentences wrap at its width; a path is never shortened here (explain is
// where the whole path is read), so one wider than the terminal overflows its line.
export function renderExplain(doc: StatusDocument, p: Process, style: ChalkInstance, verbose: boolean, options: ExplainOptions = {}): string {
	const {width} = options;
	const access: ExplainAccess = options;
	const wrap = (text: string, indent = '', hang = 2) => layout(text, indent, width, hang, false);
	const suggest: Suggest = options.suggest ?? ((command, ...args) => ['livetree', command, ...args].join(' '));
	const lines: string[] = [];
	const deployment = doc.deployments.find(d => d.id === p.root.deployment);
	// A deployment the sysroot no longer lists was undeployed (and maybe pruned) while
	// the process kept running; its version is still known from the files' commits.
	const removed = p.root.kind === 'deployment' && !deployment;
	const version = deployment?.version ?? (removed && p.root.deployment ? removedDeploymentVersion(p.root.deployment, p.files) : undefined);
	const where = describeRoot(p, version ?? undefined, removed);
	lines.push(...wrap(`${style.bold(`PID ${p.pid}`)} (${printable(p.comm)}) ${where}.`));
	if (p.container) {
		// process → container → image; each file below names its layer and package.
		lines.push(...wrap(imageSentence(p.container)));
		if (p.container.storageRoot) {
			lines.push(...wrap(`Its records are in the store ${p.container.storageRoot}.`));
		}
	}

	if (p.unit) {
		lines.push(...wrap(`It belongs to unit ${p.unit}.`));
	}

	if (p.container?.unit && p.container.unit !== p.unit) {
		lines.push(...wrap(`The container runs in unit ${p.container.unit}.`));
	}

	switch (p.state) {
		case 'stale': {
			lines.push(style.red('It needs a restart:'));
			const seen = new Set<string>();
			for (const f of staleFiles(p)) {
				const why = fileReason(p, f)?.replace(`PID ${p.pid} maps `, '');
				const now = replacedBy(doc, p, f);
				const line = why && `${why}${now ? ` (${now})` : ''}`;
				if (line && !seen.has(line)) {
					seen.add(line);
					lines.push(...wrap(`- ${line}`, '  '));
				}
			}

			break;
		}

		case 'overlay': {
			lines.push(...wrap(style.yellow('It runs live-applied code from a dynamic overlay; no restart is needed for that.')));
			break;
		}

		case 'unknown': {
			lines.push(...wrap(style.yellow(unknownLine(doc, p, access))));
			break;
		}

		case 'foreign': {
			lines.push(...wrap('Its root is not a deployment of this sysroot, and none of its files is deleted or replaced.'));
			break;
		}

		default: {
			lines.push(
				...wrap(
					style.green(`It runs current code: no ${dataFiles(p) > 0 ? 'file it runs code from' : 'mapped file'} is deleted, replaced, or from another tree.`),
				),
			);
		}
	}

	const data = dataFiles(p);
	if (data > 0 && p.state !== 'unknown') {
		lines.push(
			...wrap(
				`${data === 1 ? 'One file it maps shared (its data, not code) was' : `${data} files it maps shared (its data, not code) were`} deleted or replaced: no restart is needed for that${verbose ? '' : ' (--verbose lists every file)'}.`,
			),
		);
	}

	if (p.startedAt) {
		lines.push(`It started ${p.startedAt.replace('T', ' ').replace(/\.\d+Z$/, ' UTC')}.`);
	}

	if (p.needsReload) {
		lines.push(style.yellow('Its configuration changed since it started (reload or restart to apply):'));
		for (const c of p.configChanges ?? []) {
			const unit = p.unit ? doc.units.find(u => u.name === p.unit) : undefined;
			lines.push(`  - ${changeLine(p, c, doc.generatedAt.slice(0, 10))} — ${applyWords(c, unit, p, doc.generatedAt.slice(0, 10))}`);
		}
	}

	const byOrigin = p.files.filter(f => verbose || f.origin.kind !== 'untracked' || f.staleReason !== null);
	if (byOrigin.length > 0) {
		lines.push('', 'Mapped files:');
		for (const f of byOrigin) {
			lines.push(...wrap(`${printable(f.path)}${fileMarks(f)}`, '  ', 4));
			lines.push(...wrap(style.dim(describeOrigin(f)), '      '));
		}
	}

	const hidden = p.files.length - byOrigin.length;
	if (hidden > 0) {
		lines.push(...wrap(style.dim(`… and ${hidden} untracked files outside any tree (--verbose lists them)`), '  '));
	}

	// What the scan could not do about this process, or at all (a read-only catalog): the
	// "why" of an unknown answer, and what qualifies any other. Others' warnings are not
	// this process's business.
	const warnings = doc.warnings.filter(w => w.pid === p.pid || w.pid === null || w.pid === undefined);
	if (warnings.length > 0) {
		lines.push('', style.yellow(`Warnings: ${warnings.length}`));
		for (const w of warnings) {
			lines.push(...wrap(`${w.code}: ${printable(w.message)}`, '  ', 4));
		}
	}

	if (p.needsRestart) {
		// A command is printed whole (it is meant to be copied), never wrapped.
		const unit = p.container?.unit ?? p.unit;
		// livetree restart goes through the manager: with none reached, its suggestion would
		// fail as printed ("systemd is unavailable"); the unit came from the cgroup.
		const noManager = doc.warnings.some(w => w.code === 'systemd-unavailable');
		const next = unit
			? noManager
				? `restart ${printable(unit)} (livetree restart needs its systemd manager, which could not be asked: see the warnings above)`
				: suggest('restart', '--dry-run', unit)
			: p.container
				? restartAdvice(p.container, [p])
				: `restart PID ${p.pid} by hand (it belongs to no unit)`;
		lines.push('', `Next: ${next}`);
	}

	return `${lines.join('\n')}\n`;
}

// Files deleted or replaced that make no restart needed: the core gave them no staleReason
// because the process maps them only shared (data: shared memory, a cache).
function dataFiles(p: Process): number {
	return p.files.filter(f => f.staleReason === null && (f.deleted || f.pathGone || f.superseded) && f.origin.kind !== 'overlay').length;
}

function unknownLine(doc: StatusDocument, p: Process, access: ExplainAccess): string {
	const unreadable = doc.warnings.some(w => w.code === 'process-unreadable' && w.pid === p.pid);
	if (!unreadable) {
		return 'What it runs is unknown (see the warnings below).';
	}

	if (!(access.denied ?? true)) {
		return 'Its memory map could not be read, so what it runs is unknown (see the warnings below).';
	}

	return `Its memory map could not be read, so what it runs is unknown${access.asRoot ? ', even as root (see the warnings below)' : ' (run as root to read it)'}.`;
}

function describeRoot(p: Process, version: string | undefined, removed: boolean): string {
	switch (p.root.kind) {
		case 'deployment': {
			const gone = removed ? ', which has since been removed from the sysroot' : '';
			return `runs from deployment ${p.root.deployment ?? '?'}${version ? ` (version ${version})` : ''}${gone}`;
		}

		case 'host': {
			return "runs in the host's own root";
		}

		case 'container': {
			const c = p.container;
			return c ? `runs in container ${printable(containerName(c))} (${printable(c.engine)} ${c.id.slice(0, 12)})` : 'runs in a container';
		}

		case 'foreign': {
			return 'runs in a foreign root (a chroot, or a container no engine record explains)';
		}

		default: {
			return 'runs in a root that could not be read';
		}
	}
}

// The path gone is not the bytes gone: a removed deployment's file may live on as a
// newer deployment's identical one (another hard link).
// A file replaced on disk (its path names another file) is said to be replaced, even when
// the upgrade's rename also unlinked it: "deleted" is for a path that names nothing.
function fileMarks(f: MappedFile): string {
	const marks = [
		f.superseded && 'replaced by a newer file',
		!f.superseded && f.deleted && 'deleted',
		!f.superseded && !f.deleted && f.pathGone && 'path gone, bytes still linked elsewhere',
		f.identicalIn && `identical in deployment ${shortId(f.identicalIn)}`,
	].filter(Boolean);
	return marks.length > 0 ? ` (${marks.join('; ')})` : '';
}

function describeOrigin(f: MappedFile): string {
	const where = describeTree(f);
	const p = f.origin.package;
	return p ? `${where}; package ${packageLabel(p)}` : where;
}

function describeTree(f: MappedFile): string {
	const o = f.origin;
	const commit = o.commit ? `commit ${short(o.commit)}${o.version ? ` (${o.version})` : ''}` : undefined;
	const at = o.treePath ? ` at ${printable(o.treePath)}` : '';
	switch (o.kind) {
		case 'deployment': {
			return `from ${commit ?? 'a deployed commit'}${at}, deployment ${o.deployment ?? '?'}`;
		}

		case 'catalog': {
			// Either the file of a tree only the catalog remembers (no longer deployed), or a
			// file elsewhere (a chroot's, the host's) whose bytes a recorded commit holds.
			return o.treePath && o.treePath === treePathOf(f.path)
				? `from ${commit ?? 'a recorded commit'}${at}, a commit no longer deployed (recorded in the catalog)`
				: `the same bytes as ${commit ?? 'a recorded commit'}${at} (a commit recorded in the catalog)`;
		}

		case 'layer': {
			const l = o.layer;
			if (!l) {
				return `from a container layer${at}`;
			}

			if (l.diffDigest === null && l.inCurrentImage === null) {
				return `from the container's own layer ${short(l.id)} (written inside the container)`;
			}

			const digest = l.diffDigest ? ` (diff ${l.diffDigest.startsWith('sha256:') ? `sha256:${short(l.diffDigest.slice(7))}` : short(l.diffDigest)})` : '';
			const current =
				l.inCurrentImage === true
					? ', a layer the image its name points to now has too'
					: l.inCurrentImage === false
						? ', a layer the image its name points to now does not have'
						: '';
			const there = o.treePath && o.treePath !== f.path ? ` at ${printable(o.treePath)}` : '';
			return `from image layer ${short(l.id)}${digest}${there}${current}`;
		}

		case 'overlay': {
			if (!commit) {
				return 'live-applied hotfix matching no known commit';
			}

			// A commit holding these bytes at another path did not supply this file.
			return o.treePath && o.treePath !== treePathOf(f.path) ? `live-applied; the same bytes as ${commit}${at}` : `live-applied from ${commit}${at}`;
		}

		default: {
			return `not from any known tree (device ${f.dev}, inode ${f.ino})`;
		}
	}
}
