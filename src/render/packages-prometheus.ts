// Prometheus metrics of the packages report. Bounded: one series per package whose
// running version differs from the installed one (never per process or file), plus counts.
import type {PackagesDocument} from '../model/packages.js';
import {formatExposition, type Family} from './exposition.js';

export function packageFamilies(doc: PackagesDocument): Family[] {
	// One series per (package, running, installed): the same mismatch in deployments and in
	// many containers (each container's processes are a running version of their own) is
	// one series, never a duplicate one.
	const seen = new Set<string>();
	const mismatches = doc.packages.flatMap(p =>
		p.running
			.filter(v => v.mismatch)
			.map(v => ({
				labels: {
					package: p.name,
					running: v.version,
					installed: v.installedVersions.join(','),
				},
				value: 1,
			}))
			.filter(s => {
				const key = JSON.stringify(s.labels);
				return !seen.has(key) && Boolean(seen.add(key));
			}),
	);
	return [
		{
			name: 'livetree_package_version_mismatch',
			help: 'A package version in memory other than the installed one (installed is empty when the package is no longer installed); only mismatches have a series.',
			type: 'gauge',
			samples: mismatches,
		},
		{
			name: 'livetree_packages_version_mismatched',
			help: 'Packages with a version in memory other than the installed one.',
			type: 'gauge',
			samples: [{value: doc.summary.mismatched}],
		},
		{
			name: 'livetree_packages_in_memory',
			help: 'Packages with files mapped by some process.',
			type: 'gauge',
			samples: [{value: doc.summary.packages}],
		},
	];
}

// `livetree packages --format prometheus` and `--textfile` alone: the counts above come from
// the processes that could be read, so the metrics say too whether that was all of them (as
// status's livetree_scan_complete does; another name, so that both textfiles can sit in one
// node_exporter directory without a duplicate series).
export function renderPackagesPrometheus(doc: PackagesDocument): string {
	return formatExposition([
		...packageFamilies(doc),
		{
			name: 'livetree_packages_scan_complete',
			help: 'Whether every process was read (1) or some could not be (0): then packages they run are not counted, and no mismatch is no all-clear.',
			type: 'gauge',
			samples: [{value: doc.summary.complete ? 1 : 0}],
		},
		{
			name: 'livetree_packages_processes_unreadable',
			help: 'Processes whose memory map could not be read: what packages they run is not counted.',
			type: 'gauge',
			samples: [{value: doc.summary.processesUnreadable}],
		},
	]);
}
