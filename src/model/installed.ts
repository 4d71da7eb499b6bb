// What a scan said about installed package versions, kept beside the status document it
// built (the document's contract has no place for it), so that every renderer of that
// document (status --format prometheus, --textfile, the exporter) can add the package
// metrics without another scan.
import type {Package} from './document.js';
import type {StatusDocument} from './document.js';

export type InstalledPackages = Array<{tree: string; package: Package}>;

const installed = new WeakMap<StatusDocument, InstalledPackages>();
// The container trees (`container:ID`) whose database the scan read: a package missing
// there is not installed there, where an unread tree says nothing.
const compared = new WeakMap<StatusDocument, string[]>();

export function rememberInstalled(doc: StatusDocument, packages: InstalledPackages, trees: string[] = []): void {
	installed.set(doc, packages);
	compared.set(doc, trees);
}

export function comparedOf(doc: StatusDocument): string[] {
	return compared.get(doc) ?? [];
}

export function installedOf(doc: StatusDocument): InstalledPackages | undefined {
	return installed.get(doc);
}
