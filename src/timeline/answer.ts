// The document `livetree timeline --json` prints (schema/timeline.schema.json), as types: the
// core writes it as JSON text (native/core/src/catalog/timeline_document.rs, the one
// definition), times as UTC ISO strings; the text report parses that text.

export interface TimelineInterval {
	pid: number;
	startedAt: string | null;
	comm: string;
	unit: string | null;
	container: string | null;
	process: {
		firstSeen: string;
		lastSeen: string | null;
		endedAt: string | null;
		endReason: string | null;
		restart: {id: number; verdict: string | null} | null;
	};
	/** source, sourceVersion: a package's source package, when recorded (absent in documents of older livetrees). */
	origin: {kind: string; key: string; label: string | null; source?: string | null; sourceVersion?: string | null};
	firstSeen: string;
	lastSeen: string | null;
	endedAt: string | null;
}

export interface TimelineDocument {
	schemaVersion: 1;
	query: {
		since: string | null;
		until: string | null;
		at: string | null;
		unit: string | null;
		package: string | null;
		packageVersion: string | null;
		commit: string | null;
		container: string | null;
	};
	coverage: {
		firstScan: string | null;
		latestScan: string | null;
		scans: number;
		scanBefore: string | null;
		scanAfter: string | null;
		gaps: Array<{from: string | null; to: string | null}>;
		clockBack: string[];
		/** With --package NAME when no interval found came through a binary name: the package versions in the range recorded without their source package. */
		unsourcedPackageVersions?: number | null;
	};
	intervals: TimelineInterval[];
}
