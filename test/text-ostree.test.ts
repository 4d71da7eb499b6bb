// The text report's deployment lines, against the real `ostree admin status` text: where
// livetree has nothing to add, it prints what ostree prints (whole checksums, one flag,
// "origin: none" and "origin: <unknown origin type>"). livetree's own lines (overlays,
// processes) come between them; ostree's lines must all be there, in ostree's order.
import {execFile} from 'node:child_process';
import {rm, writeFile} from 'node:fs/promises';
import {promisify} from 'node:util';
import test from 'ava';
import {livetree} from './helpers/cli.js';
import {Fixtures} from './helpers/fixture.js';
import {textExitCode} from './helpers/exit-code.js';

const run = promisify(execFile);

test('deployment lines read as ostree admin status prints them', async t => {
	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const s = await fx.buildSysroot('three');
	// One deployment without an origin file, one with an origin file that names no refspec.
	await rm(`${s.deployments[1]!.path}.origin`);
	await writeFile(`${s.deployments[2]!.path}.origin`, '');
	const state = await fx.tempDir();

	const ostree = (await run('ostree', ['admin', `--sysroot=${s.sysroot}`, 'status'])).stdout;
	t.regex(ostree, /^ {4}origin: none$/m);
	t.regex(ostree, /^ {4}origin: <unknown origin type>$/m);
	const ours = await livetree(['status', '--no-systemd', '--color', 'never', '--sysroot', s.sysroot, '--state-dir', state]);
	t.is(ours.code, textExitCode(ours.stdout), ours.stderr);
	const lines = ours.stdout.split('\n');
	let at = 0;
	for (const line of ostree.split('\n').filter(Boolean)) {
		const found = lines.indexOf(line, at);
		t.not(found, -1, `ostree's line ${JSON.stringify(line)} is not in livetree's report, in order:\n${ours.stdout}`);
		at = found + 1;
	}
});
