//! `unit-file`: a systemd unit's fragment and drop-ins changed after the unit's main
//! process started, or the manager says the unit's definition on disk is newer than the one
//! it loaded (`NeedDaemonReload`).
//!
//! The manager's facts (FragmentPath, DropInPaths, NeedDaemonReload, MainPID) come over
//! D-Bus (TypeScript, `src/systemd/`); what they mean is decided here, as the other
//! sources are: each file is only `stat`ed, as the manager sees it (inside its own root
//! when its process is known), and compared with the start of the unit's main process.
use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use super::{Clock, ConfigChange, ConfigSource};
use crate::error::Warning;
use crate::proc::procfs::{stat_start_ticks, ProcessRoot};

/// What the manager says about one unit, with the processes livetree scanned in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitFiles {
    /// The unit's name (for warnings).
    pub name: String,
    /// Its main process (our PID), when it has one.
    pub main_pid: Option<u32>,
    /// The unit's processes (our PIDs): without a main process, the one that started first
    /// stands for the unit.
    pub pids: Vec<u32>,
    /// The manager's process (our PID), whose root the paths are in; None: the manager
    /// sees the files as livetree does.
    pub manager_pid: Option<u32>,
    /// FragmentPath (empty: none, a transient unit).
    pub fragment: Vec<u8>,
    /// DropInPaths.
    pub drop_ins: Vec<Vec<u8>>,
    /// NeedDaemonReload: the unit's files on disk differ from what the manager loaded.
    pub need_daemon_reload: bool,
    /// Processes' starts as the scan read them, (PID, clock ticks after boot): the unit is
    /// measured from these where they name the process it is measured from; any other
    /// process's start is read from `/proc/PID/stat` now.
    pub starts: Vec<(u32, u64)>,
}

/// (ctime ns) of `path` as the manager sees it (in its root, opened once: `roots`); None when
/// nothing is there, Err when it could not be told.
fn ctime_of(
    proc_root: &Path,
    roots: &mut HashMap<u32, Result<ProcessRoot, String>>,
    manager: Option<u32>,
    path: &[u8],
) -> Result<Option<i64>, String> {
    let m = match manager {
        Some(pid) => {
            let root = roots
                .entry(pid)
                .or_insert_with(|| ProcessRoot::open(proc_root, pid).map_err(|e| e.to_string()))
                .as_ref()
                .map_err(Clone::clone)?;
            root.metadata(path).map_err(|e| e.to_string())?
        }
        None => {
            use std::os::unix::ffi::OsStrExt;
            match std::fs::metadata(std::ffi::OsStr::from_bytes(path)) {
                Ok(m) => Some(m),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(e) if e.raw_os_error() == Some(libc::ENOTDIR) => None,
                Err(e) => return Err(format!("{}: {e}", String::from_utf8_lossy(path))),
            }
        }
    };
    Ok(m.map(|m| m.ctime() * 1_000_000_000 + m.ctime_nsec()))
}

/// The start (ns since the epoch) of process `pid`, from its `stat`; None when it is gone.
fn started(proc_root: &Path, clock: &Clock, pid: u32) -> Option<i64> {
    let stat = std::fs::read(proc_root.join(pid.to_string()).join("stat")).ok()?;
    Some(clock.at(stat_start_ticks(&stat)?))
}

/// The directory holding `path` (`/a/b.conf` → `/a`), if any.
fn parent(path: &[u8]) -> Option<&[u8]> {
    let i = path.iter().rposition(|b| *b == b'/')?;
    Some(if i == 0 { b"/" } else { &path[..i] })
}

/// Each unit's `unit-file` changes (in the order of `units`), and what could not be
/// checked. A path is flagged when its change time is past the start of the unit's main
/// process (the tick rule of [`Clock::changed_after`]), or when it is gone and the manager
/// says its definition is stale. When the manager says so (NeedDaemonReload) and no file
/// changed after the start — the unit was started from the definition the manager had
/// loaded before the files changed — the fragment is named, with the latest change time of
/// the unit's files and their directories (a drop-in added or removed changes its
/// directory): the manager does not say which file differs.
pub fn unit_file_changes(
    proc_root: &Path,
    clock: Option<Clock>,
    units: &[UnitFiles],
) -> (Vec<Vec<ConfigChange>>, Vec<Warning>) {
    let mut warnings = Vec::new();
    let Some(clock) = clock else {
        if !units.is_empty() {
            warnings.push(Warning::new(
                "config-clock",
                format!(
                    "{}/stat gives no boot time: start times and configuration changes are unknown",
                    proc_root.display()
                ),
                None,
            ));
        }
        return (vec![Vec::new(); units.len()], warnings);
    };
    // Units share their directories (hundreds of transient units, one directory): each path
    // is stat'ed once per call, as the manager sees it.
    let mut seen = Ctimes::default();
    let out = units
        .iter()
        .map(|u| one_unit(proc_root, &clock, u, &mut seen, &mut warnings))
        .collect();
    (out, warnings)
}

/// A path's change time as [`ctime_of`] tells it.
type Ctime = Result<Option<i64>, String>;

/// The change times of the paths stat'ed so far (by manager and path), and the managers'
/// roots opened for them.
#[derive(Default)]
struct Ctimes {
    known: HashMap<(Option<u32>, Vec<u8>), Ctime>,
    roots: HashMap<u32, Result<ProcessRoot, String>>,
}

/// [`ctime_of`], each path once.
fn ctime_once(
    seen: &mut Ctimes,
    proc_root: &Path,
    manager: Option<u32>,
    path: &[u8],
) -> Result<Option<i64>, String> {
    let key = (manager, path.to_vec());
    if let Some(known) = seen.known.get(&key) {
        return known.clone();
    }
    let got = ctime_of(proc_root, &mut seen.roots, manager, path);
    seen.known.insert(key, got.clone());
    got
}

fn one_unit(
    proc_root: &Path,
    clock: &Clock,
    u: &UnitFiles,
    seen: &mut Ctimes,
    warnings: &mut Vec<Warning>,
) -> Vec<ConfigChange> {
    // Measured from its main process, else from the first started of its processes.
    let given: HashMap<u32, u64> = u.starts.iter().copied().collect();
    let start_of = |pid: u32| match given.get(&pid) {
        Some(&ticks) => Some(clock.at(ticks)),
        None => started(proc_root, clock, pid),
    };
    let start = match u.main_pid {
        Some(pid) => start_of(pid),
        None => u.pids.iter().filter_map(|p| start_of(*p)).min(),
    };
    // Nothing of the unit runs now (it exited since the scan): nothing to say.
    let Some(start) = start else {
        return Vec::new();
    };
    let files: Vec<&[u8]> = std::iter::once(u.fragment.as_slice())
        .filter(|f| !f.is_empty())
        .chain(u.drop_ins.iter().map(Vec::as_slice))
        .collect();
    let mut out = Vec::new();
    let mut latest: Option<i64> = None;
    let mut unknown = false;
    let mut seen_dirs: Vec<&[u8]> = Vec::new();
    for path in &files {
        let dir = parent(path).filter(|d| !seen_dirs.contains(d));
        for (p, is_file) in std::iter::once((*path, true)).chain(dir.map(|d| (d, false))) {
            match ctime_once(seen, proc_root, u.manager_pid, p) {
                Ok(Some(ctime)) => {
                    latest = Some(latest.map_or(ctime, |l| l.max(ctime)));
                    if is_file && clock.changed_after(ctime, start) {
                        out.push(change(path, ctime));
                    }
                }
                // A loaded drop-in removed since: its directory's change time is the removal's.
                Ok(None) if is_file && u.need_daemon_reload => {
                    if let Some(Ok(Some(ctime))) =
                        parent(path).map(|d| ctime_once(seen, proc_root, u.manager_pid, d))
                    {
                        out.push(change(path, ctime));
                    }
                }
                Ok(None) => {}
                Err(e) => {
                    unknown = true;
                    warnings.push(Warning::new(
                        "config-stat",
                        format!("unit {}: unit file not checked: {e}", u.name),
                        None,
                    ));
                }
            }
        }
        if let Some(d) = dir {
            seen_dirs.push(d);
        }
    }
    if out.is_empty() && u.need_daemon_reload && !unknown {
        if let (Some(fragment), Some(ctime)) = (files.first(), latest) {
            out.push(change(fragment, ctime));
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out.dedup_by(|a, b| a.path == b.path);
    out
}

fn change(path: &[u8], ctime: i64) -> ConfigChange {
    ConfigChange {
        path: path.to_vec(),
        changed_ns: ctime,
        source: ConfigSource::UnitFile,
        package: None,
        replaced: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::now_ns;

    fn unit(fragment: &Path, drop_ins: &[&Path], need: bool) -> UnitFiles {
        use std::os::unix::ffi::OsStrExt;
        UnitFiles {
            name: "t.service".into(),
            main_pid: Some(std::process::id()),
            pids: vec![std::process::id()],
            manager_pid: None,
            fragment: fragment.as_os_str().as_bytes().to_vec(),
            drop_ins: drop_ins
                .iter()
                .map(|p| p.as_os_str().as_bytes().to_vec())
                .collect(),
            need_daemon_reload: need,
            starts: Vec::new(),
        }
    }

    #[test]
    fn files_changed_after_the_start_and_need_daemon_reload() {
        let proc_root = Path::new("/proc");
        let live = Clock::read(proc_root).expect("a live /proc has btime");
        // As if boot were 10 s earlier: this process started well before the files below.
        let clock = Clock {
            boot_ns: live.boot_ns - 10_000_000_000,
            tick_ns: live.tick_ns,
        };
        let dir = std::env::temp_dir().join(format!("livetree-unit-files-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).unwrap();
        let frag = dir.join("t.service");
        std::fs::write(&frag, "[Service]\n").unwrap();
        let dropin = dir.join("t.service.d/x.conf");
        std::fs::create_dir(dropin.parent().unwrap()).unwrap();
        std::fs::write(&dropin, "[Service]\n").unwrap();
        let (changes, warnings) =
            unit_file_changes(proc_root, Some(clock), &[unit(&frag, &[&dropin], false)]);
        assert!(warnings.is_empty());
        let paths: Vec<_> = changes[0].iter().map(|c| c.path.clone()).collect();
        assert_eq!(changes[0].len(), 2, "{paths:?}");
        assert!(changes[0]
            .iter()
            .all(|c| c.source == ConfigSource::UnitFile));

        // Started after the change (a clock as if boot were now): nothing, unless the
        // manager says its loaded definition is stale.
        let later = Clock {
            boot_ns: now_ns() + 1_000_000_000,
            tick_ns: clock.tick_ns,
        };
        let (none, _) = unit_file_changes(proc_root, Some(later), &[unit(&frag, &[], false)]);
        assert_eq!(none[0], Vec::new());
        let (stale, _) = unit_file_changes(proc_root, Some(later), &[unit(&frag, &[], true)]);
        assert_eq!(stale[0].len(), 1);
        assert_eq!(stale[0][0].path, frag.to_str().unwrap().as_bytes());

        // A loaded drop-in removed since, with NeedDaemonReload: named, with its directory's time.
        std::fs::remove_file(&dropin).unwrap();
        let (gone, _) = unit_file_changes(proc_root, Some(later), &[unit(&frag, &[&dropin], true)]);
        assert_eq!(gone[0].len(), 1);
        assert_eq!(gone[0][0].path, dropin.to_str().unwrap().as_bytes());

        // No clock: nothing decided, said once.
        let (nothing, w) = unit_file_changes(proc_root, None, &[unit(&frag, &[], true)]);
        assert_eq!(nothing, vec![Vec::new()]);
        assert_eq!(w[0].code, "config-clock");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_start_given_is_measured_from_without_reading_stat() {
        use std::os::unix::ffi::OsStrExt;
        let proc_root = Path::new("/proc");
        let clock = Clock::read(proc_root).expect("a live /proc has btime");
        let dir = std::env::temp_dir().join(format!("livetree-unit-ticks-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).unwrap();
        let frag = dir.join("t.service");
        std::fs::write(&frag, "[Service]\n").unwrap();
        let ctime = {
            let m = std::fs::metadata(&frag).unwrap();
            m.ctime() * 1_000_000_000 + m.ctime_nsec()
        };
        // The tick the file changed in: counted from one tick before it, not from that tick.
        let ticks_at = (ctime - clock.boot_ns) / clock.tick_ns;
        let mut u = unit(&frag, &[], false);
        // A main PID that is no process: only the ticks given are read.
        u.main_pid = Some(u32::MAX);
        u.pids = vec![];
        u.starts = vec![(u32::MAX, ticks_at as u64 - 1)];
        let (c, w) = unit_file_changes(proc_root, Some(clock), std::slice::from_ref(&u));
        assert!(w.is_empty());
        assert_eq!(c[0].len(), 1);
        assert_eq!(c[0][0].path, frag.as_os_str().as_bytes());
        assert_eq!(c[0][0].changed_ns, ctime);
        u.starts = vec![(u32::MAX, ticks_at as u64)];
        let (c, _) = unit_file_changes(proc_root, Some(clock), std::slice::from_ref(&u));
        assert_eq!(c, vec![Vec::new()]);
        // Without ticks, the main process's stat: none here, nothing to say.
        u.starts = Vec::new();
        let (c, _) = unit_file_changes(proc_root, Some(clock), &[u]);
        assert_eq!(c, vec![Vec::new()]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_unit_with_nothing_running_has_no_changes() {
        let clock = Clock::read(Path::new("/proc")).unwrap();
        let mut u = unit(Path::new("/etc/passwd"), &[], true);
        u.main_pid = None;
        u.pids = vec![];
        let (c, _) = unit_file_changes(Path::new("/proc"), Some(clock), &[u]);
        assert_eq!(c, vec![Vec::new()]);
        assert_eq!(parent(b"/a/b.conf"), Some(&b"/a"[..]));
        assert_eq!(parent(b"/x"), Some(&b"/"[..]));
        assert_eq!(parent(b"x"), None);
    }
}
