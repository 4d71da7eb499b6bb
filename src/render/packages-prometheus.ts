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

export function renderPackagesPrometheus(doc: PackagesDocument): string {
	return formatExposition(packageFamilies(doc));
}
