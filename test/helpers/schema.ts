// Validate a status document against both schemas: the shared contract (CI always has
// ../shared) and the copy livetree ships (which may only add fields).
import {readFileSync} from 'node:fs';
import {fileURLToPath} from 'node:url';
import Ajv2020 from 'ajv/dist/2020.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));

function load(path: string): object {
	return JSON.parse(readFileSync(path, 'utf8')) as object;
}

export const schemaPaths = {
	// ../shared next to the checkout; LIVETREE_SHARED where it lives elsewhere (a worktree).
	shared: `${process.env['LIVETREE_SHARED'] ?? `${root}../shared`}/contract/status.schema.json`,
	shipped: `${root}schema/status.schema.json`,
};

const validators = Object.entries(schemaPaths).map(([name, path]) => {
	const ajv = new Ajv2020.default({allErrors: true, strict: false});
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
