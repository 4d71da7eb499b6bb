// Bad arguments: the user can fix the command line. Exit code 2.
export class UsageError extends Error {
	override name = 'UsageError';
	readonly exitCode = 2;
}
