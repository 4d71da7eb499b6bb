// The order of units[]: by name, as `a.localeCompare(b)` orders them (a collator of the
// default locale). Making that collator costs ≈ 6 ms of ICU's collation data (more under
// load), paid beside the scan on every status with units. Code-unit order is not the same
// ('a_b' < 'a-b', 'a@1' < 'a1' and 'aB' < 'Ab' under the collator), and it depends on the
// locale ('da' sorts 'aa' after 'z' and uppercase first), so the collator's order is computed
// here only where it is known without one:
//
// - every name is spelled in the characters systemd allows in unit names, [A-Za-z0-9:_.\\@-];
// - the default locale is English or the root ('en…', 'und'), whose collation is CLDR's root
//   collation for these characters (English tailors none; V8 reads the POSIX locale as
//   en-US). `Intl.PluralRules` resolves the same default locale as `Intl.Collator` and costs
//   ≈ 0.3 ms.
//
// There, each character has one primary weight, none is ignorable (the default
// `alternate=non-ignorable`), and they rank `_ - : . @ \ 0…9 a…z` with a letter's two cases
// one primary weight; case is a tertiary difference, lowercase first. So the collator
// compares the primary ranks left to right (a string that is a prefix of the other first),
// and only between names of equal ranks the case of the first letter that differs in case.
// test/systemd/unit-order.test.ts checks this against Intl.Collator on every name of up to
// three characters and on random longer ones. Anything else is sorted by the collator.

// Each character's primary rank (0: not one systemd allows in a unit name).
const RANK = new Uint8Array(128);
for (const [i, c] of [...'_-:.@\\0123456789'].entries()) RANK[c.charCodeAt(0)] = i + 1;
for (let i = 0; i < 26; i++) {
	RANK[0x61 + i] = 17 + i;
	RANK[0x41 + i] = 17 + i;
}

/** The root collation's order of two names spelled in [A-Za-z0-9:_.\\@-] (see above). */
export function compareUnitNames(a: string, b: string): number {
	const n = Math.min(a.length, b.length);
	let byCase = 0;
	for (let i = 0; i < n; i++) {
		const x = a.charCodeAt(i);
		const y = b.charCodeAt(i);
		if (x === y) continue;
		const d = RANK[x]! - RANK[y]!;
		if (d !== 0) return d;
		// The same letter in two cases: lowercase (the higher code) first, unless a primary
		// difference follows.
		if (byCase === 0) byCase = x > y ? -1 : 1;
	}

	return a.length === b.length ? byCase : a.length - b.length;
}

const plain = /^[A-Za-z0-9:_.\\@-]*$/;

let rootLocale: boolean | undefined;

/** Whether the default locale's collation is the root one for unit names (see above). */
export function defaultLocaleIsRoot(): boolean {
	rootLocale ??= /^(en|und)(-|$)/.test(new Intl.PluralRules().resolvedOptions().locale);
	return rootLocale;
}

let collator: Intl.Collator | undefined;

/** Sorts `units` by name in place as `a.name.localeCompare(b.name)` would. */
export function sortByUnitName<T extends {name: string}>(units: T[]): T[] {
	if (units.length < 2) return units;
	if (defaultLocaleIsRoot() && units.every(u => plain.test(u.name))) return units.sort((a, b) => compareUnitNames(a.name, b.name));
	collator ??= new Intl.Collator();
	const c = collator;
	return units.sort((a, b) => c.compare(a.name, b.name));
}
