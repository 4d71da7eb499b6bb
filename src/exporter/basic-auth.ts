// HTTP basic authentication against bcrypt hashes, as exporter-toolkit does it: the
// same work for a known and an unknown user (a dummy hash stands in), user names
// compared in constant time, and a small cache of good answers so a scrape every
// few seconds does not pay bcrypt's deliberate cost each time.
import {createHash, timingSafeEqual} from 'node:crypto';
import bcrypt from 'bcryptjs';

// exporter-toolkit's own stand-in: a valid cost-10 bcrypt hash whose password nobody
// uses, checked for unknown users so they cost the same time as known ones.
const dummyHash = '$2b$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi';
const cacheLimit = 64;

function digest(text: string): Buffer {
	return createHash('sha256').update(text).digest();
}

export interface Credentials {
	user: string;
	password: string;
}

// The user and password of an `Authorization: Basic ...` header, or undefined.
export function parseBasic(header: string | undefined): Credentials | undefined {
	const match = /^Basic +([A-Za-z0-9+/]+=*) *$/i.exec(header ?? '');
	if (!match) {
		return undefined;
	}

	const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
	const colon = decoded.indexOf(':');
	return colon < 0 ? undefined : {user: decoded.slice(0, colon), password: decoded.slice(colon + 1)};
}

export class BasicAuth {
	private readonly users: Array<{name: Buffer; hash: string}>;
	// Keys are digests of user, hash and password; only successful checks are kept.
	private readonly good = new Set<string>();

	constructor(users: ReadonlyMap<string, string>) {
		this.users = [...users].map(([name, hash]) => ({name: digest(name), hash}));
	}

	async check(credentials: Credentials | undefined): Promise<boolean> {
		const wanted = digest(credentials?.user ?? '');
		let hash = dummyHash;
		let known = false;
		// Every entry is compared, so the time does not say where (or whether) the user is.
		for (const user of this.users) {
			const same = timingSafeEqual(user.name, wanted);
			known ||= same;
			hash = same ? user.hash : hash;
		}

		const password = credentials?.password ?? '';
		const key = digest(`${credentials?.user ?? ''}\0${hash}\0${password}`).toString('hex');
		if (known && this.good.has(key)) {
			return true;
		}

		const matches = await bcrypt.compare(password, hash);
		const ok = known && matches && credentials !== undefined;
		if (ok) {
			if (this.good.size >= cacheLimit) {
				this.good.clear();
			}

			this.good.add(key);
		}

		return ok;
	}
}
