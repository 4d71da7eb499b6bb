// A failure the native core reported: it throws JavaScript Errors whose `code` (ENOENT,
// EACCES, ECORRUPT, EIO, ECATALOG, EINVAL, and EPANIC for a panic in the core, which the
// napi glue catches: native/src/guard.rs) and `path` are properties, as Node's own
// file-system errors carry them. Exit code 2. Subclasses say which operation failed.
export class NativeError extends Error {
	override name = 'NativeError';
	readonly exitCode = 2;

	constructor(
		message: string,
		readonly code: string,
		readonly path?: string,
	) {
		super(message);
	}

	// Wrap what the addon threw as this class (ScanError.fromNative(e), CatalogError…).
	static fromNative<T extends NativeError>(this: new (message: string, code: string, path?: string) => T, error: unknown): T {
		if (!(error instanceof Error)) {
			return new this(String(error), 'EUNKNOWN');
		}

		const {code, path} = error as Error & {code?: unknown; path?: unknown};
		return new this(error.message, typeof code === 'string' && code !== '' ? code : 'EUNKNOWN', typeof path === 'string' ? path : undefined);
	}
}
