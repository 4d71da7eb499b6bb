// Host facts for the report header.
import {readFile} from 'node:fs/promises';
import os from 'node:os';
import si from 'systeminformation';
import type {Host} from './model/document.js';

export async function hostFacts(): Promise<Host> {
	// systeminformation knows the distribution's own names; os is the cheap fallback
	// if it fails (it shells out on some systems, and that must not sink a scan).
	const info = await si.osInfo().catch(() => undefined);
	const bootId = await readFile('/proc/sys/kernel/random/boot_id', 'utf8').then(
		s => s.trim(),
		() => null,
	);
	return {
		hostname: info?.hostname || os.hostname(),
		kernelRelease: info?.kernel || os.release(),
		bootId,
	};
}
