// `npm run dashboard`: writes the fleet dashboard (src/dashboard/livetree.ts) to
// grafana/livetree.json, the file shipped in the package and imported into Grafana.
// test/fleet-dashboard.test.ts fails while the file differs from what the code builds.
import {writeFile} from 'node:fs/promises';
import {fileURLToPath} from 'node:url';
import {livetreeDashboard} from './livetree.js';

export const DASHBOARD_FILE = 'grafana/livetree.json';

export function dashboardJson(): string {
	return `${JSON.stringify(livetreeDashboard(), null, 2)}\n`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
	const root = fileURLToPath(new URL('../../../', import.meta.url));
	await writeFile(`${root}${DASHBOARD_FILE}`, dashboardJson());
	process.stdout.write(`wrote ${DASHBOARD_FILE}\n`);
}
