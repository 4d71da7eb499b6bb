// What a status asks the manager while its scan runs (status-units.ts askAhead), counted on a
// real systemd --user: the unit list and the Gets of the active services' and scopes' properties,
// and nothing more (the manager answers each call in a turn of its event loop: each one costs
// it, issue 22). The manager's PID namespace is found from init.scope's ControlGroup as it
// was asked with the other scopes' properties, not asked again.
import test from 'ava';
import {BulkSystemdClient} from '../../src/systemd/bulk-client.js';
import {managerPidView} from '../../src/systemd/pid-view.js';
import {askAhead} from '../../src/systemd/status-units.js';
import {TYPE_PROPERTIES, UNIT_NAMES} from '../../src/systemd/unit-properties.js';
import {startUserManager} from '../helpers/systemd-user.js';

test('askAhead: one call for the bus, one ListUnits, the Gets of each active service and scope; the PID view without asking init.scope again', async t => {
	const m = await startUserManager();
	t.teardown(() => m.stop());
	await m.startUnit('lt-ahead.service', ['/bin/sh', '-c', 'sleep 600 & exec sleep 601']);
	await m.startUnit('lt-ahead-2.service', ['/bin/sleep', '602']);

	const ahead = await askAhead({kind: 'address', address: m.busAddress}, '/proc', false);
	t.teardown(() => ahead.close());
	t.true(ahead.client instanceof BulkSystemdClient);
	const {listed, answered} = ahead.prefetched;
	// The units asked: every service and scope not inactive or failed, each answered.
	const likely = [...listed.values()].filter(u => /\.(service|scope)$/.test(u.id) && u.activeState !== 'inactive' && u.activeState !== 'failed');
	t.deepEqual([...answered.keys()].sort(), likely.map(u => u.id).sort());
	t.true(answered.has('init.scope'));
	t.true(answered.has('lt-ahead.service'));
	t.true(answered.has('lt-ahead-2.service'));
	for (const [name, got] of answered) t.false(got instanceof Error, name);
	const services = likely.filter(u => u.id.endsWith('.service')).length;
	const scopes = likely.length - services;
	const perService = UNIT_NAMES.length + TYPE_PROPERTIES.service!.names.length;
	const perScope = UNIT_NAMES.length + TYPE_PROPERTIES.scope!.names.length;
	t.is(perService, 10);
	t.is(perScope, 7);
	// NameHasOwner (the bus), ListUnits, the Gets; before, also GetUnit init.scope and 11 Gets.
	t.is((ahead.client as BulkSystemdClient).sent, 2 + services * perService + scopes * perScope);

	// The same view as asking init.scope itself: the manager's own process, our PID namespace.
	const asked = await managerPidView(ahead.client);
	t.is(ahead.pidView.sameNamespace, true);
	t.is(asked.sameNamespace, true);
	t.is(ahead.pidView.manager, m.managerPid);
	t.is(asked.manager, m.managerPid);
	t.is((ahead.client as BulkSystemdClient).sent, 2 + services * perService + scopes * perScope + 12);
});
