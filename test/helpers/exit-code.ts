// The exit code the README's table gives `livetree status` for the report it printed, for
// tests of a scan of the whole host, where what else runs on the machine decides the
// verdict: the code must be exactly the one the report itself calls for (so a crash, exit 2,
// never passes, and neither does a 0 over something that needs a restart).
import type {StatusDocument} from '../../src/model/document.js';

/**
 * From the JSON document: 1 when a process or a unit needs a restart or the kernel a reboot;
 * else 3 when some process could not be read (`summary.complete` false: unknown, not clean);
 * else 0.
 */
export function statusExitCode(doc: StatusDocument): 0 | 1 | 3 {
	const s = doc.summary;
	if (s.processesNeedingRestart > 0 || s.unitsNeedingRestart > 0 || s.rebootNeeded === true) {
		return 1;
	}

	return s.complete === false ? 3 : 0;
}

/** From the text report: its first line, the verdict ("Nothing needs a restart" 0, "Unknown for" 3). */
export function textExitCode(text: string): 0 | 1 | 3 {
	const verdict = text.split('\n')[0] ?? '';
	if (/^Nothing needs a restart \(/.test(verdict)) {
		return 0;
	}

	if (/^(Restart|Reboot) needed\b/.test(verdict)) {
		return 1;
	}

	if (/^Unknown for \d+ of \d+ processes/.test(verdict)) {
		return 3;
	}

	throw new Error(`not a verdict line: ${JSON.stringify(verdict)}`);
}

/** From the Prometheus metrics: the same rule, read from the gauges that carry it. */
export function metricsExitCode(text: string): 0 | 1 | 3 {
	const value = (name: string): number => {
		const line = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
		if (!line) {
			throw new Error(`no ${name} in the metrics`);
		}

		return Number(line[1]);
	};

	if (value('livetree_processes_needing_restart') > 0 || value('livetree_units_needing_restart') > 0 || value('livetree_reboot_required') > 0) {
		return 1;
	}

	return value('livetree_scan_complete') === 0 ? 3 : 0;
}

/**
 * The document `status --json` printed, after checking that its exit code is the one the
 * document calls for (a failed run, exit 2, throws its stderr).
 */
export function checkedDocument(r: {code: number; stdout: string; stderr: string}): StatusDocument {
	if (r.code === 2) {
		throw new Error(r.stderr);
	}

	const doc = JSON.parse(r.stdout) as StatusDocument;
	if (r.code !== statusExitCode(doc)) {
		throw new Error(`status exited ${r.code}, but its report calls for ${statusExitCode(doc)}: ${r.stderr}`);
	}

	return doc;
}

/** `livetree packages`: 1 when a package runs another version than installed; else 3 when some
 * process could not be read; else 0. */
export function packagesExitCode(report: {summary: {mismatched: number; complete: boolean}}): 0 | 1 | 3 {
	if (report.summary.mismatched > 0) {
		return 1;
	}

	return report.summary.complete ? 0 : 3;
}
