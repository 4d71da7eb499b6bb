// Write a file so that readers see the old content or the new, never half of it:
// a temporary file in the same directory, fsync, then rename over the target.
import {open, rename, rm} from 'node:fs/promises';
import path from 'node:path';

export async function writeAtomic(file: string, content: string | Iterable<string>): Promise<void> {
	const temporary = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
	const handle = await open(temporary, 'w', 0o644);
	try {
		if (typeof content === 'string') {
			await handle.writeFile(content);
		} else {
			for (const chunk of content) {
				await handle.write(chunk);
			}
		}
		await handle.sync();
	} finally {
		await handle.close();
	}

	try {
		await rename(temporary, file);
	} catch (error) {
		await rm(temporary, {force: true});
		throw error;
	}
}
