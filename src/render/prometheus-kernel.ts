// Kernel metrics: whether a reboot is needed and why, what runs and what the next boot
// would run, which live patches are enabled. Labels stay bounded: per reason code, per
// release pair (one series), per live patch.
import type {Kernel} from '../model/kernel-document.js';
import type {Family} from './exposition.js';

// Every known code gets a series (0 or 1), so an alert on one code does not depend on it
// having fired once; codes added later appear when they occur.
const knownCodes = ['newer-kernel', 'kernel-rebuilt', 'pending-deployment', 'staged-deployment', 'modules-missing', 'livepatch-transition'];

export function kernelFamilies(kernel: Kernel | undefined): Family[] {
	if (!kernel) {
		return [];
	}

	const codes = new Set(kernel.reasons.map(r => r.code));
	return [
		{
			name: 'livetree_reboot_required',
			help: 'Whether only a reboot brings the host to its installed kernel (1) or not (0); see livetree_reboot_reason.',
			type: 'gauge',
			samples: [{value: kernel.rebootNeeded ? 1 : 0}],
		},
		{
			name: 'livetree_reboot_reason',
			help: 'Why a reboot is needed, by reason code (1 when the reason applies).',
			type: 'gauge',
			samples: [...new Set([...knownCodes, ...codes])].map(code => ({labels: {code}, value: codes.has(code) ? 1 : 0})),
		},
		{
			name: 'livetree_kernel_info',
			help: 'The running kernel release and the one the next boot would run; the value is always 1.',
			type: 'gauge',
			samples: [{labels: {running: kernel.running.release, expected: kernel.expected ?? ''}, value: 1}],
		},
		{
			name: 'livetree_livepatch_enabled',
			help: 'Live patches loaded in the running kernel: enabled (1) or disabled (0).',
			type: 'gauge',
			samples: kernel.livepatches.map(p => ({labels: {name: p.name}, value: p.enabled ? 1 : 0})),
		},
	];
}
