// Control groups as systemd lays them out: the unit a /proc/PID/cgroup path names, and the
// processes a unit's ControlGroup holds. The parser takes bytes and touches no disk; the readers
// take the roots (`procRoot`, `cgroupFsRoot`) so they can be pointed at captured trees.
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

const UNIT_SUFFIXES = ['.service', '.scope', '.socket', '.mount', '.swap'];

/**
 * The systemd cgroup path of a process from /proc/PID/cgroup: the cgroup v2 line (`0::/...`)
 * when the host runs the unified or hybrid layout, else the v1 `name=systemd` line. In hybrid
 * layout both exist and agree; the v2 one is what systemd itself tracks processes by.
 */
export function systemdCgroupPath(procCgroup: Uint8Array | string): string | null {
  const text = typeof procCgroup === 'string' ? procCgroup : Buffer.from(procCgroup).toString('utf8');
  let v1: string | null = null;
  let v2: string | null = null;
  for (const line of text.split('\n')) {
    const first = line.indexOf(':');
    const second = line.indexOf(':', first + 1);
    if (first < 0 || second < 0) continue;
    const controllers = line.slice(first + 1, second);
    const path = line.slice(second + 1);
    if (line.slice(0, first) === '0' && controllers === '') v2 = path;
    else if (controllers.split(',').includes('name=systemd')) v1 = path;
  }
  // A v2 line of just "/" next to a real name=systemd path means the v2 hierarchy is not systemd's.
  if (v2 !== null && !(v2 === '/' && v1 !== null && v1 !== '/')) return v2;
  return v1;
}

/**
 * The unit a cgroup path names: its innermost component that is a unit other than a slice,
 * e.g. `/system.slice/foo.service` → `foo.service`, and inside a user manager
 * `/user.slice/user-1000.slice/user@1000.service/app.slice/bar.service` → `bar.service`.
 * Sub-cgroups a service delegates below itself (`/x.service/payload`) still name `x.service`.
 */
export function unitFromCgroupPath(cgroupPath: string): string | null {
  const parts = cgroupPath.split('/').filter((p) => p !== '');
  for (let i = parts.length - 1; i >= 0; i--) {
    const p = parts[i] as string;
    if (UNIT_SUFFIXES.some((s) => p.endsWith(s) && p.length > s.length)) return unescapeCgroupName(p);
  }
  return null;
}

/** systemd escapes cgroup names that would clash with kernel files by a leading underscore. */
function unescapeCgroupName(name: string): string {
  return name.startsWith('_') ? name.slice(1) : name;
}

/** Reads /proc/PID/cgroup and returns the unit it names, or null (gone, unreadable, no unit). */
export async function readCgroupUnit(pid: number, procRoot = '/proc'): Promise<string | null> {
  try {
    const path = systemdCgroupPath(await readFile(join(procRoot, String(pid), 'cgroup')));
    return path === null ? null : unitFromCgroupPath(path);
  } catch {
    return null;
  }
}

/**
 * The directories a systemd ControlGroup path can live under, best first: the cgroup2 root on
 * a unified host, else the hybrid layout's `unified` and the v1 `systemd` hierarchies.
 */
export function cgroupHierarchies(cgroupFsRoot = '/sys/fs/cgroup'): string[] {
  if (existsSync(join(cgroupFsRoot, 'cgroup.controllers'))) return [cgroupFsRoot];
  return [join(cgroupFsRoot, 'unified'), join(cgroupFsRoot, 'systemd')].filter((d) => existsSync(d));
}

/**
 * Every PID in a unit's control group, including sub-cgroups a service delegates, sorted.
 * Returns null when no hierarchy holds that cgroup (no cgroup access): callers fall back to MainPID.
 */
export async function readCgroupPids(controlGroup: string, cgroupFsRoot = '/sys/fs/cgroup'): Promise<number[] | null> {
  for (const base of cgroupHierarchies(cgroupFsRoot)) {
    const dir = join(base, controlGroup);
    if (!existsSync(join(dir, 'cgroup.procs'))) continue;
    const pids = new Set<number>();
    await collectPids(dir, pids);
    return [...pids].sort((a, b) => a - b);
  }
  return null;
}

async function collectPids(dir: string, into: Set<number>): Promise<void> {
  let text: string;
  try {
    text = await readFile(join(dir, 'cgroup.procs'), 'utf8');
  } catch {
    return; // removed while we walked it: its processes are gone too
  }
  for (const line of text.split('\n')) {
    const pid = Number.parseInt(line, 10);
    if (Number.isInteger(pid) && pid > 0) into.add(pid);
  }
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) if (e.isDirectory()) await collectPids(join(dir, e.name), into);
}
