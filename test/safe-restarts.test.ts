// Issue 11, restarts that must not happen: `restart --needed` against a real systemd --user
// manager leaves out units the manager refuses to restart by hand, units of the protected
// classes (display managers, gettys, …), the unit livetree runs in, the site's exclusions,
// a unit at its start limit and one whose last restart failed; each listed with the reason
// and what applies the new code instead. Units named explicitly still restart. A unit that
// does not exist is an error, never `would-restart`. (dbus and logind themselves are
// checked in the booted system: test/booted-system.test.ts.)
import {copyFile, readlink, rename, writeFile} from 'node:fs/promises';
import {join} from 'node:path';
import test from 'ava';
import type {StatusDocument} from '../src/model/document.js';
import {livetree, projectRoot} from './helpers/cli.js';
import {Fixtures} from './helpers/fixture.js';
import {startUserManager} from './helpers/systemd-user.js';

interface Outcome {
	unit: string;
	verdict: string;
	skip?: {code: string; reason: string; instead: string};
	newPids: number[];
}

test.serial('restart --needed leaves out what must not be restarted; named units still restart', async t => {
	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const m = await startUserManager();
	t.teardown(async () => m.stop());
	const dir = await fx.tempDir();
	const state = await fx.tempDir();
	const bin = join(dir, 'lt-sleep');
	const sh = join(dir, 'lt-sh');
	await copyFile('/usr/bin/sleep', bin);
	await copyFile('/bin/sh', sh);
	// Replacing a binary on disk (a new file renamed over the path) leaves its running
	// processes on the old one: they need a restart, as after a package update.
	const supersede = async (file: string, from: string) => {
		await copyFile(from, `${file}.new`);
		await rename(`${file}.new`, file);
	};

	const units = join(m.env.XDG_CONFIG_HOME!, 'systemd', 'user');
	const service = (extra: string, exec = `${bin} 600`) => `[Unit]\n${extra}\n[Service]\nExecStart=${exec}\nRestart=no\n`;
	const marker = join(dir, 'fail');
	await writeFile(join(units, 'lt-plain.service'), service(''));
	await writeFile(join(units, 'lt-refuse.service'), service('RefuseManualStop=yes'));
	await writeFile(join(units, 'lt-excluded.service'), service(''));
	await writeFile(join(units, 'lt-conf.service'), service(''));
	await writeFile(join(units, 'sddm.service'), service(''));
	await writeFile(join(units, 'getty@.service'), service(''));
	await writeFile(join(units, 'lt-limit.service'), service('StartLimitBurst=2\nStartLimitIntervalSec=600'));
	// KillMode=process: a helper outlives a failed restart and keeps the unit stale, the case
	// where a naive tool restarts it again on every run until the start limit stops it for good.
	await writeFile(join(units, 'lt-fail.service'), `${service('', `/bin/sh -c 'test -e ${marker} && exit 1; ${bin} 601 & exec ${bin} 600'`)}KillMode=process\n`);
	await m.systemctl(['daemon-reload']);
	const all = [
		'lt-plain.service',
		'lt-refuse.service',
		'lt-excluded.service',
		'lt-conf.service',
		'sddm.service',
		'getty@lt.service',
		'lt-limit.service',
		'lt-fail.service',
	];
	await m.systemctl(['start', ...all]);
	// A start job is done once the process is forked; wait until each has exec'd the binary.
	const execd = async (units: string[]) => {
		for (let i = 0; i < 100; i++) {
			const exes = await Promise.all(units.map(async u => readlink(`/proc/${(await m.show(u, ['MainPID']))['MainPID']}/exe`).catch(() => '')));
			if (exes.every(e => e === bin)) {
				return;
			}

			await new Promise(r => setTimeout(r, 50));
		}
	};

	await execd(all);
	const conf = join(dir, 'restart.conf');
	await writeFile(conf, '# site policy\nexclude lt-conf.service   # keep it\n');
	await supersede(bin, '/usr/bin/sleep');

	const bus = ['--bus-address', m.busAddress, '--state-dir', state];
	const status = await livetree(['status', '--json', ...bus]);
	t.is(status.code, 1, status.stderr);
	const doc = JSON.parse(status.stdout) as StatusDocument;
	t.deepEqual(
		doc.units
			.filter(u => u.needsRestart)
			.map(u => u.name)
			.sort(),
		[...all].sort(),
	);

	// A unit that does not exist: an error naming it, nothing restarted, never would-restart.
	for (const args of [['nonexistent.service', '--dry-run'], ['nonexistent'], ['lt-plain.service', 'nonexistent.service']]) {
		const r = await livetree(['restart', ...args, ...bus]);
		t.is(r.code, 2, args.join(' '));
		t.regex(r.stderr, /nonexistent\.service: no such unit \(LoadState not-found\)/);
		t.notRegex(r.stdout, /would-restart|verified/);
	}

	const policy = ['--exclude', 'lt-ex*', '--restart-config', conf];
	const dry = await livetree(['restart', '--needed', '--dry-run', '--json', ...policy, ...bus]);
	t.is(dry.code, 0, dry.stderr);
	const planned = new Map((JSON.parse(dry.stdout) as Outcome[]).map(o => [o.unit, o]));
	t.is(planned.get('lt-plain.service')?.verdict, 'would-restart');
	t.is(planned.get('lt-limit.service')?.verdict, 'would-restart');
	t.is(planned.get('lt-fail.service')?.verdict, 'would-restart');
	const skipCode = (name: string) => planned.get(name)?.skip?.code;
	t.is(skipCode('lt-refuse.service'), 'refused-by-manager');
	t.regex(planned.get('lt-refuse.service')!.skip!.reason, /RefuseManualStop=yes/);
	t.is(skipCode('lt-excluded.service'), 'site-policy');
	t.regex(planned.get('lt-excluded.service')!.skip!.reason, /lt-ex\*, --exclude/);
	t.is(skipCode('lt-conf.service'), 'site-policy');
	t.regex(planned.get('lt-conf.service')!.skip!.reason, new RegExp(`${conf}:2`));
	t.is(skipCode('sddm.service'), 'display-manager');
	t.is(skipCode('getty@lt.service'), 'getty');
	for (const o of planned.values()) {
		if (o.verdict === 'skipped') {
			t.regex(o.skip!.instead, /log|reboot|name the unit|naming/, o.unit);
		}
	}

	const text = await livetree(['restart', '--needed', '--dry-run', '--color', 'never', ...policy, ...bus]);
	t.regex(text.stdout, /^sddm\.service: skipped: it is a display manager.*; instead: /m);

	// One failed restart and one restart of the start-limited unit, both named explicitly.
	await writeFile(marker, '');
	const failed = await livetree(['restart', 'lt-fail.service', ...bus]);
	t.is(failed.code, 1, failed.stderr);
	const limited = await livetree(['restart', 'lt-limit.service', '--json', ...bus]);
	t.is((JSON.parse(limited.stdout) as Outcome[])[0]?.verdict, 'verified', limited.stderr);
	await execd(['lt-limit.service']);
	await supersede(bin, '/usr/bin/sleep');
	const before = await Promise.all(all.map(async u => (await m.show(u, ['MainPID']))['MainPID']));

	const real = await livetree(['restart', '--needed', '--json', ...policy, ...bus]);
	t.is(real.code, 1, real.stderr); // units that need a restart were left out
	const done = new Map((JSON.parse(real.stdout) as Outcome[]).map(o => [o.unit, o]));
	t.is(done.get('lt-plain.service')?.verdict, 'verified');
	t.is(done.get('lt-limit.service')?.skip?.code, 'start-limit');
	t.regex(done.get('lt-limit.service')!.skip!.reason, /StartLimitBurst=2/);
	// The hint, run as printed, asks the same manager and keeps the same catalog.
	t.true(
		done.get('lt-limit.service')!.skip!.instead.includes(`then livetree restart --needed --state-dir ${state} --bus-address ${m.busAddress} again`),
		done.get('lt-limit.service')!.skip!.instead,
	);
	// lt-fail's helper still runs the old binary, but its last restart failed: not retried.
	t.is(
		done.get('lt-fail.service')?.skip?.code,
		'failed-before',
		JSON.stringify([...done.values()].map(o => [o.unit, o.verdict, o.skip?.code])) + failed.stdout,
	);
	t.regex(done.get('lt-fail.service')!.skip!.reason, /failed, and it was not started since/);
	t.is(
		done.get('lt-fail.service')!.skip!.instead,
		`looking at why (journalctl --user -u lt-fail.service), then naming it explicitly (livetree restart lt-fail.service --state-dir ${state} --bus-address ${m.busAddress})`,
	);
	const after = await Promise.all(all.map(async u => (await m.show(u, ['MainPID']))['MainPID']));
	for (const [i, u] of all.entries()) {
		if (done.get(u)?.verdict === 'skipped') {
			t.is(after[i], before[i], `${u} was left alone`);
		}
	}

	// Named explicitly, an excluded unit restarts; one the manager refuses does not.
	const named = await livetree(['restart', 'lt-excluded.service', 'lt-refuse.service', '--json', ...policy, ...bus]);
	const namedOut = new Map((JSON.parse(named.stdout) as Outcome[]).map(o => [o.unit, o]));
	t.is(namedOut.get('lt-excluded.service')?.verdict, 'verified', named.stdout);
	t.is(namedOut.get('lt-refuse.service')?.skip?.code, 'refused-by-manager');
	t.is(named.code, 1);

	// A policy file that does not parse, or is missing when named: an error naming it.
	await writeFile(conf, 'exclude a.service\nrestart-never b.service\n');
	const bad = await livetree(['restart', '--needed', '--dry-run', '--restart-config', conf, ...bus]);
	t.is(bad.code, 2);
	t.regex(bad.stderr, new RegExp(`${conf}:2: expected "exclude UNIT-PATTERN…"`));
	const missing = await livetree(['restart', '--needed', '--dry-run', '--restart-config', join(dir, 'nope.conf'), ...bus]);
	t.is(missing.code, 2);
	t.regex(missing.stderr, /nope\.conf: cannot read the restart policy \(ENOENT\)/);
});

test.serial('restart --needed never restarts the unit livetree runs in', async t => {
	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const m = await startUserManager();
	t.teardown(async () => m.stop());
	const dir = await fx.tempDir();
	const state = await fx.tempDir();
	const sh = join(dir, 'lt-sh');
	await copyFile('/bin/sh', sh);
	const out = join(dir, 'out.json');
	const go = join(dir, 'go');
	// The unit's shell waits for the go-ahead, then runs livetree (the shell stays, mapping lt-sh).
	const script = `while ! test -e ${go}; do sleep 0.1; done; ${process.execPath} ${join(projectRoot, 'bin/livetree.js')} restart --needed --dry-run --json --bus-address ${m.busAddress} --state-dir ${state} > ${out} 2>&1; echo exit $? >> ${out}`;
	await m.startUnit('lt-self.service', [sh, '-c', script], {properties: ['Restart=no']});
	const mainPid = (await m.show('lt-self.service', ['MainPID']))['MainPID'];
	for (let i = 0; i < 100 && (await readlink(`/proc/${mainPid}/exe`).catch(() => '')) !== sh; i++) {
		await new Promise(r => setTimeout(r, 50));
	}

	await copyFile('/bin/sh', `${sh}.new`);
	await rename(`${sh}.new`, sh);
	await writeFile(go, '');
	const {readFile} = await import('node:fs/promises');
	let text = '';
	for (let i = 0; i < 300 && !/exit \d+/.test(text); i++) {
		await new Promise(r => setTimeout(r, 100));
		text = await readFile(out, 'utf8').catch(() => '');
	}

	t.regex(text, /exit 0/, text);
	const outcomes = JSON.parse(text.slice(0, text.lastIndexOf('exit'))) as Outcome[];
	const self = outcomes.find(o => o.unit === 'lt-self.service');
	t.is(self?.verdict, 'skipped', text);
	t.is(self?.skip?.code, 'self');
});
