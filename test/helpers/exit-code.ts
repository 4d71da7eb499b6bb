// The exit code the README's table gives `livetree status` for the document it printed, for
// tests of a scan of the whole host, where what else runs decides the verdict: the code must
// be exactly the one the document's own summary calls for (a crash, exit 2, never passes).
import type {StatusDocument} from '../../src/model/document.js';

/** 1 when a process or a unit needs a restart or the kernel a reboot, else 0. */
export function statusExitCode(doc: StatusDocument): 0 | 1 {
	const s = doc.summary;
	return s.processesNeedingRestart > 0 || s.unitsNeedingRestart > 0 || s.rebootNeeded === true ? 1 : 0;
}
