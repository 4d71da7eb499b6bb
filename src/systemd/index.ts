// The systemd stage's public surface: import from here.
export { connectSystemd, resolveBusAddress, SystemdClient } from './client.js';
export type { JobRemovedEvent, ListedUnit, SystemdClientOptions, UnitProperties } from './client.js';
export { SystemdError } from './errors/systemd-error.js';
export type { SystemdErrorCode } from './errors/systemd-error.js';
export { toSystemdError } from './errors/to-systemd-error.js';
export { collectUnits, nameFromPath, toUnitStatus, usecToRfc3339 } from './units.js';
export type { CollectedUnits, CollectUnitsOptions, ProcessUnitHint, UnitStatus, UnitWarning } from './units.js';
export { restartUnits, unitPids } from './restart.js';
export type {
  JobResult,
  RestartDetails,
  RestartFinish,
  RestartOptions,
  RestartOutcome,
  RestartRecorder,
  RestartTarget,
  RestartVerdict,
  VerifyResult,
} from './restart.js';
export { staleFiles, unitRestartInfo } from './reasons.js';
export type { DescribeProcess, StaleFile, UnitRestartInfo } from './reasons.js';
export { cgroupHierarchies, readCgroupPids, readCgroupUnit, systemdCgroupPath, unitFromCgroupPath } from './cgroup.js';
