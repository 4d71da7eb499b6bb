// The `kernel` object of the v1 status document (contract: status.schema.json#/properties/kernel).
// Field names are the contract; never rename one. Checked against the schema in document.check.ts.

export interface InstalledKernel {
	release: string;
	path: string;
	// Deployment id when the image is a deployment's /usr/lib/modules/RELEASE/vmlinuz.
	deployment: string | null;
	// Read from the image itself (bzImage header); null for other images.
	versionString: string | null;
}

export interface Livepatch {
	name: string;
	enabled: boolean;
	transition: boolean;
	objects: string[];
}

// Codes: newer-kernel, kernel-rebuilt, pending-deployment, staged-deployment,
// modules-missing, livepatch-transition; readers must accept codes added later.
export interface KernelReason {
	code: string;
	message: string;
}

export interface Kernel {
	running: {release: string; version: string};
	installed: InstalledKernel[];
	expected: string | null;
	modulesAvailable: boolean | null;
	livepatches: Livepatch[];
	rebootNeeded: boolean;
	softRebootPossible: boolean | null;
	reasons: KernelReason[];
}
