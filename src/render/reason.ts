// Why a process needs a restart, as one human sentence per file:
// "PID 812 maps /usr/lib/libc.so.6 (deleted) from commit 47b67f0e9a… (1.0)".
// The core decides which files make a process stale and why (files[].staleReason); this
// module only words its codes.
import type {MappedFile, Process, RootKind} from '../model/document.js';
import type {StaleProcess} from '../model/unit-table.js';
import {short, shortId} from './short.js';

// Where the bytes came from. A file that lies in a tree at its tree path is "from" that
// commit; one elsewhere (a chroot's or the host's copy) only has the same bytes.
function from(f: MappedFile, where: string): string {
	const o = f.origin;
	if (o.kind === 'layer' && o.layer) {
		return ` from ${layerLabel(f)}`;
	}

	if (!o.commit) {
		return '';
	}

	const commit = `commit ${short(o.commit)}${o.version ? ` (${o.version})` : ''}`;
	return o.treePath && printable(o.treePath) !== where ? `, the same bytes as ${printable(o.treePath)} of ${commit}` : ` from ${commit}`;
}

function identical(f: MappedFile): string {
	return f.identicalIn ? `; deployment ${shortId(f.identicalIn)} has identical bytes there` : '';
}

export function fileReason(p: StaleProcess, f: MappedFile): string | undefined {
	const what = whatItMaps(p.root.kind, f);
	return what === undefined ? undefined : reasonSentence(p.pid, what);
}

// What a process whose root is of `kind` maps, said once per file object and kind: in a
// status with units the stale processes share their stale files' objects (model/unit-table.ts),
// and 3000 processes mapping one replaced libc make one text, not 3000.
const said = new WeakMap<MappedFile, Map<RootKind, string | undefined>>();

function whatItMaps(kind: RootKind, f: MappedFile): string | undefined {
	const byKind = said.get(f) ?? new Map<RootKind, string | undefined>();
	if (byKind.has(kind)) return byKind.get(kind);
	const what = fileWords(kind, f);
	if (byKind.size === 0) said.set(f, byKind);
	byKind.set(kind, what);
	return what;
}

function fileWords(kind: RootKind, f: MappedFile): string | undefined {
	if (f.staleReason === null || f.staleReason === undefined) {
		return undefined;
	}

	// Inside a tree, the tree path is what a person recognises ("/usr/lib/libc.so.6");
	// the host path of a deployment file is 100 characters of checksum. Any other file is
	// named by its real path.
	const where = printable(pathInTree(kind, f));
	switch (f.staleReason) {
		// The path names nothing now: removed, not upgraded.
		case 'deleted': {
			return `${where} (deleted)${from(f, where)}${identical(f)}`;
		}

		// The path names another file: an upgrade renamed a new file over it (the mapped
		// one is then also unlinked, which is not what a person needs to hear).
		case 'superseded': {
			return `${where}${from(f, where)}, since replaced by a newer file`;
		}

		case 'removed-deployment': {
			return `${where}${from(f, where)}, whose deployment was removed${identical(f)}`;
		}

		case 'unlinked': {
			return `${where} (unlinked; another link keeps its bytes)${from(f, where)}${identical(f)}`;
		}

		case 'other-commit': {
			return `${where}${from(f, where)}, not from its own deployment`;
		}

		case 'image-outdated': {
			return `${where}${from(f, where)}, a layer the image its name points to now does not have`;
		}

		default: {
			return `${where}${from(f, where)} (${f.staleReason})`;
		}
	}
}

// A container layer file: "image layer b5d231d543… (livetree-demo 1.0-1)", or the
// container's own writable layer.
export function layerLabel(f: MappedFile): string {
	const o = f.origin;
	const layer = o.layer
		? o.layer.diffDigest === null && o.layer.inCurrentImage === null
			? "the container's own layer"
			: `image layer ${short(o.layer.id)}`
		: 'a layer';
	return `${layer}${o.package ? ` (${o.package.name} ${o.package.version})` : ''}`;
}

// A deployment process's file at its commit's path, wherever its tree is mounted (a
// deployment directory, a composefs mount): the mapped path ends with that tree path.
function pathInTree(kind: RootKind, f: MappedFile): string {
	const tree = f.origin.treePath;
	return kind === 'deployment' && tree && f.path.endsWith(tree) ? tree : treePathOf(f.path);
}

// A deployment file's host path is …/ostree/deploy/OS/deploy/CHECKSUM.SERIAL/usr/…;
// the part after the deployment directory is the path inside the tree.
export function treePathOf(path: string): string {
	const match = /\/ostree\/deploy\/[^/]+\/deploy\/[\da-f]{64}\.\d+(\/.*)$/.exec(path);
	return match ? match[1]! : path;
}

// Most telling first: bytes gone before a path replaced, before a path gone with its
// deployment while its bytes live on. The one-line reason of a table is the first.
const severity: Record<string, number> = {deleted: 0, superseded: 1, 'other-commit': 2, 'image-outdated': 3, unlinked: 4, 'removed-deployment': 5};

// The files that make `p` stale, most telling first.
export function staleFiles(p: Pick<Process, 'files'>): MappedFile[] {
	const stale = p.files.filter(f => f.staleReason !== null && f.staleReason !== undefined);
	if (stale.length < 2) return stale;
	const rank = (f: MappedFile) => severity[f.staleReason!] ?? 6;
	// Array.prototype.sort is stable: files of one rank keep the order of the maps.
	return stale.sort((a, b) => rank(a) - rank(b));
}

export function reasons(p: StaleProcess): string[] {
	const seen = new Set<string>();
	addReasons(p, seen);
	return [...seen];
}

// Adds the sentences of `reasons(p)` to `into`, each once: a unit's reasons are made of
// thousands of these, gathered in one set (no set or array per process).
export function addReasons(p: StaleProcess, into: Set<string>): void {
	for (const w of staleWords(p)) into.add(reasonSentence(p.pid, w));
}

// What each file that makes `p` stale maps, most telling first: its reasons without the PID
// (the same for every process of the same root kind and stale files; a unit's reasons make
// them once for a run of such processes, systemd/reasons.ts).
export function staleWords(p: Pick<StaleProcess, 'root' | 'files'>): string[] {
	// One file (the common case: a replaced library) needs no ranking.
	const files = p.files.length === 1 ? p.files : staleFiles(p);
	const words: string[] = [];
	for (const f of files) {
		const what = whatItMaps(p.root.kind, f);
		if (what !== undefined) words.push(what);
	}

	return words;
}

// The sentence of process `pid` for one of its staleWords.
export function reasonSentence(pid: number, what: string): string {
	return `PID ${pid} maps ${what}`;
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

// A name's exact bytes for a terminal, one line each: UTF-8 shown as it is (control
// characters escaped as printable() does); a name that is not UTF-8 has every byte that
// is not printable ASCII escaped (\xNN).
export function printableBytes(bytes: Uint8Array): string {
	try {
		return printable(new TextDecoder('utf-8', {fatal: true}).decode(bytes));
	} catch {
		return Array.from(bytes, b => (b >= 0x20 && b < 0x7f && b !== 0x5c ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`)).join('');
	}
}
