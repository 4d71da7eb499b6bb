// `which` could not look a file up (unreadable sysroot, repo or catalog, a bad query).
// Exit code 2.
import {NativeError} from './native-error.js';

export class WhichError extends NativeError {
	override name = 'WhichError';
}
