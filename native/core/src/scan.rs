//! One scan: the stages of design.md joined into a single report.
//!
//! Work is shared across processes wherever the answer cannot differ: an origin is looked
//! up once per (dev, ino), a "does this path still name this file" check once per
//! (mount namespace, root, path), a deleted file is checksummed once per inode. That is
//! what keeps a scan of thousands of processes close to the cost of reading their maps.
use crate::fast_hash::{FastMap, FastSet};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;

use crate::composefs::stacked::Stacked;
use crate::composefs::{CfsMount, Composefs};
use crate::proc::mountinfo::Mount;

mod cfs;
mod config;
mod container;
pub mod early;
mod file;
mod finish;
mod host;
pub mod knowledge;
mod overlays;
mod process;
mod roots;
mod views;
use crate::catalog::{HostFileKey, HostFileRecord};
use crate::overlay::{DeploymentDir, DevIno, OverlayMount};
use crate::proc::maps::FileMapping;
use crate::scan::knowledge::Knowledge;
use views::ViewMap;

/// A mount namespace (inode of ns/mnt) and a process root as the scanner names it.
type View = (u64, Vec<u8>);
type RootKey = (Option<(u64, u64)>, Option<Vec<u8>>);
use crate::proc::procfs::{self, ProcReader, ProcessRaw};
pub use crate::report::*;

/// Per-scan caches and the warnings said once per scan.
struct Scan<'a> {
    cfg: &'a ScanConfig,
    k: &'a mut Knowledge,
    host: Option<(u64, u64)>,
    /// Devices mounted in each (mount namespace, root): a mapping on a device no
    /// namespace mounts is kernel-internal (memfd, SysV shm, DRM), not a file of any
    /// tree. Keyed by root too, because mountinfo lists only the mounts below the
    /// reading process's root: a chrooted process does not see the mount its root is on.
    ns_devices: ViewMap<FastSet<(u32, u32)>>,
    /// Overlay mounts per (mount namespace, root): mount points in mountinfo are shown
    /// relative to the reading process's root, so two roots see different lists. Only
    /// views with an overlay on a deployment (all `overlay_of` looks for) are here.
    ns_overlays: ViewMap<Vec<OverlayMount>>,
    /// Dynamic overlays for the report, by device (one overlay seen from two namespaces
    /// through propagation is one overlay).
    overlays: Vec<OverlayMount>,
    deployment_dirs: Vec<DeploymentDir>,
    /// What a path names now, per view and path (as the process sees it).
    resolves: ViewMap<FastMap<Vec<u8>, Option<DevIno>>>,
    /// Each view's root (`/proc/PID/root` of the first of its processes whose root could be
    /// opened), opened once for every path `resolve` looks up there: the answers are kept
    /// per view already, and opening the root cost as much as each lookup through it.
    view_roots: ViewMap<procfs::ProcessRoot>,
    /// How many times `resolve` opened a process's root (`ScanReport::root_opens`).
    root_opens: usize,
    map_files: FastMap<(u32, u32, u64, Vec<u8>), procfs::MapFileInfo>,
    origins: FastMap<(u32, u32, u64, Option<String>), Origin>,
    identical: FastMap<(u32, u32, u64, Option<String>), Option<String>>,
    deleted_objects: FastMap<(u32, u32, u64), Option<String>>,
    /// Root classification per (root dev+ino, root link): thousands of processes share a
    /// few roots, and classifying one may ask the catalog.
    roots: FastMap<RootKey, (RootKind, Option<String>)>,
    /// composefs images and the composefs mounts of each (mount namespace, root).
    cfs: Composefs,
    /// Every view read is here (its list may be empty): what marks a view read.
    cfs_views: ViewMap<Vec<CfsMount>>,
    /// Overlays stacked on a composefs mount, only of views that have some.
    cfs_stacked: ViewMap<Vec<Stacked>>,
    /// Views read but not yet finished (their overlays wait for composefs identification).
    pending_views: Vec<PendingView>,
    /// Content checksums of files mapped from composefs mounts, by (dev, ino).
    cfs_sums: FastMap<(u32, u32, u64), Option<String>>,
    /// Mapped files checksummed by this scan (the others were kept from earlier scans).
    cfs_hashed: usize,
    containers: container::Containers,
    warned: std::collections::HashSet<&'static str>,
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

/// What the readers of `read_alongside` read: every process, and the mount table of each
/// (mount namespace, root) view they met.
pub struct ProcRead {
    /// One entry per process, in /proc's order.
    pub raws: Vec<RawProcess>,
    /// The mount table of each view, read once through one of its processes (the PID it was
    /// read through, and its mounts). A view whose every read failed is not here:
    /// attribution reads it again (see `Scan::read_view`).
    views: FastMap<View, (u32, Vec<Mount>)>,
    /// Read early (`early::start`), before the scan was asked for.
    pub early: bool,
}

/// Run one scan, loading what we know (sysroot, repo index, catalog) afresh.
pub fn run(cfg: &ScanConfig) -> crate::Result<ScanReport> {
    let (loaded, read) = read_alongside(cfg, || {
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
    Ok(report_with(cfg, &mut k, warnings, read, &[]))
}

/// Read the processes `cfg` names from /proc while `work` runs on its own thread.
///
/// Reading /proc is kernel time spent one process at a time, and loading what we know
/// (sysroot, repo index, catalog) does not depend on it: both run at once, the /proc
/// reads split across the machine's cores (`read_processes`). A whole scan whose proc root
/// was read early (`early::start`, while Node loaded the CLI) takes that read instead.
/// Attribution then runs on one thread, where its caches make each answer once.
pub fn read_alongside<T: Send>(
    cfg: &ScanConfig,
    work: impl FnOnce() -> T + Send,
) -> crate::Result<(std::thread::Result<T>, ProcRead)> {
    let (knowledge, read) = std::thread::scope(|s| {
        // Loading starts first: listing /proc is one thread's work, and the core it leaves
        // free loads meanwhile.
        let knowledge = s.spawn(work);
        let early = match cfg.pids {
            None => early::take(&cfg.proc_root),
            Some(_) => None,
        };
        let read = match early {
            Some(Ok(Ok(read))) => Ok(read),
            // A panic while reading early goes on here, as one in this read would.
            Some(Err(panic)) => std::panic::resume_unwind(panic),
            Some(Ok(Err(_))) | None => read_processes(&cfg.proc_root, cfg.pids.as_deref()),
        };
        (knowledge.join(), read)
    });
    Ok((knowledge, read?))
}

/// Read every process under `proc_root` (or only `pids`), on the machine's cores, and the
/// mount table of each (mount namespace, root) view, by the first reader to meet a process
/// of that view: a host of 200 containers has 201 views, and the kernel's rendering of their
/// mountinfo costs as much as all their maps.
fn read_processes(proc_root: &std::path::Path, pids: Option<&[u32]>) -> crate::Result<ProcRead> {
    let listed = match pids {
        Some(p) => p.to_vec(),
        None => procfs::list_pids(proc_root)?,
    };
    // Our own maps would list the addon itself; it is not what the user asked about.
    let own = std::process::id();
    let listed: Vec<u32> = listed
        .into_iter()
        .filter(|&p| p != own || pids.is_some())
        .collect();
    // Batches of 32 (crate::parallel): a host's own daemons map hundreds of files each
    // while thousands of small processes map a few. A reader that panicked would leave its
    // batches out, a scan that silently misses processes: the panic goes on instead (the
    // napi glue makes it an EPANIC error). Back in /proc's order, whichever reader took
    // which batch.
    const BATCH: usize = 32;
    // Views claimed by a reader (one reads each), and the tables read.
    let claimed: std::sync::Mutex<FastSet<View>> = Default::default();
    let views: std::sync::Mutex<FastMap<View, (u32, Vec<Mount>)>> = Default::default();
    let raws = crate::parallel::in_batches(
        &listed,
        BATCH,
        || {
            crate::test_panic("reader");
            ProcReader::new()
        },
        // Keep what attribution reads: one entry per file, not every mapping
        // (thousands of processes wait here at once).
        |reader, &pid| {
            let read = reader.read_process_files(proc_root, pid);
            if let Ok((raw, _)) = &read {
                read_view_of(reader, proc_root, raw, &claimed, &views);
            }
            (pid, read)
        },
    );
    let views = views.into_inner().unwrap_or_else(|p| p.into_inner());
    Ok(ProcRead {
        raws,
        views,
        early: false,
    })
}

/// The mount table of `raw`'s view, read through `raw` unless another reader has it or is
/// reading it. A failed read (the process exited meanwhile) gives the view back, for the
/// next of its processes to read.
fn read_view_of(
    reader: &mut ProcReader,
    proc_root: &std::path::Path,
    raw: &ProcessRaw,
    claimed: &std::sync::Mutex<FastSet<View>>,
    views: &std::sync::Mutex<FastMap<View, (u32, Vec<Mount>)>>,
) {
    let view = view_of(raw);
    let claim = || claimed.lock().unwrap_or_else(|p| p.into_inner());
    if !claim().insert(view.clone()) {
        return;
    }
    match reader.read_mountinfo(proc_root, raw.pid) {
        Ok(mounts) => {
            let mut views = views.lock().unwrap_or_else(|p| p.into_inner());
            views.insert(view, (raw.pid, mounts));
        }
        Err(_) => {
            claim().remove(&view);
        }
    }
}

/// Attribute the processes read by `read_alongside` with `k`, which the caller keeps.
/// `warnings` are those said while loading `k`; the report's come after them. `k` is
/// mutable only for its catalog: composefs images seen for the first time are recorded.
/// `reloaded`: reloads just made, beside those the catalog recorded (`config::Reloaded`).
pub fn report_with(
    cfg: &ScanConfig,
    k: &mut Knowledge,
    warnings: Vec<Warning>,
    read: ProcRead,
    reloaded: &[crate::config::Reloaded],
) -> ScanReport {
    let ProcRead {
        raws, mut views, ..
    } = read;
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
        ns_devices: ViewMap::default(),
        ns_overlays: ViewMap::default(),
        overlays: Vec::new(),
        deployment_dirs: Vec::new(),
        resolves: ViewMap::default(),
        view_roots: ViewMap::default(),
        root_opens: 0,
        map_files: FastMap::default(),
        origins: FastMap::default(),
        identical: FastMap::default(),
        deleted_objects: FastMap::default(),
        roots: FastMap::default(),
        cfs,
        cfs_views: ViewMap::default(),
        cfs_stacked: ViewMap::default(),
        pending_views: Vec::new(),
        cfs_sums: FastMap::default(),
        cfs_hashed: 0,
        containers: container::Containers::default(),
        warned: std::collections::HashSet::new(),
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
            scan.containers.note_family(raw);
            let view = view_of(raw);
            if !scan.cfs_views.contains(&view) {
                let read = views.remove(&view);
                scan.read_view(&mut reader, raw, &view, read);
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
    scan.layer_packages(&mut processes);
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
            .and_then(|()| k.record_host_database())
            .and_then(|()| k.record_layer_databases());
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
    repo: Option<&crate::ostree::repo::Repo>,
    d: &crate::ostree::sysroot::Deployment,
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
