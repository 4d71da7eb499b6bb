// The exporter keeps one native scanner: a second scrape with nothing changed on disk
// does not load the sysroot, repo index or catalog again (livetree_knowledge_loads_total
// stays put), and a deployment made between scrapes is loaded and shown. A real exporter
// process, a real sysroot built with the ostree CLI.
import {setTimeout as sleep} from 'node:timers/promises';
import test from 'ava';
import {startExporterProcess} from './helpers/exporter-process.js';
import {parseExposition, promtoolCheck, valueOf} from './helpers/exposition.js';
import {Fixtures} from './helpers/fixture.js';
import {freePort, request} from './helpers/http.js';

test("the exporter's second scrape does not reload knowledge; a new deployment does", async t => {
	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const s = await fx.initSysroot();
	await s.commit('1.0');
	await s.deploy();
	const state = await fx.tempDir();
	const port = await freePort();
	const exporter = startExporterProcess(t, [
		'--no-systemd',
		'--listen',
		`127.0.0.1:${port}`,
		'--min-interval',
		'1s',
		'--sysroot',
		s.path,
		'--state-dir',
		state,
	]);

	const scrape = async () => {
		let reply;
		for (let i = 0; i < 100 && !reply; i++) {
			reply = await request(`http://127.0.0.1:${port}/metrics`).catch(async () => sleep(100).then(() => undefined));
		}

		t.is(reply?.status, 200, exporter.stderr());
		t.is(promtoolCheck(reply?.body ?? '').status, 0);
		const parsed = parseExposition(reply?.body ?? '');
		t.is(parsed.types.get('livetree_knowledge_loads_total'), 'counter');
		return {
			scans: valueOf(parsed, 'livetree_scans_total'),
			loads: valueOf(parsed, 'livetree_knowledge_loads_total'),
			deployments: parsed.samples.filter(x => x.name === 'livetree_deployment_info').length,
		};
	};

	t.deepEqual(await scrape(), {scans: 1, loads: 1, deployments: 1});
	await sleep(1100);
	t.deepEqual(await scrape(), {scans: 2, loads: 1, deployments: 1}, 'nothing changed: the knowledge is kept');
	await s.commit('2.0');
	await s.deploy();
	await sleep(1100);
	t.deepEqual(await scrape(), {scans: 3, loads: 2, deployments: 2}, 'a new deployment is loaded once');
	await sleep(1100);
	t.deepEqual(await scrape(), {scans: 4, loads: 2, deployments: 2});
	process.kill(exporter.pid, 'SIGTERM');
	t.is(await exporter.exited, 0, exporter.stderr());
});
