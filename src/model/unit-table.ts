// The processes of `status --json` with systemd's units, as the core wrote them
// (native/core/src/contract.rs write_units): the contract's `processes` array as one JSON
// text, its UTF-8 bytes as the core handed them over, as without systemd (neither parsed
// nor made a string), and a table, in columns, of what adding the units
// needs of each process (parsed): its PID, its cgroup path and the unit read from it, and
// only for the few that need more, the stale processes' stale files (for their unit's
// reasons; the distinct files once) and the processes' configuration changes. The units
// change few processes (their unit, configChanges, needsReload); parsing thousands of
// processes into objects, and writing them again, cost more than asking systemd did.
//
// The units read and change a process through `get(pid)`: a small object made when first
// asked for (the stale ones, by their unit's reasons; those of units whose unit files
// changed), changed by assigning a field (as addUnitFileChanges and seeOutsideReloads do),
// never an object or array it holds in place. `printAll` writes each process the units left
// as it was as its slice of the core's bytes (a run of them as one slice; with nothing
// changed, the bytes as they are), and the others as that text with their unit,
// configChanges and needsReload put in (key order kept).
import type {ConfigChange, MappedFile, Process, ProcessRoot} from './document.js';

// The core writes UTF-8 (serde_json), so a process's bytes decode without replacement.
const utf8 = new TextDecoder();

/** What a stale process's reasons are made of (render/reason.ts `reasons`). */
export type StaleProcess = Pick<Process, 'pid' | 'files'> & {root: Pick<ProcessRoot, 'kind'>};

/** What the units read and change of a scanned process: a Process has it all; a process that
 * needs a restart has what its reasons are made of. */
export type UnitProcess = Pick<Process, 'pid' | 'startedAt' | 'configChanges' | 'needsReload'> &
	({needsRestart: false} | ({needsRestart: true} & StaleProcess));

/** Scanned processes that share a cgroup path and the unit read from it: whether the
 * manager places them in that unit is decided once for all of them where their path lies in
 * the unit's ControlGroup (systemd/units.ts; thousands of processes lie in a few hundred
 * cgroups). */
export interface UnitHintGroup {
	/** The unit their cgroup path names (the native scan's hint); null when it named none. */
	cgroupUnit: string | null;
	/** Their systemd cgroup path as the scan read it; null: unknown (or empty). */
	cgroup: string | null;
	/** Their PIDs, in the scan's order. */
	pids: number[];
	/** Each one's place in the scan's order (what the questions about them are ordered by). */
	at: number[];
}

/** The processes grouped by their `[cgroup, unit]` pair, the groups in the order of their first process. */
export function groupHints(processes: ReadonlyArray<{pid: number; cgroupUnit: string | null; cgroup?: string | null}>): UnitHintGroup[] {
	const byUnit = new Map<string | null, Map<string | null, UnitHintGroup>>();
	const groups: UnitHintGroup[] = [];
	for (const [i, p] of processes.entries()) {
		const cgroup = p.cgroup || null;
		let byCgroup = byUnit.get(p.cgroupUnit);
		if (!byCgroup) {
			byCgroup = new Map();
			byUnit.set(p.cgroupUnit, byCgroup);
		}

		let g = byCgroup.get(cgroup);
		if (!g) {
			g = {cgroupUnit: p.cgroupUnit, cgroup, pids: [], at: []};
			byCgroup.set(cgroup, g);
			groups.push(g);
		}

		g.pids.push(p.pid);
		g.at.push(i);
	}

	return groups;
}

/** The scanned processes as the units need them. */
export interface ScannedProcesses {
	/** The processes grouped by their `[cgroup, unit]` pair, the groups in the order of their first process. */
	groups(): UnitHintGroup[];
	/** The process with this PID; undefined when none was scanned. */
	get(pid: number): UnitProcess | undefined;
	/** The processes of `pids` (a unit's), in that order, as its needsRestart, reasons and
	 * configuration read them (a PID not scanned is left out): each as `get` gives it now,
	 * but reading one changes nothing, and a process not asked for before is not kept. */
	read(pids: readonly number[]): UnitProcess[];
	/** Its start in clock ticks after boot as the scan read it (what its unit's `unit-file`
	 * check measures from, instead of reading its `stat` again); undefined when not known. */
	startTicks?(pid: number): number | undefined;
}

/** Processes parsed whole (every output but compact JSON with units) as the units need them. */
export function scannedProcesses(processes: readonly Process[]): ScannedProcesses {
	const byPid = new Map(processes.map(p => [p.pid, p] as const));
	return {
		groups: () => groupHints(processes.map(p => ({pid: p.pid, cgroupUnit: p.unit, cgroup: p.cgroup ?? null}))),
		get: pid => byPid.get(pid),
		read(pids) {
			const own: UnitProcess[] = [];
			for (const pid of pids) {
				const p = byPid.get(pid);
				if (p) own.push(p);
			}

			return own;
		},
	};
}

/** The table as the core writes it (contract.rs `UnitTable`): one entry per process in
 * `pids`, `lengths` (its text's length in bytes, UTF-8) and `group` (its `[cgroup, unit]`
 * in `groups`); the stale processes by index in `stale`, with their `root.kind` and their
 * stale files (by index in `files`); those with configuration changes by index in `config`;
 * each process's start in clock ticks in `starts`. */
export interface UnitTableText {
	pids: number[];
	lengths: number[];
	groups: Array<[string | null, string | null]>;
	group: number[];
	files: MappedFile[];
	stale: number[];
	staleRoots: Array<ProcessRoot['kind']>;
	staleFiles: number[][];
	config: number[];
	configStartedAt: Array<string | null>;
	configChanges: ConfigChange[][];
	/** Each process's start in clock ticks after boot (null: unknown). */
	starts: Array<number | null>;
}

/** A process the units asked for, and the values the core wrote for what they may change. */
interface Asked {
	process: UnitProcess;
	configChanges: ConfigChange[] | undefined;
	needsReload: boolean | undefined;
}

export class UnitTable implements ScannedProcesses {
	private readonly index = new Map<number, number>();
	private readonly staleAt = new Map<number, number>();
	private readonly configAt = new Map<number, number>();
	private readonly asked = new Map<number, Asked>();
	/** The processes whose unit is not the one the core wrote, by index: their unit now. */
	private readonly units = new Map<number, string | null>();

	/** `array` is the core's text of the processes the table is of, in its order (its UTF-8 bytes). */
	constructor(
		private readonly table: UnitTableText,
		private readonly array: Uint8Array,
	) {
		const {pids, lengths, group, starts} = table;
		if (lengths.length !== pids.length || group.length !== pids.length || starts.length !== pids.length) {
			throw new TypeError(`UnitTable: ${pids.length} PIDs, ${lengths.length} lengths, ${group.length} groups, ${starts.length} starts`);
		}

		let texts = 0;
		for (const [i, pid] of pids.entries()) {
			this.index.set(pid, i);
			texts += lengths[i]!;
		}

		// '[', each text and a ',' after each but the last, ']'.
		const length = pids.length === 0 ? 2 : texts + pids.length + 1;
		if (length !== array.length) {
			throw new TypeError(`UnitTable: the texts' lengths make an array of ${length} bytes, not ${array.length}`);
		}

		for (const [j, i] of table.stale.entries()) this.staleAt.set(i, j);
		for (const [j, i] of table.config.entries()) this.configAt.set(i, j);
	}

	/** groupHints of the processes, from the columns: each pair's group is found once (at its
	 * first process), not per process (pairs the core wrote apart but groupHints keys alike, an
	 * empty cgroup and none, share it). */
	groups(): UnitHintGroup[] {
		const {pids, groups, group} = this.table;
		const ofPair = new Array<UnitHintGroup | undefined>(groups.length);
		const byUnit = new Map<string | null, Map<string | null, UnitHintGroup>>();
		const out: UnitHintGroup[] = [];
		for (let i = 0; i < pids.length; i++) {
			const k = group[i]!;
			let g = ofPair[k];
			if (g === undefined) {
				const [path, cgroupUnit] = groups[k]!;
				const cgroup = path || null;
				let byCgroup = byUnit.get(cgroupUnit);
				if (!byCgroup) {
					byCgroup = new Map();
					byUnit.set(cgroupUnit, byCgroup);
				}

				g = byCgroup.get(cgroup);
				if (!g) {
					g = {cgroupUnit, cgroup, pids: [], at: []};
					byCgroup.set(cgroup, g);
					out.push(g);
				}

				ofPair[k] = g;
			}

			g.pids.push(pids[i]!);
			g.at.push(i);
		}

		return out;
	}

	get(pid: number): UnitProcess | undefined {
		const i = this.index.get(pid);
		if (i === undefined) return undefined;
		let a = this.asked.get(i);
		if (!a) {
			const process = this.process(i);
			a = {process, configChanges: process.configChanges, needsReload: process.needsReload};
			this.asked.set(i, a);
		}

		return a.process;
	}

	read(pids: readonly number[]): UnitProcess[] {
		const own: UnitProcess[] = [];
		for (const pid of pids) {
			const i = this.index.get(pid);
			if (i === undefined) continue;
			// Asked for already (and maybe changed since): as it is; else as the table says,
			// made for this read only (printAll writes it as the core did).
			own.push(this.asked.get(i)?.process ?? this.process(i));
		}

		return own;
	}

	startTicks(pid: number): number | undefined {
		const i = this.index.get(pid);
		const ticks = i === undefined ? undefined : this.table.starts[i];
		return typeof ticks === 'number' && Number.isSafeInteger(ticks) && ticks >= 0 ? ticks : undefined;
	}

	/** Gives each process the unit `unitFor` says, from its PID and the unit the core wrote. */
	setUnits(unitFor: (pid: number, written: string | null) => string | null): void {
		const {pids, groups, group} = this.table;
		for (let i = 0; i < pids.length; i++) {
			const written = groups[group[i]!]![1];
			const unit = unitFor(pids[i]!, written);
			if (unit === written) this.units.delete(i);
			else this.units.set(i, unit);
		}
	}

	/** How many processes need a reload now (summary.processesNeedingReload). */
	needingReload(): number {
		let n = this.table.config.length;
		for (const a of this.asked.values()) n += Number(a.process.needsReload === true) - Number(a.needsReload === true);
		return n;
	}

	/** The processes whose unit is not the one the core wrote (read from their cgroup), in order. */
	changedUnits(): Array<{pid: number; unit: string | null}> {
		// Set in the processes' order (setUnits).
		return [...this.units].map(([i, unit]) => ({pid: this.table.pids[i]!, unit}));
	}

	/** The contract's `processes` array, in pieces: slices of the core's bytes, and the
	 * processes the units changed as strings (see the module's comment). */
	*printAll(): Generator<string | Uint8Array> {
		const changed = [...this.units.keys()];
		for (const i of this.asked.keys()) if (!this.units.has(i) && this.isChanged(i)) changed.push(i);
		changed.sort((a, b) => a - b);
		if (changed.length === 0) {
			yield this.array;
			return;
		}

		const {lengths} = this.table;
		// Where the process at `next` starts in the array, and the run not printed yet.
		let at = 1;
		let next = 0;
		let runStart = 0;
		for (const i of changed) {
			while (next < i) at += lengths[next++]! + 1;
			// The unchanged run before it, with its separators; then the changed one.
			yield this.array.subarray(runStart, at);
			yield this.merged(i, utf8.decode(this.array.subarray(at, at + lengths[i]!)));
			at += lengths[i]! + 1;
			next = i + 1;
			runStart = at - 1;
		}

		yield this.array.subarray(runStart);
	}

	private isChanged(i: number): boolean {
		const a = this.asked.get(i);
		return a !== undefined && (a.process.configChanges !== a.configChanges || a.process.needsReload !== a.needsReload);
	}

	private merged(i: number, text: string): string {
		const whole = JSON.parse(text) as Record<string, unknown>;
		if (this.units.has(i)) whole['unit'] = this.units.get(i);
		const a = this.asked.get(i);
		if (a && this.isChanged(i)) {
			whole['configChanges'] = a.process.configChanges;
			whole['needsReload'] = a.process.needsReload;
		}

		return JSON.stringify(whole);
	}

	/** One root object per kind, and one array per single stale file: what thousands of stale
	 * processes share (read only; see the module's comment). */
	private readonly roots = new Map<ProcessRoot['kind'], Pick<ProcessRoot, 'kind'>>();
	private readonly singles = new Map<number, MappedFile[]>();

	private root(kind: ProcessRoot['kind']): Pick<ProcessRoot, 'kind'> {
		let root = this.roots.get(kind);
		if (root === undefined) {
			root = {kind};
			this.roots.set(kind, root);
		}

		return root;
	}

	private staleFiles(indexes: number[]): MappedFile[] {
		const files = this.table.files;
		if (indexes.length !== 1) return indexes.map(f => files[f]!);
		const f = indexes[0]!;
		let one = this.singles.get(f);
		if (one === undefined) {
			one = [files[f]!];
			this.singles.set(f, one);
		}

		return one;
	}

	/** Process `i` as the units read it: stale, with what its reasons are made of; with its
	 * configuration changes and start (what outside reloads are judged by), or none. */
	private process(i: number): UnitProcess {
		const t = this.table;
		const s = this.staleAt.get(i);
		const p: UnitProcess =
			s === undefined
				? {pid: t.pids[i]!, needsRestart: false, configChanges: [], needsReload: false}
				: {
						pid: t.pids[i]!,
						needsRestart: true,
						root: this.root(t.staleRoots[s]!),
						files: this.staleFiles(t.staleFiles[s]!),
						configChanges: [],
						needsReload: false,
					};
		const c = this.configAt.get(i);
		if (c !== undefined) {
			p.startedAt = t.configStartedAt[c] ?? null;
			p.configChanges = t.configChanges[c] ?? [];
			p.needsReload = true;
		}

		return p;
	}
}
