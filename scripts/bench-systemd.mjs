// For scripts/bench.sh's systemd section: a real `systemd --user` manager on its own bus
// (test/helpers/systemd-user.ts: a private mount namespace, its own cgroup), with UNITS
// transient services of PER_UNIT processes each, every process `chroot ROOT SLEEP 3600`.
// Prints one JSON line when every unit is started ({busAddress, runtimeDir, cgroupRoot, units}), then
// keeps the manager until SIGTERM or SIGINT, when it stops it and everything in it.
// Usage: node scripts/bench-systemd.mjs UNITS PER_UNIT ROOT SLEEP
import {startUserManager} from '../dist/test/helpers/systemd-user.js';

const [units, perUnit, root, sleep] = process.argv.slice(2);
if (!units || !perUnit || !root || !sleep) {
	throw new Error('usage: bench-systemd.mjs UNITS PER_UNIT ROOT SLEEP');
}

const quote = s => `'${s.replaceAll("'", String.raw`'\''`)}'`;
const manager = await startUserManager();
let stopping;
const stop = async () => {
	stopping ??= manager.stop();
	await stopping;
	process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

try {
	// PER_UNIT - 1 in the background, the last one as the unit's main process.
	const one = `chroot ${quote(root)} ${quote(sleep)} 3600`;
	const script = `for i in $(seq ${Number(perUnit) - 1}); do ${one} & done; exec ${one}`;
	for (let i = 0; i < Number(units); i++) {
		await manager.startUnit(`lt-bench-${i}.service`, ['/bin/sh', '-c', script], {waitForMainPid: false, properties: ['Restart=no']});
	}

	process.stdout.write(`${JSON.stringify({busAddress: manager.busAddress, runtimeDir: manager.runtimeDir, cgroupRoot: manager.cgroupRoot, units: Number(units)})}\n`);
} catch (error) {
	process.stderr.write(`bench-systemd: ${error instanceof Error ? error.stack : String(error)}\n`);
	await manager.stop();
	process.exit(1);
}

// Kept alive until a signal.
setInterval(() => {}, 1 << 30);
