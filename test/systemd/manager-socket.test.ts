// `status --user` talks to the manager on its own socket ($XDG_RUNTIME_DIR/systemd/private),
// as `systemctl --user` does, and takes the bus only where that socket is not there; the
// processes are tied to their units by the cgroup path the scan read. A real systemd --user.
import {mkdtempSync, rmSync} from 'node:fs';
import test from 'ava';
import {livetree} from '../helpers/cli.js';
import {checkedDocument} from '../helpers/exit-code.js';
import {startUserManager} from '../helpers/systemd-user.js';

test("status --user: units from the manager's own socket, the same as through its bus", async t => {
	const m = await startUserManager();
	t.teardown(() => m.stop());
	await m.startUnit('lt-own-socket.service', ['/bin/sh', '-c', 'sleep 600 & exec sleep 601']);
	const main = Number((await m.show('lt-own-socket.service', ['MainPID'])).MainPID);
	const sysroot = mkdtempSync('/tmp/livetree-ownsock-sys-');
	const state = mkdtempSync('/tmp/livetree-ownsock-state-');
	t.teardown(() => {
		rmSync(sysroot, {recursive: true, force: true});
		rmSync(state, {recursive: true, force: true});
	});
	const args = ['status', '--json', '--sysroot', sysroot, '--state-dir', state];
	const ours = (doc: ReturnType<typeof checkedDocument>) => doc.units.find(u => u.name === 'lt-own-socket.service');

	// The session bus names a socket that is not there: only the manager's own socket answers.
	const direct = checkedDocument(
		await livetree([...args, '--user'], {XDG_RUNTIME_DIR: m.runtimeDir, DBUS_SESSION_BUS_ADDRESS: `unix:path=${m.runtimeDir}/no-bus`}),
	);
	t.deepEqual(
		direct.warnings.filter(w => w.code.startsWith('systemd')),
		[],
	);
	const unit = ours(direct);
	t.truthy(unit);
	t.is(unit?.mainPid, main);
	t.is(unit?.pids.length, 2);
	t.true(unit?.pids.includes(main));
	const mainProcess = direct.processes.find(p => p.pid === main);
	t.is(mainProcess?.unit, 'lt-own-socket.service');
	t.is(mainProcess?.cgroup, `${m.cgroupRoot}/app.slice/lt-own-socket.service`);

	// Through the bus (an explicit address is asked as given): the same unit.
	const viaBus = checkedDocument(await livetree([...args, '--bus-address', m.busAddress]));
	t.deepEqual(ours(viaBus), unit);

	// No runtime directory's socket: --user takes the session bus.
	const noSocket = mkdtempSync('/tmp/livetree-ownsock-rt-');
	t.teardown(() => rmSync(noSocket, {recursive: true, force: true}));
	const fallback = checkedDocument(await livetree([...args, '--user'], {XDG_RUNTIME_DIR: noSocket, DBUS_SESSION_BUS_ADDRESS: m.busAddress}));
	t.deepEqual(ours(fallback), unit);
});
