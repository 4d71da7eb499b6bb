// LIVETREE_DEBUG_SCANNER=1 (docs/scanner.md): lines on stderr saying what a scan read and what
// it asked the manager; the tests read them. Undefined when the variable is not set.
export function debugLine(): ((line: string) => void) | undefined {
	return process.env['LIVETREE_DEBUG_SCANNER'] ? line => process.stderr.write(`livetree: ${line}\n`) : undefined;
}
