// Every command, with the options it takes: the one table that `livetree --help`, each
// command's --help and the check that rejects an option a command does not take are made from.
// It holds only words and option specs, so the CLI can print help without loading a command.
import {pick, scanOptionNames} from '../options.js';

export const commandTable = {
	status: {
		usage: 'status [options]',
		summary: 'what runs, per deployment (also: livetree admin status)',
		description: `Show every deployment and what its processes actually run: which need a restart,
which run live-applied (overlay) code, and why.`,
		positionals: false,
		options: pick(
			'sysroot',
			'json',
			'format',
			'output',
			'textfile',
			'state-dir',
			'proc-root',
			'sys-root',
			'run-dir',
			'user',
			'bus-address',
			'no-systemd',
			'fail-on-reload',
			'color',
			'verbose',
			'help',
		),
		optionHelp: {json: 'print the v1 JSON document (schema/status.schema.json)'},
		footer: `Exit codes: 0 every process was read and none needs a restart, 1 something needs a
restart or the kernel a reboot (or, with --fail-on-reload, a process needs a reload), 2 the
scan failed, 3 some processes could not be read (run as root) and none that could needs a
restart: unknown, not clean.
A process whose configuration changed since it started (a package conffile, a file under
/etc it holds open, its systemd unit's file) is listed under "Config changed since start"
(docs/config.md); it needs a reload (restart --reload-needed), not a restart.`,
	},
	explain: {
		usage: 'explain PID [options]',
		summary: 'which tree PID runs, file by file, and why it needs a restart',
		synopsis: 'explain PID',
		description: `Say which tree PID runs: the deployment, commit, version and path of every file it
maps, and why it needs a restart or not.`,
		positionals: true,
		options: pick(...scanOptionNames, 'json', 'color', 'verbose', 'help'),
		optionHelp: {json: 'print the process, its deployment and the warnings as JSON'},
		footer: `Exit codes: 0 it runs current code (or is a kernel thread), 1 it needs a restart,
2 no such process or scan failed, 3 its memory map could not be read: what it runs is
unknown (the warnings say why).`,
	},
	which: {
		usage: 'which (MAJOR:MINOR:INODE | PATH) [options]',
		summary: 'which commits hold that file, at which paths',
		synopsis: 'which MAJOR:MINOR:INODE|PATH',
		description: `Which commits hold a file, and at which paths. MAJOR:MINOR:INODE is what
/proc/PID/maps shows (device in decimal); PATH is a file on disk (found by inode in
the repo, or by its ostree checksum in the catalog) or a path inside trees such as
/usr/lib/libc.so.6. For a file on disk it also names the package that installed
that path, as the host's package database (dpkg or rpm) says.`,
		positionals: true,
		options: pick('sysroot', 'state-dir', 'run-dir', 'json', 'help'),
		optionHelp: {json: 'print the hits as JSON'},
		footer: `Exit codes: 0 found (in a known commit, or installed by a package of the
host), 1 neither, 2 error (also a PATH that is no file here and no tree path of a
known commit).`,
	},
	packages: {
		usage: 'packages [NAME...] [options]',
		summary: 'package versions in memory against the installed ones',
		synopsis: 'packages [NAME...]',
		description: `List the packages whose code is in memory: each version running, the processes and
units running it, and the version installed in the booted (else default) deployment,
or on a host without OSTree in the host's own package database. NAME filters by
binary or source package name; a NAME that matches nothing in memory is said.`,
		positionals: true,
		options: pick(
			'sysroot',
			'json',
			'format',
			'textfile',
			'state-dir',
			'proc-root',
			'run-dir',
			'user',
			'bus-address',
			'no-systemd',
			'color',
			'verbose',
			'help',
		),
		optionHelp: {json: 'print the packages document (schema/packages.schema.json)'},
		footer: `Exit codes: 0 every package runs its installed version (also when no NAME given is in
memory), 1 some package runs another version, 2 the scan failed, 3 none that was read
runs another version but some processes could not be read (what they run is unknown).`,
	},
	restart: {
		usage: 'restart (--needed | --reload-needed | UNIT...) [options]',
		summary: 'restart units that need it (--needed or UNIT...) or reload them (--reload-needed), verify each',
		synopsis: 'restart',
		description: `Restart units through systemd, wait for each job, then scan the unit's new processes:
  verified     new processes, all running current code
  still-stale  restarted, but something in the unit still maps stale code
  unverified   restarted, but a new process could not be read: what it runs is unknown
  failed       the job or the unit failed (its Result and ExecMainStatus are shown)
Every attempt is recorded in the catalog (see livetree history).

--needed leaves out units that cannot be restarted safely, and lists each with the
reason and what applies the new code instead (a reboot, a soft reboot, logging out):
units the manager refuses to restart by hand (RefuseManualStart/Stop, CanStart/Stop),
the manager itself, the message bus, logind, display managers, gettys, user sessions,
the unit livetree runs in, the site's exclusions, a unit at its start limit, and one
whose last restart by livetree failed (never retried in a loop). Units named on the
command line are restarted unless the manager itself refuses. Processes that need a
restart but belong to no unit are counted: whoever started them restarts them.

--reload-needed reloads (systemctl reload) each unit whose configuration changed since
its processes started (status: "Config changed since start") and that can be reloaded
(ExecReload), and checks it: the same main process (same PID and start time) and none
of the changes left in a fresh scan.
  reloaded               verified: a file under /etc the daemon held, replaced since,
                         is the new one now (it read its configuration again)
  reloaded-unverifiable  done and still the same process, but nothing observable tells
                         whether the daemon read its configuration again
  still-stale            a change is left (it still holds the old file)
  failed                 the job or the unit failed, or the main process was replaced
A unit that cannot be reloaded, or whose unit file changed (a reload does not load it:
systemctl daemon-reload, then a restart), is left alone and listed with what applies
its changes; it is restarted only when asked (--needed for stale code, or by name).
Reloads are recorded in the history as restarts are; a scan counts a change made
before a recorded reload as applied.`,
		positionals: true,
		// No --no-systemd: restarting is asking systemd. No --verbose: the outcomes are never cut.
		options: pick(
			'needed',
			'reload-needed',
			'dry-run',
			'exclude',
			'restart-config',
			'sysroot',
			'state-dir',
			'proc-root',
			'sys-root',
			'run-dir',
			'user',
			'bus-address',
			'json',
			'color',
			'help',
		),
		optionHelp: {json: 'print the outcomes as JSON'},
		footer: `Exit codes: 0 every requested restart is verified and every reload reloaded (or
reloaded-unverifiable), or a dry run; 1 one is still-stale or failed, or a unit needing a
restart or a reload was left alone; 2 error (such as a unit that does not exist); 3 every
restart succeeded but some new processes could not be read (unverified).`,
	},
	history: {
		usage: 'history [options]',
		summary: 'restart attempts recorded in the catalog',
		description: `List every restart attempt livetree recorded: unit, time, old and new PIDs, the job's
result and the verdict. An attempt interrupted by a crash shows as in-progress.`,
		positionals: false,
		options: pick('state-dir', 'json', 'color', 'help'),
		optionHelp: {json: 'print the records as JSON'},
		footer: 'Exit codes: 0 listed (also when none is recorded), 2 error.',
	},
	diff: {
		usage: 'diff A (B | @TIME) [options]',
		summary: 'what runs differently between two status --json documents',
		synopsis: 'diff A B|@TIME',
		description: `Compare two documents written by \`livetree status --json\` (two hosts, or one host
before and after a change; - reads one from standard input). Processes are grouped
by unit, else container, else command name; for each group present in both, the
commits, package versions (NAME=VERSION), container images and layers, and
live-applied overlay files that only one side runs; units added and gone; and
deployments added, gone or changed (booted, pending, pinned, live-applied commit...).
@TIME instead of a file is what the catalog's timeline saw in memory at TIME (see
livetree timeline; TIME as its --at takes); deployments are then not compared.`,
		positionals: true,
		options: pick('state-dir', 'json', 'color', 'help'),
		optionHelp: {json: 'print the differences as JSON (schema/diff.schema.json)'},
		footer: 'Exit codes: 0 no difference, 1 they differ, 2 error (unreadable file, not a status document).',
	},
	timeline: {
		usage: 'timeline [options]',
		summary: 'what ran when: versions in memory over time, from the catalog',
		description: `Show what the recorded scans saw in memory over time (every \`livetree status\` and
the exporter at most once a minute record into the catalog, as root): per unit, each
process with the commits, packages, images and overlays its code came from, from the
first scan that saw it to the last, and what ended it (a restart by livetree, or a
scan that no longer saw it). --package NAME shows each version of NAME: from when to
when, in which units. NAME is a binary or a source package name (openssl finds
libssl3); NAME=VER keeps the versions VER names: the whole binary or source version,
or its upstream part (3.0.11 names 3.0.11-1~deb12u2 and 1:3.0.11-2, not 3.0.110-1).
"Was openssl 3.0.11 in memory last week?" is --package openssl=3.0.11 --since 7d.
--at TIME shows what was in memory then. A range no scan saw is said ("no scan
between ..."), never taken for "nothing ran"; when nothing came through a binary
name, versions recorded without their source package are counted and said. Times
are local in text, UTC in JSON (schema/timeline.schema.json).`,
		positionals: false,
		options: pick('since', 'until', 'at', 'unit', 'package', 'commit', 'container', 'state-dir', 'json', 'color', 'help'),
		optionHelp: {json: 'print the intervals and the coverage as JSON'},
		footer: 'Exit codes: 0 answered (also when nothing matched), 2 error (no catalog, bad time).',
	},
	exporter: {
		usage: 'exporter [options]',
		summary: 'serve Prometheus metrics on 127.0.0.1:9947',
		description: `Serve Prometheus metrics at http://LISTEN/metrics. Each scrape gets the metrics of
a scan at most --min-interval old; scrapes never start two scans at once.
livetree_scan_complete is 0 when some process could not be read: then no process
needing a restart is no all-clear (as status's exit code 3).`,
		positionals: false,
		options: pick('listen', 'allow-remote', 'web.config.file', 'min-interval', ...scanOptionNames, 'help'),
		optionHelp: {},
		footer: `Runs until SIGINT or SIGTERM; SIGHUP reloads the web configuration file.
Exit codes: 0 stopped by a signal, 2 could not start.`,
	},
	catalog: {
		usage: 'catalog (check | rebuild) [options]',
		summary: 'inspect or repair the catalog database',
		synopsis: 'catalog check|rebuild',
		description: `  check     integrity check, schema version and row counts; changes nothing
  rebuild   move the catalog aside (catalog.sqlite.corrupt-TIME), create a fresh one,
            and copy into it everything still readable; lists what was lost`,
		positionals: true,
		options: pick('state-dir', 'json', 'help'),
		optionHelp: {json: 'print the result as JSON'},
		footer: 'Exit codes: 0 healthy / rebuilt, 1 check found damage, 2 error.',
	},
	'config-diff': {
		usage: 'config-diff [DEPLOYMENT] [options]',
		summary: "configuration changed from what was shipped (a deployment's /etc)",
		synopsis: 'config-diff [DEPLOYMENT]',
		description: `On an OSTree sysroot: the deployment's /etc against its commit's /usr/etc, the list
\`ostree admin config-diff\` prints (M modified, D removed, A added; same paths, same
order), for any deployment, not only the booted one. DEPLOYMENT is its index as
\`livetree status\` lists them (0 first), OSNAME/CHECKSUM.SERIAL or CHECKSUM.SERIAL;
without it, the booted deployment, else the first listed (the default).
On a plain host (a sysroot without ostree/): the conffiles of installed dpkg packages
whose contents differ from dpkg's recorded md5sum (M) or that are gone (D), as
\`debsums -ce\` reports them; with rpm (rpmdb.sqlite) instead, the %config files whose
contents differ from rpm's recorded digest (M) or that are gone (D), as
\`rpm -Va --configfiles\` reports them. File contents are compared (docs/config.md).
Names holding control characters or bytes that are not UTF-8 are printed escaped (\\xNN);
--json gives each path's exact bytes in pathBase64.`,
		positionals: true,
		options: pick('sysroot', 'run-dir', 'json', 'help'),
		optionHelp: {json: 'print the deployment (or root), counts and changes as JSON'},
		footer: `Exit codes: 0 no difference, 1 some configuration differs, 2 error (no such
deployment, an unreadable /etc or package database, a host with no dpkg database and
no rpmdb.sqlite), 3 nothing differs among what was checked but something could not be
checked (a damaged package header, a digest it cannot compute: the warnings say which).`,
	},
} as const;

export type CommandName = keyof typeof commandTable;

export function isCommandName(name: string): name is CommandName {
	return Object.hasOwn(commandTable, name);
}

// The command a command line names, and its arguments: `livetree admin status` is
// `livetree status` (as `ostree admin status` is typed by habit).
export function commandLine(argv: readonly string[]): [string | undefined, string[]] {
	const [name, ...rest] = argv[0] === 'admin' && argv[1] === 'status' ? argv.slice(1) : argv;
	return [name, rest];
}
