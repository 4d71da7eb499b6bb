// The markdown sections of reports/bench.md for the cost targets (issues 21, 22, 24): one
// function a section, each given what bench-report.mjs measured and returning its lines.
import {cell, ms, ratio, signedMs} from './bench-format.mjs';

export function configLines(config) {
	const lines = [];
	const row = (name, p) => [
		`| ${name}, without the pass | ${cell(p.without)} | ${ms(p.without.cpu)} | |`,
		`| ${name}, with the pass | ${cell(p.with)} | ${ms(p.with.cpu)} | ${signedMs((p.with.median - p.without.median) * 1000)} (${Math.round(p.costOverScan * 100)}%); CPU ${signedMs((p.with.cpu - p.without.cpu) * 1000)} (${Math.round(p.cpuCostOverScan * 100)}%) |`,
	];
	lines.push(
		'## The configuration pass',
		'',
		`${config.processes} \`sleep\` processes chrooted in a copy of the host's libraries with an /etc of their own (${config.hostProcesses} processes on the host in all;`,
		'each holds fds 0–2 on /dev/null), an empty directory as the sysroot. Two phases, each in rounds (hyperfine, the two commands',
		`in a rotated order; ${config.changed.with.runs} runs of each in all, pooled): \`status --json --no-systemd\`, and the same with`,
		'`LIVETREE_BENCH_SKIP_CONFIG_PASS=1` (the scan without the configuration pass; `/proc/PID/stat` is read either way, as',
		'every scan reads it). "fresh": nothing under their /etc changed since they started, so the pass walks that /etc once',
		'and reads no fd directory of theirs (the host\'s other processes are checked as always); "changed": a file there changed',
		'after they started, so every fd directory is read. docs/config.md says what the pass reads.',
		'',
		'| Phase, command | median (± sd) | CPU (user + system) | the pass |',
		'|---|---|---|---|',
		...row('fresh', config.fresh),
		...row('changed', config.changed),
		...(config.changed.floor
			? [`| changed, the kernel's floor: open, getdents64, readlinkat of each fd, close, of their fd directories only (C, \`fd-floor\`) | ${cell(config.changed.floor)} | ${ms(config.changed.floor.cpu)} | ${Math.round(config.changed.floorOverScan * 100)}% of the scan without the pass; CPU ${Math.round(config.changed.cpuFloorOverScan * 100)}% |`]
			: []),
		'',
	);
	return lines;
}

export function busLines(bus) {
	const lines = [];
	lines.push(
		'## A host without a bus',
		'',
		'On this machine as it is (its own processes; an empty directory as the sysroot), in',
		`${bus.none.rounds} hyperfine runs (rounds, the commands in a rotated order; ${bus.none.runs} runs of each in all, pooled): \`status --json --no-systemd\`; \`status --json\` with`,
		'`DBUS_SYSTEM_BUS_ADDRESS` naming a path where no socket is (livetree sees that with one',
		'`stat` and makes no connection); and `status --json --bus-address` naming a socket that',
		"accepts and closes (the core's D-Bus connection is tried and fails during authentication;",
		'until commit c30f9e0, dbus-next was loaded for it: what every `status` on a host without a bus paid then).',
		'',
		'| Command | median (± sd) | CPU (user + system) | against `--no-systemd` (median) | (CPU) |',
		'|---|---:|---:|---:|---:|',
		`| \`--no-systemd\` | ${cell(bus.none)} | ${ms(bus.none.cpu)} | | |`,
		`| no socket at the address | ${cell(bus.noSocket)} | ${ms(bus.noSocket.cpu)} | ${signedMs(bus.noSocketCostMs)} | ${signedMs(bus.noSocketCpuMs)} |`,
		`| a socket without D-Bus | ${cell(bus.dead)} | ${ms(bus.dead.cpu)} | ${signedMs(bus.deadCostMs)} | ${signedMs(bus.deadCpuMs)} |`,
		'',
		`What the report said without a socket: ${bus.warnings.map(w => `\`${w.code}\`: ${w.message}`).join('; ') || 'no warning'}.`,
		'',
	);
	return lines;
}

export function systemdLines(systemd) {
	const lines = [];
	const d = systemd.detection;
	lines.push(
		'## A reachable systemd manager',
		'',
		`A real \`systemd --user\` manager on its own bus (scripts/bench-systemd.mjs, as the tests start one:`,
		`a private mount namespace, a cgroup of its own) runs ${systemd.units} transient services of ${systemd.perUnit} processes`,
		'each, every one chrooted into a copy of the host\'s libraries whose `libc.so.6` is then replaced,',
		`so each needs a restart. ${d.hostProcesses} processes on the host. One hyperfine run: \`status --json --no-systemd\``,
		'against `status --json --user` (that manager\'s user, XDG_RUNTIME_DIR set) and `status --json --bus-address`',
		'(the same manager through its bus), same sysroot (an empty directory) and catalog.',
		'',
		'| Command | median (± sd) | CPU (user + system) |',
		'|---|---:|---:|',
		`| \`--no-systemd\` | ${cell(systemd.none)} | ${ms(systemd.none.cpu)} |`,
		`| \`--user\` (the manager's own socket) | ${cell(systemd.asked)} | ${ms(systemd.asked.cpu)} |`,
		...(systemd.bus ? [`| \`--bus-address\` (through dbus-daemon) | ${cell(systemd.bus)} | ${ms(systemd.bus.cpu)} |`] : []),
		'',
		`The unit query: ${ms(systemd.queryMs / 1000)}, ${Math.round(systemd.queryOverScan * 100)}% of the scan (CPU: ${Math.round(systemd.cpuQueryOverScan * 100)}%).` +
			(systemd.bus ? ` Through the bus: ${ms(systemd.bus.median - systemd.none.median)}, ${Math.round(ratio(systemd.bus.median - systemd.none.median, systemd.none.median) * 100)}% (CPU: ${Math.round(ratio(systemd.bus.cpu - systemd.none.cpu, systemd.none.cpu) * 100)}%).` : ''),
		`What the manager answered, among the ${d.processes} unit processes seen: ${d.inUnits} tied to their \`lt-bench-*\` unit, ${d.stale} stale; ${d.units} units, ${d.unitsNeedingRestart} needing a restart.`,
		'',
		'What the query asks (src/systemd/status-units.ts): with `--user`, or as root on the system bus,',
		'it talks to the manager on its own socket (`$XDG_RUNTIME_DIR/systemd/private`,',
		'`/run/systemd/private`), as `systemctl` does, else through the bus. While the scan runs: one',
		'`ListUnits` (every unit\'s id, states and object path), then every service and scope that is not',
		'inactive: the ten properties the report carries that the list lacks (`ActiveEnterTimestamp`,',
		'`FragmentPath`, `DropInPaths`, `NeedDaemonReload`, `CanReload`; a service\'s `MainPID`,',
		'`ControlGroup`, `Result`, `NRestarts`, `ExecMainStatus`), each a `Properties.Get`, all sent',
		'by the core\'s own D-Bus connection (up to 120 in flight). After the scan, a process is its',
		'unit\'s when the cgroup path the scan read lies in the unit\'s `ControlGroup` (else the group\'s',
		'`cgroup.procs` are read), and units the scan named but the first round missed are asked then.',
		'A `GetAll` per unit costs more (a service has some 200 properties). Before issue 22 the query',
		'was a `GetUnit` and two `GetAll` per unit, one unit at a time: in this same setup 3432 ms',
		'against 586 ms for the scan (485%).',
		'',
	);
	return lines;
}

export function containersLines(containers, cShape) {
	const lines = [];
	lines.push(
		'## Containers: podman containers on an image whose tag moved',
		'',
		'A private podman store (runc, cgroupfs), a Debian 12 base imported from the cached',
		'debootstrap tarball and an image built with `RUN dpkg -i` of a package whose library',
		`every process preloads; ${cShape} of that image; then the image rebuilt under the`,
		'same tag. Commands: floor `bash -c \'cat /proc/[0-9]*/maps\'`; livetree `status --json',
		'--no-systemd` with an empty sysroot. Both read every process on the host.',
		'',
		'| containers | processes in them | host processes | floor (cat) | livetree | livetree / floor | CPU: floor | CPU: livetree |',
		'|---:|---:|---:|---:|---:|---:|---:|---:|',
		`| ${containers.started} | ${containers.detection.processes} | ${containers.detection.hostProcesses} | ${cell(containers.floor)} | ${cell(containers.livetree)} | ${containers.livetreeOverFloor}x | ${ms(containers.floor.cpu)} | ${ms(containers.livetree.cpu)} |`,
		'',
		...(containers.nodeStart
			? [
					`Node's start alone (\`node -e 0\`, same run): ${cell(containers.nodeStart)}, ${ratio(containers.nodeStart.median, containers.floor.median)}× the floor. Of the 1.5× budget (${ms(1.5 * containers.floor.median)}),`,
					`that leaves ${ms(1.5 * containers.floor.median - containers.nodeStart.median)} for everything after Node starts, which must include reading the same maps files as the floor.`,
					'',
				]
			: []),
	);
	return lines;
}
