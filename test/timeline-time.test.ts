// Times on the command line (src/timeline/time.ts): the forms --help and the README name.
import test from 'ava';
import {parseTime} from '../src/timeline/time.js';
import {UsageError} from '../src/errors/usage-error.js';

const now = Date.UTC(2026, 11, 7, 12, 0, 0);
const nowS = now / 1000;

test('durations ago, short and in words', t => {
	t.is(parseTime('3h', '--since', now), nowS - 3 * 3600);
	t.is(parseTime('7d', '--since', now), nowS - 7 * 86_400);
	t.is(parseTime('2w', '--since', now), nowS - 14 * 86_400);
	t.is(parseTime('7 days ago', '--since', now), nowS - 7 * 86_400);
	t.is(parseTime('1 day', '--since', now), nowS - 86_400);
	t.is(parseTime('30 min ago', '--since', now), nowS - 30 * 60);
	t.is(parseTime('45 minutes', '--since', now), nowS - 45 * 60);
	t.is(parseTime('12 hours ago', '--since', now), nowS - 12 * 3600);
	t.is(parseTime('1 week ago', '--since', now), nowS - 7 * 86_400);
	t.is(parseTime('90 seconds ago', '--since', now), nowS - 90);
	t.is(parseTime('now', '--at', now), nowS);
	t.is(parseTime('@1765000000', '--at', now), 1_765_000_000);
});

test('what is not a time is a usage error naming the option and the forms', t => {
	for (const bad of ['3 months ago', '3M', 'yesterday', '7 days from now', 'd7', '']) {
		const error = t.throws(() => parseTime(bad, '--since', now), {instanceOf: UsageError});
		t.is(error.message, `--since: cannot read "${bad}" as a time (2026-12-01, "2026-12-01 14:00", 2026-12-01T14:00:00Z, @EPOCH, 3h, 7d, "7 days ago")`);
	}
});
