// What a scan said about installed package versions, kept beside the status document it
// built (the document's contract has no place for it), so that every renderer of that
// document (status --format prometheus, --textfile, the exporter) can add the package
// metrics without another scan.
import type {Package} from './document.js';
import type {StatusDocument} from './document.js';

export type InstalledPackages = Array<{tree: string; package: Package}>;

const installed = new WeakMap<StatusDocument, InstalledPackages>();

export function rememberInstalled(doc: StatusDocument, packages: InstalledPackages): void {
	installed.set(doc, packages);
}

export function installedOf(doc: StatusDocument): InstalledPackages | undefined {
	return installed.get(doc);
}
