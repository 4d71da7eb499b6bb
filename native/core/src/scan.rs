//! One scan: the stages of design.md joined into a single report.
//!
//! Work is shared across processes wherever the answer cannot differ: an origin is looked
//! up once per (dev, ino), a "does this path still name this file" check once per
//! (mount namespace, root, path), a deleted file is checksummed once per inode. That is
//! what keeps a scan of thousands of processes close to the cost of reading their maps.
use std::collections::{HashMap, HashSet};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;

use crate::attribute::{classify_root, process_state, stale_reason};
use crate::cgroup::{systemd_cgroup_path, unit_from_cgroup_path};
use crate::checksum::{checksum_bare_user_file, checksum_file, checksum_path};
use crate::composefs::stacked::Stacked;
use crate::composefs::{CfsMount, Composefs};
use crate::mountinfo::Mount;

mod cfs;
mod config;
mod container;
mod roots;
use crate::catalog::{HostFileKey, HostFileRecord};
use crate::knowledge::Knowledge;
use crate::maps::FileMapping;
use crate::overlay::{self, DeploymentDir, DevIno, LayerFile, OverlayMount};

/// A mount namespace (inode of ns/mnt) and a process root as the scanner names it.
type View = (u64, Vec<u8>);
type RootKey = (Option<(u64, u64)>, Option<Vec<u8>>);
use crate::procfs::{self, path_in_root, ProcReader, ProcessRaw};
pub use crate::report::*;
use crate::Error;

/// Per-scan caches and the warnings said once per scan.
struct Scan<'a> {
    cfg: &'a ScanConfig,
    k: &'a mut Knowledge,
    host: Option<(u64, u64)>,
    /// Devices mounted in each (mount namespace, root): a mapping on a device no
    /// namespace mounts is kernel-internal (memfd, SysV shm, DRM), not a file of any
    /// tree. Keyed by root too, because mountinfo lists only the mounts below the
    /// reading process's root: a chrooted process does not see the mount its root is on.
    ns_devices: HashMap<View, HashSet<(u32, u32)>>,
    /// Overlay mounts per (mount namespace, root): mount points in mountinfo are shown
    /// relative to the reading process's root, so two roots see different lists.
    ns_overlays: HashMap<View, Vec<OverlayMount>>,
    /// Dynamic overlays for the report, by device (one overlay seen from two namespaces
    /// through propagation is one overlay).
    overlays: Vec<OverlayMount>,
    deployment_dirs: Vec<DeploymentDir>,
    resolves: HashMap<(View, Vec<u8>), Option<DevIno>>,
    map_files: HashMap<(u32, u32, u64, Vec<u8>), procfs::MapFileInfo>,
    origins: HashMap<(u32, u32, u64, Option<String>), Origin>,
    identical: HashMap<(u32, u32, u64, Option<String>), Option<String>>,
    deleted_objects: HashMap<(u32, u32, u64), Option<String>>,
    /// Root classification per (root dev+ino, root link): thousands of processes share a
    /// few roots, and classifying one may ask the catalog.
    roots: HashMap<RootKey, (RootKind, Option<String>)>,
    /// composefs images and the composefs mounts of each (mount namespace, root).
    cfs: Composefs,
    cfs_views: HashMap<View, Vec<CfsMount>>,
    cfs_stacked: HashMap<View, Vec<Stacked>>,
    /// Views read but not yet finished (their overlays wait for composefs identification).
    pending_views: Vec<PendingView>,
    /// Content checksums of files mapped from composefs mounts, by (dev, ino).
    cfs_sums: HashMap<(u32, u32, u64), Option<String>>,
    /// Mapped files checksummed by this scan (the others were kept from earlier scans).
    cfs_hashed: usize,
    containers: container::Containers,
    warned: HashSet<&'static str>,
    warnings: Vec<Warning>,
    /// Start times and configuration changed since (scan/config.rs).
    config: crate::config::Pass,
}

/// A view whose mounts are read, kept until composefs mounts are identified.
struct PendingView {
    view: View,
    mounts: Vec<Mount>,
    found: Vec<OverlayMount>,
    pid: u32,
}

/// What reading one process gave: its raw facts and one entry per mapped file.
pub type RawProcess = (u32, crate::Result<(ProcessRaw, Vec<FileMapping>)>);

/// Run one scan, loading what we know (sysroot, repo index, catalog) afresh.
pub fn run(cfg: &ScanConfig) -> crate::Result<ScanReport> {
    let (loaded, raws) = read_alongside(cfg, || {
        let mut warnings = Vec::new();
        Knowledge::load(
            &cfg.sysroot,
            &cfg.run_dir,
            &cfg.host_root,
            cfg.catalog_path.as_deref(),
            crate::progress::Progress::new(cfg.progress),
            &mut warnings,
        )
        .map(|k| (k, warnings))
    })?;
    // A panic in the loading thread is a bug: it goes on as the panic it was (the napi
    // glue turns it into an EPANIC error), not as an I/O error it was not.
    let (mut k, warnings) = loaded.unwrap_or_else(|p| std::panic::resume_unwind(p))?;
    Ok(report_with(cfg, &mut k, warnings, raws, &[]))
}

/// Read the processes `cfg` names from /proc while `work` runs on its own thread.
///
/// Reading /proc is kernel time spent one process at a time, and loading what we know
/// (sysroot, repo index, catalog) does not depend on it: both run at once, the /proc
/// reads split across the machine's cores. Attribution then runs on one thread, where
/// its caches make each answer once.
pub fn read_alongside<T: Send>(
    cfg: &ScanConfig,
    work: impl FnOnce() -> T + Send,
) -> crate::Result<(std::thread::Result<T>, Vec<RawProcess>)> {
    let pids = match &cfg.pids {
        Some(p) => p.clone(),
        None => procfs::list_pids(&cfg.proc_root)?,
    };
    // Our own maps would list the addon itself; it is not what the user asked about.
    let own = std::process::id();
    let pids: Vec<u32> = pids
        .into_iter()
        .filter(|&p| p != own || cfg.pids.is_some())
        .collect();
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 4);
    // Work is handed out in small batches from a shared counter, not split in equal
    // halves up front: a host's own daemons map hundreds of files each while thousands of
    // small processes map a few, and with fixed halves one reader would finish long before
    // the other.
    const BATCH: usize = 32;
    let batches = pids.len().div_ceil(BATCH);
    let next = std::sync::atomic::AtomicUsize::new(0);
    Ok(std::thread::scope(|s| {
        let knowledge = s.spawn(work);
        let readers: Vec<_> = (0..threads.min(batches.max(1)))
            .map(|_| {
                let (pids, next) = (&pids, &next);
                s.spawn(move || {
                    crate::test_panic("reader");
                    let mut reader = ProcReader::new();
                    let mut done = Vec::new();
                    loop {
                        let b = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if b >= batches {
                            break;
                        }
                        let part = &pids[b * BATCH..((b + 1) * BATCH).min(pids.len())];
                        // Keep what attribution reads: one entry per file, not every
                        // mapping (thousands of processes wait here at once).
                        let read: Vec<RawProcess> = part
                            .iter()
                            .map(|&pid| (pid, reader.read_process_files(&cfg.proc_root, pid)))
                            .collect();
                        done.push((b, read));
                    }
                    done
                })
            })
            .collect();
        // A reader that panicked would leave its batches out: a scan that silently misses
        // processes. The panic goes on instead (the napi glue makes it an EPANIC error).
        let mut done: Vec<(usize, Vec<RawProcess>)> = readers
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect();
        // Back in /proc's order, whichever reader took which batch.
        done.sort_unstable_by_key(|(b, _)| *b);
        let raws: Vec<RawProcess> = done.into_iter().flat_map(|(_, r)| r).collect();
        (knowledge.join(), raws)
    }))
}

/// Attribute the processes read by `read_alongside` with `k`, which the caller keeps.
/// `warnings` are those said while loading `k`; the report's come after them. `k` is
/// mutable only for its catalog: composefs images seen for the first time are recorded.
/// `reloaded`: reloads just made, beside those the catalog recorded (`config::Reloaded`).
pub fn report_with(
    cfg: &ScanConfig,
    k: &mut Knowledge,
    warnings: Vec<Warning>,
    raws: Vec<RawProcess>,
    reloaded: &[crate::config::Reloaded],
) -> ScanReport {
    crate::test_panic("attribute");
    k.begin_scan();
    let mut warnings = warnings;
    let kernel = if cfg.kernel {
        let roots = crate::kernel::KernelRoots {
            proc_root: &cfg.proc_root,
            sys_root: &cfg.sys_root,
            host_root: &cfg.host_root,
        };
        crate::kernel::inspect(&roots, &k.status, &mut warnings)
    } else {
        None
    };
    let cfs = Composefs::load(
        &k.status,
        k.repo.as_ref(),
        &mut k.catalog,
        &mut k.images,
        &cfg.sys_root,
        std::path::Path::new("/dev"),
        &mut warnings,
    );
    let host = std::fs::metadata(&cfg.host_root)
        .ok()
        .map(|m| (m.dev(), m.ino()));
    // Reloads livetree made earlier (the restart history): a catalog that cannot say only
    // loses them (the changes they applied are then said again).
    let recorded = k.catalog.reloads().unwrap_or_default();
    let mut scan = Scan {
        cfg,
        k,
        host,
        ns_devices: HashMap::new(),
        ns_overlays: HashMap::new(),
        overlays: Vec::new(),
        deployment_dirs: Vec::new(),
        resolves: HashMap::new(),
        map_files: HashMap::new(),
        origins: HashMap::new(),
        identical: HashMap::new(),
        deleted_objects: HashMap::new(),
        roots: HashMap::new(),
        cfs,
        cfs_views: HashMap::new(),
        cfs_stacked: HashMap::new(),
        pending_views: Vec::new(),
        cfs_sums: HashMap::new(),
        cfs_hashed: 0,
        containers: container::Containers::default(),
        warned: HashSet::new(),
        warnings,
        config: crate::config::Pass::new(&cfg.proc_root)
            .with_reloaded(&recorded)
            .with_reloaded(reloaded),
    };
    scan.deployment_dirs = scan
        .k
        .status
        .deployments
        .iter()
        .map(|d| {
            let (major, minor) = procfs::dev_split(d.dir_dev);
            DeploymentDir {
                id: d.id(),
                path: d.path.as_os_str().as_encoded_bytes().to_vec(),
                major,
                minor,
                ino: d.dir_ino,
            }
        })
        .collect();
    let mut reader = ProcReader::new();
    // Every view first: a composefs mount is identified from the files all its processes
    // map (scan/cfs.rs), before any process is attributed.
    for (_, raw) in &raws {
        if let Ok((raw, _)) = raw {
            let view = view_of(raw);
            if !scan.cfs_views.contains_key(&view) {
                scan.read_view(&mut reader, raw, &view);
            }
        }
    }
    scan.identify_composefs(&raws);
    scan.finish_views();
    let mut processes = Vec::with_capacity(raws.len());
    // Kernel threads run the kernel's code and map nothing: no process of the report.
    let mut kernel_threads = Vec::new();
    for (pid, raw) in raws {
        if let Ok((r, _)) = &raw {
            if r.kernel_thread {
                let comm = r.comm.clone().unwrap_or_default();
                kernel_threads.push(KernelThread { pid, comm });
                continue;
            }
        }
        if let Some(p) = scan.process(&mut reader, pid, raw) {
            processes.push(p);
        }
    }
    let mut host_files = scan.host_packages(&mut processes);
    host_files.extend(scan.root_packages(&mut processes));
    scan.config_changes(&mut processes);
    let mut report = scan.finish(processes);
    report.kernel_threads = kernel_threads;
    // Once per (device, inode, path), not per process; a read-only catalog records nothing.
    if !k.catalog.is_read_only() {
        let recorded = k
            .catalog
            .record_host_files(&host_files)
            .and_then(|()| k.record_host_database());
        if let Err(e) = recorded {
            report
                .warnings
                .push(Warning::new("catalog-write", e.to_string(), None));
        }
    }
    // The index is built on first need; once it failed, every scan goes without it.
    if let Some(e) = k.index_error() {
        report.warnings.push(Warning::new("repo-index", e, None));
    }
    report.kernel = kernel;
    report
}

/// The record of a current host file: its size and mtime from the file at `path` (as the
/// scanner sees it), only when that is still the mapped inode (not replaced since maps
/// was read).
fn host_file_record(
    path: &[u8],
    key: &HostFileKey,
    package: &PackageInfo,
) -> Option<HostFileRecord> {
    let meta = std::fs::metadata(std::ffi::OsStr::from_bytes(path)).ok()?;
    record_of(&meta, key, package)
}

/// The record of the file `key` names, when `meta` is that very file (same device and
/// inode); its size and modification time are what a later scan compares.
pub(super) fn record_of(
    meta: &std::fs::Metadata,
    key: &HostFileKey,
    package: &PackageInfo,
) -> Option<HostFileRecord> {
    if procfs::dev_split(meta.dev()) != (key.0, key.1) || meta.ino() != key.2 {
        return None;
    }
    Some(HostFileRecord {
        major: key.0,
        minor: key.1,
        ino: key.2,
        path: key.3.clone(),
        size: meta.size(),
        mtime_ns: meta.mtime() * 1_000_000_000 + meta.mtime_nsec(),
        package: package.clone(),
    })
}

impl Scan<'_> {
    fn warn_once(&mut self, code: &'static str, message: String, pid: Option<u32>) {
        if self.warned.insert(code) {
            self.warnings.push(Warning::new(code, message, pid));
        }
    }

    fn process(
        &mut self,
        reader: &mut ProcReader,
        pid: u32,
        raw: crate::Result<(ProcessRaw, Vec<FileMapping>)>,
    ) -> Option<ProcessReport> {
        match raw {
            Ok((raw, mappings)) => Some(self.attribute(reader, raw, mappings)),
            // Exited during the scan: it is not running, so it is not reported.
            Err(Error::NotFound(_)) => None,
            Err(e) => {
                self.warnings.push(Warning::new(
                    "process-unreadable",
                    format!("PID {pid}: {e}"),
                    Some(pid),
                ));
                Some(ProcessReport {
                    pid,
                    comm: procfs_comm(&self.cfg.proc_root, pid),
                    exe: None,
                    root_kind: RootKind::Unknown,
                    root_deployment: None,
                    cgroup_unit: None,
                    container: None,
                    state: ProcessState::Unknown,
                    files: Vec::new(),
                    started_ns: None,
                    config_changes: Vec::new(),
                    unreadable: Some(e.code()),
                })
            }
        }
    }

    fn attribute(
        &mut self,
        reader: &mut ProcReader,
        raw: ProcessRaw,
        mappings: Vec<FileMapping>,
    ) -> ProcessReport {
        let pid = raw.pid;
        let view = view_of(&raw);
        if !self.cfs_views.contains_key(&view) {
            // Read before attribution began (report_with); a process read later still gets
            // its view, with its composefs mounts unidentified.
            self.read_view(reader, &raw, &view);
            self.finish_views();
        }
        let (root_kind, root_deployment) = self.root_of(&raw);
        let (root_kind, container) = self.container_root(&raw, &view, root_kind);
        let mut files = Vec::new();
        for m in mappings {
            let internal = self
                .ns_devices
                .get(&view)
                .is_some_and(|d| !d.is_empty() && !d.contains(&(m.major, m.minor)));
            if internal {
                continue;
            }
            files.push(self.file(&raw, &m, root_deployment.as_deref()));
        }
        let root_current = root_deployment
            .as_deref()
            .is_some_and(|id| self.k.deployments.iter().any(|d| d.id == id));
        for f in &mut files {
            f.stale_reason = stale_reason(f, root_kind, root_deployment.as_deref(), root_current);
            f.identical_in = self.identical_in(f, root_deployment.as_deref());
        }
        let state = process_state(true, root_kind, &files);
        let cgroup_unit = systemd_cgroup_path(&raw.cgroup).and_then(unit_from_cgroup_path);
        let started_ns = self.note_config(&raw);
        ProcessReport {
            pid,
            comm: raw.comm.unwrap_or_default(),
            exe: raw.exe.map(|l| l.path),
            root_kind,
            root_deployment,
            cgroup_unit,
            container,
            state,
            files,
            started_ns,
            config_changes: Vec::new(),
            unreadable: None,
        }
    }

    /// Read what one (mount namespace, root) view shows, once per view: its mounts' devices
    /// (a mapping on none of them is internal), its composefs mounts and its overlays on
    /// deployments. Overlays stacked on composefs wait for `finish_views`, once the
    /// composefs mounts are identified.
    fn read_view(&mut self, reader: &mut ProcReader, raw: &ProcessRaw, view: &View) {
        let pid = raw.pid;
        let mounts = reader
            .read_mountinfo(&self.cfg.proc_root, pid)
            .unwrap_or_default();
        let mut devices: HashSet<(u32, u32)> = mounts.iter().map(|m| (m.major, m.minor)).collect();
        if !devices.is_empty() {
            if let Some((dev, _)) = raw.root_dev_ino {
                devices.insert(procfs::dev_split(dev));
            }
        }
        self.ns_devices.insert(view.clone(), devices);
        let proc_root = self.cfg.proc_root.clone();
        let host = |p: &[u8]| {
            std::fs::metadata(std::ffi::OsStr::from_bytes(p))
                .ok()
                .map(|m| {
                    let (ma, mi) = procfs::dev_split(m.dev());
                    (ma, mi, m.ino())
                })
        };
        let host_dev_ino = |p: &[u8]| {
            std::fs::metadata(std::ffi::OsStr::from_bytes(p))
                .ok()
                .map(|m| (m.dev(), m.ino()))
        };
        let cfs = self.cfs.find_mounts(&mounts, &host_dev_ino);
        let found = overlay::find_overlays(
            &mounts,
            &self.deployment_dirs,
            &mut |p| procfs::stat_in_root(&proc_root, pid, p).ok().flatten(),
            &host,
        );
        self.cfs_views.insert(view.clone(), cfs);
        self.pending_views.push(PendingView {
            view: view.clone(),
            mounts,
            found,
            pid,
        });
    }

    /// Finish the views read so far: overlays stacked on a composefs root learn their lower
    /// deployment (now that the mount is identified), upper layers are reached, and
    /// overlays on deployments join the report's the first time they are seen.
    fn finish_views(&mut self) {
        let proc_root = self.cfg.proc_root.clone();
        for PendingView {
            view,
            mounts,
            mut found,
            pid,
        } in std::mem::take(&mut self.pending_views)
        {
            let cfs = self.cfs_views.get(&view).cloned().unwrap_or_default();
            let stat_in = |p: &[u8]| {
                std::fs::symlink_metadata(in_proc_root(&proc_root, pid, p))
                    .ok()
                    .map(|m| m.ino())
            };
            let host_ino = |p: &[u8]| {
                std::fs::symlink_metadata(std::ffi::OsStr::from_bytes(p))
                    .ok()
                    .map(|m| m.ino())
            };
            let stacked = self
                .cfs
                .stack_overlays(&mounts, &cfs, &mut found, &stat_in, &host_ino);
            let in_root = |p: &[u8]| Some(in_proc_root(&proc_root, pid, p));
            for o in found.iter_mut().filter(|o| o.lower_deployment.is_some()) {
                o.upper_path = overlay::reach_upper(o, &in_root);
            }
            self.cfs_stacked.insert(view.clone(), stacked);
            for o in &found {
                let known = self
                    .overlays
                    .iter()
                    .any(|k| (k.major, k.minor) == (o.major, o.minor));
                if o.lower_deployment.is_some() && !known {
                    let mut shown = o.clone();
                    // Report the mount point as the scanner would name it: below the
                    // process's root, as maps paths are.
                    shown.mount_point = overlay::join(root_prefix(&view.1), &o.mount_point);
                    self.overlays.push(shown);
                }
            }
            self.ns_overlays.insert(view.clone(), found);
            // A container's root is identified from these very mounts (scan/container.rs).
            self.containers.keep_mounts(view, mounts);
        }
    }

    /// What the process's root is: a deployment's (and which), the host's, or foreign.
    fn root_of(&mut self, raw: &ProcessRaw) -> (RootKind, Option<String>) {
        // A composefs root is its deployment's (before `host`: on a composefs-booted host
        // the scanner's own root is one). Known once this view's mounts are read.
        // Thousands of processes share a few roots, and classifying one may ask the
        // catalog: once per (root dev+ino, root link).
        let root_key = (raw.root_dev_ino, raw.root.clone());
        match self.roots.get(&root_key) {
            Some(hit) => hit.clone(),
            None => {
                let k = &self.k;
                let on_cfs = raw.root_dev_ino.map(|r| self.cfs.root_deployment(r));
                let c = match on_cfs {
                    Some(Ok(Some(id))) => (RootKind::Deployment, Some(id)),
                    // On a composefs mount whose image could not be proven: unknown.
                    Some(Err(())) => (RootKind::Unknown, None),
                    _ => classify_root(
                        raw.root_dev_ino,
                        raw.root.as_deref(),
                        self.host,
                        &k.deployments,
                        &|dev, ino| k.deployment_by_dir(dev, ino),
                        &|path| in_this_sysroot(&self.cfg.sysroot, path),
                    ),
                };
                self.roots.insert(root_key, c.clone());
                c
            }
        }
    }

    /// map_files of one mapping, shared by every process that maps the same file under
    /// the same name: thousands of processes on one deleted library cost one readlink+stat.
    fn map_file_info(&mut self, pid: u32, m: &FileMapping) -> crate::Result<procfs::MapFileInfo> {
        let key = (m.major, m.minor, m.inode, m.path.clone());
        if let Some(info) = self.map_files.get(&key) {
            return Ok(info.clone());
        }
        let info = procfs::map_file_info(&self.cfg.proc_root, pid, &m.range)?;
        self.map_files.insert(key, info.clone());
        Ok(info)
    }

    /// For a deployment process's file whose path or bytes are gone: the current
    /// deployment that holds the very same object at the same tree path, once per (dev,
    /// ino, root deployment). A foreign or host process has no deployment to compare with.
    fn identical_in(&mut self, f: &FileReport, root_dep: Option<&str>) -> Option<String> {
        use crate::report::StaleReason::{Deleted, RemovedDeployment, Unlinked};
        if root_dep.is_none()
            || !matches!(
                f.stale_reason,
                Some(Deleted) | Some(RemovedDeployment) | Some(Unlinked)
            )
        {
            return None;
        }
        let (Some(object), Some(tree_path)) = (&f.origin.object, &f.origin.tree_path) else {
            return None;
        };
        let key = (f.major, f.minor, f.ino, root_dep.map(str::to_string));
        if let Some(hit) = self.identical.get(&key) {
            return hit.clone();
        }
        let found = self.k.identical_in(object, tree_path, root_dep);
        self.identical.insert(key, found.clone());
        found
    }

    fn file(&mut self, raw: &ProcessRaw, m: &FileMapping, root_dep: Option<&str>) -> FileReport {
        let pid = raw.pid;
        let mut path = m.path.clone();
        // Three facts, kept apart: the mapped name was unlinked (`path_gone`), no link at
        // all is left so the bytes live only in memory (`deleted`, link count 0), and for
        // the checksum below, whether the repo index can no longer find the inode (`gone`).
        let mut deleted = false;
        let mut path_gone = false;
        let mut gone = false;
        // maps escapes a newline as \012 but leaves a backslash alone, so a name holding the
        // four characters "\012" reads as a newline too. map_files gives the exact bytes.
        let ambiguous = m.path.contains(&b'\n');
        if ambiguous && !m.deleted_suffix {
            match self.map_file_info(pid, m) {
                Ok(info) => path = info.exact_path,
                Err(_) => {
                    // Without map_files: the kernel's own text, if it names this very file.
                    let text = crate::escape::escape_octal(&m.path, b"\n");
                    let here = Some((m.major, m.minor, m.inode));
                    if self.resolve(raw, &path) != here && self.resolve(raw, &text) == here {
                        path = text;
                    }
                }
            }
        }
        if m.deleted_suffix {
            // The suffix alone proves nothing (a file may be named "x (deleted)"); the
            // mapped file itself, through map_files, says whether its name was unlinked.
            match self.map_file_info(pid, m) {
                Ok(info) => {
                    path_gone = info.deleted;
                    deleted = info.deleted && info.nlink == 0;
                    gone = info.nlink == 0;
                    path = info.exact_path;
                }
                Err(Error::PermissionDenied(p)) => {
                    self.warn_once(
                        "map-files-unreadable",
                        format!("{}: permission denied; deleted files are judged by the kernel's \" (deleted)\" suffix alone and cannot be traced by checksum (run as root)", p.display()),
                        Some(pid),
                    );
                    // Without map_files, the name with its suffix still resolving to
                    // this very inode means the suffix is part of the name.
                    let mut literal = m.path.clone();
                    literal.extend_from_slice(b" (deleted)");
                    deleted = self.resolve(raw, &literal) != Some((m.major, m.minor, m.inode));
                    path_gone = deleted;
                    gone = deleted;
                    if !deleted {
                        path = literal;
                    }
                }
                Err(_) => {
                    deleted = true;
                    path_gone = true;
                }
            }
        }
        if !path_gone {
            if let Some(p) = self.stacked_lower_path(raw, m, &path) {
                path = p;
            }
        }
        // The path names another file now: replaced on disk. Also when the mapped file
        // was unlinked: dpkg, rpm and most installers upgrade by renaming the new file over
        // the old one, which unlinks the old one (deleted) and leaves its path naming the
        // new one (superseded). Only a path that names nothing at all is merely deleted.
        let superseded = match self.stacked_same(raw, m, &path) {
            Some(same) => !same,
            None => {
                let now = self.resolve(raw, &path);
                now.is_some()
                    && now != Some((m.major, m.minor, m.inode))
                    && !self.same_through_overlay(raw, &path, now, m)
                    && !self.same_object_now(raw, m, &path, now)
            }
        };
        let overlay = self.overlay_of(raw, m.major, m.minor);
        let mut origin = match (self.container_origin(raw, m, &path), overlay) {
            (Some(layer), _) => layer,
            (None, Some(o)) => self.overlay_file_origin(raw, m, &o, &path, gone, root_dep),
            (None, None) => self.origin(raw, m, &path, gone, root_dep),
        };
        let own = origin.package.take();
        origin.package = own.or_else(|| self.package(&origin));
        FileReport {
            path,
            major: m.major,
            minor: m.minor,
            ino: m.inode,
            deleted,
            path_gone,
            superseded,
            origin,
            stale_reason: None,
            identical_in: None,
        }
    }

    /// The package that installed a file of a known commit, from that commit's table in
    /// the catalog. Files of the host root are named after all processes (`host_packages`).
    fn package(&mut self, origin: &Origin) -> Option<PackageInfo> {
        let (Some(commit), Some(tree_path)) = (&origin.commit, &origin.tree_path) else {
            return None;
        };
        match self.k.package_at(commit, tree_path) {
            Ok(p) => p,
            Err(e) => {
                self.warn_once("catalog-read", e.to_string(), None);
                None
            }
        }
    }

    /// Name the package of each file that a process in the host's own root maps from the
    /// host's database, reading it once for all of them, and record each current file's
    /// package in the catalog (`catalog/host_files.rs`). A deleted or replaced host file is
    /// not what the database describes: it names the package recorded when a scan saw that
    /// very file (same device, inode and path) current, or none, never a guess.
    /// Returns the records to write (the scan holds the knowledge read-only).
    fn host_packages(&mut self, processes: &mut [ProcessReport]) -> Vec<HostFileRecord> {
        let is_host_file = |p: &ProcessReport, f: &FileReport| {
            p.root_kind == RootKind::Host && f.origin.kind == OriginKind::Untracked
        };
        let current = |f: &FileReport| !f.deleted && !f.superseded;
        // Paths as the scanner sees them, below the host root (`/` on a real host).
        let root = self.cfg.host_root.as_os_str().as_bytes().to_vec();
        let in_root = |path: &[u8]| path_in_root(&root, path).map(<[u8]>::to_vec);
        let wanted: HashSet<Vec<u8>> = processes
            .iter()
            .flat_map(|p| {
                p.files
                    .iter()
                    .filter(move |f| is_host_file(p, f) && current(f))
            })
            .filter_map(|f| in_root(&f.path))
            .map(|p| crate::packages::canonical_path(&p).into_owned())
            .collect();
        let any_replaced = processes
            .iter()
            .any(|p| p.files.iter().any(|f| is_host_file(p, f) && !current(f)));
        if wanted.is_empty() && !any_replaced {
            return Vec::new();
        }
        // Read even when only replaced files are mapped: the installed version is compared.
        self.k.host_packages(&wanted);
        let mut recorded: HashMap<HostFileKey, Option<PackageInfo>> = HashMap::new();
        let mut to_record: HashMap<HostFileKey, HostFileRecord> = HashMap::new();
        for p in processes.iter_mut() {
            if p.root_kind != RootKind::Host {
                continue;
            }
            for f in p.files.iter_mut() {
                if f.origin.kind != OriginKind::Untracked {
                    continue;
                }
                let Some(rel) = in_root(&f.path) else {
                    continue;
                };
                let key = (f.major, f.minor, f.ino, rel);
                if current(f) {
                    let table = self.k.host_packages_read();
                    f.origin.package = table.and_then(|t| t.lookup(&key.3).cloned());
                    if let Some(package) = &f.origin.package {
                        if !to_record.contains_key(&key)
                            && !self.k.catalog.host_file_known(&key, package)
                        {
                            if let Some(r) = host_file_record(&f.path, &key, package) {
                                to_record.insert(key, r);
                            }
                        }
                    }
                } else {
                    f.origin.package = self.recorded_package(&mut recorded, key);
                }
            }
        }
        to_record.into_values().collect()
    }

    /// The package a scan recorded for this very file (device, inode, path) while it was
    /// current, asked of the catalog once per file per scan (`recorded` holds the answers):
    /// what a deleted or replaced file of the host or another root names, never a guess.
    fn recorded_package(
        &mut self,
        recorded: &mut HashMap<HostFileKey, Option<PackageInfo>>,
        key: HostFileKey,
    ) -> Option<PackageInfo> {
        if let Some(hit) = recorded.get(&key) {
            return hit.clone();
        }
        let hit = self
            .k
            .catalog
            .host_file_package(key.0, key.1, key.2, &key.3)
            .unwrap_or_else(|e| {
                self.warn_once("catalog-read", e.to_string(), None);
                None
            });
        recorded.insert(key, hit.clone());
        hit
    }

    /// The dynamic overlay (lower layer a deployment's) with this device, as this
    /// process sees it.
    fn overlay_of(&self, raw: &ProcessRaw, major: u32, minor: u32) -> Option<OverlayMount> {
        let view = (
            raw.mnt_ns.unwrap_or(0),
            raw.root.clone().unwrap_or_else(|| b"/".to_vec()),
        );
        self.ns_overlays
            .get(&view)?
            .iter()
            .find(|o| (o.major, o.minor) == (major, minor) && o.lower_deployment.is_some())
            .cloned()
    }

    /// The real file serving `path` (as maps shows it) through overlay `o`.
    fn serving(&self, raw: &ProcessRaw, o: &OverlayMount, path: &[u8]) -> Option<LayerFile> {
        let root = raw.root.clone().unwrap_or_else(|| b"/".to_vec());
        let inner = path_in_root(&root, path)?;
        let rel = o.below(inner)?;
        let proc_root = &self.cfg.proc_root;
        if let Some(s) = self.stacked_of(raw, o.major, o.minor) {
            let pid = raw.pid;
            return self
                .cfs
                .stacked_serving(s, rel, &|p| Some(in_proc_root(proc_root, pid, p)));
        }
        overlay::serving_file(o, rel, &|p| Some(in_proc_root(proc_root, raw.pid, p)))
    }

    /// A process that mapped a deployment file before an overlay was mounted over it
    /// sees its path now on the overlay's device; when the overlay still serves that very
    /// file from the lower layer, nothing replaced it.
    fn same_through_overlay(
        &self,
        raw: &ProcessRaw,
        path: &[u8],
        now: Option<(u32, u32, u64)>,
        m: &FileMapping,
    ) -> bool {
        let Some((ma, mi, _)) = now else { return false };
        let Some(o) = self.overlay_of(raw, ma, mi) else {
            return false;
        };
        self.serving(raw, &o, path)
            .is_some_and(|f| (f.major, f.minor, f.ino) == (m.major, m.minor, m.inode))
    }

    /// Origin of a file mapped through a dynamic overlay: a deployment-layer file is a
    /// repo object and is attributed as any other; a file of the upper (or another lower)
    /// layer is checksummed and looked up by content at its tree path.
    fn overlay_file_origin(
        &mut self,
        raw: &ProcessRaw,
        m: &FileMapping,
        o: &OverlayMount,
        path: &[u8],
        gone: bool,
        root_dep: Option<&str>,
    ) -> Origin {
        let key = (m.major, m.minor, m.inode, root_dep.map(str::to_string));
        if let Some(hit) = self.origins.get(&key) {
            return hit.clone();
        }
        let root = raw.root.clone().unwrap_or_else(|| b"/".to_vec());
        let tree_path = path_in_root(&root, path)
            .and_then(|p| o.below(p))
            .map(|rel| o.tree_path(rel));
        let serving = if gone {
            None
        } else {
            self.serving(raw, o, path)
                .filter(|f| f.ino == m.inode || !o.is_deployment_layer(&f.layer))
        };
        let object = match &serving {
            Some(f) if o.is_deployment_layer(&f.layer) => {
                let real = FileMapping {
                    major: f.major,
                    minor: f.minor,
                    inode: f.ino,
                    ..m.clone()
                };
                let origin = self.origin(raw, &real, path, false, root_dep);
                self.origins.insert(key, origin.clone());
                return origin;
            }
            Some(f) => match checksum_path(&f.path) {
                Ok(c) => Some(c),
                Err(e) => {
                    self.warn_once("checksum-failed", e.to_string(), Some(raw.pid));
                    None
                }
            },
            // Deleted from the overlay while mapped: only map_files can still read it.
            None => self.deleted_object(raw, m),
        };
        let origin = match (object, tree_path) {
            (Some(obj), Some(tp)) => {
                // A deleted file may have been the deployment's own (the lower file):
                // then it is attributed as that, not as an overlay file.
                let own = root_dep.and_then(crate::attribute::commit_of_id);
                let hits = self.k.object_hits(&obj).unwrap_or_default();
                let is_lower = serving.is_none()
                    && hits
                        .iter()
                        .any(|h| Some(h.commit.as_str()) == own && h.path == tp);
                let r = if is_lower {
                    self.k.origin_of(&obj, path, Some(&tp), root_dep, false)
                } else {
                    self.k.overlay_origin(&obj, &tp)
                };
                r.unwrap_or_else(|e| {
                    self.warn_once("catalog-read", e.to_string(), None);
                    Origin::untracked()
                })
            }
            (obj, _) => Origin {
                object: obj,
                ..Origin::untracked()
            },
        };
        self.origins.insert(key, origin.clone());
        origin
    }

    /// What `path` names now, inside the process's own root and mount namespace.
    fn resolve(&mut self, raw: &ProcessRaw, path: &[u8]) -> Option<(u32, u32, u64)> {
        let root = raw.root.clone().unwrap_or_else(|| b"/".to_vec());
        let key = ((raw.mnt_ns.unwrap_or(0), root.clone()), path.to_vec());
        if let Some(hit) = self.resolves.get(&key) {
            return *hit;
        }
        let inner = path_in_root(&root, path).unwrap_or(path);
        let now = procfs::stat_in_root(&self.cfg.proc_root, raw.pid, inner)
            .ok()
            .flatten();
        self.resolves.insert(key, now);
        now
    }

    fn origin(
        &mut self,
        raw: &ProcessRaw,
        m: &FileMapping,
        path: &[u8],
        gone: bool,
        root_dep: Option<&str>,
    ) -> Origin {
        let key = (m.major, m.minor, m.inode, root_dep.map(str::to_string));
        if let Some(o) = self.origins.get(&key) {
            return o.clone();
        }
        // The inode itself being a repo object is identity; so is a composefs image's
        // redirect, or a copy's tree path confirmed by its checksum. A checksum of a deleted
        // file's bytes is only equality (see Knowledge::origin_of).
        let (object, by_inode) = match self.k.object_of(m.major, m.minor, m.inode) {
            Some(o) => (Some(o), true),
            None if gone => (self.deleted_object(raw, m), false),
            None => {
                let found = self
                    .composefs_object(raw, m, path)
                    .or_else(|| self.copied_object(raw, m, path, root_dep));
                let by_path = found.is_some();
                (found, by_path)
            }
        };
        let root = live_root(raw);
        let inner = path_in_root(root, path);
        let origin = match object {
            Some(obj) => match self.k.origin_of(&obj, path, inner, root_dep, by_inode) {
                Ok(o) => o,
                Err(e) => {
                    self.warn_once("catalog-read", e.to_string(), None);
                    Origin::untracked()
                }
            },
            None => Origin::untracked(),
        };
        self.origins.insert(key, origin.clone());
        origin
    }

    /// The ostree checksum of a mapped file whose every name is gone, computed from its
    /// bytes through map_files. Never executed, never loaded: read with pread only.
    fn deleted_object(&mut self, raw: &ProcessRaw, m: &FileMapping) -> Option<String> {
        let key = (m.major, m.minor, m.inode);
        if let Some(c) = self.deleted_objects.get(&key) {
            return c.clone();
        }
        let sum = procfs::open_map_file(&self.cfg.proc_root, raw.pid, &m.range).and_then(|f| {
            if self.k.bare_user() {
                checksum_bare_user_file(&f)
            } else {
                checksum_file(&f)
            }
        });
        let sum = match sum {
            Ok(s) => Some(s),
            Err(Error::NotFound(_)) => None,
            Err(e) => {
                self.warn_once(
                    "checksum-failed",
                    format!("PID {}: {}", raw.pid, e),
                    Some(raw.pid),
                );
                None
            }
        };
        self.deleted_objects.insert(key, sum.clone());
        sum
    }

    fn finish(mut self, processes: Vec<ProcessReport>) -> ScanReport {
        let mut etc_warnings = Vec::new();
        let deployments = self
            .k
            .status
            .deployments
            .iter()
            .map(|d| {
                let id = d.id();
                DeploymentReport {
                    process_count: processes
                        .iter()
                        .filter(|p| p.root_deployment.as_deref() == Some(id.as_str()))
                        .count() as u32,
                    id,
                    deployment: d.clone(),
                    live_apply: live_apply(&self.cfg.run_dir, self.k.repo.as_ref(), d),
                    composefs: self.cfs.image_for(&d.id()).map(|i| ComposefsReport {
                        image: i.image.exists().then(|| i.image.clone()),
                        digest: i.digest.clone(),
                        mounted: self.cfs.mounted(&i.deployment_id),
                    }),
                    etc: match crate::config::etc_diff::deployment_etc(&d.path) {
                        Ok(diff) => Some(diff.counts()),
                        Err(e) => {
                            etc_warnings.push(Warning::new(
                                "config-etc",
                                format!("{}: /etc drift not counted: {e}", d.id()),
                                None,
                            ));
                            None
                        }
                    },
                }
            })
            .collect();
        self.warnings.append(&mut etc_warnings);
        let overlays = std::mem::take(&mut self.overlays)
            .iter()
            .map(|o| self.overlay_report(o))
            .collect();
        let (installed_packages, compared_trees) = self.installed(&processes);
        if let Some(t) = self.k.host_packages_read() {
            self.warnings.extend(
                t.warnings
                    .iter()
                    .map(|w| Warning::new("package-db", w.clone(), None)),
            );
        }
        self.warnings.sort_by_key(|w| w.pid.is_some());
        ScanReport {
            composefs_proof: ProofCost {
                mapped_hashed: self.cfs_hashed,
                probed: self.cfs.cost.probed,
            },
            installed_packages,
            compared_trees,
            sysroot: SysrootReport {
                path: self.k.status.path.clone(),
                repo_mode: self.k.repo_mode(),
                ostree_booted: self.k.status.ostree_booted,
            },
            deployments,
            overlays,
            processes,
            kernel_threads: Vec::new(),
            warnings: self.warnings,
            kernel: None,
        }
    }
}

impl Scan<'_> {
    /// The installed versions of the packages whose files are in memory, per tree that
    /// counts as installed: for processes rooted in a deployment, the booted deployment
    /// (else the default, first one); for processes in the host's own root, the host's
    /// database. Each entry names its tree (a deployment id, or `host`).
    /// The installed versions of the packages in memory, each with its tree, and the
    /// container trees read (see `ScanReport::compared_trees`).
    fn installed(
        &mut self,
        processes: &[ProcessReport],
    ) -> (Vec<(String, PackageInfo)>, Vec<String>) {
        let names = |kind: RootKind| {
            let mut n: Vec<&str> = processes
                .iter()
                .filter(|p| p.root_kind == kind)
                .flat_map(|p| p.files.iter())
                .filter_map(|f| f.origin.package.as_ref().map(|p| p.name.as_str()))
                .collect();
            n.sort_unstable();
            n.dedup();
            n
        };
        let mut out = Vec::new();
        let deployments = &self.k.status.deployments;
        let tree = deployments
            .iter()
            .find(|d| d.booted)
            .or_else(|| deployments.first())
            .map(|d| (d.checksum.clone(), d.id()));
        if let Some((checksum, id)) = tree {
            for name in names(RootKind::Deployment) {
                match self.k.commit_package(&checksum, name) {
                    Ok(found) => out.extend(found.into_iter().map(|p| (id.clone(), p))),
                    Err(e) => {
                        self.warn_once("catalog-read", e.to_string(), None);
                        break;
                    }
                }
            }
        }
        let host = names(RootKind::Host);
        if let Some(table) = self.k.host_packages_read().filter(|_| !host.is_empty()) {
            for name in host {
                out.extend(table.by_name(name).map(|p| ("host".to_string(), p.clone())));
            }
        }
        let (found, compared) = self.container_installed(processes);
        out.extend(found);
        (out, compared)
    }

    /// One overlay for the report: each regular file of its upper directory with its
    /// object checksum and the commits holding that object at that tree path.
    fn overlay_report(&mut self, o: &OverlayMount) -> OverlayReport {
        // Reached when the overlay was found: relative to the mounter's directory (ostree's
        // unlock) or through the process's root (a mount made inside another root).
        let upper = o.upper_path.clone();
        let mut files = Vec::new();
        let mut source_commits: Vec<String> = Vec::new();
        if let Some(upper) = upper {
            for (rel, full) in overlay::upper_files(&upper) {
                let tree_path = o.tree_path(&rel);
                let object = match checksum_path(&full) {
                    Ok(c) => Some(c),
                    Err(e) => {
                        self.warn_once("checksum-failed", e.to_string(), None);
                        None
                    }
                };
                let commits = match &object {
                    Some(obj) => match self.k.object_hits(obj) {
                        Ok(hits) => overlay::commits_at(&hits, &tree_path),
                        Err(e) => {
                            self.warn_once("catalog-read", e.to_string(), None);
                            Vec::new()
                        }
                    },
                    None => Vec::new(),
                };
                for c in &commits {
                    if !source_commits.contains(c) {
                        source_commits.push(c.clone());
                    }
                }
                files.push(OverlayFileReport {
                    path: tree_path,
                    object,
                    commits,
                });
            }
        }
        OverlayReport {
            mount_point: o.mount_point.clone(),
            major: o.major,
            minor: o.minor,
            lower_deployment: o.lower_deployment.clone(),
            // A relative upper (ostree's `.usr-ovl-upper`) means nothing to a reader:
            // say where it is.
            upper_dir: match (&o.upperdir, &o.upper_path) {
                (Some(u), Some(p)) if !u.starts_with(b"/") => {
                    Some(p.as_os_str().as_bytes().to_vec())
                }
                (u, _) => u.clone(),
            },
            source_commits,
            files,
        }
    }
}

/// The (mount namespace, root) a process sees its files in.
fn view_of(raw: &ProcessRaw) -> View {
    (
        raw.mnt_ns.unwrap_or(0),
        raw.root.clone().unwrap_or_else(|| b"/".to_vec()),
    )
}

/// The process's root as the scanner names it, without the kernel's ` (deleted)` marker
/// (a removed deployment directory): maps paths below it carry no marker of their own.
fn live_root(raw: &ProcessRaw) -> &[u8] {
    let root = raw.root.as_deref().unwrap_or(b"/");
    root.strip_suffix(b" (deleted)").unwrap_or(root)
}

/// Whether a (removed) deployment directory path lies in this sysroot: its parent is this
/// sysroot's `ostree/deploy/OS/deploy` directory (by dev and ino, so the path by which the
/// kernel names it does not matter), not another sysroot's with the same layout.
fn in_this_sysroot(sysroot: &std::path::Path, path: &[u8]) -> bool {
    let Some((os, _, _)) = crate::attribute::deployment_id_from_path(path) else {
        return false;
    };
    let Some(cut) = path.iter().rposition(|b| *b == b'/') else {
        return false;
    };
    let id = |p: &std::path::Path| std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino()));
    let parent = std::path::Path::new(std::ffi::OsStr::from_bytes(&path[..cut]));
    let ours = sysroot.join("ostree/deploy").join(os).join("deploy");
    id(parent).is_some() && id(parent) == id(&ours)
}

/// `path` (absolute, as the process sees it) through `/proc/PID/root`.
fn in_proc_root(proc_root: &std::path::Path, pid: u32, path: &[u8]) -> std::path::PathBuf {
    let mut full = proc_root.join(pid.to_string()).join("root");
    full.push(std::ffi::OsStr::from_bytes(
        path.strip_prefix(b"/").unwrap_or(path),
    ));
    full
}

/// The process's root as a prefix for its mount points: empty for `/`.
fn root_prefix(root: &[u8]) -> &[u8] {
    if root == b"/" {
        b""
    } else {
        root
    }
}

fn procfs_comm(proc_root: &std::path::Path, pid: u32) -> Vec<u8> {
    let mut c = std::fs::read(proc_root.join(pid.to_string()).join("comm")).unwrap_or_default();
    if c.last() == Some(&b'\n') {
        c.pop();
    }
    c
}

/// rpm-ostree's apply-live leaves a stamp in ostree's per-deployment run state and keeps
/// the applied commit in the `rpmostree/live-apply` ref (`…-inprogress` while it works).
fn live_apply(
    run_dir: &std::path::Path,
    repo: Option<&crate::repo::Repo>,
    d: &crate::sysroot::Deployment,
) -> Option<LiveApply> {
    let stamp = run_dir
        .join("ostree/deployment-state")
        .join(format!("{}.{}", d.checksum, d.serial))
        .join("rpmostree-is-live.stamp");
    if !stamp.exists() {
        return None;
    }
    let resolve = |name: &str| repo.and_then(|r| r.resolve_ref(name).ok());
    Some(LiveApply {
        commit: resolve("rpmostree/live-apply"),
        inprogress: resolve("rpmostree/live-apply-inprogress"),
    })
}
