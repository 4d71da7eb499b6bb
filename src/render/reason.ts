// Why a process needs a restart, as one human sentence per file.
import type {MappedFile, Process} from '../model/document.js';
import {short} from './style.js';

export function fileReason(pid: number, f: MappedFile): string | undefined {
	const from = f.origin.commit
		? ` from commit ${short(f.origin.commit)}${f.origin.version ? ` (${f.origin.version})` : ''}`
		: '';
	// Inside a tree, the tree path is what a person recognises ("/usr/lib/libc.so.6");
	// the host path of a deployment file is 100 characters of checksum.
	const where = printable(f.origin.treePath ?? f.path);
	if (f.deleted) {
		return `PID ${pid} maps ${where} (deleted)${from}`;
	}

	if (f.superseded) {
		return `PID ${pid} maps ${where}${from}, since replaced on disk`;
	}

	return undefined;
}

// The first reason only: tables have room for one line of why.
export function reason(p: Process): string | undefined {
	for (const f of p.files) {
		const why = fileReason(p.pid, f);
		if (why) {
			return why.replace(`PID ${p.pid} maps `, '');
		}
	}

	const foreign = p.files.find(f => f.origin.commit && p.root.deployment && !p.root.deployment.includes(f.origin.commit));
	if (foreign) {
		return `${printable(foreign.path)} comes from commit ${short(foreign.origin.commit)}, not its deployment's`;
	}

	return undefined;
}

export function reasons(p: Process): string[] {
	return p.files.map(f => fileReason(p.pid, f)).filter((r): r is string => r !== undefined);
}

// Control characters in file names would corrupt a terminal; show them escaped.
export function printable(s: string): string {
	// eslint-disable-next-line no-control-regex
	return s.replace(/[\u0000-\u001f\u007f]/g, c => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
