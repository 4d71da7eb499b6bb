// `livetree timeline --json` for tests: its document, checked against schema/timeline.schema.json.
import {readFileSync} from 'node:fs';
import {join} from 'node:path';
import Ajv2020 from 'ajv/dist/2020.js';
import type {TimelineDocument} from '../../src/timeline/answer.js';
import {livetree, projectRoot} from './cli.js';

const ajv = new Ajv2020.default({allErrors: true, strict: false});
const validate = ajv.compile(JSON.parse(readFileSync(join(projectRoot, 'schema/timeline.schema.json'), 'utf8')) as object);

/** `livetree timeline --state-dir STATE --json ARGS…`; throws on an exit other than 0 or a document the schema refuses. */
export async function timeline(state: string, args: string[]): Promise<TimelineDocument> {
	const r = await livetree(['timeline', '--state-dir', state, '--json', ...args]);
	if (r.code !== 0) throw new Error(`timeline ${args.join(' ')}: exit ${r.code}: ${r.stderr}`);
	const doc = JSON.parse(r.stdout) as TimelineDocument;
	if (!validate(doc)) throw new Error(JSON.stringify(validate.errors));
	return doc;
}
