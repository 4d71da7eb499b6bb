// A fleet through a real Prometheus (issue 16): three livetree exporters, each a
// simulated host (own sysroot built with the real ostree CLI, own PID namespace, state
// directory and port), plus a fourth host whose `livetree status --textfile` output is
// served by a real prometheus-node-exporter; the stale host and node_exporter share one
// exporter-toolkit web configuration (TLS made by openssl, bcrypt basic auth). Prometheus
// evaluates a copy of the shipped rules with short `for:` durations, and its HTTP API
// must give the right fleet counts and fire ALERTS for exactly the right hosts.
import {spawn} from 'node:child_process';
import {mkdir, readFile, rm, writeFile} from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import bcrypt from 'bcryptjs';
import {track, waitFor} from './helpers/children.js';
import {projectRoot, spawnLivetree} from './helpers/cli.js';
import {Fixtures, type SysrootHandle} from './helpers/fixture.js';
import {freePort, request} from './helpers/http.js';
import {startPrometheus} from './helpers/prometheus.js';
import {recordRestart} from './helpers/restart-history.js';
import {startSimHost, type SimHost} from './helpers/sim-host.js';
import {basic, requestTls, selfSigned} from './helpers/tls.js';

// A sysroot with one deployment of version 1.0 and a host whose workload runs in it.
async function hostOn(fx: Fixtures): Promise<{sysroot: SysrootHandle; host: SimHost}> {
	const sysroot = await fx.initSysroot();
	await sysroot.commit('1.0');
	const deployed = (await sysroot.deploy()).deployments[0]!;
	const host = await startSimHost(deployed.path);
	return {sysroot, host};
}

// 2.0 is deployed and 1.0 removed: the workload still maps 1.0's deleted files.
async function upgrade(sysroot: SysrootHandle): Promise<void> {
	await sysroot.commit('2.0');
	await sysroot.deploy();
	await sysroot.undeploy(1);
	await sysroot.cleanup();
}

test('a real Prometheus over a fleet: recording rules count the right hosts and ALERTS fire for exactly the right ones', async t => {
	const fx = new Fixtures();
	const hosts: SimHost[] = [];
	t.teardown(async () => {
		for (const host of hosts) {
			await host.stop();
		}

		await fx.cleanup();
	});
	const dir = await fx.tempDir('livetree-fleet-');

	// One web configuration for livetree and node_exporter alike.
	const {cert, certPem} = await selfSigned(dir);
	const webConfig = path.join(dir, 'web.yml');
	await writeFile(
		webConfig,
		`tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\nbasic_auth_users:\n  prometheus: ${bcrypt.hashSync('fleet-secret', 10)}\n`,
	);

	const [clean, stale, textHost] = await Promise.all([hostOn(fx), hostOn(fx), hostOn(fx)]);
	hosts.push(clean.host, stale.host, textHost.host);
	await Promise.all([upgrade(stale.sysroot), upgrade(textHost.sysroot)]);
	const state = {clean: path.join(dir, 'clean'), stale: path.join(dir, 'stale'), broken: path.join(dir, 'broken'), text: path.join(dir, 'text')};
	// A --state-dir must exist (a mistyped one is an error, never created).
	await Promise.all(Object.values(state).map(async d => mkdir(d, {recursive: true})));
	// Restart history as `livetree restart` records it: verified on clean, failed on stale.
	recordRestart(state.clean, 'web.service', 'verified');
	recordRestart(state.stale, 'web.service', 'verified');
	recordRestart(state.stale, 'db.service', 'failed');

	const [cleanPort, stalePort, brokenPort, nodePort, deadPort] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
	const common = ['--no-systemd', '--min-interval', '1s'];
	const cleanExporter = track(
		t,
		clean.host.livetree(['exporter', ...common, '--listen', `127.0.0.1:${cleanPort}`, '--sysroot', clean.sysroot.path, '--state-dir', state.clean]),
		'clean exporter',
	);
	const staleExporter = track(
		t,
		stale.host.livetree([
			'exporter',
			...common,
			'--listen',
			`127.0.0.1:${stalePort}`,
			'--sysroot',
			stale.sysroot.path,
			'--state-dir',
			state.stale,
			'--web.config.file',
			webConfig,
		]),
		'stale exporter',
	);
	// Its sysroot vanishes once it has started (the exporter refuses to start on a missing
	// one, a configuration error): every scan fails, while the exporter keeps serving.
	const brokenSysroot = path.join(dir, 'vanishing-sysroot');
	await mkdir(path.join(brokenSysroot, 'ostree'), {recursive: true});
	const brokenExporter = track(
		t,
		spawnLivetree(['exporter', ...common, '--listen', `127.0.0.1:${brokenPort}`, '--sysroot', brokenSysroot, '--state-dir', state.broken]),
		'broken exporter',
	);

	// The textfile route: `livetree status --textfile` on the host, node_exporter serving the directory.
	const textDir = path.join(dir, 'textfile');
	await mkdir(textDir);
	const status = track(
		t,
		textHost.host.livetree([
			'status',
			'--no-systemd',
			'--sysroot',
			textHost.sysroot.path,
			'--state-dir',
			state.text,
			'--textfile',
			path.join(textDir, 'livetree.prom'),
			'--output',
			path.join(dir, 'status.txt'),
		]),
		'livetree status',
	);
	const statusCode = await new Promise<number | null>(resolve => status.child.once('exit', resolve));
	t.is(statusCode, 1, `status says a restart is needed; ${status.output()}`);
	const nodeExporter = track(
		t,
		spawn(
			'prometheus-node-exporter',
			[
				'--collector.disable-defaults',
				'--collector.textfile',
				`--collector.textfile.directory=${textDir}`,
				`--web.listen-address=127.0.0.1:${nodePort}`,
				`--web.config.file=${webConfig}`,
			],
			{stdio: ['ignore', 'pipe', 'pipe']},
		),
		'node_exporter',
	);

	for (const exporter of [cleanExporter, staleExporter, brokenExporter]) {
		await waitFor(exporter.output(), () => /serving https?:\/\/127\.0\.0\.1:\d+\/metrics/.test(exporter.output()));
	}
	await rm(brokenSysroot, {recursive: true, force: true});

	// A first scan each before Prometheus comes: it fills the catalog, the slow part on a
	// loaded machine, so no first scrape times out and reads as an exporter that is down.
	const authorization = basic('prometheus', 'fleet-secret');
	t.is((await request(`http://127.0.0.1:${cleanPort}/metrics`)).status, 200);
	t.is((await requestTls(`https://127.0.0.1:${stalePort}/metrics`, {ca: certPem, authorization})).status, 200);
	t.is((await request(`http://127.0.0.1:${brokenPort}/metrics`)).status, 200);
	t.is((await requestTls(`https://127.0.0.1:${stalePort}/metrics`, {ca: certPem})).status, 401);

	// The rules as shipped, but with every `for:` at 3s so alerts fire within the test.
	const rules = (await readFile(path.join(projectRoot, 'prometheus/livetree.rules.yml'), 'utf8')).replace(/^(\s+)for: \S+$/gm, '$1for: 3s');
	await writeFile(path.join(dir, 'rules.yml'), rules);
	const tls = ['    scheme: https', '    tls_config:', `      ca_file: ${cert}`, '    basic_auth:', '      username: prometheus'];
	const prometheus = await startPrometheus(t, dir, [
		'global:',
		// Long enough for a scrape (TLS, bcrypt, a scan) on a loaded machine: a timeout would
		// read as an exporter that is down, which is Prometheus being right, not livetree.
		'  scrape_interval: 4s',
		'  scrape_timeout: 4s',
		'  evaluation_interval: 1s',
		'rule_files: [rules.yml]',
		'scrape_configs:',
		'  - job_name: livetree',
		'    static_configs:',
		// deadPort: nothing listens there, an exporter that is down.
		`      - targets: ['127.0.0.1:${cleanPort}', '127.0.0.1:${brokenPort}', '127.0.0.1:${deadPort}']`,
		// The TLS exporter is its own scrape pool, relabelled into job "livetree".
		'  - job_name: livetree-tls',
		...tls,
		'      password: fleet-secret',
		'    static_configs:',
		`      - targets: ['127.0.0.1:${stalePort}']`,
		'    relabel_configs:',
		'      - target_label: job',
		'        replacement: livetree',
		'  - job_name: livetree-wrong-password',
		...tls,
		'      password: not-the-secret',
		'    static_configs:',
		`      - targets: ['127.0.0.1:${stalePort}']`,
		'  - job_name: node',
		...tls,
		'      password: fleet-secret',
		'    static_configs:',
		`      - targets: ['127.0.0.1:${nodePort}']`,
	]);
	const {api: base, query} = prometheus;

	const scalar = async (expr: string) => Number((await query(expr))[0]?.value[1]);
	const instance = (port: number) => `127.0.0.1:${port}`;
	const firing = async () =>
		(await query('ALERTS{alertstate="firing"}')).map(s => `${s.metric.alertname} ${s.metric.instance}${s.metric.unit ? ` ${s.metric.unit}` : ''}`).sort();
	const expected = [
		`LivetreeExporterDown ${instance(deadPort)}`,
		`LivetreeRestartFailed ${instance(stalePort)} db.service`,
		`LivetreeScanFailing ${instance(brokenPort)}`,
		`LivetreeStaleCode ${instance(nodePort)}`,
		`LivetreeStaleCode ${instance(stalePort)}`,
	].sort();
	// Until exactly these fire and nothing else is even pending (the state it must settle in;
	// a scrape slowed by load may pass through others on the way), then checked.
	const pending = async () => (await query('ALERTS')).map(s => s.metric.alertname).sort();
	const settled = async () =>
		JSON.stringify(await firing()) === JSON.stringify(expected) &&
		JSON.stringify(await pending()) === JSON.stringify(expected.map(e => e.split(' ')[0]).sort());
	await waitFor(`ALERTS ${JSON.stringify(expected)}; ${prometheus.output()}`, settled, 120).catch(() => undefined);

	t.deepEqual(await firing(), expected, prometheus.output());
	t.deepEqual(await pending(), expected.map(e => e.split(' ')[0]).sort(), 'nothing else even pending');

	// Recording rules: three hosts report livetree metrics (the broken one never scanned),
	// two run stale code, one stale process each; one host's scan failed; none needs a reboot.
	t.is(await scalar('livetree:hosts:count'), 3);
	t.is(await scalar('livetree:hosts_with_stale_processes:count'), 2);
	t.is(await scalar('livetree:processes_needing_restart:sum'), 2);
	t.is(await scalar('livetree:hosts_scan_failed_or_old:count'), 1);
	t.is(await scalar('livetree:hosts_reboot_required:count'), 0);
	const ages = await query('instance:livetree_scan_age_seconds');
	t.deepEqual(ages.map(s => s.metric.instance).sort(), [instance(cleanPort), instance(stalePort), instance(nodePort)].sort());
	t.true(
		ages.every(s => Number(s.value[1]) < 120),
		JSON.stringify(ages),
	);

	// Each route reached Prometheus: the textfile through node_exporter over TLS and auth.
	t.is(await scalar(`livetree_processes_needing_restart{job="node",instance="${instance(nodePort)}"}`), 1);
	t.is(await scalar(`node_textfile_scrape_error{instance="${instance(nodePort)}"}`), 0);
	t.is(await scalar(`livetree_processes_needing_restart{job="livetree",instance="${instance(cleanPort)}"}`), 0);
	t.is(await scalar(`livetree_up{instance="${instance(brokenPort)}"}`), 0);
	t.true((await scalar(`livetree_scan_errors_total{instance="${instance(brokenPort)}"}`)) >= 1);
	t.is(await scalar(`livetree_unit_last_restart_verdict{instance="${instance(cleanPort)}",unit="web.service",verdict="verified"}`), 1);

	// The wrong password is refused with 401: its target is down, the right one up. (On a
	// loaded machine a scrape may time out before the answer: the next scrape's error counts.)
	type Targets = {data: {activeTargets: Array<{scrapePool: string; health: string; lastError: string}>}};
	let byPool = new Map<string, Targets['data']['activeTargets'][number]>();
	const readTargets = async () => {
		const targets = JSON.parse((await request(`${base}/targets?state=active`)).body) as Targets;
		byPool = new Map(targets.data.activeTargets.map(target => [target.scrapePool, target]));
		return /401 Unauthorized/.test(byPool.get('livetree-wrong-password')?.lastError ?? '');
	};
	await waitFor(`a 401 for the wrong password; ${prometheus.output()}`, readTargets, 120).catch(() => undefined);
	t.is(byPool.get('livetree-wrong-password')?.health, 'down');
	t.regex(byPool.get('livetree-wrong-password')?.lastError ?? '', /401 Unauthorized/);
	t.is(byPool.get('livetree-tls')?.health, 'up');
	t.is(byPool.get('node')?.health, 'up');

	// Annotations name the host and what to run there.
	const alerts = JSON.parse((await request(`${base}/alerts`)).body) as {
		data: {alerts: Array<{labels: Record<string, string>; annotations: Record<string, string>}>};
	};
	const staleAlert = alerts.data.alerts.find(a => a.labels.alertname === 'LivetreeStaleCode' && a.labels.instance === instance(stalePort));
	t.regex(staleAlert?.annotations.summary ?? '', new RegExp(`^127\\.0\\.0\\.1:${stalePort}: 1 processes have run stale code`));
	t.regex(staleAlert?.annotations.description ?? '', /livetree restart --needed --dry-run/);
	t.regex(staleAlert?.annotations.description ?? '', /\(none: processes outside systemd units\)/);
	const failedAlert = alerts.data.alerts.find(a => a.labels.alertname === 'LivetreeRestartFailed');
	t.regex(failedAlert?.annotations.description ?? '', /systemctl status db\.service/);
	t.is(failedAlert?.labels.severity, 'critical');

	// The simulated hosts really were apart: the clean exporter saw its own workload only.
	const cleanMetrics = await request(`http://${instance(cleanPort)}/metrics`);
	t.regex(cleanMetrics.body, /^livetree_processes\{state="current"\} 1$/m, cleanExporter.output());
	t.log(`firing: ${(await firing()).join('; ')}; ${nodeExporter.output().split('\n').length} lines of node_exporter log`);
});
