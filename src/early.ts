// `livetree status` reads /proc while Node loads the rest of the CLI (docs/proc-reading.md,
// "Before the scan"): the options are parsed here by the command's own table, and the core
// starts reading that proc root on threads of its own, on the core Node's loading leaves
// idle; the status's scan takes what was read (native/core/src/scan/early.rs). Help or an
// option that does not parse starts nothing: the command parses its options again and says
// what it says without this.
import {parseCommand} from './commands/parse.js';
import {commandLine, commandTable} from './commands/table.js';
import {native} from './native.js';
import {readCommon} from './options.js';

export function readEarly(argv: readonly string[]): void {
	const [name, rest] = commandLine(argv);
	if (name !== 'status') {
		return;
	}

	try {
		const {values} = parseCommand('status', commandTable.status, rest);
		if (!values.help) {
			native.readProcessesEarly(readCommon(values).procRoot);
		}
	} catch {
		// Said by the command itself, which parses the same options again.
	}
}
