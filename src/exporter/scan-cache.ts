// Scans on demand, at most once per interval, never two at once: every scrape
// that arrives while a scan runs waits for that same scan, and scrapes within
// the interval get the metrics of the last one. Scanning all of /proc is the
// expensive part, so a busy or misconfigured Prometheus cannot multiply it.
import {performance} from 'node:perf_hooks';
import type {StatusDocument} from '../model/document.js';
import type {RestartRecordFacts} from '../render/prometheus-fleet.js';
import {renderExporterOnly, renderPrometheus, type ExporterFacts} from '../render/prometheus.js';

export interface ScanCacheOptions {
	collect: () => Promise<StatusDocument>;
	// Read after each good scan, so restart verdicts reach the metrics (see prometheus-fleet.ts).
	restartHistory?: () => RestartRecordFacts[] | undefined;
	// Knowledge loads of the scanner so far, read after every scan (good or failed).
	knowledgeLoads?: () => number;
	minIntervalSeconds: number;
	// Monotonic milliseconds; injectable so the interval logic can be tested without sleeping.
	now?: () => number;
	log?: (message: string) => void;
}

export class ScanCache {
	private readonly now: () => number;
	private lastStart: number | undefined;
	private inFlight: Promise<void> | undefined;
	private lastGood: StatusDocument | undefined;
	private text = '';
	private readonly facts: ExporterFacts & Required<Pick<ExporterFacts, 'scansTotal' | 'scanErrorsTotal' | 'up'>> = {
		scansTotal: 0,
		scanErrorsTotal: 0,
		up: false,
	};

	constructor(private readonly options: ScanCacheOptions) {
		this.now = options.now ?? (() => performance.now());
	}

	// The exposition text to serve, scanning first if the last scan is older than the interval.
	async metrics(): Promise<string> {
		if (this.inFlight) {
			await this.inFlight;
		} else if (this.isDue()) {
			await this.scan();
		}

		return this.text;
	}

	// Resolves once no scan is running (used when shutting down).
	async settled(): Promise<void> {
		await this.inFlight;
	}

	private isDue(): boolean {
		return this.lastStart === undefined || this.now() - this.lastStart >= this.options.minIntervalSeconds * 1000;
	}

	// The interval counts from the start of a scan, failed ones included, so a
	// failing scan is not retried on every scrape either.
	private scan(): Promise<void> {
		this.lastStart = this.now();
		this.facts.scansTotal += 1;
		this.inFlight = Promise.resolve()
			.then(async () => this.options.collect())
			.then(
				doc => {
					this.lastGood = doc;
					this.facts.up = true;
					this.facts.restarts = this.options.restartHistory?.();
				},
				(error: unknown) => {
					this.facts.scanErrorsTotal += 1;
					this.facts.up = false;
					this.options.log?.(`scan failed: ${error instanceof Error ? error.message : String(error)}`);
				},
			)
			.finally(() => {
				if (this.options.knowledgeLoads) {
					this.facts.knowledgeLoadsTotal = this.options.knowledgeLoads();
				}

				// Rendered once per scan, not per scrape: counters only change here.
				this.text = this.lastGood ? renderPrometheus(this.lastGood, this.facts) : renderExporterOnly(this.facts);
				this.inFlight = undefined;
			});
		return this.inFlight;
	}
}
