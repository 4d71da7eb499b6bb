// The shape of one row of the command table (commands/table.ts).
import type {OptionSpec} from '../options.js';

export interface CommandSpec {
	/** What follows `livetree ` on the usage line. */
	usage: string;
	/** One line for `livetree --help`. */
	summary: string;
	/** The command as `livetree --help` lists it, when more than its name. */
	synopsis?: string;
	description: string;
	/** Whether it takes arguments besides options (checked further by the command itself). */
	positionals: boolean;
	options: Readonly<Record<string, OptionSpec>>;
	/** What an option means for this command, when the shared words say too little. */
	optionHelp: Readonly<Record<string, string>>;
	footer: string;
}
