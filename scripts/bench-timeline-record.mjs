// What recording costs inside one `livetree status` process, apart from the noise of whole
// runs: alternately a scan that builds the timeline's observation and records it, and one
// that does neither, timing the scan and the record step separately (performance.now()).
//   node scripts/bench-timeline-record.mjs STATE_DIR [PAIRS]   (as root; after npm run build)
// Prints one line per scan and the medians. Used for reports/bench-timeline.md's notes.
import {collectPrintable, openScanner} from '../dist/src/collect.js';
import {readCommon} from '../dist/src/options.js';
import {recordTimeline} from '../dist/src/timeline/record.js';

const [stateDir, pairsArg] = process.argv.slice(2);
if (!stateDir) throw new Error('usage: bench-timeline-record.mjs STATE_DIR [PAIRS]');
const options = readCommon({'state-dir': stateDir, 'no-systemd': true});
const median = xs => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const rows = {recording: {scan: [], record: []}, plain: {scan: [], record: []}};
for (let i = 0; i < 2 * Number(pairsArg ?? 5); i++) {
	const observe = i % 2 === 0;
	const scanner = openScanner(options);
	const t0 = performance.now();
	const {doc} = await collectPrintable(options, {processesApart: true, observe}, scanner);
	const t1 = performance.now();
	if (observe) recordTimeline(options, doc, scanner, 'status', message => process.stderr.write(`${message}\n`));
	const t2 = performance.now();
	const row = rows[observe ? 'recording' : 'plain'];
	row.scan.push(t1 - t0);
	row.record.push(t2 - t1);
	process.stdout.write(`${observe ? 'recording' : 'plain    '} scan ${(t1 - t0).toFixed(0)} ms, record ${(t2 - t1).toFixed(1)} ms, ${doc.summary.processes} processes\n`);
}

for (const [name, r] of Object.entries(rows)) {
	process.stdout.write(`median ${name}: scan ${median(r.scan).toFixed(0)} ms, record ${median(r.record).toFixed(1)} ms\n`);
}
