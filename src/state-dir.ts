// The state directory holds the catalog. Only a scan that records (status, explain,
// restart, exporter, which) creates the default one; a directory named with --state-dir must
// already exist, so that a typo leaves nothing behind; commands that only read (history,
// catalog check) never create anything.
import {statSync} from 'node:fs';
import {mkdir, stat} from 'node:fs/promises';
import {CatalogError} from './errors/catalog-error.js';
import {ScanError} from './errors/scan-error.js';
import {defaultStateDir, type CommonOptions} from './options.js';

export type StateDirUse = 'record' | 'read';

/**
 * Check (and for a recording scan, create the default) state directory. Returns false when
 * there is none to use and the command can go on without it: the scan then warns
 * `catalog-unavailable`; a reader says that nothing was recorded.
 */
export async function prepareStateDir(options: CommonOptions, use: StateDirUse): Promise<boolean> {
	const dir = options.stateDir;
	try {
		const info = await stat(dir);
		if (!info.isDirectory()) {
			throw new ScanError(`${dir}: not a directory (ENOTDIR); --state-dir names the directory that holds catalog.sqlite`, 'ENOTDIR', dir);
		}

		return true;
	} catch (error) {
		if (error instanceof ScanError) {
			throw error;
		}

		const code = (error as NodeJS.ErrnoException).code ?? 'EIO';
		if (code === 'ENOTDIR') {
			throw new ScanError(`${dir}: a part of the path is not a directory (ENOTDIR)`, code, dir);
		}

		if (options.stateDirGiven && code === 'ENOENT') {
			throw new ScanError(
				`${dir}: no such directory (ENOENT); --state-dir must name an existing directory (only the default ${defaultStateDir} is created)`,
				code,
				dir,
			);
		}

		if (options.stateDirGiven) {
			throw new ScanError(`${dir}: cannot use the state directory (${code})`, code, dir);
		}

		if (use === 'record' && code === 'ENOENT') {
			try {
				await mkdir(dir, {recursive: true, mode: 0o755});
				return true;
			} catch {
				// Not root, or a read-only /var: the scan goes on without a catalog and says so.
				return false;
			}
		}

		return false;
	}
}

/**
 * Whether the catalog file is there: false only when it surely is not (ENOENT). A directory
 * the user may not enter hides whether it is (EACCES): that is an error naming the cause,
 * never "no catalog, nothing recorded".
 */
export function catalogExists(file: string): boolean {
	try {
		statSync(file);
		return true;
	} catch (error) {
		const code = (error as NodeJS.ErrnoException).code ?? 'EIO';
		if (code === 'ENOENT') {
			return false;
		}

		const why = code === 'EACCES' || code === 'EPERM' ? 'permission denied' : code === 'ENOTDIR' ? 'a part of the path is not a directory' : 'cannot stat it';
		throw new CatalogError(`${file}: cannot read the catalog: ${why} (${code})`, code, file);
	}
}
