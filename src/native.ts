// The one module that loads the native addon; everything else imports from here.
import { createRequire } from 'node:module';
import type * as Binding from '../native/binding.js';

const require = createRequire(import.meta.url);

export const native: typeof Binding = require('../../native/binding.cjs') as typeof Binding;
