// The shipped systemd units: real `systemd-analyze verify` in a throwaway root
// (so ExecStart=/usr/bin/livetree is checked against an executable stub, not
// against whatever this machine has installed), plus the facts the units promise.
import {spawnSync} from 'node:child_process';
import {chmod, cp, mkdir, mkdtemp, readFile, rm, writeFile} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import {exporterCommand} from '../src/commands/exporter.js';
import {statusCommand} from '../src/commands/status.js';

const unitsDir = new URL('../../systemd/', import.meta.url).pathname;
const units = ['livetree-scan.service', 'livetree-scan.timer', 'livetree-exporter.service'];

// A root with the host's own systemd units (sysinit.target & co., which verify
// resolves dependencies against), our units in /etc, and a stub /usr/bin/livetree.
async function makeRoot(edit: (name: string, text: string) => string = (_, text) => text, stubMode = 0o755): Promise<string> {
	const root = await mkdtemp(path.join(os.tmpdir(), 'livetree-units-'));
	await mkdir(path.join(root, 'usr/bin'), {recursive: true});
	await mkdir(path.join(root, 'etc/systemd/system'), {recursive: true});
	await cp('/lib/systemd/system', path.join(root, 'usr/lib/systemd/system'), {recursive: true, verbatimSymlinks: true});
	await writeFile(path.join(root, 'usr/bin/livetree'), '#!/bin/sh\nexit 0\n');
	await chmod(path.join(root, 'usr/bin/livetree'), stubMode);
	for (const name of units) {
		await writeFile(path.join(root, 'etc/systemd/system', name), edit(name, await readFile(path.join(unitsDir, name), 'utf8')));
	}

	return root;
}

function verify(root: string): {status: number | null; output: string} {
	const result = spawnSync('systemd-analyze', ['verify', `--root=${root}`, ...units], {encoding: 'utf8'});
	return {status: result.status, output: `${result.stdout}${result.stderr}`.trim()};
}

async function unit(name: string): Promise<string> {
	return readFile(path.join(unitsDir, name), 'utf8');
}

function values(text: string, key: string): string[] {
	return [...text.matchAll(new RegExp(`^${key}=(.*)$`, 'gm'))].map(m => m[1]!);
}

test('systemd-analyze verify passes with no remarks', async t => {
	const root = await makeRoot();
	t.teardown(async () => rm(root, {recursive: true, force: true}));
	const result = verify(root);
	t.is(result.status, 0, result.output);
	t.is(result.output, '');
});

test('control: verify notices a missing executable and a misspelt key', async t => {
	const noExec = await makeRoot(undefined, 0o644);
	const typo = await makeRoot((name, text) => (name.endsWith('.timer') ? text.replace('Persistent=', 'Persistant=') : text));
	t.teardown(async () => {
		await rm(noExec, {recursive: true, force: true});
		await rm(typo, {recursive: true, force: true});
	});
	const a = verify(noExec);
	t.not(a.status, 0);
	t.regex(a.output, /\/usr\/bin\/livetree is not executable/);
	t.regex(verify(typo).output, /Unknown key 'Persistant'/);
});

test('the scan service: oneshot, exit 1 is success, writes JSON and the textfile', async t => {
	const text = await unit('livetree-scan.service');
	t.deepEqual(values(text, 'Type'), ['oneshot']);
	t.deepEqual(values(text, 'SuccessExitStatus'), ['1']);
	t.deepEqual(values(text, 'ExecStart'), [
		'/usr/bin/livetree status --json --output /var/lib/livetree/status.json --textfile /var/lib/node-exporter/livetree.prom',
	]);
	// Both directories it writes must be writable under ProtectSystem=strict.
	t.deepEqual(values(text, 'ProtectSystem'), ['strict']);
	t.deepEqual(values(text, 'StateDirectory'), ['livetree node-exporter']);
});

test('the timer: hourly, persistent, randomized', async t => {
	const text = await unit('livetree-scan.timer');
	t.deepEqual(values(text, 'OnCalendar'), ['hourly']);
	t.deepEqual(values(text, 'Persistent'), ['true']);
	t.is(values(text, 'RandomizedDelaySec').length, 1);
	const next = spawnSync('systemd-analyze', ['calendar', 'hourly'], {encoding: 'utf8'});
	t.is(next.status, 0, next.stderr);
});

test('the exporter service is hardened but can still read every process', async t => {
	for (const name of ['livetree-exporter.service', 'livetree-scan.service']) {
		const text = await unit(name);
		t.deepEqual(values(text, 'NoNewPrivileges'), ['yes'], name);
		t.deepEqual(values(text, 'ProtectSystem'), ['strict'], name);
		t.deepEqual(values(text, 'CapabilityBoundingSet')[0]?.split(' ').sort(), ['CAP_DAC_READ_SEARCH', 'CAP_SYS_ADMIN', 'CAP_SYS_PTRACE'], name);
		t.false(/^ProtectProc=(invisible|noaccess|ptraceable)/m.test(text), name);
		t.false(/^ProcSubset=pid/m.test(text), name);
		t.false(/^User=|^DynamicUser=yes/m.test(text), `${name} runs as root`);
		t.false(/^MemoryDenyWriteExecute=yes/m.test(text), `${name}: Node's JIT needs W+X memory`);
	}

	const exporter = await unit('livetree-exporter.service');
	t.deepEqual(values(exporter, 'ReadWritePaths'), ['/var/lib/livetree']);
	t.deepEqual(values(exporter, 'ExecStart'), ['/usr/bin/livetree exporter --listen 127.0.0.1:9947 --min-interval 10s']);
});

test('systemd-analyze security rates both services well hardened', async t => {
	const root = await makeRoot();
	t.teardown(async () => rm(root, {recursive: true, force: true}));
	for (const name of ['livetree-exporter.service', 'livetree-scan.service']) {
		const result = spawnSync('systemd-analyze', ['security', '--offline=true', `--root=${root}`, '--no-pager', name], {encoding: 'utf8'});
		const level = /Overall exposure level for \S+: ([\d.]+)/.exec(result.stdout);
		t.truthy(level, `${result.stdout}${result.stderr}`);
		t.log(`${name}: exposure ${level?.[1]}`);
		t.true(Number(level?.[1]) < 4, `${name}: exposure ${level?.[1]}`);
	}
});

test("the ExecStart command lines are accepted by the real commands' option parsers", async t => {
	// --help makes a command return after parsing, without scanning; parseArgs is
	// strict, so an option the command does not know throws here.
	const write = process.stdout.write.bind(process.stdout);
	process.stdout.write = () => true;
	try {
		for (const [name, command] of [
			['livetree-scan.service', statusCommand],
			['livetree-exporter.service', exporterCommand],
		] as const) {
			const args = values(await unit(name), 'ExecStart')[0]!
				.split(' ')
				.slice(2);
			t.is(await command([...args, '--help']), 0, name);
		}

		await t.throwsAsync(statusCommand(['--no-such-option', '--help']));
	} finally {
		process.stdout.write = write;
	}
});
