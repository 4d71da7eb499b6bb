// The --textfile (and --output) write must be atomic: node_exporter may read the
// file at any moment, and a half-written file would be half a set of metrics.
import {spawn} from 'node:child_process';
import {mkdtemp, rm, writeFile} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import {renderPrometheus} from '../src/render/prometheus.js';
import {writeAtomic} from '../src/write-atomic.js';
import {makeDocument} from './helpers/status-document.js';

// Two large, different, complete contents; the reader knows both and counts
// every read that is neither (empty, truncated, or a mix).
function contents(): [string, string] {
	const base = renderPrometheus(makeDocument());
	return [`${base}# ${'a'.repeat(2_000_000)}\n`, `${base}# ${'b'.repeat(3_000_000)}\n`];
}

const readerScript = `
import {readFileSync, existsSync} from 'node:fs';
import {renderPrometheus} from ${JSON.stringify(new URL('../src/render/prometheus.js', import.meta.url).href)};
import {makeDocument} from ${JSON.stringify(new URL('./helpers/status-document.js', import.meta.url).href)};
const [file, stop] = process.argv.slice(1);
const base = renderPrometheus(makeDocument());
const a = base + '# ' + 'a'.repeat(2000000) + '\\n';
const b = base + '# ' + 'b'.repeat(3000000) + '\\n';
let sawA = 0, sawB = 0, bad = 0;
while (!existsSync(stop)) {
	const text = readFileSync(file, 'utf8');
	if (text === a) sawA++; else if (text === b) sawB++; else bad++;
}
process.stdout.write(JSON.stringify({sawA, sawB, bad}));
`;

async function raceReaderAgainst(write: (file: string, content: string) => Promise<void>, rewrites: number) {
	const dir = await mkdtemp(path.join(os.tmpdir(), 'livetree-textfile-'));
	try {
		const file = path.join(dir, 'livetree.prom');
		const stop = path.join(dir, 'stop');
		const [a, b] = contents();
		await writeFile(file, a);
		const reader = spawn(process.execPath, ['--input-type=module', '-e', readerScript, '--', file, stop], {stdio: ['ignore', 'pipe', 'inherit']});
		let out = '';
		reader.stdout.on('data', (chunk: Buffer) => {
			out += chunk.toString();
		});
		const exited = new Promise(resolve => reader.once('exit', resolve));
		try {
			for (let i = 0; i < rewrites; i++) {
				await write(file, i % 2 === 0 ? b : a);
			}
		} finally {
			await writeFile(stop, '');
			await exited;
		}

		return JSON.parse(out) as {sawA: number; sawB: number; bad: number};
	} finally {
		await rm(dir, {recursive: true, force: true});
	}
}

test.serial('a reader polling during many atomic rewrites never sees a partial file', async t => {
	const result = await raceReaderAgainst(writeAtomic, 300);
	t.log(result);
	t.is(result.bad, 0);
	t.true(result.sawA > 0 && result.sawB > 0, 'the reader overlapped rewrites of both contents');
});

test.serial('control: the same reader does catch a plain rewrite half-done', async t => {
	const result = await raceReaderAgainst(async (file, content) => writeFile(file, content), 300);
	t.log(result);
	t.true(result.bad > 0, 'without atomic rename the race is visible, so the test above can fail');
});
