// An instant query against a real Prometheus's HTTP API, for the fleet tests. Before the
// server is ready it answers "Service Unavailable" (no JSON), and a failed query has no
// samples: both are "no samples yet", which the callers wait out.
import {request} from './http.js';

export interface PromSample {
	metric: Record<string, string>;
	value: [number, string];
}

export async function promQuery(api: string, expr: string): Promise<PromSample[]> {
	const reply = await request(`${api}/query?query=${encodeURIComponent(expr)}`).catch(() => undefined);
	let body: {status?: string; data?: {result: PromSample[]}};
	try {
		body = JSON.parse(reply?.body ?? '{}') as typeof body;
	} catch {
		return [];
	}

	return body.status === 'success' ? (body.data?.result ?? []) : [];
}
