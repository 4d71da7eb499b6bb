// `livetree status --json` as the hostile-input tests run it: no crash trace on stderr, the
// document valid against the schemas, and its exit code exactly the one its report calls for.
import {spawn} from 'node:child_process';
import {join} from 'node:path';
import type {ExecutionContext} from 'ava';
import type {StatusDocument} from '../../src/model/document.js';
import {type CliResult, livetree, outcome} from './cli.js';
import {statusExitCode} from './exit-code.js';
import {ROOT} from './fixture.js';
import {schemaErrors} from './schema.js';

/** `status --json --no-systemd --state-dir STATE EXTRA…`, under PREFIX (a command such as setpriv) when given; checked, with its code. */
export async function checkedStatus(
	t: ExecutionContext,
	state: string,
	extra: string[] = [],
	prefix: string[] = [],
): Promise<{doc: StatusDocument; code: number; stderr: string}> {
	const args = ['status', '--json', '--no-systemd', '--state-dir', state, ...extra];
	const r =
		prefix.length === 0 ? await livetree(args) : await runCommand(prefix[0]!, [...prefix.slice(1), process.execPath, join(ROOT, 'bin/livetree.js'), ...args]);
	t.notRegex(r.stderr, /panick|RangeError|TypeError|at .*\.js:\d+/, 'no crash trace on stderr');
	const doc = JSON.parse(r.stdout) as StatusDocument;
	t.is(r.code, statusExitCode(doc), r.stderr);
	t.deepEqual(schemaErrors(doc), []);
	return {doc, code: r.code, stderr: r.stderr};
}

/** CMD ARGS… with its output piped, ended after TIMEOUTMS. */
export async function runCommand(cmd: string, args: string[], timeoutMs = 120_000): Promise<CliResult> {
	return outcome(spawn(cmd, args, {stdio: ['ignore', 'pipe', 'pipe']}), timeoutMs);
}
