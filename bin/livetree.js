#!/usr/bin/env node
// The installed entry point: the compiled CLI lives in dist/.
const argv = process.argv.slice(2);
// `status` starts reading /proc before the rest of the CLI loads (src/early.ts, which tells
// the command as `main` does; this test only spares other commands loading it). Whatever
// fails there (the addon not loading, say) fails again where the command loads it, which
// says so and exits 2: never Node's own exit 1, which reads as "something needs a restart".
if (argv[0] === 'status' || argv[0] === 'admin') {
	try {
		(await import('../dist/src/early.js')).readEarly(argv);
	} catch {}
}

const {main} = await import('../dist/src/cli.js');
process.exitCode = await main(argv);
