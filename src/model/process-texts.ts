// The processes of `status --json` with systemd's units, as the core wrote them
// (native/core/src/contract.rs write_views): each process's view, parsed (the process but for
// its files, of which only the stale ones: what its unit's reasons are made of), and its own
// JSON text, not parsed. The units change a few processes (their unit, configChanges,
// needsReload); parsing and writing again thousands of unchanged ones in JavaScript cost more
// than asking systemd. A view that still holds the values it was parsed with prints as its
// text; one given another value since (a field set or added) prints as its text with the
// view's fields but `files` put in (key order kept, a new key last). Values are compared by
// identity, so a view is changed by assigning a field (as withUnits and addUnitFileChanges
// do), never by changing an object or array it holds in place.
import type {Process} from './document.js';

export class ProcessTexts {
	private readonly kept = new WeakMap<Process, {text: string; values: unknown[]; unit: string | null | undefined}>();

	/** `texts[i]` is the core's text of the process whose view is `views[i]`, as parsed. */
	constructor(views: readonly Process[], texts: readonly string[]) {
		if (texts.length !== views.length) {
			throw new TypeError(`ProcessTexts: ${texts.length} texts for ${views.length} processes`);
		}

		for (const [i, p] of views.entries()) this.kept.set(p, {text: texts[i]!, values: Object.values(p), unit: p.unit});
	}

	/** Whether `view`'s unit is still the one the core wrote (read from its cgroup). */
	sameUnit(view: Process): boolean {
		const k = this.kept.get(view);
		return k !== undefined && k.unit === view.unit;
	}

	/** The JSON text of the process whose view is `view`. */
	print(view: Process): string {
		const k = this.kept.get(view);
		if (!k) {
			throw new TypeError(`ProcessTexts: PID ${view.pid} is no view of these processes`);
		}

		if (this.unchanged(view, k.values)) return k.text;
		const whole = JSON.parse(k.text) as Record<string, unknown>;
		for (const [key, value] of Object.entries(view)) {
			if (key !== 'files') whole[key] = value;
		}

		return JSON.stringify(whole);
	}

	private unchanged(view: Process, values: unknown[]): boolean {
		let i = 0;
		for (const key in view) {
			if (!Object.hasOwn(view, key) || view[key as keyof Process] !== values[i++]) return false;
		}

		return i === values.length;
	}
}
