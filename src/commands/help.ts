// --help, made from the command table: what a command's help lists is what it accepts.
import type {OptionSpec} from '../options.js';
import type {CommandSpec} from './spec.js';
import {commandTable, type CommandName} from './table.js';

// Help text starts in this column, as in GNU tools' --help.
const column = 25;

export function commandHelp(name: CommandName): string {
	const spec: CommandSpec = commandTable[name];
	const options = Object.entries(spec.options).map(([option, o]) => optionLine(option, o, spec.optionHelp[option] ?? o.help));
	return `Usage: livetree ${spec.usage}

${spec.description}

Options:
${options.join('')}
${spec.footer}
`;
}

function optionLine(name: string, option: OptionSpec, help: string): string {
	const left = `  ${option.short ? `-${option.short}, ` : ''}--${name}${option.value ? ` ${option.value}` : ''}`;
	const [first, ...more] = help.split('\n');
	const head = left.length < column ? `${left.padEnd(column)}${first}` : `${left}\n${' '.repeat(column)}${first}`;
	return `${head}\n${more.map(line => `${' '.repeat(column)}${line}\n`).join('')}`;
}

export function toolHelp(): string {
	const rows = Object.entries(commandTable).map(([name, spec]: [string, CommandSpec]) => {
		const left = `  ${spec.synopsis ?? name}`;
		return `${left.length < 20 ? left.padEnd(20) : `${left}  `}${spec.summary}\n`;
	});
	return `Usage: livetree <command> [options]

Tells what is running on this host: every mapped file of every process traced
to the OSTree commit it came from, and which processes and units need a restart.

Commands:
${rows.join('')}
Run 'livetree help <command>' (or 'livetree <command> --help') for its options.
Options: -h, --help, -V, --version
`;
}
