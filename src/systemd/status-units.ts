// Units for a status report. (Interim until the D-Bus client lands: reports systemd as unavailable.)
import type {Unit, Warning} from '../model/document.js';
import type {ScanResult} from '../native.js';
import type {BusChoice} from '../options.js';

export async function unitsForScan(_scan: ScanResult, _bus: BusChoice): Promise<{units: Unit[]; warnings: Warning[]}> {
	return {units: [], warnings: [{code: 'systemd-unavailable', message: 'systemd client not wired yet', pid: null}]};
}
