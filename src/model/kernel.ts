// The kernel part of the status document, from the native scan's kernel report. Rust decides
// (codes); here the codes become sentences.
import type {Kernel} from './kernel-document.js';
import type {KernelReasonCode, ScanKernel} from './scan-parts.js';

export function toKernel(k: ScanKernel): Kernel {
	const {bootId: _bootId, reasons, ...rest} = k;
	return {...rest, reasons: reasons.map(r => ({code: r.code, message: reasonMessage(r, k.running.release)}))};
}

export function reasonMessage(r: KernelReasonCode, running: string): string {
	const kernel = r.release ? ` (kernel ${r.release})` : '';
	switch (r.code) {
		case 'newer-kernel': {
			return `kernel ${r.release ?? '?'} is installed, newer than the running ${running}`;
		}

		case 'kernel-rebuilt': {
			return `kernel ${r.release ?? running} on disk is another build than the running one (same release, different version string)`;
		}

		case 'pending-deployment': {
			return `the next boot runs deployment ${r.deployment ?? '?'}${kernel}, not the booted one`;
		}

		case 'staged-deployment': {
			return `deployment ${r.deployment ?? '?'}${kernel} is staged for the next boot`;
		}

		case 'modules-missing': {
			return `the modules of the running kernel ${r.release ?? running} are gone from /usr/lib/modules: it cannot load a module`;
		}

		case 'livepatch-transition': {
			return `live patch ${r.name ?? '?'} is still in transition: some tasks run unpatched code`;
		}

		default: {
			return r.code;
		}
	}
}
