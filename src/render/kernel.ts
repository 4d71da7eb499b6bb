// The "Kernel:" block at the top of the text report: one line when no reboot is needed,
// else the reasons (Rust decided them; the words come from the model) one per line.
import type {ChalkInstance} from 'chalk';
import type {Kernel, Livepatch} from '../model/kernel-document.js';
import {printable} from './reason.js';

export function kernelLines(kernel: Kernel | undefined, style: ChalkInstance, verbose = false): string[] {
	if (!kernel) {
		return [];
	}

	const running = kernel.running.release;
	const patched = kernel.livepatches.filter(p => p.enabled);
	const patchNote = patched.length > 0 ? `, live-patched (${patched.map(p => p.name).join(', ')})` : '';
	if (!kernel.rebootNeeded) {
		const expected = kernel.expected && kernel.expected !== running ? `; newest installed of another kind: ${kernel.expected}` : '';
		const lines = [`Kernel: ${running}${patchNote}, ${style.green('no reboot needed')}${expected}`];
		if (verbose) {
			lines.push(...details(kernel));
		}

		return [...lines, ''];
	}

	const expected = kernel.expected && kernel.expected !== running ? `, next boot ${kernel.expected}` : '';
	const lines = [`Kernel: ${running} running${expected}${patchNote}: ${style.red('reboot needed')}`];
	for (const r of kernel.reasons) {
		lines.push(`  ${printable(r.message)}`);
	}

	if (kernel.softRebootPossible === true) {
		lines.push(`  ${style.green('the next deployment has the running kernel: a soft reboot (userspace only) would apply it')}`);
	} else if (kernel.softRebootPossible === false) {
		lines.push('  the next deployment has another kernel: a full reboot is needed');
	}

	lines.push(...details(kernel, verbose));
	return [...lines, ''];
}

function details(kernel: Kernel, verbose = true): string[] {
	const lines: string[] = [];
	if (kernel.livepatches.length > 0) {
		lines.push(`  Live patches: ${kernel.livepatches.map(describe).join('; ')}`);
	}

	if (verbose) {
		lines.push(`  Running build: ${kernel.running.version}`);
		for (const k of kernel.installed) {
			lines.push(`  Installed: ${k.release} ${k.path}${k.deployment ? ` (deployment ${k.deployment})` : ''}`);
		}
	}

	return lines;
}

function describe(p: Livepatch): string {
	const state = [p.enabled ? 'enabled' : 'disabled', p.transition ? 'in transition' : ''].filter(Boolean).join(', ');
	return `${p.name} (${state}${p.objects.length > 0 ? `: ${p.objects.join(', ')}` : ''})`;
}
