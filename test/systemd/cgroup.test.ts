// Pure parsers on captured /proc/PID/cgroup files, and the reasons sentences.
import test from 'ava';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readCgroupUnit, systemdCgroupPath, unitFromCgroupPath } from '../../src/systemd/cgroup.js';
import { staleFileReason, unitRestartInfo } from '../../src/systemd/reasons.js';
import { nameFromPath, usecToRfc3339 } from '../../src/systemd/units.js';

const fixture = (name: string): Buffer => readFileSync(new URL(`../../../fixtures/captured/systemd/${name}`, import.meta.url));

test('a unit process of systemd --user on this hybrid host (captured)', (t) => {
  const path = systemdCgroupPath(fixture('hybrid-user-unit.cgroup'));
  t.is(path, fixture('hybrid-user-unit.ControlGroup').toString().trim());
  t.is(unitFromCgroupPath(path ?? ''), 'capture.service');
});

test('a process in the root cgroup names no unit (captured)', (t) => {
  t.is(systemdCgroupPath(fixture('harness-self.cgroup')), '/');
  t.is(unitFromCgroupPath('/'), null);
});

test('cgroup paths of the layouts systemd uses', (t) => {
  t.is(systemdCgroupPath('0::/system.slice/sshd.service\n'), '/system.slice/sshd.service');
  // v1 only (legacy layout): the name=systemd line.
  t.is(systemdCgroupPath('3:memory:/x\n1:name=systemd:/system.slice/cron.service\n'), '/system.slice/cron.service');
  // Hybrid where the v2 line is only "/": systemd tracks by name=systemd.
  t.is(systemdCgroupPath('1:name=systemd:/system.slice/a.service\n0::/\n'), '/system.slice/a.service');
  t.is(systemdCgroupPath('garbage'), null);
  t.is(unitFromCgroupPath('/user.slice/user-1000.slice/user@1000.service/app.slice/bar.service'), 'bar.service');
  t.is(unitFromCgroupPath('/system.slice/docker.service/payload'), 'docker.service');
  t.is(unitFromCgroupPath('/user.slice/user-1000.slice/session-3.scope'), 'session-3.scope');
  t.is(unitFromCgroupPath('/system.slice'), null);
  t.is(unitFromCgroupPath('/init.scope'), 'init.scope');
});

test('readCgroupUnit reads PID/cgroup below a proc root and tolerates gone processes', async (t) => {
  const root = mkdtempSync('/tmp/livetree-proc-');
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(join(root, '42'));
  writeFileSync(join(root, '42', 'cgroup'), fixture('hybrid-user-unit.cgroup'));
  t.is(await readCgroupUnit(42, root), 'capture.service');
  t.is(await readCgroupUnit(43, root), null);
});

test('unit object paths and timestamps', (t) => {
  t.is(nameFromPath('/org/freedesktop/systemd1/unit/lt_2da_2eservice'), 'lt-a.service');
  t.is(nameFromPath('/elsewhere'), null);
  t.is(usecToRfc3339(0n), null);
  t.is(usecToRfc3339(1_700_000_000_123_456n), '2023-11-14T22:13:20.123Z');
});

test('reasons name the PID, the file, how it is stale, and its commit', (t) => {
  const commit = '47b67f0e9a3c1d2b4e5f60718293a4b5c6d7e8f90123456789abcdef01234567';
  const deleted = { pid: 812, path: '/usr/lib/libc.so.6', deleted: true, superseded: false, commit, version: '1.0' };
  t.is(staleFileReason(deleted), 'PID 812 maps /usr/lib/libc.so.6 (deleted) from commit 47b67f… (1.0)');
  const superseded = { pid: 9, path: '/usr/bin/x', deleted: false, superseded: true, commit: null, version: null };
  t.is(staleFileReason(superseded), 'PID 9 maps /usr/bin/x (superseded)');
  const info = unitRestartInfo({ pids: [812, 813] }, [deleted, deleted, superseded]);
  t.true(info.needsRestart);
  t.deepEqual(info.reasons, [staleFileReason(deleted)]);
  t.deepEqual(unitRestartInfo({ pids: [1] }, [deleted]), { needsRestart: false, reasons: [] });
});
