// The exporter could not bind its address (in use, not local, no permission).
// `address` is what was asked for, so the one-line message is actionable.
export class ListenError extends Error {
	override name = 'ListenError';
	readonly exitCode = 2;

	constructor(
		message: string,
		readonly code: string,
		readonly address: string,
	) {
		super(message);
	}
}
