// What the composefs tests ask of a status document: one process by PID, one of its files
// by path, a deployment's id.
import type {MappedFile, Process, StatusDocument} from '../../src/model/document.js';

/** The process PID of a scan; throws when the scan does not list it. */
export function proc(doc: StatusDocument, pid: number): Process {
	const p = doc.processes.find(p => p.pid === pid);
	if (!p) {
		throw new Error(`PID ${pid} not in the scan`);
	}

	return p;
}

/** The file of process `p` whose path ends with `path`; throws when it maps none. */
export function file(p: Process, path: string): MappedFile {
	const f = p.files.find(f => f.path.endsWith(path));
	if (!f) {
		throw new Error(`PID ${p.pid} maps no ${path}: ${p.files.map(f => f.path).join(', ')}`);
	}

	return f;
}

/** OSNAME/CHECKSUM.SERIAL, as documents name a deployment. */
export const idOf = (d: {osname: string; checksum: string; serial: number}): string => `${d.osname}/${d.checksum}.${d.serial}`;
