// The kernel report with real parts: this machine's running kernel; a real Debian bzImage
// (scripts/kernel-image.sh) installed under other release names in /boot and
// /usr/lib/modules replaced in a private mount namespace (fixtures/kernel-host-ns.sh);
// deployments built with the real ostree CLI carrying kernels of different releases, with
// livetree run inside a fake boot of one of them (fixtures/kernel-boot.sh); live patches
// in a directory laid out as the kernel's sysfs ABI documents it, through --sys-root.
import test, {type ExecutionContext} from 'ava';
import {execFile, execFileSync, spawn} from 'node:child_process';
import {mkdir, readdir, readFile, readlink, writeFile, copyFile} from 'node:fs/promises';
import os from 'node:os';
import {basename, join} from 'node:path';
import {promisify} from 'node:util';
import type {StatusDocument} from '../src/model/document.js';
import {type CliResult, outcome, projectRoot} from './helpers/cli.js';
import {parseExposition, promtoolCheck, valueOf} from './helpers/exposition.js';
import {Fixtures, FIXTURES, type SysrootHandle} from './helpers/fixture.js';
import {statusExitCode} from './helpers/exit-code.js';
import {schemaErrors} from './helpers/schema.js';

const execFileP = promisify(execFile);
const running = os.release();
const image = execFileSync(join(projectRoot, 'scripts/kernel-image.sh'), {encoding: 'utf8'}).trim();
// What libmagic reads from the image: an oracle independent of livetree's parser.
const imageVersion = /, version (.+?), R[OW]-rootFS/.exec(execFileSync('file', ['-b', image], {encoding: 'utf8'}))![1]!;

// Releases around the running one: one more in the last upstream number, and one that is
// older by number but sorts later as a string (6.9.x against 6.18.y).
function bump(release: string): string {
	return release.replace(/^(\d+(?:\.\d+)*)/, v => {
		const parts = v.split('.').map(Number);
		parts[parts.length - 1]! += 1;
		return parts.join('.');
	});
}

function older(release: string): string {
	const [, a, b, rest] = /^(\d+)\.(\d+)(.*)$/.exec(release)!;
	return Number(b) >= 10 ? `${a}.9.999${rest!.replace(/^\.\d+/, '')}` : `${Number(a) - 1}.99.99${rest}`;
}

// Node spends start-up parsing NODE_EXTRA_CA_CERTS and warns when the file is missing
// inside a fake boot: the runs here go without it, as on a user's host.
async function exec(argv: string[]): Promise<CliResult> {
	const env = {...process.env};
	delete env.NODE_EXTRA_CA_CERTS;
	return outcome(spawn(argv[0]!, argv.slice(1), {env, stdio: ['ignore', 'pipe', 'pipe']}));
}

const cli = join(projectRoot, 'bin/livetree.js');

interface Host {
	layer: string;
	boot: string;
	state: string;
}

async function host(fx: Fixtures): Promise<Host> {
	const dir = await fx.tempDir('livetree-kernel-');
	const h = {layer: join(dir, 'layer'), boot: join(dir, 'boot'), state: join(dir, 'state')};
	await mkdir(join(h.layer, 'modules'), {recursive: true});
	await mkdir(h.boot);
	// A --state-dir must exist (a mistyped one is an error, never created).
	await mkdir(h.state);
	return h;
}

// The report opens with its verdict line and a blank line; the Kernel block follows.
function kernelBlock(stdout: string): string[] {
	const lines = stdout.split('\n');
	return lines.slice(lines.findIndex(l => l.startsWith('Kernel:')));
}

async function install(h: Host, release: string): Promise<void> {
	await copyFile(image, join(h.boot, `vmlinuz-${release}`));
}

async function modules(h: Host, release: string): Promise<void> {
	await mkdir(join(h.layer, 'modules', release, 'kernel'), {recursive: true});
}

// livetree on this host with /usr/lib/modules and /boot replaced, in a private mount namespace.
async function onHost(h: Host, ...args: string[]): Promise<CliResult> {
	return exec([join(FIXTURES, 'kernel-host-ns.sh'), h.layer, h.boot, process.execPath, cli, 'status', '--no-systemd', '--state-dir', h.state, ...args]);
}

function json(t: ExecutionContext, r: CliResult): StatusDocument {
	t.is(r.stderr, '');
	const doc = JSON.parse(r.stdout) as StatusDocument;
	t.deepEqual(schemaErrors(doc), []);
	t.truthy(doc.kernel);
	t.is(doc.summary.rebootNeeded, doc.kernel!.rebootNeeded);
	return doc;
}

function prometheus(t: ExecutionContext, r: CliResult) {
	const check = promtoolCheck(r.stdout);
	t.is(check.status, 0, check.output);
	t.is(check.output.trim(), '', 'no lint remarks');
	return parseExposition(r.stdout);
}

const codes = (doc: StatusDocument) => doc.kernel!.reasons.map(r => r.code);

test('the running kernel of this machine, as uname and /proc tell it', async t => {
	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const state = await fx.tempDir();
	const r = await exec([process.execPath, cli, 'status', '--json', '--no-systemd', '--state-dir', state]);
	const doc = json(t, r);
	t.is(doc.kernel!.running.release, running);
	t.is(doc.kernel!.running.version, os.version());
	t.is(doc.host.kernelRelease, running);
	t.is(doc.host.bootId, (await readFile('/proc/sys/kernel/random/boot_id', 'utf8')).trim());
	t.true((await readFile('/proc/version', 'utf8')).includes(doc.kernel!.running.version));
	// Exit 1 exactly when something needs a restart or the kernel a reboot; 3 when, besides,
	// some process of this host could not be read.
	t.is(r.code, statusExitCode(doc));
	const text = await exec([process.execPath, cli, 'status', '--no-systemd', '--color', 'never', '--state-dir', state]);
	const lines = kernelBlock(text.stdout);
	t.true(lines[0]!.startsWith(`Kernel: ${running}`), lines[0]);
	if (!doc.kernel!.rebootNeeded) {
		t.regex(lines[0]!, /no reboot needed/);
		t.is(lines[1], '', 'one line when nothing is wrong');
	}

	// explain is about a process, and stays so.
	const explain = await exec([process.execPath, cli, 'explain', String(process.pid), '--no-systemd', '--state-dir', state]);
	t.false(explain.stdout.includes('Kernel:'));
});

test('a newer kernel of the same kind in /boot: newer-kernel, exit 1, in text, JSON and Prometheus', async t => {
	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const h = await host(fx);
	const newer = bump(running);
	await install(h, newer);
	await install(h, older(running));
	await modules(h, running);
	const r = await onHost(h, '--json');
	const doc = json(t, r);
	t.is(r.code, 1);
	const k = doc.kernel!;
	t.is(k.expected, newer);
	t.deepEqual(codes(doc), ['newer-kernel']);
	t.true(k.reasons[0]!.message.includes(newer));
	t.true(k.rebootNeeded);
	t.is(k.softRebootPossible, null);
	t.is(k.modulesAvailable, true);
	t.deepEqual(
		k.installed.map(i => [i.release, i.path, i.deployment, i.versionString]).sort(),
		[
			[newer, `/boot/vmlinuz-${newer}`, null, imageVersion],
			[older(running), `/boot/vmlinuz-${older(running)}`, null, imageVersion],
		].sort(),
	);

	const text = await onHost(h, '--color', 'never');
	t.is(text.code, 1);
	t.regex(text.stdout.split('\n')[0]!, /^Reboot needed \(newer-kernel\)/, 'the verdict line says so first');
	const [first, second] = kernelBlock(text.stdout);
	t.is(first, `Kernel: ${running} running, next boot ${newer}: reboot needed`);
	t.is(second, `  ${k.reasons[0]!.message}`);

	const m = prometheus(t, await onHost(h, '--format', 'prometheus'));
	t.is(valueOf(m, 'livetree_reboot_required'), 1);
	t.is(valueOf(m, 'livetree_reboot_reason', {code: 'newer-kernel'}), 1);
	t.is(valueOf(m, 'livetree_reboot_reason', {code: 'kernel-rebuilt'}), 0);
	t.is(valueOf(m, 'livetree_kernel_info', {running, expected: newer}), 1);
});

test('other flavours, a local + build, a rescue image and an older kernel are no reason to reboot', async t => {
	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const h = await host(fx);
	const others = [`${bump(running)}-rt`, `${bump(running)}+`, '0-rescue-0123456789abcdef0123456789abcdef', older(running)];
	for (const r of others) {
		await install(h, r);
	}

	await modules(h, running);
	const r = await onHost(h, '--json');
	const doc = json(t, r);
	t.is(r.code, 0, r.stdout.slice(0, 500));
	t.false(doc.kernel!.rebootNeeded);
	t.deepEqual(doc.kernel!.reasons, []);
	t.is(doc.kernel!.installed.length, others.length);
	const text = await onHost(h, '--color', 'never');
	const lines = kernelBlock(text.stdout);
	t.regex(lines[0]!, new RegExp(`^Kernel: ${running.replaceAll('.', '\\.')}, no reboot needed`));
	t.is(lines[1], '');
});

test('the running release rebuilt on disk: kernel-rebuilt', async t => {
	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const h = await host(fx);
	// The Debian build under this machine's release name: same name, another build inside.
	await install(h, running);
	await modules(h, running);
	const r = await onHost(h, '--json');
	const doc = json(t, r);
	t.is(r.code, 1);
	t.is(doc.kernel!.expected, running);
	t.deepEqual(codes(doc), ['kernel-rebuilt']);
	t.is(doc.kernel!.installed[0]!.versionString, imageVersion);
});

test("the running kernel's modules gone from /usr/lib/modules: modules-missing", async t => {
	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const h = await host(fx);
	await modules(h, bump(running));
	const doc = json(t, await onHost(h, '--json'));
	t.is(doc.kernel!.modulesAvailable, false);
	t.deepEqual(codes(doc), ['modules-missing']);
	t.true(doc.kernel!.reasons[0]!.message.includes(running));
	await modules(h, running);
	const again = json(t, await onHost(h, '--json'));
	t.is(again.kernel!.modulesAvailable, true);
	t.deepEqual(codes(again), []);
});

// A patch as Documentation/ABI/testing/sysfs-kernel-livepatch lays it out.
async function livepatch(sys: string, name: string, enabled: boolean, transition: boolean, objects: Record<string, string[]>): Promise<void> {
	const dir = join(sys, 'kernel/livepatch', name);
	await mkdir(dir, {recursive: true});
	await writeFile(join(dir, 'enabled'), enabled ? '1\n' : '0\n');
	await writeFile(join(dir, 'transition'), transition ? '1\n' : '0\n');
	await writeFile(join(dir, 'force'), '', {mode: 0o200});
	for (const [object, functions] of Object.entries(objects)) {
		await mkdir(join(dir, object), {recursive: true});
		await writeFile(join(dir, object, 'patched'), '1\n');
		for (const f of functions) {
			await mkdir(join(dir, object, f));
		}
	}
}

test('live patches through --sys-root: listed, no reboot pretended; one in transition is a reason', async t => {
	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const h = await host(fx);
	await modules(h, running);
	const sys = await fx.tempDir('livetree-sys-');
	await livepatch(sys, 'livepatch_cve_2026_1', true, false, {vmlinux: ['cmdline_proc_show,1']});
	await livepatch(sys, 'livepatch_old', false, false, {ext4: ['ext4_fill_super,1']});
	const r = await onHost(h, '--json', '--sys-root', sys);
	const doc = json(t, r);
	t.is(r.code, 0);
	t.deepEqual(doc.kernel!.livepatches, [
		{name: 'livepatch_cve_2026_1', enabled: true, transition: false, objects: ['vmlinux']},
		{name: 'livepatch_old', enabled: false, transition: false, objects: ['ext4']},
	]);
	t.false(doc.kernel!.rebootNeeded);
	const text = await onHost(h, '--color', 'never', '--sys-root', sys);
	const lines = kernelBlock(text.stdout);
	t.is(lines[0], `Kernel: ${running}, live-patched (livepatch_cve_2026_1), no reboot needed`);
	t.is(lines[1], '');
	const m = prometheus(t, await onHost(h, '--format', 'prometheus', '--sys-root', sys));
	t.is(valueOf(m, 'livetree_livepatch_enabled', {name: 'livepatch_cve_2026_1'}), 1);
	t.is(valueOf(m, 'livetree_livepatch_enabled', {name: 'livepatch_old'}), 0);
	t.is(valueOf(m, 'livetree_reboot_required'), 0);

	await livepatch(sys, 'livepatch_ext4_fix', true, true, {ext4: ['ext4_fill_super,1'], vmlinux: []});
	const stuck = await onHost(h, '--json', '--sys-root', sys);
	t.is(stuck.code, 1);
	t.deepEqual(codes(json(t, stuck)), ['livepatch-transition']);
	const m2 = prometheus(t, await onHost(h, '--format', 'prometheus', '--sys-root', sys));
	t.is(valueOf(m2, 'livetree_reboot_reason', {code: 'livepatch-transition'}), 1);
});

// OSTree: commit a tree whose kernel is RELEASE (placeholder bytes, or a real image).
async function commitKernel(s: SysrootHandle, version: string, release: string, kernelImage?: string): Promise<void> {
	await execFileP(join(FIXTURES, 'sysroot.sh'), ['commit', s.path, s.osname, version], {
		env: {...process.env, KERNEL_RELEASE: release, ...(kernelImage ? {KERNEL_IMAGE: kernelImage} : {})},
	});
}

// The kernel command line a boot of deployment DEPLOY would have: its boot entry's options,
// found by following each entry's ostree= link, as the boot loader and ostree-prepare-root do.
async function cmdlineFor(s: SysrootHandle, deploy: string, file: string): Promise<string> {
	const loader = join(s.path, 'boot/loader/entries');
	for (const name of await readdir(loader)) {
		const options = /^options (.*)$/m.exec(await readFile(join(loader, name), 'utf8'))?.[1] ?? '';
		const arg = /(?:^| )ostree=(\S+)/.exec(options)?.[1];
		if (arg && basename(await readlink(join(s.path, arg))) === basename(deploy)) {
			await writeFile(file, `BOOT_IMAGE=/vmlinuz ${options} quiet\n`);
			return arg;
		}
	}

	throw new Error(`no boot entry for ${deploy}`);
}

async function booted(t: ExecutionContext, fx: Fixtures, s: SysrootHandle, index: number, ...args: string[]): Promise<CliResult> {
	const state = await s.status();
	const dir = await fx.tempDir('livetree-cmdline-');
	const cmdline = join(dir, 'cmdline');
	// A staged deployment has no boot entry yet: boot the one at INDEX among the others.
	await cmdlineFor(s, state.deployments[index]!.path, cmdline);
	t.true(process.execPath.startsWith('/usr/'), 'node comes from the host /usr inside the fake boot');
	return exec([
		join(FIXTURES, 'kernel-boot.sh'),
		s.path,
		String(index),
		s.run,
		cmdline,
		projectRoot,
		process.execPath,
		'/mnt/bin/livetree.js',
		'status',
		'--sysroot',
		'/sysroot',
		'--run-dir',
		'/run',
		// The fake boot's /tmp is a fresh tmpfs: the state directory must exist, and /tmp does.
		'--state-dir',
		'/tmp',
		'--no-systemd',
		...args,
	]);
}

test('OSTree, booted from ostree=: pending deployment (soft reboot would do), staged with another kernel, default booted', async t => {
	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const s = await fx.initSysroot();
	await commitKernel(s, '1.0', running);
	await s.deploy();
	await commitKernel(s, '2.0', running);
	const two = await s.deploy();
	const [d2, d1] = two.deployments.map(d => `${d.osname}/${d.checksum}.${d.serial}`);

	// Booted into 1.0 while 2.0 waits: same kernel in both, so a soft reboot would do.
	const pending = await booted(t, fx, s, 1, '--json');
	const doc = json(t, pending);
	t.is(pending.code, 1);
	t.deepEqual(
		doc.deployments.map(d => [d.id, d.booted, d.pending]),
		[
			[d2, false, true],
			[d1, true, false],
		],
	);
	t.deepEqual(codes(doc), ['pending-deployment']);
	t.true(doc.kernel!.reasons[0]!.message.includes(d2!));
	t.is(doc.kernel!.expected, running);
	t.is(doc.kernel!.softRebootPossible, true);
	t.is(doc.kernel!.modulesAvailable, true, "the booted tree has its kernel's modules");
	t.deepEqual(
		doc.kernel!.installed.map(i => [i.release, i.deployment]),
		[
			[running, d2],
			[running, d1],
		],
	);
	t.is(doc.kernel!.installed[0]!.path, `/sysroot/ostree/deploy/demo/deploy/${d2!.split('/')[1]}/usr/lib/modules/${running}/vmlinuz`);
	const text = await booted(t, fx, s, 1, '--color', 'never');
	t.regex(text.stdout, /a soft reboot \(userspace only\) would apply it/);

	// Booted into the default: nothing to do, whatever the rollback holds.
	const current = await booted(t, fx, s, 0, '--json');
	t.is(current.code, 0);
	const cur = json(t, current);
	t.deepEqual(codes(cur), []);
	t.is(cur.kernel!.softRebootPossible, null);

	// A tree with a real kernel of a newer release, staged while booted into the default.
	const newer = bump(running);
	await commitKernel(s, '3.0', newer, image);
	const staged = await s.stage(0);
	t.true(staged.deployments[0]!.staged);
	const st = await booted(t, fx, s, 0, '--json');
	const sdoc = json(t, st);
	t.is(st.code, 1);
	t.true(sdoc.deployments[0]!.staged);
	t.deepEqual(codes(sdoc), ['staged-deployment']);
	t.is(sdoc.kernel!.reasons[0]!.message.includes(sdoc.deployments[0]!.id), true);
	t.is(sdoc.kernel!.expected, newer);
	t.is(sdoc.kernel!.softRebootPossible, false);
	t.is(sdoc.kernel!.installed[0]!.versionString, imageVersion);
	const m = prometheus(t, await booted(t, fx, s, 0, '--format', 'prometheus'));
	t.is(valueOf(m, 'livetree_reboot_required'), 1);
	t.is(valueOf(m, 'livetree_reboot_reason', {code: 'staged-deployment'}), 1);
	t.is(valueOf(m, 'livetree_kernel_info', {running, expected: newer}), 1);
});
