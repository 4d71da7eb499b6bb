// The fleet dashboard: a Grafana dashboard over the series `livetree exporter` and
// `livetree status --textfile` give (docs/fleet.md), built with the Grafana Foundation SDK
// so that it is typed code. `npm run dashboard` writes it to grafana/livetree.json, the file
// shipped in the package; test/fleet-dashboard.test.ts checks that file is what this code
// builds and runs every panel's query against a real Prometheus.
//
// Build-time only: nothing in the CLI imports this module (the SDK is a devDependency).
import * as common from '@grafana/grafana-foundation-sdk/common';
import * as dash from '@grafana/grafana-foundation-sdk/dashboard';
import * as prom from '@grafana/grafana-foundation-sdk/prometheus';
import * as stat from '@grafana/grafana-foundation-sdk/stat';
import * as table from '@grafana/grafana-foundation-sdk/table';
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';

// The host variable: one or more `instance` labels, or all of them.
export const HOST_VARIABLE = 'host';
// Where docs/fleet.md is read; a hidden constant, so a site sets it once (see docs/fleet.md).
export const DOCS_VARIABLE = 'livetree_docs';
// Where `npm install -g livetree` puts the documentation.
export const DEFAULT_DOCS = 'file:///usr/lib/node_modules/livetree/docs';

// Grafana's own ${…} variable syntax, not a JavaScript placeholder.
const datasource = {type: 'prometheus', uid: `\${datasource}`};
// Every series of a panel is narrowed to the chosen hosts.
const host = `instance=~"$${HOST_VARIABLE}"`;
const docs = (anchor: string) => `\${${DOCS_VARIABLE}}/fleet.md${anchor}`;

function query(expr: string, legend = '{{instance}}'): prom.DataqueryBuilder {
	return new prom.DataqueryBuilder().expr(expr).legendFormat(legend).range();
}

// Tables show the labels of the series as they are now.
function instantTable(expr: string): prom.DataqueryBuilder {
	return new prom.DataqueryBuilder().expr(expr).instant().format(prom.PromQueryFormat.Table);
}

function link(title: string, anchor: string): dash.DashboardLinkBuilder {
	return new dash.DashboardLinkBuilder(title).type(dash.DashboardLinkType.Link).url(docs(anchor)).targetBlank(true);
}

function series(title: string, description: string, targets: prom.DataqueryBuilder[], width = 12): timeseries.PanelBuilder {
	const panel = new timeseries.PanelBuilder()
		.title(title)
		.description(description)
		.datasource(datasource)
		.min(0)
		.decimals(0)
		.height(8)
		.span(width)
		.fillOpacity(10)
		.links([link('docs/fleet.md', '#the-rules')]);
	for (const target of targets) {
		panel.withTarget(target);
	}

	return panel;
}

function tableOf(title: string, description: string, expr: string, hide: string[], width = 12): table.PanelBuilder {
	return new table.PanelBuilder()
		.title(title)
		.description(description)
		.datasource(datasource)
		.height(8)
		.span(width)
		.withTarget(instantTable(expr))
		.withTransformation({id: 'organize', options: {excludeByName: Object.fromEntries(['Time', 'Value', '__name__', ...hide].map(k => [k, true]))}})
		.links([link('docs/fleet.md', '#metrics-the-rules-use')]);
}

function single(title: string, description: string, expr: string, width = 6): stat.PanelBuilder {
	return new stat.PanelBuilder()
		.title(title)
		.description(description)
		.datasource(datasource)
		.height(4)
		.span(width)
		.decimals(0)
		.colorMode(common.BigValueColorMode.Value)
		.thresholds(
			new dash.ThresholdsConfigBuilder().mode(dash.ThresholdsMode.Absolute).steps([
				{value: null, color: 'green'},
				{value: 1, color: 'orange'},
			]),
		)
		.withTarget(query(expr, ''));
}

export function livetreeDashboard(): dash.Dashboard {
	const hostVariable = new dash.QueryVariableBuilder(HOST_VARIABLE)
		.label('Host')
		.description('Hosts reporting livetree metrics (their instance label), by either route: exporter or textfile.')
		.datasource(datasource)
		.query('label_values(livetree_processes_needing_restart, instance)')
		.definition('label_values(livetree_processes_needing_restart, instance)')
		.refresh(dash.VariableRefresh.OnTimeRangeChanged)
		.sort(dash.VariableSort.AlphabeticalAsc)
		.multi(true)
		.includeAll(true)
		.allValue('.*')
		.current({text: 'All', value: '$__all'});

	return new dash.DashboardBuilder('livetree fleet')
		.uid('livetree-fleet')
		.description(
			'What runs on each host against what is installed: restarts needed, package versions in memory, outdated containers, reboots pending, and whether the scans behind it all work. See docs/fleet.md.',
		)
		.tags(['livetree'])
		.editable()
		.refresh('1m')
		.time({from: 'now-7d', to: 'now'})
		.timezone('browser')
		.tooltip(dash.DashboardCursorSync.Crosshair)
		.withVariable(new dash.DatasourceVariableBuilder('datasource').label('Prometheus').type('prometheus'))
		.withVariable(hostVariable)
		.withVariable(
			new dash.ConstantVariableBuilder(DOCS_VARIABLE)
				.description("Where livetree's docs/ directory is read (a URL); set it to where your site serves them.")
				.value(DEFAULT_DOCS),
		)
		.links([link('livetree fleet docs', ''), link('Alerts: what to run', '#alerts-what-each-means-and-what-to-run'), link('Metrics', '#metrics-the-rules-use')])

		.withRow(new dash.RowBuilder('Restarts needed'))
		.withPanel(
			single(
				'Hosts needing a restart',
				'Hosts with at least one process that maps stale code (deleted or superseded on disk). On such a host run `livetree status`, then `livetree restart --needed --dry-run`.',
				`count(livetree_processes_needing_restart{${host}} > 0) or vector(0)`,
			),
		)
		.withPanel(
			single(
				'Units needing a restart',
				'systemd units, summed over the chosen hosts, that hold a process mapping stale code.',
				`sum(livetree_units_needing_restart{${host}})`,
			),
		)
		.withPanel(
			single(
				'Hosts pending a reboot',
				'Hosts that run a kernel (or other code) only a reboot replaces: `livetree status` says why.',
				`count(livetree_reboot_required{${host}} == 1) or vector(0)`,
			),
		)
		.withPanel(
			single(
				'Hosts whose scans fail or are old',
				'Hosts whose last exporter scan failed, or whose last good scan is older than two periods of livetree-scan.timer (7200 s): their other numbers are old.',
				`count(count by (instance) (livetree_up{${host}} == 0 or (time() - livetree_last_scan_timestamp_seconds{${host}}) > 7200)) or vector(0)`,
			),
		)
		.withPanel(
			series(
				'Processes needing a restart, by host',
				'Processes that map stale code, per host, over time: a drop is a restart (or a reboot) that replaced them.',
				[query(`livetree_processes_needing_restart{${host}}`)],
			),
		)
		.withPanel(
			series('Units needing a restart, by host', 'systemd units holding a process that maps stale code, per host, over time.', [
				query(`livetree_units_needing_restart{${host}}`),
			]),
		)
		.withPanel(
			tableOf(
				'Which units need a restart',
				'Each unit that needs a restart now, on which host. Run `livetree restart UNIT` there (or `livetree restart --needed --dry-run` first).',
				`livetree_unit_needs_restart{${host}} == 1`,
				['job'],
			),
		)
		.withPanel(
			tableOf(
				'Last livetree restart of each unit',
				"The verdict of each unit's newest finished `livetree restart` (verified, still-stale, failed), from the catalog's history: `livetree history` on the host has the rest.",
				`livetree_unit_last_restart_verdict{${host}} == 1`,
				['job'],
			),
		)

		.withRow(new dash.RowBuilder('Running vs installed'))
		.withPanel(
			tableOf(
				'Running vs installed package versions',
				'Packages with a version in memory other than the installed one: running is what processes map, installed what the package database has now (empty: no longer installed). `livetree packages` on the host names the processes.',
				`livetree_package_version_mismatch{${host}}`,
				['job'],
				16,
			),
		)
		.withPanel(
			series(
				'Packages running another version than installed, by host',
				'How many packages have a version in memory other than the installed one, per host, over time.',
				[query(`livetree_packages_version_mismatched{${host}}`)],
				8,
			),
		)
		.withPanel(
			tableOf(
				'Containers on an image their name no longer points to',
				'Containers created from an image name (a tag) that now points to another image: they still run the old one. Restarting keeps the old image; create the container again from the name (restart its Quadlet unit). docs/containers.md.',
				`livetree_container_image_outdated{${host}} == 1`,
				['job'],
				16,
			),
		)
		.withPanel(
			series(
				'Outdated containers, by host',
				'Containers whose image name now points to another image, per host, over time.',
				[query(`livetree_containers_image_outdated{${host}}`)],
				8,
			),
		)
		.withPanel(
			series('Reboot pending, by host', '1 while only a reboot brings the host to its installed kernel (livetree_reboot_reason says why); 0 otherwise.', [
				query(`livetree_reboot_required{${host}}`),
			]),
		)
		.withPanel(
			series(
				'Hosts pending a reboot, by reason',
				'How many of the chosen hosts each reason applies to (newer-kernel, kernel-rebuilt, pending-deployment, staged-deployment, modules-missing, livepatch-transition), over time.',
				[query(`sum by (code) (livetree_reboot_reason{${host}})`, '{{code}}')],
			),
		)

		.withRow(new dash.RowBuilder('Scans'))
		.withPanel(
			series(
				'Scan failures',
				'Exporter scans that failed (1 − livetree_up: 1 while the last scan failed) and failed scans per interval (livetree_scan_errors_total). `journalctl -u livetree-exporter` on the host says why.',
				[
					query(`1 - livetree_up{${host}}`, '{{instance}} last scan failed'),
					query(`increase(livetree_scan_errors_total{${host}}[$__rate_interval])`, '{{instance}} failed scans').refId('B'),
				],
				8,
			),
		)
		.withPanel(
			series(
				'Incomplete scans',
				'1 while a host\'s scans cannot read every process (run as an ordinary user, a hardened /proc): what those processes run is unknown, so "no restart needed" is no all-clear there. `livetree status` as root names them.',
				[query(`1 - livetree_scan_complete{${host}}`)],
				8,
			),
		)
		.withPanel(
			series(
				'Age of the last good scan',
				"Seconds since each host's last successful scan. Over 7200 s (two periods of the hourly livetree-scan.timer) the textfile is no longer rewritten: `systemctl status livetree-scan.timer`.",
				[query(`time() - livetree_last_scan_timestamp_seconds{${host}}`)],
				8,
			).unit('s'),
		)
		.build();
}
