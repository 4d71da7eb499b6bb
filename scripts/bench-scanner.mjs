// Warm scans with a kept native Scanner vs a fresh scan each time (what the exporter did
// per scrape before issue 13): median and min over N scans of every process.
// Usage: node scripts/bench-scanner.mjs SYSROOT STATE_DIR [N]
import {createRequire} from 'node:module';
import {join} from 'node:path';

const require = createRequire(import.meta.url);
const native = require('../native/binding.cjs');
const [sysroot, state, n = '15'] = process.argv.slice(2);
const places = {sysroot, procRoot: '/proc', sysRoot: '/sys', runDir: '/run', hostRoot: '/', catalogPath: join(state, 'catalog.sqlite'), kernel: true};
const time = async f => {
	const t = process.hrtime.bigint();
	await f();
	return Number(process.hrtime.bigint() - t) / 1e6;
};

const stats = xs => {
	const s = [...xs].sort((a, b) => a - b);
	return `median ${s[Math.floor(s.length / 2)].toFixed(1)} ms, min ${s[0].toFixed(1)} ms`;
};

const which = process.env.BENCH_ONLY;
if (!which || which === 'fresh') {
	await native.scan(places);
	const fresh = [];
	for (let i = 0; i < Number(n); i++) fresh.push(await time(() => native.scan(places)));
	console.log(`fresh scan each time: ${stats(fresh)}`);
}

if (!which || which === 'warm') {
	const scanner = new native.Scanner(places);
	await scanner.scan();
	const warm = [];
	for (let i = 0; i < Number(n); i++) warm.push(await time(() => scanner.scan()));
	console.log(`kept scanner, warm:   ${stats(warm)}; ${JSON.stringify(scanner.stats())}`);
}
