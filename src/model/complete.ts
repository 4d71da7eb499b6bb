// Whether a scan read every process: the core decides it (summary.complete, false when
// any process is unknown); a document without the field (an older livetree's) is judged by
// its unreadable count. An incomplete scan never reads as clean.
import type {StatusDocument} from './document.js';

export function complete(doc: StatusDocument): boolean {
	return doc.summary.complete ?? doc.summary.processesUnreadable === 0;
}
