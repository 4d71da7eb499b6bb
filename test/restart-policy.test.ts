// The pure parts of issue 11's fixes, on captured or literal inputs: unit globs, the restart
// policy file, the policy's decisions on manager facts, D-Bus addresses and NSpid.
import test from 'ava';
import {parseRestartConfig} from '../src/restart-config.js';
import type {RestartFacts} from '../src/systemd/client.js';
import {checkBusAddress} from '../src/systemd/bus-address.js';
import {parseNsPid} from '../src/systemd/pid-view.js';
import {globMatches, skipForNeeded, type PolicyContext} from '../src/systemd/restart-policy.js';

const facts = (id: string, extra: Partial<RestartFacts> = {}): RestartFacts => ({
	id,
	names: [id],
	loadState: 'loaded',
	activeState: 'active',
	result: 'success',
	canStart: true,
	canStop: true,
	refuseManualStart: false,
	refuseManualStop: false,
	startLimitIntervalUsec: 10_000_000n,
	startLimitBurst: 5,
	activeEnterTimestampUsec: 1_000n * 1_000_000n,
	...extra,
});
const context = (extra: Partial<PolicyContext> = {}): PolicyContext => ({
	system: true,
	managerVersion: 252,
	selfUnit: null,
	exclude: [],
	history: [],
	now: 2_000,
	...extra,
});

test('unit globs as systemctl takes them', t => {
	t.true(globMatches('postgresql@*.service', 'postgresql@15-main.service'));
	t.false(globMatches('postgresql@*.service', 'postgresql.service'));
	t.true(globMatches('getty@tty?.service', 'getty@tty1.service'));
	t.true(globMatches('lt-[a-c].service', 'lt-b.service'));
	t.false(globMatches('lt-[!a-c].service', 'lt-b.service'));
	t.false(globMatches('a.service', 'aXservice'), 'a dot is a dot');
});

test('restart.conf: exclude lines and comments; anything else names FILE:LINE', t => {
	t.deepEqual(parseRestartConfig('# c\n\nexclude a.service  b@*.service # why\n', 'F'), [
		{pattern: 'a.service', source: 'F:3'},
		{pattern: 'b@*.service', source: 'F:3'},
	]);
	t.throws(() => parseRestartConfig('exclude\n', 'F'), {message: /^F:1: expected/});
	t.throws(() => parseRestartConfig('exclude a\nnever b\n', 'F'), {message: /^F:2: expected/});
});

test('policy: the manager first, then the protected classes, aliases included', t => {
	t.is(skipForNeeded(facts('x.service', {refuseManualStop: true}), context())?.code, 'refused-by-manager');
	t.is(skipForNeeded(facts('session-3.scope', {canStart: false}), context())?.code, 'cannot-restart');
	t.is(skipForNeeded(facts('dbus-broker.service', {names: ['dbus-broker.service', 'dbus.service']}), context())?.code, 'message-bus');
	t.is(skipForNeeded(facts('gdm.service', {names: ['gdm.service', 'display-manager.service']}), context())?.code, 'display-manager');
	t.is(skipForNeeded(facts('user@1000.service'), context())?.code, 'user-session');
	t.is(skipForNeeded(facts('serial-getty@ttyS0.service'), context())?.code, 'getty');
	t.is(skipForNeeded(facts('init.scope', {canStart: false, canStop: false}), context())?.code, 'manager');
	t.is(skipForNeeded(facts('x.service'), context({selfUnit: 'x.service'}))?.code, 'self');
	t.is(skipForNeeded(facts('x.service'), context())?.code, undefined);
	t.regex(skipForNeeded(facts('dbus.service'), context({managerVersion: 254}))!.instead, /soft-reboot/);
	t.notRegex(skipForNeeded(facts('dbus.service'), context())!.instead, /soft/);
});

test('policy: start limits and no retry of a failed restart', t => {
	const restart = (startedAt: number, verdict = 'verified') => ({unit: 'x.service', startedAt, finishedAt: startedAt + 1, verdict, state: 'done'});
	t.is(skipForNeeded(facts('x.service', {result: 'start-limit-hit'}), context())?.code, 'start-limit');
	// Burst 3 in 600 s: two recent restarts by livetree, a third would reach it.
	const limited = facts('x.service', {startLimitBurst: 3, startLimitIntervalUsec: 600_000_000n, activeEnterTimestampUsec: 1_990n * 1_000_000n});
	t.is(skipForNeeded(limited, context({history: [restart(1_900), restart(1_950)]}))?.code, 'start-limit');
	t.is(skipForNeeded(limited, context({history: [restart(1_000), restart(1_950)]})), null, 'one was long ago');
	// Failed and not started since: skipped. Started by someone since: allowed again.
	t.is(skipForNeeded(facts('x.service', {activeEnterTimestampUsec: 1_500_500_000n}), context({history: [restart(1_500, 'failed')]}))?.code, 'failed-before');
	t.is(skipForNeeded(facts('x.service', {activeEnterTimestampUsec: 1_700n * 1_000_000n}), context({history: [restart(1_500, 'failed')]})), null);
});

test('D-Bus addresses', t => {
	t.is(checkBusAddress('unix:path=/run/dbus/system_bus_socket'), null);
	t.is(checkBusAddress('unix:abstract=/tmp/x,guid=0123;tcp:host=localhost,port=1'), null);
	t.regex(checkBusAddress('garbage')!, /not a D-Bus address/);
	t.regex(checkBusAddress('unix:')!, /names no socket/);
	t.regex(checkBusAddress('unix:path')!, /malformed/);
	t.regex(checkBusAddress('foo:bar=1')!, /unknown D-Bus transport/);
});

test('NSpid', t => {
	t.deepEqual(parseNsPid('Name:\tsleep\nNSpid:\t28802\t28797\nNSpgid:\t1\n'), [28802, 28797]);
	t.deepEqual(parseNsPid('NSpid:\t1\n'), [1]);
	t.is(parseNsPid('Name:\tx\n'), null);
});
