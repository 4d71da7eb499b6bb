// `livetree timeline --json` for tests: its document, checked against schema/timeline.schema.json;
// and the validators of the timeline's and diff's schemas.
import {readFileSync} from 'node:fs';
import {join} from 'node:path';
import type {ExecutionContext} from 'ava';
import Ajv2020 from 'ajv/dist/2020.js';
import type {TimelineDocument} from '../../src/timeline/answer.js';
import {livetree, projectRoot} from './cli.js';

const ajv = new Ajv2020.default({allErrors: true, strict: false});
const schema = (name: string) => ajv.compile(JSON.parse(readFileSync(join(projectRoot, `schema/${name}.schema.json`), 'utf8')) as object);
export const validateTimeline = schema('timeline');
export const validateDiff = schema('diff');

/** `livetree timeline --state-dir STATE --json ARGS…`; throws on an exit other than 0 or a document the schema refuses. */
export async function timeline(state: string, args: string[]): Promise<TimelineDocument> {
	const r = await livetree(['timeline', '--state-dir', state, '--json', ...args]);
	if (r.code !== 0) throw new Error(`timeline ${args.join(' ')}: exit ${r.code}: ${r.stderr}`);
	const doc = JSON.parse(r.stdout) as TimelineDocument;
	if (!validateTimeline(doc)) throw new Error(JSON.stringify(validateTimeline.errors));
	return doc;
}

/** The same for a test that asserts on it: exit 0 and the schema's verdict are assertions of `t`. */
export async function assertedTimeline(t: ExecutionContext, state: string, args: string[]): Promise<TimelineDocument> {
	const r = await livetree(['timeline', '--state-dir', state, '--json', ...args]);
	t.is(r.code, 0, r.stderr);
	const doc = JSON.parse(r.stdout) as TimelineDocument;
	t.true(validateTimeline(doc), JSON.stringify(validateTimeline.errors));
	return doc;
}
