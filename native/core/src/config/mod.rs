//! The configuration in effect: configuration a running process depends on that changed
//! after the process started (docs/config.md).
//!
//! Two sources are decided here, from change times and `stat` only, never a file's
//! contents: `conffile` (the configuration files the package that installed the
//! process's executable lists in its root's database: dpkg `Conffiles:`, rpm `%config`) and `open-file`
//! (files under `/etc` the process holds open, by `/proc/PID/fd` links). The scan hook
//! (`scan/config.rs`) runs [`Pass`] over the attributed processes; what one root's
//! database and one path's stat say is asked once per scan.
pub mod clock;
pub mod conffile_drift;
pub mod conffiles;
pub mod config_diff;
pub mod etc_diff;
pub mod open_files;
pub mod overlay_etc;
pub mod unit_files;

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};

pub use clock::{utc, Clock};

use crate::error::Warning;
use crate::fast_hash::FastMap;
use crate::packages::PackageInfo;

/// Now, nanoseconds since the Unix epoch (0 for a clock before 1970), as change times are
/// compared here.
pub(crate) fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64)
}

/// Why a process depends on a changed file (the contract's `configChanges[].source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConfigSource {
    /// A configuration file of the package that installed the process's executable.
    Conffile,
    /// A file under `/etc` the process holds open, or held at a path that now names
    /// another file (or none).
    OpenFile,
    /// The fragment or a drop-in of the process's systemd unit (`unit_files`).
    UnitFile,
}

/// One configuration file a process depends on that changed after it started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigChange {
    /// The path inside the process's root.
    pub path: Vec<u8>,
    /// The file's change time (ctime), nanoseconds since the epoch: of the file now at
    /// the path, or (when the path names nothing now) of the file the process holds.
    pub changed_ns: i64,
    /// Why the process depends on it.
    pub source: ConfigSource,
    /// The package whose configuration file it is (conffile), when known.
    pub package: Option<PackageInfo>,
    /// `open-file`: the file the process holds is no longer the one at the path (replaced
    /// or removed). When this clears after a reload, the daemon opened it again.
    pub replaced: bool,
}

/// `processes[].configChanges[]`, keys in the contract's order.
impl Serialize for ConfigChange {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_struct("ConfigChange", 4 + usize::from(self.replaced))?;
        m.serialize_field("path", &crate::as_text::text(&self.path))?;
        m.serialize_field("changedAt", &utc(self.changed_ns))?;
        m.serialize_field("source", &self.source)?;
        m.serialize_field("package", &self.package)?;
        if self.replaced {
            m.serialize_field("replaced", &true)?;
        }
        m.end()
    }
}

/// A process root as the scan tells roots apart: root directory (dev, ino), mount
/// namespace, and the root link as the scanner reads it.
pub type RootKey = (Option<(u64, u64)>, Option<u64>, Vec<u8>);

/// A process as the checks see it: its executable (as the scanner reads the link) and
/// the package the scan named for that executable's mapping, if any.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    /// The process id.
    pub pid: u32,
    /// The target of `/proc/PID/exe`.
    pub exe: Option<&'a [u8]>,
    /// The package that installed the mapped executable, when the scan named one.
    pub package: Option<&'a PackageInfo>,
}

/// What the pass needs of a process beyond its report.
#[derive(Debug, Clone)]
pub struct Facts {
    /// Its root.
    pub root: RootKey,
    /// Its start, nanoseconds since the epoch.
    pub started_ns: i64,
    /// When livetree last asked for its reload (`Reloaded`), nanoseconds since the epoch.
    pub reloaded_ns: Option<i64>,
}

impl Facts {
    /// Whether a change at `ctime_ns` is newer than the configuration the process runs
    /// with: after its start (the tick rule of [`Clock::changed_after`]) and, when livetree
    /// asked for its reload since, at or after the moment it asked (a change before the
    /// request is what the reload applied; one during it may have been missed).
    pub fn changed_since(&self, clock: &Clock, ctime_ns: i64) -> bool {
        clock.changed_after(ctime_ns, self.started_ns)
            && self.reloaded_ns.is_none_or(|r| ctime_ns >= r)
    }
}

/// A reload livetree asked for (`livetree restart --reload-needed`, from the restart
/// history): process `pid`, which started at `started_at` (as the document writes it, so a
/// reused PID is not taken for it), was reloaded at `at_ns` (when the reload was asked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reloaded {
    /// The process.
    pub pid: u32,
    /// Its `startedAt` when it was reloaded.
    pub started_at: String,
    /// When the reload was asked, nanoseconds since the epoch.
    pub at_ns: i64,
}

/// What a path in a root is now: (device, inode, ctime ns), or None when nothing is there.
pub type Now = Option<(u64, u64, i64)>;

/// One scan's configuration checks, with their caches.
pub struct Pass {
    proc_root: PathBuf,
    /// The boot clock; None when `/proc/stat` gave no boot time (no process has a start).
    pub clock: Option<Clock>,
    facts: FastMap<u32, Facts>,
    paths: FastMap<(RootKey, Vec<u8>), Now>,
    roots: FastMap<RootKey, std::rc::Rc<conffiles::RootPackages>>,
    /// Roots whose database the scan knows to be one shared with other roots, by an
    /// identity of its own (a container's image layers: `containers::database`).
    shared: FastMap<RootKey, Vec<u8>>,
    reloaded: FastMap<u32, (String, i64)>,
    /// Per root: the newest change under its `/etc` (`open_files::newest_etc`, or a bound
    /// from its overlay's pieces), None when it was not walked whole; roots not walked are
    /// absent.
    etc_newest: FastMap<RootKey, Option<i64>>,
    /// Roots that are a container's root overlay, by what their `/etc` is made of (the scan
    /// knows it from the container's mount: `overlay_etc`).
    overlay_etcs: FastMap<RootKey, std::sync::Arc<overlay_etc::OverlayEtc>>,
    /// Each lower layer's newest change under its `etc`, once per scan for every container.
    layer_etcs: HashMap<PathBuf, Option<i64>>,
    /// The fd directories this pass read (for the scanner's counters and the tests).
    pub fd_reads: usize,
    /// What could not be checked, said once each.
    pub warnings: Vec<Warning>,
    warned: std::collections::HashSet<&'static str>,
}

impl Pass {
    /// A pass over the processes of `proc_root`.
    pub fn new(proc_root: &Path) -> Pass {
        Pass {
            proc_root: proc_root.to_path_buf(),
            clock: Clock::read(proc_root),
            facts: FastMap::default(),
            paths: FastMap::default(),
            roots: FastMap::default(),
            shared: FastMap::default(),
            reloaded: FastMap::default(),
            etc_newest: FastMap::default(),
            overlay_etcs: FastMap::default(),
            layer_etcs: HashMap::new(),
            fd_reads: 0,
            warnings: Vec::new(),
            warned: Default::default(),
        }
    }

    /// The pass, knowing the reloads livetree asked for: the latest for each PID counts
    /// (an older one is of this process too, or of one whose PID it reuses).
    pub fn with_reloaded(mut self, reloaded: &[Reloaded]) -> Pass {
        for r in reloaded {
            let e = self
                .reloaded
                .entry(r.pid)
                .or_insert_with(|| (r.started_at.clone(), r.at_ns));
            if r.at_ns > e.1 {
                *e = (r.started_at.clone(), r.at_ns);
            }
        }
        self
    }

    /// The start of a process that started `ticks` after boot, nanoseconds since the epoch.
    pub fn started_ns(&self, ticks: Option<u64>) -> Option<i64> {
        Some(self.clock?.at(ticks?))
    }

    /// Remember process `pid`'s root and start for [`Pass::run`].
    pub fn note(&mut self, pid: u32, root: RootKey, started_ns: Option<i64>) {
        if let Some(started_ns) = started_ns {
            // Only a reload of this very process (same start), not of an earlier one
            // whose PID it reuses.
            let reloaded_ns = self
                .reloaded
                .get(&pid)
                .filter(|(at, _)| *at == utc(started_ns))
                .map(|(_, ns)| *ns);
            self.facts.insert(
                pid,
                Facts {
                    root,
                    started_ns,
                    reloaded_ns,
                },
            );
        }
    }

    /// The package database seen from `root` is the one every root given the same `key`
    /// sees (the scan knows it from the container's layers): read once for all of them.
    pub fn same_database(&mut self, root: RootKey, key: Vec<u8>) {
        self.shared.insert(root, key);
    }

    /// `root` is a container's root overlay made of `etc`'s pieces: the newest change under
    /// its `/etc` is bounded from them (`overlay_etc`) rather than by a walk through it.
    pub fn etc_from_layers(&mut self, root: RootKey, etc: std::sync::Arc<overlay_etc::OverlayEtc>) {
        self.overlay_etcs.insert(root, etc);
    }

    fn warn_once(&mut self, code: &'static str, message: String) {
        if self.warned.insert(code) {
            self.warnings.push(Warning::new(code, message, None));
        }
    }

    /// What `path` (inside the root of `pid`, which is `root`) is now, once per root and path.
    fn now(&mut self, pid: u32, root: &RootKey, path: &[u8]) -> Now {
        let key = (root.clone(), path.to_vec());
        if let Some(hit) = self.paths.get(&key) {
            return *hit;
        }
        let now = match crate::proc::procfs::metadata_in_root(&self.proc_root, pid, path) {
            Ok(m) => m.map(|m| (m.dev(), m.ino(), m.ctime() * 1_000_000_000 + m.ctime_nsec())),
            Err(e) => {
                self.warn_once("config-stat", format!("configuration not checked: {e}"));
                None
            }
        };
        self.paths.insert(key, now);
        now
    }

    /// Each process's configuration changes (in the order of `subjects`): its package's
    /// conffiles and the files under `/etc` it holds open that changed after it started.
    pub fn run(&mut self, subjects: &[Subject]) -> Vec<Vec<ConfigChange>> {
        let mut all = vec![Vec::new(); subjects.len()];
        // The benchmark's baseline (scripts/bench-config.sh): the same scan without this
        // pass, to measure what it costs. Never set on a host: every list would be empty.
        if std::env::var_os("LIVETREE_BENCH_SKIP_CONFIG_PASS").is_some() {
            return all;
        }
        let Some(clock) = self.clock else {
            if !subjects.is_empty() {
                self.warn_once(
                    "config-clock",
                    format!(
                        "{}/stat gives no boot time: start times and configuration changes are unknown",
                        self.proc_root.display()
                    ),
                );
            }
            return all;
        };
        self.read_packages(subjects);
        self.walk_etcs(subjects, &clock);
        // No executable (a kernel thread, or one we may not look at): no package, no files
        // of its own to hold. The fd directories to read are read first, across the cores.
        let fds: Vec<(u32, RootKey)> = subjects
            .iter()
            .filter(|p| p.exe.is_some())
            .filter_map(|p| {
                let facts = self.facts.get(&p.pid)?;
                (!self.nothing_changed_since(facts, &clock)).then(|| (p.pid, facts.root.clone()))
            })
            .collect();
        self.fd_reads += fds.len();
        let mut held = self.read_fds(&fds);
        for (p, out) in subjects.iter().zip(all.iter_mut()) {
            if p.exe.is_none() {
                continue;
            }
            let Some(facts) = self.facts.get(&p.pid).cloned() else {
                continue;
            };
            let mut changes = self.conffile_changes(p, &facts, &clock);
            if let Some(h) = held.remove(&p.pid) {
                changes.extend(self.open_file_changes(p.pid, h, &facts, &clock));
            }
            changes.sort_by(|a, b| (&a.path, a.source).cmp(&(&b.path, b.source)));
            changes.dedup_by(|a, b| a.path == b.path);
            *out = changes;
        }
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reload_moves_the_reference_forward() {
        let clock = Clock {
            boot_ns: 1_000_000_000_000,
            tick_ns: 10_000_000,
        };
        let started_ns = clock.at(100);
        let mut f = Facts {
            root: (None, None, b"/".to_vec()),
            started_ns,
            reloaded_ns: None,
        };
        let later = started_ns + 5_000_000_000;
        assert!(f.changed_since(&clock, later));
        assert!(!f.changed_since(&clock, started_ns));
        f.reloaded_ns = Some(later + 1);
        assert!(!f.changed_since(&clock, later), "applied by the reload");
        assert!(
            f.changed_since(&clock, later + 1),
            "at the request: maybe too late"
        );

        // Only a reload of the same process (same start) counts; the latest wins.
        let mut pass = Pass::new(Path::new("/nonexistent")).with_reloaded(&[
            Reloaded {
                pid: 7,
                started_at: utc(started_ns),
                at_ns: later,
            },
            Reloaded {
                pid: 7,
                started_at: utc(started_ns),
                at_ns: later + 9,
            },
            Reloaded {
                pid: 8,
                started_at: utc(started_ns - 1_000_000_000),
                at_ns: later,
            },
        ]);
        pass.note(7, f.root.clone(), Some(started_ns));
        pass.note(8, f.root.clone(), Some(started_ns));
        assert_eq!(pass.facts[&7].reloaded_ns, Some(later + 9));
        assert_eq!(pass.facts[&8].reloaded_ns, None);
    }
}
