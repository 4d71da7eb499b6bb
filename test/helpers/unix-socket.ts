// Waiting for a server on a Unix socket: its file exists from bind(), and a connect before the
// server's listen() is refused, so a test waits until a connection is accepted.
import {connect} from 'node:net';

/** Whether a connection to the Unix socket at PATH is accepted (then closed at once). */
export async function accepts(path: string): Promise<boolean> {
	return new Promise(resolve => {
		const socket = connect(path);
		socket.once('connect', () => {
			socket.destroy();
			resolve(true);
		});
		socket.once('error', () => resolve(false));
	});
}

/** Wait until the server at PATH accepts connections, at most TIMEOUTMS; false when it never did. */
export async function listening(path: string, timeoutMs = 10_000): Promise<boolean> {
	const deadline = Date.now() + timeoutMs;
	while (!(await accepts(path))) {
		if (Date.now() > deadline) return false;
		await new Promise(r => setTimeout(r, 50));
	}

	return true;
}
