// The one module that loads the native addon; everything else imports from here.
import {createRequire} from 'node:module';
import type * as Binding from '../native/binding.js';

export type {ScanOptions} from '../native/binding.js';

const require = createRequire(import.meta.url);

// Compiled to dist/src/native.js, so the addon is two levels up.
export const native = require('../../native/binding.cjs') as typeof Binding;
