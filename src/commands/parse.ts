// Parse a command's arguments against its row of the command table. An option the command
// does not take is a usage error (exit 2) naming it, never silently ignored.
import {parseArgs, type ParseArgsConfig} from 'node:util';
import {UsageError} from '../errors/usage-error.js';
import {optionTable} from '../options.js';

type Options = NonNullable<ParseArgsConfig['options']>;

interface Spec<O extends Options> {
	options: O;
	positionals: boolean;
}

export function parseCommand<const O extends Options>(name: string, spec: Spec<O>, argv: string[]) {
	// A first, lenient pass finds every option token, known to this command or not.
	const {tokens} = parseArgs({args: argv, options: spec.options, allowPositionals: true, strict: false, tokens: true});
	const hint = `(see livetree ${name} --help)`;
	for (const token of tokens) {
		if (token.kind === 'option' && !Object.hasOwn(spec.options, token.name)) {
			throw new UsageError(known(token.rawName) ? `${name} does not take ${token.rawName} ${hint}` : `${name}: unknown option ${token.rawName} ${hint}`);
		}

		if (token.kind === 'positional' && !spec.positionals) {
			throw new UsageError(`${name} takes no arguments, not "${token.value}" ${hint}`);
		}
	}

	try {
		return parseArgs({args: argv, options: spec.options, allowPositionals: true, strict: true});
	} catch (error) {
		// A missing or ambiguous value: Node explains it over three lines; the first says it.
		const code = (error as {code?: unknown}).code;
		if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')) {
			throw new UsageError(`${name}: ${(error as Error).message.split('\n')[0]!} ${hint}`);
		}

		throw error;
	}
}

/** Whether some other command takes this option (`--user`, `-v`). */
function known(rawName: string): boolean {
	return Object.entries(optionTable).some(([long, o]) => rawName === `--${long}` || ('short' in o && rawName === `-${o.short}`));
}
