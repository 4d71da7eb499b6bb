//! A scanner kept between scans: it holds what a scan knows before it looks at any
//! process (`Knowledge`: the sysroot's deployments, the repo and its inode index, the open
//! catalog) and loads again only the parts whose sources changed.
//!
//! The invalidation rule. Before each scan the scanner takes a fingerprint: `lstat` of
//! every file and directory the knowledge was read from, in four parts.
//!
//! - **sysroot**: the sysroot, `boot/`, the `boot/loader` link, `boot/loader.{0,1}` and
//!   every entry file in their `entries/`; `ostree/`, everything under `ostree/boot.*`
//!   (the boot links ostree swaps on every deploy); `ostree/deploy/`, each
//!   `ostree/deploy/OS/deploy/` and what it holds (deployment directories by identity
//!   only, since a deployment's root changes as the system runs; `.origin` files wholly);
//!   the run directory's `ostree-booted`, `ostree/staged-deployment` and
//!   `ostree/deployment-state/`; the host root's identity.
//! - **refs**: the repo's `config` and everything under `refs/` (ostree writes a ref by
//!   renaming a new file over it; `admin deploy` and `undeploy` add and drop
//!   `refs/heads/ostree/...`).
//! - **objects**: `objects/` and every `objects/XX/` (a commit, a pull or a prune adds or
//!   removes objects there by rename or unlink, which changes the directory's mtime), and
//!   the `.commit` object of every deployed commit (damage in place).
//! - **catalog**: the catalog file's identity and its directory's, `PRAGMA data_version`
//!   (which other connections' commits bump) and the schema version; for a read-only
//!   catalog, whose connection may be `immutable`, also the times and sizes of the file
//!   and its `-wal`.
//!
//! What each part costs when it changed: sysroot or refs — read the sysroot again and
//! record what is new in the catalog (cheap; the catalog and index are kept); objects —
//! also rebuild the repo's inode index; catalog identity or schema — reopen it (its
//! `quick_check`) and record again; only `data_version` — forget the cached catalog
//! lookups. A catalog in memory (no catalog file) is made anew with any reload, so that a
//! long-lived scanner remembers no more than a fresh scan would. Stamps are compared with
//! nanosecond mtimes and ctimes, inode and size: a change inside one clock tick that keeps
//! all of them (same size, same inode) is the one thing this cannot see.
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::progress::Progress;
use crate::report::{ScanConfig, ScanReport, Warning};
use crate::scan;
use crate::scan::knowledge::{Knowledge, Reused};

/// One path's `lstat`, or None when it is missing or unreadable.
pub type Stamp = (PathBuf, Option<crate::stamp::FileStamp>);

/// What the knowledge was read from, part by part (see the module documentation).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Fingerprint {
    /// Stamps of the sysroot, its boot entries and links, its deployment directories and
    /// origins, and the run directory's ostree files.
    pub sysroot: Vec<Stamp>,
    /// Stamps of the repo's `config` and everything under `refs/`.
    pub refs: Vec<Stamp>,
    /// Stamps of the repo's `objects/XX/` directories and of every deployed `.commit` object.
    pub objects: Vec<Stamp>,
    /// Stamps of the catalog file and its directory (and, read-only, its `-wal`).
    pub catalog: Vec<Stamp>,
    /// `PRAGMA data_version` and schema version of the scanner's own connection.
    pub catalog_change: Option<(i64, i64)>,
}

/// Counters of the work a scanner did, for the exporter's metrics and for tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScannerStats {
    /// Scans run, failed ones included.
    pub scans: u64,
    /// Times the knowledge was loaded, from scratch or in part.
    pub knowledge_loads: u64,
    /// Loads that (re)built the repo's inode index.
    pub index_builds: u64,
    /// Loads that opened the catalog (with its `quick_check`).
    pub catalog_opens: u64,
    /// Scans that kept the knowledge but forgot cached catalog lookups (another process
    /// wrote the catalog).
    pub catalog_refreshes: u64,
    /// Scans that read the host's package database; the others kept the table an earlier
    /// scan read from the same database files (`Knowledge::host_packages`).
    pub host_database_reads: u64,
    /// Composefs images read (fs-verity digest and walk); the others were answered by
    /// the images kept from earlier scans (`composefs/cache.rs`).
    pub composefs_image_reads: u64,
    /// Distinct files checksummed to prove which image composefs mounts serve, in the last
    /// scan: mapped files (once per device and inode) and files read through the mounts.
    pub composefs_files_hashed: u64,
    /// Container records files (`containers.json`, `images.json`, `layers.json`) read; the
    /// others were kept from earlier scans while their stamps held (`containers/store.rs`).
    pub container_store_reads: u64,
    /// Image package databases read (a layer stack's dpkg or rpm database); the others
    /// were kept while their files' stamps held.
    pub container_table_reads: u64,
    /// Fd directories the configuration pass read in the last scan (`config::Pass`): the
    /// others were skipped, nothing under their root's `/etc` having changed since they
    /// started.
    pub config_fd_reads: u64,
    /// Process roots (`/proc/PID/root`) the last scan opened to tell what mapped paths name
    /// now: one per (mount namespace, root) view whose paths it looked up.
    pub root_opens: u64,
    /// Scans that took the processes read early (`scan::early`) instead of reading them.
    pub early_reads: u64,
}

struct Held {
    k: Knowledge,
    /// Warnings said while loading `k`, said again by every scan that uses it.
    warnings: Vec<Warning>,
    fingerprint: Fingerprint,
}

/// A scanner for one sysroot, run directory, host root and catalog.
pub struct Scanner {
    base: ScanConfig,
    held: Option<Held>,
    stats: ScannerStats,
}

impl Scanner {
    /// A scanner for the places `base` names; its `pids` and `kernel` are defaults that
    /// each scan may override. Nothing is read until the first scan.
    pub fn new(base: ScanConfig) -> Scanner {
        Scanner {
            base,
            held: None,
            stats: ScannerStats::default(),
        }
    }

    /// Drop the kept knowledge and with it the catalog this scanner keeps open: the last
    /// connection's close checkpoints the WAL into the file and records the stamp that
    /// lets the next open skip `quick_check` (catalog/verified.rs). The next scan loads
    /// everything again. For one-shot commands, after their last use of the catalog.
    pub fn release(&mut self) {
        self.held = None;
    }

    /// How often the kept knowledge was reused or reread, for tests and benchmarks.
    pub fn stats(&self) -> ScannerStats {
        self.stats
    }

    /// The catalog's restart history through the catalog this scanner keeps open, so a
    /// kept scanner (the exporter, after each scrape's scan) does not open the file and
    /// run `quick_check` over it again each time; other processes' restarts are seen, as
    /// every query reads the latest committed state. Before the first scan, or when the
    /// scanner fell back to an in-memory catalog, the file is opened read-only (and its
    /// error, if any, is the answer).
    pub fn list_restarts(&self) -> crate::Result<Vec<crate::catalog::RestartRecord>> {
        let kept = self
            .held
            .as_ref()
            .map(|h| &h.k.catalog)
            .filter(|c| Some(c.path()) == self.base.catalog_path.as_deref());
        match kept {
            Some(catalog) => catalog.list_restarts(),
            None => restarts_in_file(self.base.catalog_path.as_deref()),
        }
    }

    /// The configuration a scan of `pids` (None: every process) runs with.
    pub fn config(&self, pids: Option<Vec<u32>>, kernel: bool) -> ScanConfig {
        ScanConfig {
            pids,
            kernel,
            ..self.base.clone()
        }
    }

    /// Scan with knowledge refreshed as the fingerprint says; the report is the one a
    /// fresh `scan::run` of the same config would give.
    pub fn scan(&mut self, pids: Option<Vec<u32>>, kernel: bool) -> crate::Result<ScanReport> {
        self.scan_reloaded(pids, kernel, Vec::new())
    }

    /// `scan`, with the reloads livetree asked for (`config::Reloaded`).
    pub fn scan_reloaded(
        &mut self,
        pids: Option<Vec<u32>>,
        kernel: bool,
        reloaded: Vec<crate::config::Reloaded>,
    ) -> crate::Result<ScanReport> {
        self.stats.scans += 1;
        let cfg = self.config(pids, kernel);
        let held = self.held.take();
        let stats = &mut self.stats;
        let (refreshed, read) = scan::read_alongside(&cfg, || refresh(&cfg, held, stats))?;
        self.stats.early_reads += u64::from(read.early);
        // A panic while refreshing goes on as a panic (see `scan::run`); the knowledge was
        // taken out of `held` first, so the next scan loads afresh.
        let mut held = refreshed.unwrap_or_else(|p| std::panic::resume_unwind(p))?;
        let report = scan::report_with(&cfg, &mut held.k, held.warnings.clone(), read, &reloaded);
        self.stats.host_database_reads += u64::from(held.k.host_database_read());
        self.stats.composefs_image_reads = held.k.images.reads();
        self.stats.composefs_files_hashed =
            (report.composefs_proof.mapped_hashed + report.composefs_proof.probed) as u64;
        self.stats.config_fd_reads = report.config_fd_reads as u64;
        self.stats.root_opens = report.root_opens as u64;
        (
            self.stats.container_store_reads,
            self.stats.container_table_reads,
        ) = held.k.containers.reads();
        // Built on first need (`Knowledge::object_of`), so counted after the scan.
        self.stats.index_builds += u64::from(held.k.take_index_built());
        self.held = Some(held);
        Ok(report)
    }
}

/// The restart history of the catalog file at `path`, opened read-only (none without a
/// file): what a scanner answers before its first scan, and what its JavaScript twin reads
/// while a scan holds the scanner.
pub fn restarts_in_file(path: Option<&Path>) -> crate::Result<Vec<crate::catalog::RestartRecord>> {
    match path {
        Some(path) => crate::catalog::Catalog::open_read_only(path)?.list_restarts(),
        None => Ok(Vec::new()),
    }
}

/// Keep, refresh or load the knowledge, as the fingerprint says.
fn refresh(cfg: &ScanConfig, held: Option<Held>, stats: &mut ScannerStats) -> crate::Result<Held> {
    let progress = Progress::new(cfg.progress);
    let commits = |k: Option<&Knowledge>| -> Vec<String> {
        k.map(|k| k.deployments.iter().map(|d| d.commit.clone()).collect())
            .unwrap_or_default()
    };
    let now = fingerprint(
        cfg,
        held.as_ref().map(|h| &h.k),
        &commits(held.as_ref().map(|h| &h.k)),
    );
    let reused = match held {
        Some(h) => {
            let was = &h.fingerprint;
            let catalog_same = was.catalog == now.catalog
                && was.catalog_change.map(|c| c.1) == now.catalog_change.map(|c| c.1);
            let in_memory = cfg.catalog_path.is_none();
            if catalog_same
                && was.sysroot == now.sysroot
                && was.refs == now.refs
                && was.objects == now.objects
            {
                if was.catalog_change != now.catalog_change {
                    h.k.forget_lookups();
                    stats.catalog_refreshes += 1;
                }
                return Ok(Held {
                    fingerprint: now,
                    ..h
                });
            }
            let keep_index = was.objects == now.objects;
            let keep_catalog = catalog_same && !in_memory;
            h.k.into_reused(keep_catalog, keep_index)
        }
        None => Reused::default(),
    };
    let opens_catalog = reused.catalog.is_none();
    let mut warnings = Vec::new();
    let k = Knowledge::load_reusing(
        &cfg.sysroot,
        &cfg.run_dir,
        &cfg.host_root,
        cfg.catalog_path.as_deref(),
        reused,
        progress,
        &mut warnings,
    )?;
    stats.knowledge_loads += 1;
    stats.catalog_opens += u64::from(opens_catalog);
    // The commit stamps follow the deployments just read; the catalog's stamps are those
    // after this load opened (perhaps created) it and wrote to it, which never bumps its
    // own connection's data_version.
    let mut fp = now;
    fp.objects = objects_part(cfg, &commits(Some(&k)));
    fp.catalog = catalog_part(cfg, k.catalog.is_read_only());
    fp.catalog_change = k.catalog.change_stamp();
    Ok(Held {
        k,
        warnings,
        fingerprint: fp,
    })
}

/// The fingerprint of what `cfg`'s knowledge is read from; `k` is the knowledge held (for
/// its catalog connection), `commits` the deployed commits whose objects are stamped.
pub fn fingerprint(cfg: &ScanConfig, k: Option<&Knowledge>, commits: &[String]) -> Fingerprint {
    Fingerprint {
        sysroot: sysroot_part(cfg),
        refs: refs_part(cfg),
        objects: objects_part(cfg, commits),
        catalog: catalog_part(cfg, k.is_some_and(|k| k.catalog.is_read_only())),
        catalog_change: k.and_then(|k| k.catalog.change_stamp()),
    }
}

fn stamp(path: PathBuf) -> Stamp {
    let md = std::fs::symlink_metadata(&path)
        .ok()
        .map(|m| crate::stamp::of(&m));
    (path, md)
}

/// Only which file a path names (a directory whose contents change as the system runs).
fn identity(path: PathBuf) -> Stamp {
    let md = std::fs::symlink_metadata(&path)
        .ok()
        .map(|m| [m.dev() as i64, m.ino() as i64, 0, 0, 0, 0, 0]);
    (path, md)
}

/// Entries of a directory, sorted (directory order is not stable across renames).
fn children(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    out.sort();
    out
}

/// `dir` and everything below it, not following symlinks.
fn walk(dir: PathBuf, out: &mut Vec<Stamp>) {
    let s = stamp(dir);
    let is_dir = std::fs::symlink_metadata(&s.0).is_ok_and(|m| m.is_dir());
    let path = s.0.clone();
    out.push(s);
    if is_dir {
        for child in children(&path) {
            walk(child, out);
        }
    }
}

fn sysroot_part(cfg: &ScanConfig) -> Vec<Stamp> {
    let root = &cfg.sysroot;
    let mut out = vec![
        stamp(root.clone()),
        stamp(root.join("boot")),
        stamp(root.join("boot/loader")),
    ];
    for v in ["loader.0", "loader.1"] {
        out.push(stamp(root.join("boot").join(v)));
        walk(root.join("boot").join(v).join("entries"), &mut out);
    }
    let ostree = root.join("ostree");
    out.push(stamp(ostree.clone()));
    for child in children(&ostree) {
        let name = child.file_name().map(|n| n.as_encoded_bytes().to_vec());
        if name.is_some_and(|n| n.starts_with(b"boot.")) {
            walk(child, &mut out);
        }
    }
    let deploy = ostree.join("deploy");
    out.push(stamp(deploy.clone()));
    for os in children(&deploy) {
        out.push(stamp(os.clone()));
        let dir = os.join("deploy");
        out.push(stamp(dir.clone()));
        for entry in children(&dir) {
            if std::fs::symlink_metadata(&entry).is_ok_and(|m| m.is_dir()) {
                out.push(identity(entry));
            } else {
                out.push(stamp(entry));
            }
        }
    }
    out.push(stamp(cfg.run_dir.join("ostree-booted")));
    out.push(stamp(cfg.run_dir.join("ostree/staged-deployment")));
    walk(cfg.run_dir.join("ostree/deployment-state"), &mut out);
    out.push(identity(cfg.host_root.clone()));
    out
}

fn refs_part(cfg: &ScanConfig) -> Vec<Stamp> {
    let repo = cfg.sysroot.join("ostree/repo");
    let mut out = vec![stamp(repo.clone()), stamp(repo.join("config"))];
    walk(repo.join("refs"), &mut out);
    out
}

fn objects_part(cfg: &ScanConfig, commits: &[String]) -> Vec<Stamp> {
    let objects = cfg.sysroot.join("ostree/repo/objects");
    let mut out = vec![stamp(objects.clone())];
    out.extend(children(&objects).into_iter().map(stamp));
    for c in commits {
        if c.len() > 2 && c.is_ascii() {
            out.push(stamp(
                objects.join(&c[..2]).join(format!("{}.commit", &c[2..])),
            ));
        }
    }
    out
}

fn catalog_part(cfg: &ScanConfig, read_only: bool) -> Vec<Stamp> {
    let Some(path) = &cfg.catalog_path else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        out.push(identity(dir.to_path_buf()));
    }
    if read_only {
        out.push(stamp(path.clone()));
        let mut wal = path.clone().into_os_string();
        wal.push("-wal");
        out.push(stamp(PathBuf::from(wal)));
    } else {
        out.push(identity(path.clone()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn config(root: &Path) -> ScanConfig {
        ScanConfig {
            sysroot: root.join("sysroot"),
            proc_root: PathBuf::from("/proc"),
            sys_root: PathBuf::from("/sys"),
            run_dir: root.join("run"),
            host_root: PathBuf::from("/"),
            catalog_path: None,
            pids: None,
            progress: false,
            kernel: false,
        }
    }

    #[test]
    fn each_change_lands_in_its_own_part() {
        let dir = std::env::temp_dir().join(format!("livetree-fp-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let cfg = config(&dir);
        let deploy = cfg.sysroot.join("ostree/deploy/os/deploy");
        fs::create_dir_all(deploy.join("c.0/usr")).unwrap();
        fs::create_dir_all(cfg.sysroot.join("ostree/repo/refs/heads")).unwrap();
        fs::create_dir_all(cfg.sysroot.join("ostree/repo/objects/ab")).unwrap();
        fs::write(deploy.join("c.0.origin"), "[origin]\n").unwrap();
        let base = fingerprint(&cfg, None, &[]);
        assert_eq!(base, fingerprint(&cfg, None, &[]), "nothing changed");

        // A file inside a deployment's root is not the sysroot's business.
        fs::write(deploy.join("c.0/usr/x"), "x").unwrap();
        assert_eq!(base, fingerprint(&cfg, None, &[]));

        // An origin rewritten in place: sysroot only.
        fs::write(deploy.join("c.0.origin"), "[origin]\nrefspec=os:x\n").unwrap();
        let origin = fingerprint(&cfg, None, &[]);
        assert_ne!(base.sysroot, origin.sysroot);
        assert_eq!((&base.refs, &base.objects), (&origin.refs, &origin.objects));

        // A new ref: refs only.
        fs::write(cfg.sysroot.join("ostree/repo/refs/heads/os"), "ab").unwrap();
        let refs = fingerprint(&cfg, None, &[]);
        assert_ne!(origin.refs, refs.refs);
        assert_eq!(
            (&origin.sysroot, &origin.objects),
            (&refs.sysroot, &refs.objects)
        );

        // A new object: objects only.
        fs::write(cfg.sysroot.join("ostree/repo/objects/ab/cd.file"), "").unwrap();
        let objects = fingerprint(&cfg, None, &[]);
        assert_ne!(refs.objects, objects.objects);
        assert_eq!(
            (&refs.sysroot, &refs.refs),
            (&objects.sysroot, &objects.refs)
        );

        // A staged deployment under the run directory: sysroot.
        fs::create_dir_all(cfg.run_dir.join("ostree")).unwrap();
        fs::write(cfg.run_dir.join("ostree/staged-deployment"), "").unwrap();
        assert_ne!(objects.sysroot, fingerprint(&cfg, None, &[]).sysroot);
        fs::remove_dir_all(&dir).unwrap();
    }
}
