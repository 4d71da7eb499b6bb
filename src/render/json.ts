// The JSON printer: the contract document, two-space indented, one trailing newline.
import type {StatusDocument} from '../model/document.js';

export function renderJson(doc: StatusDocument): string {
	return `${JSON.stringify(doc, null, 2)}\n`;
}
