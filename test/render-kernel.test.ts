// The Kernel block and the kernel metrics as pure functions of a kernel object: the cases
// the CLI tests do not reach on this machine (a full reboot after a staged kernel, a code
// added later, a kernel with no report).
import test from 'ava';
import {Chalk} from 'chalk';
import type {Kernel} from '../src/model/kernel-document.js';
import {reasonMessage} from '../src/model/kernel.js';
import {kernelLines} from '../src/render/kernel.js';
import {formatExposition} from '../src/render/exposition.js';
import {kernelFamilies} from '../src/render/prometheus-kernel.js';
import {parseExposition, promtoolCheck, valueOf} from './helpers/exposition.js';

const plain = new Chalk({level: 0});

function kernel(over: Partial<Kernel> = {}): Kernel {
	return {
		running: {release: '6.1.0-57-amd64', version: '#1 SMP PREEMPT_DYNAMIC Debian 6.1.192-3 (2026-11-26)'},
		installed: [],
		expected: '6.1.0-57-amd64',
		modulesAvailable: true,
		livepatches: [],
		rebootNeeded: false,
		softRebootPossible: null,
		reasons: [],
		...over,
	};
}

test('no kernel report, no block and no metrics', t => {
	t.deepEqual(kernelLines(undefined, plain), []);
	t.deepEqual(kernelFamilies(undefined), []);
});

test('a staged deployment with another kernel: reasons, then that a full reboot is needed', t => {
	const message = reasonMessage({code: 'staged-deployment', deployment: 'os/abc.0', release: '6.1.0-58-amd64'}, '6.1.0-57-amd64');
	t.is(message, 'deployment os/abc.0 (kernel 6.1.0-58-amd64) is staged for the next boot');
	const lines = kernelLines(
		kernel({
			expected: '6.1.0-58-amd64',
			rebootNeeded: true,
			softRebootPossible: false,
			reasons: [{code: 'staged-deployment', message}],
		}),
		plain,
	);
	t.deepEqual(lines, [
		'Kernel: 6.1.0-57-amd64 running, next boot 6.1.0-58-amd64: reboot needed',
		`  ${message}`,
		'  the next deployment has another kernel: a full reboot is needed',
		'',
	]);
});

test('a code added later has its code as message and its own series', t => {
	t.is(reasonMessage({code: 'firmware-updated'}, '6.1.0'), 'firmware-updated');
	const k = kernel({
		rebootNeeded: true,
		reasons: [{code: 'firmware-updated', message: 'firmware-updated'}],
		livepatches: [{name: 'kpatch "q"\\x', enabled: true, transition: false, objects: ['vmlinux']}],
	});
	const text = formatExposition(kernelFamilies(k));
	const check = promtoolCheck(text);
	t.is(check.status, 0, check.output);
	const m = parseExposition(text);
	t.is(valueOf(m, 'livetree_reboot_reason', {code: 'firmware-updated'}), 1);
	t.is(valueOf(m, 'livetree_reboot_reason', {code: 'newer-kernel'}), 0);
	t.is(valueOf(m, 'livetree_livepatch_enabled', {name: 'kpatch "q"\\x'}), 1);
	t.is(valueOf(m, 'livetree_kernel_info', {running: '6.1.0-57-amd64', expected: '6.1.0-57-amd64'}), 1);
});

test('verbose lists the build and every installed image, still one verdict line', t => {
	const lines = kernelLines(
		kernel({installed: [{release: '6.1.0-57-amd64', path: '/boot/vmlinuz-6.1.0-57-amd64', deployment: null, versionString: null}]}),
		plain,
		true,
	);
	t.is(lines[0], 'Kernel: 6.1.0-57-amd64, no reboot needed');
	t.true(lines.includes('  Installed: 6.1.0-57-amd64 /boot/vmlinuz-6.1.0-57-amd64'));
	t.is(lines.at(-1), '');
});
