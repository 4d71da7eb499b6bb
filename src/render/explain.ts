// `livetree explain PID`: an answer, not a dump. "Which tree is PID 4242 running?"
import type {ChalkInstance} from 'chalk';
import type {MappedFile, Process, StatusDocument} from '../model/document.js';
import {packageLabel} from './package-label.js';
import {printable, reasons} from './reason.js';
import {short} from './style.js';

export function renderExplain(doc: StatusDocument, p: Process, style: ChalkInstance, verbose: boolean): string {
	const lines: string[] = [];
	const deployment = doc.deployments.find(d => d.id === p.root.deployment);
	const where = describeRoot(p, deployment?.version ?? undefined);
	lines.push(`${style.bold(`PID ${p.pid}`)} (${printable(p.comm)}) ${where}.`);
	if (p.unit) {
		lines.push(`It belongs to unit ${p.unit}.`);
	}

	switch (p.state) {
		case 'stale': {
			lines.push(style.red('It needs a restart:'));
			for (const why of reasons(p)) {
				lines.push(`  - ${why.replace(`PID ${p.pid} maps `, '')}`);
			}

			break;
		}

		case 'overlay': {
			lines.push(style.yellow('It runs live-applied code from a dynamic overlay; no restart is needed for that.'));
			break;
		}

		case 'unknown': {
			lines.push(style.yellow('Its memory map could not be read, so what it runs is unknown (see warnings).'));
			break;
		}

		case 'foreign': {
			lines.push('Its root is not a deployment of this sysroot, and none of its files is deleted or replaced.');
			break;
		}

		default: {
			lines.push(style.green('It runs current code: no mapped file is deleted, replaced, or from another tree.'));
		}
	}

	const byOrigin = p.files.filter(f => verbose || f.origin.kind !== 'untracked' || f.deleted || f.superseded);
	if (byOrigin.length > 0) {
		lines.push('', 'Mapped files:');
		for (const f of byOrigin) {
			lines.push(`  ${printable(f.path)}${f.deleted ? ' (deleted)' : ''}${f.superseded ? ' (replaced)' : ''}`);
			lines.push(style.dim(`      ${describeOrigin(f)}`));
		}
	}

	const hidden = p.files.length - byOrigin.length;
	if (hidden > 0) {
		lines.push(style.dim(`  … and ${hidden} untracked files outside any tree (--verbose lists them)`));
	}

	return `${lines.join('\n')}\n`;
}

function describeRoot(p: Process, version: string | undefined): string {
	switch (p.root.kind) {
		case 'deployment': {
			return `runs from deployment ${p.root.deployment ?? '?'}${version ? ` (version ${version})` : ''}`;
		}

		case 'host': {
			return 'runs in the host\'s own root';
		}

		case 'foreign': {
			return 'runs in a foreign root (a container or a chroot outside the sysroot)';
		}

		default: {
			return 'runs in a root that could not be read';
		}
	}
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
			return `from ${commit ?? 'a recorded commit'}${at}, found by content checksum in the catalog`;
		}

		case 'overlay': {
			return commit ? `live-applied from ${commit}${at}` : 'live-applied hotfix matching no known commit';
		}

		default: {
			return `not from any known tree (device ${f.dev}, inode ${f.ino})`;
		}
	}
}
