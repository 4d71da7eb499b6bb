// Prometheus metrics for one status document. Pure and synchronous: the status
// command writes it as a textfile, the exporter serves it.
//
// Naming follows Prometheus practice: a livetree_ prefix, base units (seconds),
// _total only on counters, _info for metadata carried in labels with value 1.
// Labels are bounded: per state, deployment, unit or warning code, never per PID
// or per file, so a host with many processes does not explode the series count.
import {complete} from '../model/complete.js';
import type {ProcessState, StatusDocument} from '../model/document.js';
import {comparedOf, installedOf} from '../model/installed.js';
import {buildPackages} from '../model/packages.js';
import {processUnits, unitsNeedingRestartCount} from '../model/process-units.js';
import {formatExposition, type Family} from './exposition.js';
import {containerFamilies} from './prometheus-containers.js';
import {restartFamilies, unitProcessFamilies, type RestartRecordFacts} from './prometheus-fleet.js';
import {configFamilies} from './prometheus-config.js';
import {kernelFamilies} from './prometheus-kernel.js';
import {packageFamilies} from './packages-prometheus.js';

export interface ExporterFacts {
	// Scans that failed since the exporter started (a counter, exporter only).
	scanErrorsTotal?: number;
	// Scans attempted since the exporter started (a counter, exporter only).
	scansTotal?: number;
	// Times the exporter's scanner loaded what it knows (sysroot, repo index, catalog),
	// wholly or in part; it stays put while nothing it was read from changed (exporter only).
	knowledgeLoadsTotal?: number;
	// Whether the last scan succeeded; the metrics are then fresh (exporter only).
	up?: boolean;
	// The catalog's restart history (status and exporter alike); absent when unreadable.
	restarts?: readonly RestartRecordFacts[];
}

const states: readonly ProcessState[] = ['current', 'overlay', 'stale', 'foreign', 'unknown'];

export function renderPrometheus(doc: StatusDocument, extra: ExporterFacts = {}): string {
	return formatExposition([
		...documentFamilies(doc),
		...kernelFamilies(doc.kernel),
		...configFamilies(doc),
		...packageMetrics(doc),
		...unitProcessFamilies(doc),
		...containerFamilies(doc),
		...restartFamilies(extra.restarts),
		...exporterFamilies(extra),
	]);
}

// Package version mismatches, when the scan that built the document read package databases.
function packageMetrics(doc: StatusDocument): Family[] {
	const installed = installedOf(doc);
	return installed ? packageFamilies(buildPackages({doc, installed, compared: comparedOf(doc)})) : [];
}

// The exporter's own metrics, for when it has no document yet (every scan so far failed).
export function renderExporterOnly(extra: ExporterFacts): string {
	return formatExposition(exporterFamilies(extra));
}

function gauge(name: string, help: string, value: number): Family {
	return {name, help, type: 'gauge', samples: [{value}]};
}

function documentFamilies(doc: StatusDocument): Family[] {
	const byState = new Map<string, number>(states.map(state => [state, 0]));
	for (const process of doc.processes) {
		byState.set(process.state, (byState.get(process.state) ?? 0) + 1);
	}

	const warningsByCode = new Map<string, number>();
	for (const warning of doc.warnings) {
		warningsByCode.set(warning.code, (warningsByCode.get(warning.code) ?? 0) + 1);
	}

	const families: Family[] = [
		{
			name: 'livetree_processes',
			help: 'User-space processes scanned, by state (current, overlay, stale, foreign, unknown); kernel threads are not counted.',
			type: 'gauge',
			samples: [...byState].map(([state, value]) => ({labels: {state}, value})),
		},
		gauge(
			'livetree_scan_complete',
			'Whether the last scan read every process (1) or some could not be read (0): with 0, no process needing a restart is no all-clear (livetree status exits 3).',
			complete(doc) ? 1 : 0,
		),
		gauge(
			'livetree_kernel_threads',
			"Kernel threads seen and left out of every other count: they run the kernel's code and map no files.",
			doc.summary.kernelThreads ?? 0,
		),
		gauge('livetree_processes_needing_restart', 'Processes that map stale code and need a restart.', doc.summary.processesNeedingRestart),
		gauge(
			'livetree_units_needing_restart',
			"systemd units holding a process that needs a restart; without systemd's answer (--no-systemd, no bus), the units the stale processes' cgroups name (summary.unitsNeedingRestart counts systemd's only).",
			unitsNeedingRestartCount(doc),
		),
		{
			name: 'livetree_unit_needs_restart',
			help: "Whether a systemd unit holding scanned processes needs a restart (1) or not (0); without systemd's answer, the units the processes' cgroups name.",
			type: 'gauge',
			samples: processUnits(doc).map(u => ({labels: {unit: u.name}, value: u.needsRestart ? 1 : 0})),
		},
		gauge(
			'livetree_stale_files',
			'Distinct mapped files (by device and inode) that make at least one process stale: deleted, superseded, gone with a removed deployment, or from another commit.',
			doc.summary.staleFiles,
		),
		gauge('livetree_overlay_files', 'Distinct files served by the upper layer of a dynamic overlay.', doc.summary.overlayFiles),
		gauge(
			'livetree_untracked_files',
			'Distinct mapped files (by device and inode) that no deployment, overlay or catalog entry explains.',
			doc.summary.untrackedFiles,
		),
		{
			name: 'livetree_deployment_processes',
			help: 'Processes whose root directory is this deployment.',
			type: 'gauge',
			samples: doc.deployments.map(d => ({labels: {deployment: d.id, osname: d.osname}, value: d.processCount})),
		},
		{
			name: 'livetree_deployment_info',
			help: 'Deployments of the sysroot; the value is always 1 and the facts are labels.',
			type: 'gauge',
			samples: doc.deployments.map(d => ({
				labels: {
					deployment: d.id,
					osname: d.osname,
					checksum: d.checksum,
					version: d.version ?? '',
					booted: String(d.booted),
					pinned: String(d.pinned),
					staged: String(d.staged),
					unlocked: d.unlocked,
				},
				value: 1,
			})),
		},
		gauge('livetree_overlays', 'Dynamic overlays (overlayfs over a deployment tree) seen in any scanned mount namespace.', doc.overlays.length),
		{
			name: 'livetree_scan_warnings',
			help: 'Warnings of the last scan, by code.',
			type: 'gauge',
			samples: [...warningsByCode].map(([code, value]) => ({labels: {code}, value})),
		},
	];

	if (doc.scanDurationSeconds !== undefined) {
		families.push(gauge('livetree_scan_duration_seconds', 'How long the last scan took.', doc.scanDurationSeconds));
	}

	const generatedAt = Date.parse(doc.generatedAt);
	if (Number.isFinite(generatedAt)) {
		families.push(gauge('livetree_last_scan_timestamp_seconds', 'When the last successful scan ran, in seconds since the Unix epoch.', generatedAt / 1000));
	}

	return families;
}

function exporterFamilies(extra: ExporterFacts): Family[] {
	const families: Family[] = [];
	if (extra.up !== undefined) {
		families.push(
			gauge('livetree_up', 'Whether the last scan succeeded (1) or failed (0); on failure the other metrics are from the last good scan.', extra.up ? 1 : 0),
		);
	}

	if (extra.scansTotal !== undefined) {
		families.push({name: 'livetree_scans_total', help: 'Scans attempted since the exporter started.', type: 'counter', samples: [{value: extra.scansTotal}]});
	}

	if (extra.knowledgeLoadsTotal !== undefined) {
		families.push({
			name: 'livetree_knowledge_loads_total',
			help: 'Times the scanner loaded the sysroot, repo index and catalog, wholly or in part, since the exporter started; a scrape that changes nothing on disk loads nothing.',
			type: 'counter',
			samples: [{value: extra.knowledgeLoadsTotal}],
		});
	}

	if (extra.scanErrorsTotal !== undefined) {
		families.push({
			name: 'livetree_scan_errors_total',
			help: 'Scans that failed since the exporter started.',
			type: 'counter',
			samples: [{value: extra.scanErrorsTotal}],
		});
	}

	return families;
}
