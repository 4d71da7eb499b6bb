// Long work (recording a commit, indexing the repo) shows progress on stderr at a
// terminal, and nothing otherwise: a cron job's stderr stays empty.
import {execFile} from 'node:child_process';
import {promisify} from 'node:util';
import test from 'ava';
import {livetree, projectRoot} from './helpers/cli.js';
import {Fixtures} from './helpers/fixture.js';
import {statusExitCode} from './helpers/exit-code.js';
import type {StatusDocument} from '../src/model/document.js';

const run = promisify(execFile);

test('progress on a terminal, silence otherwise', async t => {
	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const s = await fx.buildSysroot('one');
	const args = ['status', '--json', '--no-systemd', '--sysroot', s.sysroot];

	const quiet = await livetree([...args, '--state-dir', await fx.tempDir()]);
	t.is(quiet.code, statusExitCode(JSON.parse(quiet.stdout) as StatusDocument), quiet.stderr);
	t.is(quiet.stderr, '');

	// script(1) gives the command a real pseudo-terminal; stdout goes to /dev/null, so what
	// comes through the terminal is stderr.
	const state = await fx.tempDir();
	const command = [process.execPath, `${projectRoot}bin/livetree.js`, ...args, '--state-dir', state].map(a => `'${a}'`).join(' ');
	const {stdout} = await run('script', ['-qec', `${command} > /dev/null`, '/dev/null']).catch((error: {stdout: string}) => error);
	t.regex(stdout, /livetree: recording commit [\da-f]{10}… \(1\.0\): \d+ files/);
	t.regex(stdout, /livetree: indexing the objects of /);
	// The line is cleared at the end.
	t.true(stdout.includes('\r\u001B[K'));
});
