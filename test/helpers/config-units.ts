// What the configuration tests with a real `systemd --user` manager share
// (test/config-units.test.ts, test/config-unit-files.test.ts): the manager with a state
// directory of the test's own, unit files written into its configuration, and lookups in
// the documents.
import {mkdtemp, rm, stat, writeFile} from 'node:fs/promises';
import os from 'node:os';
import {join} from 'node:path';
import type {ExecutionContext} from 'ava';
import type {Process, StatusDocument, Unit} from '../../src/model/document.js';
import {startUserManager, type UserManager} from './systemd-user.js';

/** The change time of `path` as the document writes it (whole milliseconds, UTC). */
export async function changedAt(path: string): Promise<string> {
	const s = await stat(path, {bigint: true});
	return new Date(Number(s.ctimeNs / 1_000_000n)).toISOString();
}

export async function mainPid(m: UserManager, unit: string): Promise<number> {
	return Number((await m.show(unit, ['MainPID']))['MainPID']);
}

export function unitOf(doc: StatusDocument, name: string): Unit {
	const u = doc.units.find(x => x.name === name);
	if (!u) throw new Error(`no unit ${name} in ${JSON.stringify(doc.units.map(x => x.name))}`);
	return u;
}

export function proc(doc: StatusDocument, pid: number): Process {
	const p = doc.processes.find(x => x.pid === pid);
	if (!p) throw new Error(`no process ${pid}`);
	return p;
}

export const tick = async () => new Promise(r => setTimeout(r, 100));

export async function writeUnit(m: UserManager, name: string, body: string): Promise<string> {
	const file = join(m.env['XDG_CONFIG_HOME']!, 'systemd', 'user', name);
	await writeFile(file, body);
	return file;
}

/** A real `systemd --user` manager and a state directory of the test's own, stopped and
 * removed at teardown; `bus` names both to livetree. */
export async function managerAndState(t: ExecutionContext): Promise<{m: UserManager; state: string; bus: string[]}> {
	const m = await startUserManager();
	t.teardown(async () => m.stop());
	const state = await mkdtemp(join(os.tmpdir(), 'livetree-cfgu-'));
	t.teardown(async () => rm(state, {recursive: true, force: true}));
	return {m, state, bus: ['--bus-address', m.busAddress, '--state-dir', state]};
}
