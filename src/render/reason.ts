// Why a process needs a restart, as one human sentence per file:
// "PID 812 maps /usr/lib/libc.so.6 (deleted) from commit 47b67f0e9a… (1.0)".
import type {MappedFile, Process} from '../model/document.js';
import {short} from './style.js';

function from(f: MappedFile): string {
	return f.origin.commit
		? ` from commit ${short(f.origin.commit)}${f.origin.version ? ` (${f.origin.version})` : ''}`
		: '';
}

// Whether this file is why the process needs a restart: the same rule as the core's
// attribute::file_is_stale, for the files the document reports.
export function makesStale(p: Process, f: MappedFile): boolean {
	return f.deleted || f.superseded || fromOtherCommit(p, f) || fromPrunedTree(p, f);
}

// A file whose commit only the catalog remembers: its deployment was undeployed (a process
// still running from a composefs image after a prune keeps every path).
function fromPrunedTree(p: Process, f: MappedFile): boolean {
	return p.root.kind === 'deployment' && f.origin.kind === 'catalog';
}

// A file of another tree than the process's own deployment (and not live-applied).
function fromOtherCommit(p: Process, f: MappedFile): boolean {
	return p.root.kind === 'deployment' && f.origin.kind !== 'overlay' && Boolean(f.origin.commit)
		&& Boolean(p.root.deployment) && !p.root.deployment!.includes(`/${f.origin.commit!}.`);
}

export function fileReason(p: Process, f: MappedFile): string | undefined {
	// Inside a tree, the tree path is what a person recognises ("/usr/lib/libc.so.6");
	// the host path of a deployment file is 100 characters of checksum.
	const where = printable(f.origin.treePath ?? treePathOf(f.path));
	if (f.deleted) {
		return `PID ${p.pid} maps ${where} (deleted)${from(f)}`;
	}

	if (f.superseded) {
		return `PID ${p.pid} maps ${where}${from(f)}, since replaced on disk`;
	}

	if (fromOtherCommit(p, f)) {
		return `PID ${p.pid} maps ${where}${from(f)}, not from its own deployment`;
	}

	if (fromPrunedTree(p, f)) {
		return `PID ${p.pid} maps ${where}${from(f)}, a tree no longer deployed`;
	}

	return undefined;
}

// A deployment file's host path is …/ostree/deploy/OS/deploy/CHECKSUM.SERIAL/usr/…;
// the part after the deployment directory is the path inside the tree.
export function treePathOf(path: string): string {
	const match = /\/ostree\/deploy\/[^/]+\/deploy\/[\da-f]{64}\.\d+(\/.*)$/.exec(path);
	return match ? match[1]! : path;
}

export function reasons(p: Process): string[] {
	return [...new Set(p.files.map(f => fileReason(p, f)).filter((r): r is string => r !== undefined))];
}

// The first reason only, without the PID: tables have room for one line of why.
export function reason(p: Process): string | undefined {
	return reasons(p)[0]?.replace(`PID ${p.pid} maps `, '');
}

// Control characters in file names would corrupt a terminal; show them escaped.
export function printable(s: string): string {
	// eslint-disable-next-line no-control-regex
	return s.replace(/[\u0000-\u001f\u007f]/g, c => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
