// --output and --textfile: written atomically (write-atomic.ts). Checked before the scan, so
// that a missing or read-only directory is one line naming the path and the cause, exit 2,
// and neither the file nor its temporary file is created.
import {access, constants, stat} from 'node:fs/promises';
import path from 'node:path';
import {ScanError} from './errors/scan-error.js';
import {writeAtomic} from './write-atomic.js';

export async function checkWritable(option: string, file: string): Promise<void> {
	const dir = path.dirname(path.resolve(file));
	const fail = (why: string, code: string, at = dir) => new ScanError(`${option} ${file}: ${at}: ${why} (${code})`, code, at);
	if (file === '' || file.endsWith('/')) {
		throw fail('names a directory, not a file', 'EISDIR', file);
	}

	const info = await stat(dir).catch((error: NodeJS.ErrnoException) => {
		const code = error.code ?? 'EIO';
		throw fail(code === 'ENOENT' ? 'no such directory' : code === 'ENOTDIR' ? 'a part of the path is not a directory' : 'cannot use this directory', code);
	});
	if (!info.isDirectory()) {
		throw fail('not a directory', 'ENOTDIR');
	}

	await access(dir, constants.W_OK | constants.X_OK).catch((error: NodeJS.ErrnoException) => {
		const code = error.code ?? 'EACCES';
		throw fail(code === 'EROFS' ? 'read-only file system' : 'not writable', code);
	});
	const target = await stat(file).catch(() => undefined);
	if (target?.isDirectory()) {
		throw fail('is a directory', 'EISDIR', file);
	}
}

/** writeAtomic, with a failure (disk full, a directory removed meanwhile) as one line. */
export async function writeOutputFile(option: string, file: string, content: string | Iterable<string | Uint8Array>): Promise<void> {
	try {
		await writeAtomic(file, content);
	} catch (error) {
		const e = error as NodeJS.ErrnoException;
		throw new ScanError(`${option} ${file}: cannot write it (${e.code ?? e.message})`, e.code ?? 'EIO', file);
	}
}
