// The fleet dashboard (grafana/livetree.json, built by src/dashboard/livetree.ts with the
// Grafana Foundation SDK): the shipped file is what the code builds, and every panel's query,
// with its host variable substituted, returns data from a real Prometheus scraping real
// livetree exporters:
// - `pkg`: a simulated host (own PID namespace, test/helpers/sim-host.ts) whose workload runs
//   livetree-demo 1.0-1 from a deployment removed by an upgrade to 2.0-1 (trees with a real
//   dpkg database), with one verified restart in its history;
// - `busy`: this machine as a host, whose systemd (a real --user manager) runs a unit chrooted
//   into a deployment an upgrade replaced, and whose podman runs a container from an image
//   whose tag a rebuild moved on; assertions name only this test's unit and container;
// - `broken`: an exporter whose every scan fails.
import {randomBytes} from 'node:crypto';
import {mkdir, readFile, rm, symlink} from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import {dashboardJson} from '../src/dashboard/generate.js';
import {HOST_VARIABLE} from '../src/dashboard/livetree.js';
import {track, waitFor} from './helpers/children.js';
import {projectRoot, spawnLivetree} from './helpers/cli.js';
import {commitWithDb} from './helpers/dpkg-commit.js';
import {Fixtures} from './helpers/fixture.js';
import {freePort, request} from './helpers/http.js';
import type {PromSample} from './helpers/prometheus-query.js';
import {startPrometheus} from './helpers/prometheus.js';
import {buildDemoDeb, PodmanStore} from './helpers/podman.js';
import {recordRestart} from './helpers/restart-history.js';
import {startSimHost} from './helpers/sim-host.js';
import {startUserManager} from './helpers/systemd-user.js';

interface Target {
	expr: string;
	refId?: string;
}

interface Panel {
	type: string;
	title: string;
	targets?: Target[];
}

const dashboardFile = path.join(projectRoot, 'grafana/livetree.json');

// Grafana's substitution of the variables the queries use: $host (a regex of the chosen
// instances; "All" is .*) and $__rate_interval (at least four scrape intervals).
function substitute(expr: string, host: string): string {
	return expr.replaceAll(`$${HOST_VARIABLE}`, host).replaceAll('$__rate_interval', '1m');
}

// A value as Grafana puts it into a regex matcher: regex-escaped, then escaped for PromQL's
// double-quoted string (127\\.0\\.0\\.1:9090).
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replaceAll('\\', '\\\\');

test('grafana/livetree.json is what src/dashboard/livetree.ts builds (npm run dashboard)', async t => {
	t.is(await readFile(dashboardFile, 'utf8'), dashboardJson());
	const doc = JSON.parse(await readFile(dashboardFile, 'utf8')) as {
		templating: {list: Array<{name: string; query?: unknown; includeAll?: boolean; multi?: boolean; allValue?: string}>};
		links: Array<{url: string}>;
		panels: Panel[];
	};
	const host = doc.templating.list.find(v => v.name === HOST_VARIABLE);
	t.deepEqual([host?.query, host?.multi, host?.includeAll, host?.allValue], ['label_values(livetree_processes_needing_restart, instance)', true, true, '.*']);
	t.true(doc.links.length > 0 && doc.links.every(l => l.url.startsWith(`\${livetree_docs}/fleet.md`)));
	// Every query panel narrows each of its series to the chosen hosts.
	const targets = doc.panels.flatMap(p => p.targets ?? []);
	t.true(targets.length >= 15, String(targets.length));
	for (const target of targets) {
		t.regex(target.expr, /instance=~"\$host"/, target.expr);
	}
});

test('every panel of the fleet dashboard returns data from a real Prometheus over real exporters', async t => {
	const fx = new Fixtures();
	t.teardown(async () => fx.cleanup());
	const dir = await fx.tempDir('livetree-dashboard-');
	const tag = randomBytes(4).toString('hex');

	// pkg: a simulated host on 1.0 whose deployment an upgrade to 2.0 removed.
	const pkgSysroot = await fx.initSysroot();
	await commitWithDb(fx, pkgSysroot, '1.0');
	const pkgDeployed = (await pkgSysroot.deploy()).deployments[0]!;
	const pkgHost = await startSimHost(pkgDeployed.path);
	t.teardown(async () => pkgHost.stop());

	// busy: a unit of a real systemd --user manager on a deployment an upgrade replaced...
	const manager = await startUserManager();
	t.teardown(async () => manager.stop());
	const busySysroot = await fx.initSysroot();
	await commitWithDb(fx, busySysroot, '1.0');
	const busyDeployed = (await busySysroot.deploy()).deployments[0]!;
	const current = path.join(dir, 'current');
	await symlink(busyDeployed.path, current);
	const unit = `lt-dash-${tag}.service`;
	await manager.startUnit(unit, ['/usr/sbin/chroot', current, '/usr/bin/demo-sleep', '600'], {properties: ['Restart=no']});
	// ...and a container whose image name a rebuild will move to another image.
	const store = await PodmanStore.create();
	t.teardown(async () => store.cleanup());
	const base = `localhost/lt-dash-base-${tag}:1`;
	const image = `localhost/lt-dash-web-${tag}:latest`;
	const container = `lt-dash-web-${tag}`;
	await store.importBase(base);
	await store.buildWithDeb(image, base, await buildDemoDeb(store.dir, '1.0'));
	await store.runDemo(container, image);

	const state = {pkg: path.join(dir, 'pkg'), busy: path.join(dir, 'busy'), broken: path.join(dir, 'broken')};
	await Promise.all(Object.values(state).map(async d => mkdir(d)));
	recordRestart(state.pkg, 'web.service', 'verified');
	recordRestart(state.busy, 'web.service', 'failed');

	const [pkgPort, busyPort, brokenPort] = await Promise.all([freePort(), freePort(), freePort()]);
	const common = ['--min-interval', '1s'];
	const exporters = [
		track(
			t,
			pkgHost.livetree(['exporter', ...common, '--no-systemd', '--listen', `127.0.0.1:${pkgPort}`, '--sysroot', pkgSysroot.path, '--state-dir', state.pkg]),
			'pkg exporter',
		),
		track(
			t,
			spawnLivetree([
				'exporter',
				...common,
				'--bus-address',
				manager.busAddress,
				'--listen',
				`127.0.0.1:${busyPort}`,
				'--sysroot',
				busySysroot.path,
				'--state-dir',
				state.busy,
			]),
			'busy exporter',
		),
	];
	// Its sysroot vanishes once it has started: every scan fails, the exporter keeps serving.
	const vanishing = path.join(dir, 'vanishing-sysroot');
	await mkdir(path.join(vanishing, 'ostree'), {recursive: true});
	exporters.push(
		track(
			t,
			spawnLivetree(['exporter', ...common, '--no-systemd', '--listen', `127.0.0.1:${brokenPort}`, '--sysroot', vanishing, '--state-dir', state.broken]),
			'broken exporter',
		),
	);
	for (const exporter of exporters) {
		await waitFor(exporter.output(), () => /serving https?:\/\/127\.0\.0\.1:\d+\/metrics/.test(exporter.output()));
	}

	await rm(vanishing, {recursive: true, force: true});
	// A first scan each before the upgrades: it fills the catalog (the slow part), which then
	// knows the packages of the files the upgrades delete.
	for (const port of [pkgPort, busyPort, brokenPort]) {
		t.is((await request(`http://127.0.0.1:${port}/metrics`)).status, 200);
	}

	// The upgrades: 2.0 deployed and 1.0 removed on both sysroots; the image name rebuilt.
	for (const sysroot of [pkgSysroot, busySysroot]) {
		await commitWithDb(fx, sysroot, '2.0');
		await sysroot.deploy();
		await sysroot.undeploy(1);
		await sysroot.cleanup();
	}

	await store.buildWithDeb(image, base, await buildDemoDeb(store.dir, '2.0'));

	const prometheus = await startPrometheus(t, dir, [
		'global:',
		'  scrape_interval: 3s',
		'  scrape_timeout: 3s',
		'scrape_configs:',
		'  - job_name: livetree',
		'    static_configs:',
		`      - targets: ['127.0.0.1:${pkgPort}', '127.0.0.1:${busyPort}', '127.0.0.1:${brokenPort}']`,
	]);
	const {api, query} = prometheus;

	const instance = {pkg: `127.0.0.1:${pkgPort}`, busy: `127.0.0.1:${busyPort}`, broken: `127.0.0.1:${brokenPort}`};
	const value = async (expr: string) => (await query(expr)).map(s => Number(s.value[1]));
	// Until every exporter has been scraped a few times (increase() needs two samples), and
	// the busy host's scans have seen this test's unit and container.
	await waitFor(
		`scrapes; ${prometheus.output()}; ${exporters.map(e => e.output()).join('; ')}`,
		async () =>
			(await value(`count_over_time(up{job="livetree"}[1m])`)).filter(n => n >= 4).length === 3 &&
			(await value(`livetree_unit_needs_restart{instance="${instance.busy}",unit="${unit}"}`))[0] === 1 &&
			(await value(`livetree_container_image_outdated{instance="${instance.busy}",container="${container}"}`))[0] === 1,
		180,
	);

	// The host variable's query lists the hosts that report (the broken one never scanned).
	const hosts = JSON.parse((await request(`${api}/label/instance/values?match[]=livetree_processes_needing_restart`)).body) as {data: string[]};
	t.deepEqual(hosts.data.sort(), [instance.pkg, instance.busy].sort());

	// Every panel's every query, for all hosts: data.
	const doc = JSON.parse(await readFile(dashboardFile, 'utf8')) as {panels: Panel[]};
	const all = '.*';
	const results = new Map<string, PromSample[]>();
	for (const panel of doc.panels) {
		for (const target of panel.targets ?? []) {
			const samples = await query(substitute(target.expr, all));
			results.set(target.expr, samples);
			t.true(samples.length > 0, `${panel.title}: ${target.expr} returned no data`);
		}
	}

	t.is(results.size, doc.panels.flatMap(p => p.targets ?? []).length, 'no two panels share a query');
	const titles = doc.panels.map(p => p.title);
	t.deepEqual([...new Set(titles)], titles, 'no two panels share a title');
	const exprOf = (title: string, index = 0) => doc.panels.find(p => p.title === title)?.targets?.[index]?.expr ?? `no panel ${title}`;
	const run = async (title: string, host: string, index = 0) => query(substitute(exprOf(title, index), host));
	const one = async (title: string, host: string, index = 0) => (await run(title, host, index)).map(s => Number(s.value[1]));
	const only = (name: keyof typeof instance) => escape(instance[name]);
	const both = `${only('pkg')}|${only('busy')}`;

	// Exact answers where the test knows them.
	t.deepEqual(await one('Hosts needing a restart', all), [2]);
	t.deepEqual(await one('Hosts needing a restart', only('pkg')), [1]);
	t.deepEqual(await one('Processes needing a restart, by host', only('pkg')), [1]);
	t.deepEqual(await one('Units needing a restart, by host', only('pkg')), [0]);
	t.true((await one('Units needing a restart, by host', only('busy')))[0]! >= 1);
	const units = await run('Which units need a restart', all);
	t.true(
		units.some(s => s.metric.instance === instance.busy && s.metric.unit === unit),
		JSON.stringify(units),
	);
	t.false(units.some(s => s.metric.instance === instance.pkg));
	const verdicts = await run('Last livetree restart of each unit', both);
	t.deepEqual(
		verdicts.map(s => `${s.metric.instance} ${s.metric.unit} ${s.metric.verdict}`).sort(),
		[`${instance.busy} web.service failed`, `${instance.pkg} web.service verified`].sort(),
	);

	const packages = await run('Running vs installed package versions', only('pkg'));
	t.deepEqual(
		packages.map(s => [s.metric.package, s.metric.running, s.metric.installed, s.value[1]]),
		[['livetree-demo', '1.0-1', '2.0-1', '1']],
	);
	t.deepEqual(await one('Packages running another version than installed, by host', only('pkg')), [1]);
	const busyPackages = await run('Running vs installed package versions', only('busy'));
	t.true(
		busyPackages.some(s => s.metric.package === 'livetree-demo' && s.metric.running === '1.0-1' && (s.metric.installed ?? '').split(',').includes('2.0-1')),
		JSON.stringify(busyPackages),
	);

	const containers = await run('Containers on an image their name no longer points to', all);
	t.deepEqual(
		containers.filter(s => s.metric.container === container).map(s => [s.metric.instance, s.metric.engine, s.metric.image]),
		[[instance.busy, 'podman', image]],
	);
	t.deepEqual(await one('Outdated containers, by host', only('pkg')), [0]);
	t.true((await one('Outdated containers, by host', only('busy')))[0]! >= 1);

	t.deepEqual(await one('Scan failures', only('broken')), [1]);
	t.deepEqual(await one('Scan failures', both), [0, 0]);
	t.true((await one('Scan failures', only('broken'), 1))[0]! > 0);
	t.deepEqual(await one('Hosts whose scans fail or are old', all), [1]);
	t.deepEqual(await one('Incomplete scans', only('pkg')), [0]);
	const ages = await run('Age of the last good scan', all);
	t.deepEqual(ages.map(s => s.metric.instance).sort(), [instance.pkg, instance.busy].sort());
	t.true(
		ages.every(s => Number(s.value[1]) < 120),
		JSON.stringify(ages),
	);
	t.deepEqual(await one('Reboot pending, by host', only('pkg')), await value(`livetree_reboot_required{instance="${instance.pkg}"}`));
	t.log(`reboot pending: ${JSON.stringify((await run('Reboot pending, by host', all)).map(s => [s.metric.instance, s.value[1]]))}`);
});
