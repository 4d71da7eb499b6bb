// Write a file so that readers see the old content or the new, never half of it:
// a temporary file in the same directory, fsync, then rename over the target.
import {open, rename, rm} from 'node:fs/promises';
import path from 'node:path';

// `content`: text, or chunks of text or of bytes (a scan's processes as the core wrote them).
export async function writeAtomic(file: string, content: string | Iterable<string | Uint8Array>): Promise<void> {
	const temporary = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
	const handle = await open(temporary, 'w', 0o644);
	try {
		if (typeof content === 'string') {
			await handle.writeFile(content);
		} else {
			for (const chunk of content) {
				// Each chunk whole, from where the last ended (writeFile goes on after a short write).
				await handle.writeFile(chunk);
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
