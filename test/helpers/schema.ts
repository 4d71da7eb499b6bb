// Validate a status document against the copy of the contract livetree ships
// (schema/status.schema.json, always here), and against the shared contract itself
// (../shared/contract, or LIVETREE_SHARED) when that is beside the checkout: a fresh clone
// has only the first, and says once on stderr that the second was left out.
import {existsSync, readFileSync} from 'node:fs';
import {fileURLToPath} from 'node:url';
import Ajv2020 from 'ajv/dist/2020.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));

function load(path: string): object {
	return JSON.parse(readFileSync(path, 'utf8')) as object;
}

// LIVETREE_SHARED names ../shared for a checkout elsewhere; a git worktree (wt/NAME) sits one
// level deeper than the main checkout.
const sharedDir = process.env.LIVETREE_SHARED ?? [`${root}../shared`, `${root}../../shared`].find(d => existsSync(`${d}/contract/status.schema.json`));

export const schemaPaths: {shipped: string; shared: string | undefined} = {
	shipped: `${root}schema/status.schema.json`,
	shared: sharedDir === undefined ? undefined : `${sharedDir}/contract/status.schema.json`,
};

/** Why the shared contract is not checked, or undefined when it is. */
export const sharedSkipped: string | undefined =
	schemaPaths.shared === undefined
		? 'no ../shared/contract/status.schema.json beside the checkout (set LIVETREE_SHARED to check against it): documents are validated against schema/status.schema.json only'
		: undefined;
if (sharedSkipped) {
	process.stderr.write(`note: ${sharedSkipped}\n`);
}

const validators = Object.entries(schemaPaths)
	.filter((entry): entry is [string, string] => entry[1] !== undefined)
	.map(([name, path]) => {
		const ajv = new Ajv2020.default({allErrors: true, strict: false});
		// RFC 3339 date-time (startedAt, changedAt), checked rather than ignored.
		ajv.addFormat('date-time', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/);
		return {name, validate: ajv.compile(load(path))};
	});

// Returns a list of problems; empty when the document is valid under every schema checked.
export function schemaErrors(doc: unknown): string[] {
	const errors: string[] = [];
	for (const {name, validate} of validators) {
		if (!validate(doc)) {
			for (const e of validate.errors ?? []) {
				errors.push(`${name}: ${e.instancePath} ${e.message ?? ''}`);
			}
		}
	}

	return errors;
}
