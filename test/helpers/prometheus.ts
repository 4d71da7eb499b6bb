// A real Prometheus (/usr/bin/prometheus) for the fleet tests: its prometheus.yml and storage
// in the test's directory, its web API on a free loopback port, ended at teardown by its own
// PID (children.ts). The query side is prometheus-query.ts.
import {spawn} from 'node:child_process';
import {writeFile} from 'node:fs/promises';
import path from 'node:path';
import {track} from './children.js';
import {freePort} from './http.js';
import {promQuery, type PromSample} from './prometheus-query.js';

export interface Prometheus {
	/** The HTTP API's base: http://127.0.0.1:PORT/api/v1. */
	api: string;
	query(expr: string): Promise<PromSample[]>;
	/** Its log so far, for failure messages. */
	output(): string;
}

// config: the lines of prometheus.yml; a relative path in it (rule_files) is relative to dir.
export async function startPrometheus(t: {teardown(fn: () => Promise<void>): void}, dir: string, config: string[]): Promise<Prometheus> {
	const port = await freePort();
	const file = path.join(dir, 'prometheus.yml');
	await writeFile(file, [...config, ''].join('\n'));
	const server = track(
		t,
		spawn('/usr/bin/prometheus', [`--config.file=${file}`, `--storage.tsdb.path=${path.join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`], {
			stdio: ['ignore', 'ignore', 'pipe'],
		}),
		'prometheus',
	);
	const api = `http://127.0.0.1:${port}/api/v1`;
	return {api, query: async expr => promQuery(api, expr), output: server.output};
}
