#!/usr/bin/env node
// The installed entry point: the compiled CLI lives in dist/.
import { main } from '../dist/src/cli.js';

process.exitCode = await main(process.argv.slice(2));
