// Which units `restart --needed` leaves out, and why. Restarting some units does more harm than
// running old code until a reboot: the message bus (every D-Bus client loses its connection),
// logind and display managers (users' sessions end), gettys and user sessions (a logged-in user's
// shell is killed), the unit livetree itself runs in (it would kill the restart half-way), and
// the manager itself (it cannot be restarted; `daemon-reexec` loads its new code). The manager's
// own answer comes first: a unit it refuses to restart by hand is never asked.
// Then the site's policy (--exclude, restart.conf), the unit's start limit, and a restart of
// this unit that livetree saw fail: it is not retried until someone looks (a restart loop
// is what ends in a start limit that keeps a daemon down for good).
// Naming units explicitly skips all but the manager's answer. Pure: facts in, decision out.
import type {RestartFacts} from './client.js';

export type SkipCode =
	| 'refused-by-manager'
	| 'cannot-restart'
	| 'manager'
	| 'message-bus'
	| 'login-manager'
	| 'display-manager'
	| 'getty'
	| 'user-session'
	| 'self'
	| 'site-policy'
	| 'start-limit'
	| 'failed-before'
	// restart --reload-needed (commands/reload-needed.ts):
	| 'cannot-reload'
	| 'unit-file-changed';

export interface Skip {
	code: SkipCode;
	/** Why it is left out, in words. */
	reason: string;
	/** What applies the new code instead. */
	instead: string;
}

/** A restart livetree recorded (livetree history). Times in epoch seconds. */
export interface PastRestart {
	unit: string;
	startedAt: number;
	finishedAt: number | null;
	verdict: string | null;
	state: string;
}

export interface PolicyContext {
	/** The system manager (false: a user manager, --user). */
	system: boolean;
	/** The manager's version number (254 and later can soft-reboot). */
	managerVersion: number | null;
	/** The unit livetree runs in, as that manager says (GetUnitByPID of our own PID). */
	selfUnit: string | null;
	/** Site exclusions: glob patterns and where each came from (`--exclude`, `FILE:LINE`). */
	exclude: ReadonlyArray<{pattern: string; source: string}>;
	/** Restarts livetree recorded, any order. */
	history: readonly PastRestart[];
	/** Epoch seconds. */
	now: number;
	/** `livetree restart ARGS…` with the options of this run (what it read, which manager);
	 * default: the bare command. */
	restartCommand?: (...args: string[]) => string;
}

// A user manager's units are asked about with --user.
function user(ctx: PolicyContext): string {
	return ctx.system ? '' : ' --user';
}

function restartCommand(ctx: PolicyContext, ...args: string[]): string {
	return ctx.restartCommand ? ctx.restartCommand(...args) : ['livetree', 'restart', ...args].join(' ');
}

const MESSAGE_BUS = ['dbus.service', 'dbus-broker.service', 'dbus-daemon.service', 'messagebus.service'];
const LOGIN_MANAGER = ['systemd-logind.service', 'elogind.service'];
const DISPLAY_MANAGER = [
	'display-manager.service',
	'gdm.service',
	'gdm3.service',
	'sddm.service',
	'lightdm.service',
	'lxdm.service',
	'xdm.service',
	'slim.service',
	'nodm.service',
	'greetd.service',
	'ly.service',
	'cosmic-greeter.service',
];
const GETTY = ['getty@*.service', 'serial-getty@*.service', 'container-getty@*.service', 'console-getty.service', 'autovt@*.service'];
const USER_SESSION = ['user@*.service', 'session-*.scope'];

/** systemd's unit name globs: `*`, `?` and `[…]` (as `systemctl list-units PATTERN`). */
export function globMatches(pattern: string, name: string): boolean {
	let re = '^';
	for (let i = 0; i < pattern.length; i++) {
		const c = pattern[i] as string;
		if (c === '*') re += '.*';
		else if (c === '?') re += '.';
		else if (c === '[') {
			const end = pattern.indexOf(']', i + 1);
			if (end < 0) re += '\\[';
			else {
				const body = pattern.slice(i + 1, end).replace(/\\/g, '\\\\');
				re += `[${body.startsWith('!') ? `^${body.slice(1)}` : body}]`;
				i = end;
			}
		} else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
	}
	return new RegExp(`${re}$`).test(name);
}

function anyName(f: RestartFacts, patterns: readonly string[]): boolean {
	const names = f.names.length > 0 ? f.names : [f.id];
	return names.some(n => patterns.some(p => globMatches(p, n)));
}

function reboot(ctx: PolicyContext): string {
	if (!ctx.system) return 'logging out and back in (the user manager and its units start anew), or a reboot';
	return ctx.managerVersion !== null && ctx.managerVersion >= 254
		? 'a soft reboot (systemctl soft-reboot: all of userspace anew, same kernel) or a reboot'
		: 'a reboot';
}

/** What the manager itself says: applies to named units too. */
export function managerRefusal(f: RestartFacts, ctx: PolicyContext): Skip | null {
	if (f.id === 'init.scope') {
		return {
			code: 'manager',
			reason: 'it is the service manager itself (the manager cannot restart it)',
			instead: `systemctl${ctx.system ? '' : ' --user'} daemon-reexec (loads the manager's new code in place), or ${reboot(ctx)}`,
		};
	}
	if (f.refuseManualStart || f.refuseManualStop) {
		const which = [f.refuseManualStart && 'RefuseManualStart', f.refuseManualStop && 'RefuseManualStop'].filter(Boolean).join(' and ');
		return {code: 'refused-by-manager', reason: `the manager refuses to restart it by hand (${which}=yes)`, instead: reboot(ctx)};
	}
	if (!f.canStart || !f.canStop) {
		const which = [!f.canStart && 'CanStart', !f.canStop && 'CanStop'].filter(Boolean).join(' and ');
		return {code: 'cannot-restart', reason: `the manager cannot restart a unit of this kind (${which}=no)`, instead: reboot(ctx)};
	}
	return null;
}

/** Why `--needed` leaves this unit out, or null when restarting it is safe. */
export function skipForNeeded(f: RestartFacts, ctx: PolicyContext): Skip | null {
	const refused = managerRefusal(f, ctx);
	if (refused) return refused;
	if (anyName(f, MESSAGE_BUS)) {
		return {
			code: 'message-bus',
			reason: 'it is the message bus: every D-Bus client, systemd and logind among them, would lose its connection',
			instead: reboot(ctx),
		};
	}
	if (anyName(f, LOGIN_MANAGER)) {
		return {code: 'login-manager', reason: "it is the login manager: restarting it can end users' sessions", instead: reboot(ctx)};
	}
	if (anyName(f, DISPLAY_MANAGER)) {
		return {
			code: 'display-manager',
			reason: 'it is a display manager: restarting it ends the graphical sessions it runs',
			instead: ctx.system ? `users logging out and back in, or ${reboot(ctx)}` : reboot(ctx),
		};
	}
	if (anyName(f, GETTY)) {
		return {
			code: 'getty',
			reason: 'it is a getty: restarting it kills the login session on that terminal',
			instead: ctx.system ? `the user on that terminal logging out and back in, or ${reboot(ctx)}` : reboot(ctx),
		};
	}
	if (anyName(f, USER_SESSION)) {
		return {
			code: 'user-session',
			reason: "it is a user's session: restarting it ends that user's processes",
			instead: ctx.system ? `that user logging out and back in, or ${reboot(ctx)}` : reboot(ctx),
		};
	}
	if (ctx.selfUnit !== null && f.names.concat(f.id).includes(ctx.selfUnit)) {
		return {
			code: 'self',
			reason: 'livetree runs in it: the restart would stop livetree half-way',
			instead: `running livetree restart from outside that unit, or naming the unit explicitly (${restartCommand(ctx, f.id)})`,
		};
	}
	const site = ctx.exclude.find(e => anyName(f, [e.pattern]));
	if (site) {
		return {
			code: 'site-policy',
			reason: `excluded by site policy (${site.pattern}, ${site.source})`,
			instead: `whatever the site prefers; name the unit explicitly to restart it anyway (${restartCommand(ctx, f.id)})`,
		};
	}
	if (f.result === 'start-limit-hit') {
		return {
			code: 'start-limit',
			reason: 'it hit its start limit and the manager refuses to start it',
			instead: `looking at why (journalctl${user(ctx)} -u ${f.id}), then systemctl${user(ctx)} reset-failed ${f.id} and naming it explicitly (${restartCommand(ctx, f.id)})`,
		};
	}
	const mine = ctx.history.filter(h => h.unit === f.id).sort((a, b) => b.startedAt - a.startedAt);
	const intervalS = Number(f.startLimitIntervalUsec / 1_000_000n);
	if (f.startLimitBurst > 0 && intervalS > 0) {
		const recent = mine.filter(h => h.startedAt > ctx.now - intervalS).length;
		if (recent + 1 >= f.startLimitBurst) {
			return {
				code: 'start-limit',
				reason: `livetree restarted it ${recent} time(s) in the last ${intervalS} s; one more would reach its start limit (StartLimitBurst=${f.startLimitBurst})`,
				instead: `waiting ${intervalS} s, then ${restartCommand(ctx, '--needed')} again`,
			};
		}
	}
	const last = mine[0];
	const startedSinceUs = f.activeEnterTimestampUsec;
	if (last && (last.verdict === 'failed' || last.state === 'in-progress')) {
		// Started again since (by hand, after a fix): the failure is history, not a loop. The
		// record keeps whole seconds, and the failed attempt's own start falls in its last one.
		const since = (last.finishedAt ?? last.startedAt) + 1;
		if (startedSinceUs <= BigInt(since) * 1_000_000n) {
			const when = new Date(last.startedAt * 1000).toISOString();
			return {
				code: 'failed-before',
				reason: `livetree's restart of it at ${when} ${last.state === 'in-progress' ? 'never finished' : 'failed'}, and it was not started since; livetree does not retry in a loop`,
				instead: `looking at why (journalctl${user(ctx)} -u ${f.id}), then naming it explicitly (${restartCommand(ctx, f.id)})`,
			};
		}
	}
	return null;
}
