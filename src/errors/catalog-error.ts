// Reading, checking or rebuilding the catalog failed (`catalog`, `history`). Exit code 2.
import {NativeError} from './native-error.js';

export class CatalogError extends NativeError {
	override name = 'CatalogError';
}
