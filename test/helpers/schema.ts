// Validate a status document against both schemas: the shared contract (CI always has
// ../shared) and the copy livetree ships (which may only add fields).
import {existsSync, readFileSync} from 'node:fs';
import {fileURLToPath} from 'node:url';
import Ajv2020 from 'ajv/dist/2020.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));

function load(path: string): object {
	return JSON.parse(readFileSync(path, 'utf8')) as object;
}

export const schemaPaths = {
	// LIVETREE_SHARED names ../shared for a checkout elsewhere; a git worktree (wt/NAME) sits one
	// level deeper than the main checkout.
	shared: `${process.env.LIVETREE_SHARED ?? [`${root}../shared`, `${root}../../shared`].find(d => existsSync(d))}/contract/status.schema.json`,
	shipped: `${root}schema/status.schema.json`,
};

const validators = Object.entries(schemaPaths).map(([name, path]) => {
	const ajv = new Ajv2020.default({allErrors: true, strict: false});
	// RFC 3339 date-time (startedAt, changedAt), checked rather than ignored.
	ajv.addFormat('date-time', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/);
	return {name, validate: ajv.compile(load(path))};
});

// Returns a list of problems; empty when the document is valid under both schemas.
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
