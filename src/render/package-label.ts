// How a package is named in text output.
import type {Package} from '../model/document.js';

/** `libssl3 3.0.11-1 (amd64, source openssl 3.0.11-1)`: what a compliance reader asks for. */
export function packageLabel(p: Package): string {
	const source =
		p.source && (p.source !== p.name || p.sourceVersion !== p.version)
			? `, source ${p.source}${p.sourceVersion && p.sourceVersion !== p.version ? ` ${p.sourceVersion}` : ''}`
			: '';
	return `${p.name} ${p.version}${p.arch || source ? ` (${[p.arch, source.slice(2)].filter(Boolean).join(', ')})` : ''}`;
}
