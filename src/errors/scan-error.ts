// The scan itself failed (unreadable sysroot, nothing scannable). Exit code 2.
// `path` names what could not be read, so the one-line message is actionable.
import {NativeError} from './native-error.js';

export class ScanError extends NativeError {
	override name = 'ScanError';
}
