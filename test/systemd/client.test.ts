// The client against real buses: systemd --user, a bus with no systemd on it, and no bus at all.
import test from 'ava';
import {spawn, execFile} from 'node:child_process';
import {mkdtempSync, rmSync} from 'node:fs';
import {fileURLToPath} from 'node:url';
import {connectSystemd, resolveBusAddress} from '../../src/systemd/client.js';
import {SystemdError} from '../../src/systemd/errors/systemd-error.js';
import {nameFromPath} from '../../src/systemd/units.js';
import {startUserManager} from '../helpers/systemd-user.js';
import {listening} from '../helpers/unix-socket.js';

test('no bus socket → SystemdError systemd-unavailable', async t => {
	const dir = mkdtempSync('/tmp/livetree-nobus-');
	t.teardown(() => rmSync(dir, {recursive: true, force: true}));
	const err = await t.throwsAsync(connectSystemd({busAddress: `unix:path=${dir}/bus`}), {instanceOf: SystemdError});
	t.is(err?.code, 'systemd-unavailable');
});

test('a bus without systemd on it → systemd-unavailable, and nothing is activated', async t => {
	const dir = mkdtempSync('/tmp/livetree-bus-');
	const address = `unix:path=${dir}/bus`;
	const daemon = spawn('dbus-daemon', ['--session', '--nofork', `--address=${address}`], {stdio: ['ignore', 'ignore', 'pipe']});
	let log = '';
	daemon.stderr.on('data', (b: Buffer) => (log += b.toString()));
	t.teardown(async () => {
		const exited = new Promise(r => daemon.once('exit', r));
		daemon.kill('SIGTERM');
		await exited;
		rmSync(dir, {recursive: true, force: true});
	});
	// Listening, not only bound: a refused connection is systemd-unavailable too, but not this case.
	t.true(await listening(`${dir}/bus`), 'dbus-daemon listens');
	const err = await t.throwsAsync(connectSystemd({busAddress: address}), {instanceOf: SystemdError});
	t.is(err?.code, 'systemd-unavailable');
	t.notRegex(log, /Activating service name='org\\.freedesktop\\.systemd1'/);
});

test('user bus with no address in the environment → systemd-unavailable', t => {
	const err = t.throws(() => resolveBusAddress({user: true, env: {}}), {instanceOf: SystemdError});
	t.is(err?.code, 'systemd-unavailable');
	t.is(resolveBusAddress({user: true, env: {XDG_RUNTIME_DIR: '/run/user/7'}}), 'unix:path=/run/user/7/bus');
	t.is(resolveBusAddress({env: {}}), 'unix:path=/run/dbus/system_bus_socket');
});

test('manager calls on a real systemd --user: GetUnit, GetUnitByPID, errors with codes', async t => {
	const m = await startUserManager();
	t.teardown(() => m.stop());
	await m.startUnit('lt-c.service', ['/bin/sleep', '600']);
	const client = await connectSystemd({user: true, env: m.env});
	t.teardown(() => client.close());

	const unitPath = await client.getUnit('lt-c.service');
	t.is(nameFromPath(unitPath), 'lt-c.service');
	t.is((await client.getUnitProperties(unitPath)).activeState, 'active');
	const main = Number((await m.show('lt-c.service', ['MainPID'])).MainPID);
	t.is(await client.getUnitByPid(main), unitPath);

	const noUnit = await t.throwsAsync(client.getUnit('lt-missing.service'), {instanceOf: SystemdError});
	t.is(noUnit?.code, 'no-such-unit');
	// This test's own process is in no unit of that manager.
	const noPid = await t.throwsAsync(client.getUnitByPid(process.pid), {instanceOf: SystemdError});
	t.is(noPid?.code, 'no-unit-for-pid');
});

test('a closed client lets node exit', async t => {
	const m = await startUserManager();
	t.teardown(() => m.stop());
	const clientJs = fileURLToPath(new URL('../../src/systemd/client.js', import.meta.url));
	const code = `const { connectSystemd } = await import(${JSON.stringify(clientJs)});
const c = await connectSystemd({ busAddress: ${JSON.stringify(m.busAddress)} });
await c.subscribe();
await c.onJobRemoved(() => {});
console.log(await c.managerVersion());
c.close();`;
	const started = Date.now();
	const out = await new Promise<string>((resolve, reject) =>
		execFile(process.execPath, ['--input-type=module', '-e', code], {timeout: 10_000}, (err, stdout) => (err ? reject(err) : resolve(stdout))),
	);
	t.regex(out, /^\d+/);
	t.true(Date.now() - started < 10_000);
});
