// A host without a bus (issue 22): when no socket is at the bus address, `status` says
// systemd-unavailable from one stat, without loading the D-Bus library (dbus-next) and
// failing to connect, which cost a small host about 60 ms on every scan. Checked by what
// the process opens (strace), not by timing: the time is measured by the bench.
import {execFile} from 'node:child_process';
import {readFile} from 'node:fs/promises';
import {createServer} from 'node:net';
import {join} from 'node:path';
import {promisify} from 'node:util';
import test from 'ava';
import type {StatusDocument} from '../src/model/document.js';
import {noBusAt} from '../src/systemd/bus-address.js';
import {projectRoot} from './helpers/cli.js';
import {statusExitCode} from './helpers/exit-code.js';
import {Fixtures} from './helpers/fixture.js';

const execFileP = promisify(execFile);

// `livetree ARGS` under strace: its exit code, stdout, and every file it opened.
async function traced(fx: Fixtures, args: string[], env: NodeJS.ProcessEnv = {}): Promise<{code: number; doc: StatusDocument; opened: string}> {
	const log = join(await fx.tempDir(), 'strace.log');
	const r = await execFileP('strace', ['-f', '-qq', '-e', 'trace=openat,open', '-o', log, process.execPath, join(projectRoot, 'bin/livetree.js'), ...args], {
		env: {...process.env, ...env},
		maxBuffer: 256 << 20,
	}).then(
		o => ({code: 0, ...o}),
		(error: {code: number; stdout: string; stderr: string}) => error,
	);
	return {code: r.code, doc: JSON.parse(r.stdout) as StatusDocument, opened: await readFile(log, 'utf8')};
}

test('no socket at the bus address: systemd-unavailable without loading dbus-next', async t => {
	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const state = await fx.tempDir();
	const dir = await fx.tempDir();
	const cases: Array<[string[], NodeJS.ProcessEnv, string]> = [
		[['--bus-address', `unix:path=${dir}/none`], {}, `${dir}/none`],
		// The system bus, found through the environment as the D-Bus specification says.
		[[], {DBUS_SYSTEM_BUS_ADDRESS: `unix:path=${dir}/system_bus_socket`}, `${dir}/system_bus_socket`],
		[['--user'], {DBUS_SESSION_BUS_ADDRESS: `unix:path=${dir}/missing/bus`}, `${dir}/missing/bus`],
	];
	for (const [args, env, socket] of cases) {
		const {code, doc, opened} = await traced(fx, ['status', '--json', '--state-dir', state, ...args], env);
		t.is(code, statusExitCode(doc), args.join(' '));
		t.deepEqual(
			doc.warnings.filter(w => w.code.startsWith('systemd')),
			[{code: 'systemd-unavailable', message: `connecting to unix:path=${socket}: no socket at ${socket} (ENOENT)`, pid: null}],
		);
		t.deepEqual(doc.units, []);
		t.true(opened.includes('bin/livetree.js'), 'strace saw the command');
		t.false(opened.includes('dbus-next'), `${args.join(' ')}: dbus-next was loaded`);
	}
});

test('a socket at the address: the connection is tried (by the core, without dbus-next)', async t => {
	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const state = await fx.tempDir();
	// A socket that accepts and closes: something listens, but no D-Bus server.
	const socket = join(await fx.tempDir(), 'bus');
	const server = createServer(c => c.destroy());
	await new Promise<void>(resolve => server.listen(socket, resolve));
	t.teardown(() => server.close());
	const {code, doc, opened} = await traced(fx, ['status', '--json', '--state-dir', state, '--bus-address', `unix:path=${socket}`]);
	t.is(code, statusExitCode(doc));
	t.false(opened.includes('node_modules/dbus-next'), 'a status reads units without dbus-next');
	const w = doc.warnings.filter(x => x.code === 'systemd-unavailable');
	t.is(w.length, 1, JSON.stringify(doc.warnings));
	t.notRegex(w[0]!.message, /no socket at/);
	// What the socket did to the attempt: it closed the connection during authentication.
	t.regex(
		w[0]!.message,
		new RegExp(
			`^connecting to systemd on unix:path=${socket}: connecting to ${socket}: (the bus closed the connection while authenticating|Connection reset by peer|Broken pipe)`,
		),
	);
});

test('noBusAt: only a unix path that is surely no socket is no bus; anything else is left to the connection', async t => {
	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const dir = await fx.tempDir();
	t.is(await noBusAt(`unix:path=${dir}/none`), `connecting to unix:path=${dir}/none: no socket at ${dir}/none (ENOENT)`);
	t.is(await noBusAt(`unix:path=${dir}`), `connecting to unix:path=${dir}: ${dir} is not a socket`);
	t.is(await noBusAt(`unix:path=/etc/hostname/x`), 'connecting to unix:path=/etc/hostname/x: no socket at /etc/hostname/x (ENOTDIR)');
	// %XX escapes of the D-Bus address syntax are decoded.
	t.is(await noBusAt(`unix:path=${dir}/a%20b`), `connecting to unix:path=${dir}/a%20b: no socket at ${dir}/a b (ENOENT)`);
	// Every entry must be missing for the address to be; abstract sockets and tcp cannot be told.
	t.is(await noBusAt(`unix:path=${dir}/none;unix:abstract=x`), null);
	t.is(await noBusAt('unix:abstract=/tmp/dbus-x'), null);
	t.is(await noBusAt('tcp:host=127.0.0.1,port=1'), null);
	const socket = join(dir, 'sock');
	const server = createServer();
	await new Promise<void>(resolve => server.listen(socket, resolve));
	t.teardown(() => server.close());
	t.is(await noBusAt(`unix:path=${socket}`), null);
	t.is(await noBusAt(`unix:path=${dir}/none;unix:path=${socket}`), null);
});
