// The --web.config.file cannot be used: unreadable, not YAML, an unknown or unsupported
// key, a certificate that does not load. `file` names it so the message is actionable.
export class WebConfigError extends Error {
	override name = 'WebConfigError';
	readonly exitCode = 2;

	constructor(
		message: string,
		readonly file: string,
	) {
		super(`${file}: ${message}`);
	}
}
