#!/usr/bin/env node
// The installed entry point: the compiled CLI lives in dist/.
const argv = process.argv.slice(2);
// `status` starts reading /proc before the rest of the CLI loads (src/early.ts).
if (argv[0] === 'status' || argv[0] === 'admin') {
	(await import('../dist/src/early.js')).readEarly(argv);
}

const {main} = await import('../dist/src/cli.js');
process.exitCode = await main(argv);
