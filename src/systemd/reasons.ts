// Why a unit needs a restart, in sentences a person reads in `livetree status`:
// "PID 812 maps /usr/lib/libc.so.6 (deleted) from commit 47b67f… (1.0)".
import type { UnitStatus } from './units.js';

/** A mapped file of one process that makes the process stale (from the attribution stage). */
export interface StaleFile {
  pid: number;
  path: string;
  deleted: boolean;
  superseded: boolean;
  /** Commit the file came from, when known. */
  commit: string | null;
  /** That commit's `version` metadata, when known. */
  version: string | null;
}

export interface UnitRestartInfo {
  needsRestart: boolean;
  reasons: string[];
}

export function staleFileReason(f: StaleFile): string {
  const how = f.deleted ? ' (deleted)' : f.superseded ? ' (superseded)' : '';
  const from = f.commit ? ` from commit ${f.commit.slice(0, 6)}…` : '';
  const version = f.commit && f.version ? ` (${f.version})` : '';
  return `PID ${f.pid} maps ${f.path}${how}${from}${version}`;
}

/** needsRestart and reasons for a unit, from the stale files of all scanned processes. */
export function unitRestartInfo(unit: Pick<UnitStatus, 'pids'>, staleFiles: readonly StaleFile[]): UnitRestartInfo {
  const pids = new Set(unit.pids);
  const mine = staleFiles.filter((f) => pids.has(f.pid));
  const reasons = [...new Set(mine.map(staleFileReason))];
  return { needsRestart: mine.length > 0, reasons };
}
