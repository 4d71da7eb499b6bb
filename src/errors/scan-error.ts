// The scan itself failed (unreadable sysroot, nothing scannable). Exit code 2.
// `path` names what could not be read, so the one-line message is actionable.
export class ScanError extends Error {
	override name = 'ScanError';
	readonly exitCode = 2;

	constructor(message: string, readonly code: string, readonly path?: string) {
		super(message);
	}

	// The native core throws errors whose message starts with a code in brackets
	// ("[ENOENT] /x: not found"); turn them into ScanErrors with that code.
	static fromNative(error: unknown): ScanError {
		const message = error instanceof Error ? error.message : String(error);
		const match = /^\[([A-Z_]+)\] (.*)$/s.exec(message);
		if (match) {
			return new ScanError(match[2]!, match[1]!);
		}

		return new ScanError(message, 'EUNKNOWN');
	}
}
