//! How the scan's report serializes as the status document's parts
//! (`schema/status.schema.json`). Most report types derive `Serialize` where they are
//! declared; the few whose contract shape is not their Rust shape (a nested `root`, a
//! `MAJ:MIN` device, a `pathBase64` only for a path that is not UTF-8, the sysroot's
//! deployment record with what the scan adds) are written out here, each in the contract's
//! key order, which the document keeps.
//!
//! The whole report (`ScanReport`) is written with each distinct origin once, in `origins`,
//! and each file naming its origin by index there: thousands of processes map the same few
//! files from the same few commits, so this keeps the text small and lets the reader make
//! equal origins one object (`src/model/scan-parts.ts` puts them back in place). A file or
//! process written alone carries its origin inline, as the document shows it.
use std::collections::HashMap;

use base64::Engine;
use serde::ser::{SerializeMap, SerializeStruct};
use serde::{Serialize, Serializer};

use crate::as_text::text;
use crate::packages::PackageInfo;
use crate::report::{
    DeploymentReport, FileReport, Origin, OverlayReport, ProcessReport, ProcessState, ScanReport,
};

/// The distinct origins of a report's files, in the order first met.
struct Origins<'a> {
    list: Vec<&'a Origin>,
    index: HashMap<&'a Origin, u32>,
}

impl<'a> Origins<'a> {
    fn of(processes: &'a [ProcessReport]) -> Origins<'a> {
        let mut o = Origins {
            list: Vec::new(),
            index: HashMap::new(),
        };
        for f in processes.iter().flat_map(|p| &p.files) {
            let next = o.list.len() as u32;
            o.index.entry(&f.origin).or_insert_with(|| {
                o.list.push(&f.origin);
                next
            });
        }
        o
    }
}

/// The scan's document parts: `sysroot`, `deployments`, `overlays`, `origins` (see the
/// module's comment), `processes`, `counts`, `kernelThreads` (`[{pid, comm}]`), `warnings`,
/// `kernel`, `installedPackages`, `comparedTrees`.
impl Serialize for ScanReport {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Parts(self, With::Processes).serialize(s)
    }
}

/// Which processes the report's parts carry.
#[derive(Clone, Copy, PartialEq, Eq)]
enum With {
    /// Every process whole, with the origin table.
    Processes,
    /// None.
    Nothing,
    /// Each process's view: all of it but its files, of which only the stale ones, origins
    /// inline (see `write_views`).
    Views,
}

/// The report's parts, with the processes (and their origin table), their views, or nothing.
struct Parts<'a>(&'a ScanReport, With);

impl Serialize for Parts<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let Parts(report, with) = *self;
        let mut r = s.serialize_struct("ScanReport", 11)?;
        r.serialize_field("sysroot", &report.sysroot)?;
        r.serialize_field("deployments", &report.deployments)?;
        r.serialize_field("overlays", &report.overlays)?;
        match with {
            With::Processes => {
                let origins = Origins::of(&report.processes);
                r.serialize_field("origins", &origins.list)?;
                let processes = report
                    .processes
                    .iter()
                    .map(|p| Process(p, Some(&origins), false));
                r.serialize_field("processes", &Seq(processes))?;
            }
            With::Views => {
                let views = report.processes.iter().map(|p| Process(p, None, true));
                r.serialize_field("processes", &Seq(views))?;
            }
            With::Nothing => {}
        }
        r.serialize_field("counts", &report.counts())?;
        r.serialize_field("kernelThreads", &report.kernel_threads)?;
        r.serialize_field("warnings", &report.warnings)?;
        r.serialize_field("kernel", &report.kernel)?;
        r.serialize_field("installedPackages", &Installed(&report.installed_packages))?;
        r.serialize_field("comparedTrees", &report.compared_trees)?;
        r.end()
    }
}

/// The report as two JSON texts on two lines: its parts without the processes, then the
/// contract's `processes` array itself (origins inline, as the document shows them). A
/// caller with nothing to add to the processes (`status --json` without systemd's units)
/// writes the second text as it is, and parses only the first, small one.
pub fn write_apart(report: &ScanReport) -> serde_json::Result<String> {
    // serde_json writes no raw newline (one inside a string is escaped): the first line
    // ends exactly where the parts end.
    let mut out = serde_json::to_vec(&Parts(report, With::Nothing))?;
    out.push(b'\n');
    serde_json::to_writer(&mut out, &report.processes)?;
    // Only serde_json wrote these bytes, and it writes UTF-8.
    Ok(String::from_utf8(out).expect("serde_json writes UTF-8"))
}

/// The report's parts with each process's view on the first line, then each process's own
/// text in the contract's shape, one line each, in the order of `processes`. A view is its
/// process as the contract writes it but for `files`, which holds only the stale files (what
/// a unit's reasons are made of): a caller that adds systemd's units to some processes
/// (`status --json`) parses the small first line only, prints the texts of the processes it
/// left as they were, and for the others the text with the view's other fields put in.
pub fn write_views(report: &ScanReport) -> serde_json::Result<String> {
    let mut out = serde_json::to_vec(&Parts(report, With::Views))?;
    for p in &report.processes {
        // serde_json writes no raw newline: each process is exactly one line.
        out.push(b'\n');
        serde_json::to_writer(&mut out, p)?;
    }
    // Only serde_json wrote these bytes, and it writes UTF-8.
    Ok(String::from_utf8(out).expect("serde_json writes UTF-8"))
}

/// The counts of the document's `summary` that the processes decide, decided here once:
/// processes, those needing a restart (stale), those unreadable (unknown), and distinct
/// stale and untracked files by (device, inode) — one libc mapped by 3000 processes is
/// one stale file. Kernel threads are no processes: they are counted apart, and in
/// nothing else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProcessCounts {
    /// Every user-space process scanned.
    pub processes: usize,
    /// Processes whose state is stale.
    pub processes_needing_restart: usize,
    /// Distinct files (device, inode) with a stale reason.
    pub stale_files: usize,
    /// Distinct files (device, inode) whose origin is untracked.
    pub untracked_files: usize,
    /// Processes whose state is unknown: not readable, or (read, but) on a composefs mount
    /// whose image could not be proven.
    pub processes_unreadable: usize,
    /// Processes with configuration changed since they started (`needsReload`).
    pub processes_needing_reload: usize,
    /// Of those, the ones whose maps we were not permitted to read (`EACCES`): what
    /// running as root reads. Not in the document (see `ProcessReport::unreadable`).
    pub processes_denied: usize,
    /// Of those, the ones whose maps could not be read for another reason (`EIO`,
    /// `ECORRUPT`, …): when every process is denied or failed and some failed, nothing was
    /// read and not merely for want of permission, which is a failed scan. Not in the
    /// document.
    pub processes_read_failed: usize,
    /// Kernel threads seen and left out of the processes and every other count.
    pub kernel_threads: usize,
    /// Whether every process was read: false when any is unknown, and then no verdict
    /// may say that nothing needs a restart (the document's `summary.complete`).
    pub complete: bool,
    /// Distinct containers (by engine and ID) with at least one scanned process.
    pub containers: usize,
    /// Those whose image name now resolves to another image, or to none.
    pub containers_outdated: usize,
}

impl ScanReport {
    /// See `ProcessCounts`.
    pub fn counts(&self) -> ProcessCounts {
        let mut stale = std::collections::HashSet::new();
        let mut untracked = std::collections::HashSet::new();
        for f in self.processes.iter().flat_map(|p| &p.files) {
            if f.stale_reason.is_some() {
                stale.insert((f.major, f.minor, f.ino));
            }
            if f.origin.kind == crate::report::OriginKind::Untracked {
                untracked.insert((f.major, f.minor, f.ino));
            }
        }
        let state = |s: ProcessState| self.processes.iter().filter(|p| p.state == s).count();
        let unreadable = state(ProcessState::Unknown);
        let mut containers = std::collections::HashMap::new();
        for c in self.processes.iter().filter_map(|p| p.container.as_deref()) {
            containers.insert((&c.engine, &c.id), c.image_outdated == Some(true));
        }
        ProcessCounts {
            processes: self.processes.len(),
            processes_needing_restart: state(ProcessState::Stale),
            stale_files: stale.len(),
            untracked_files: untracked.len(),
            processes_needing_reload: self
                .processes
                .iter()
                .filter(|p| !p.config_changes.is_empty())
                .count(),
            processes_unreadable: unreadable,
            processes_denied: self
                .processes
                .iter()
                .filter(|p| p.unreadable == Some("EACCES"))
                .count(),
            processes_read_failed: self
                .processes
                .iter()
                .filter(|p| p.unreadable.is_some_and(|c| c != "EACCES"))
                .count(),
            kernel_threads: self.kernel_threads.len(),
            complete: unreadable == 0,
            containers: containers.len(),
            containers_outdated: containers.values().filter(|o| **o).count(),
        }
    }
}

/// A sequence written from an iterator that can be cloned (serde takes `&self`).
struct Seq<I>(I);

impl<I: Iterator + Clone> Serialize for Seq<I>
where
    I::Item: Serialize,
{
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.clone())
    }
}

/// `installedPackages`: each package with the tree it is installed in, `{tree, package}`.
struct Installed<'a>(&'a [(String, PackageInfo)]);

impl Serialize for Installed<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct Entry<'a>(&'a str, &'a PackageInfo);
        impl Serialize for Entry<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut m = s.serialize_map(Some(2))?;
                m.serialize_entry("tree", self.0)?;
                m.serialize_entry("package", self.1)?;
                m.end()
            }
        }
        s.collect_seq(self.0.iter().map(|(tree, p)| Entry(tree, p)))
    }
}

/// A device as maps and the contract show it: `MAJOR:MINOR` in decimal.
struct Device(u32, u32);

impl Serialize for Device {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&format_args!("{}:{}", self.0, self.1))
    }
}

/// `processes[].root`.
#[derive(Serialize)]
struct Root<'a> {
    kind: crate::report::RootKind,
    deployment: &'a Option<String>,
}

/// `processes[]`; `needsRestart` is the stale state, `unit` the one read from its cgroup
/// (TypeScript replaces it with systemd's answer when it has one).
impl Serialize for ProcessReport {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Process(self, None, false).serialize(s)
    }
}

/// `processes[].files[]`: the path as text, and its exact bytes in `pathBase64` only when
/// they are not UTF-8.
impl Serialize for FileReport {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        File(self, None).serialize(s)
    }
}

/// A process, its files' origins inline or (with the report's table) by index; with
/// `true`, its view: only its stale files.
struct Process<'a>(&'a ProcessReport, Option<&'a Origins<'a>>, bool);

impl Serialize for Process<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let Process(p, origins, stale_only) = *self;
        let mut m = s.serialize_struct("Process", 13)?;
        m.serialize_field("pid", &p.pid)?;
        m.serialize_field("comm", &text(&p.comm))?;
        m.serialize_field("exe", &p.exe.as_deref().map(text))?;
        let root = Root {
            kind: p.root_kind,
            deployment: &p.root_deployment,
        };
        m.serialize_field("root", &root)?;
        m.serialize_field("unit", &p.cgroup_unit)?;
        m.serialize_field("cgroup", &p.cgroup)?;
        m.serialize_field("state", &p.state)?;
        m.serialize_field("needsRestart", &(p.state == ProcessState::Stale))?;
        let files = p
            .files
            .iter()
            .filter(move |f| !stale_only || f.stale_reason.is_some())
            .map(|f| File(f, origins));
        m.serialize_field("files", &Seq(files))?;
        // Only for a process in a container: the field is optional, and thousands of host
        // processes need no `null` each.
        match &p.container {
            Some(c) => m.serialize_field("container", c.as_ref())?,
            None => m.skip_field("container")?,
        }
        m.serialize_field("startedAt", &p.started_ns.map(crate::config::utc))?;
        m.serialize_field("needsReload", &!p.config_changes.is_empty())?;
        m.serialize_field("configChanges", &p.config_changes)?;
        m.end()
    }
}

/// A file, its origin inline or (with the report's table) by index.
struct File<'a>(&'a FileReport, Option<&'a Origins<'a>>);

impl Serialize for File<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let File(file, origins) = *self;
        let mut f = s.serialize_struct("MappedFile", 11)?;
        f.serialize_field("path", &text(&file.path))?;
        f.serialize_field("dev", &Device(file.major, file.minor))?;
        f.serialize_field("ino", &file.ino)?;
        f.serialize_field("deleted", &file.deleted)?;
        f.serialize_field("superseded", &file.superseded)?;
        match origins.and_then(|o| o.index.get(&file.origin)) {
            Some(i) => f.serialize_field("origin", i)?,
            None => f.serialize_field("origin", &file.origin)?,
        }
        match std::str::from_utf8(&file.path) {
            Ok(_) => f.skip_field("pathBase64")?,
            Err(_) => f.serialize_field(
                "pathBase64",
                &base64::engine::general_purpose::STANDARD.encode(&file.path),
            )?,
        }
        f.serialize_field("staleReason", &file.stale_reason)?;
        f.serialize_field("pathGone", &file.path_gone)?;
        f.serialize_field("identicalIn", &file.identical_in)?;
        f.end()
    }
}

/// `deployments[]`: the sysroot's record of the deployment (less what only attribution
/// needs: its index, boot checksum and serial, directory identity) with the scan's count,
/// apply-live state and composefs image.
impl Serialize for DeploymentReport {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let d = &self.deployment;
        let mut m = s.serialize_struct("Deployment", 18)?;
        m.serialize_field("id", &self.id)?;
        m.serialize_field("osname", &d.osname)?;
        m.serialize_field("checksum", &d.checksum)?;
        m.serialize_field("serial", &d.serial)?;
        m.serialize_field("version", &d.version)?;
        m.serialize_field("refspec", &d.refspec)?;
        m.serialize_field("hasOrigin", &d.has_origin)?;
        m.serialize_field("booted", &d.booted)?;
        m.serialize_field("pending", &d.pending)?;
        m.serialize_field("rollback", &d.rollback)?;
        m.serialize_field("staged", &d.staged)?;
        m.serialize_field("pinned", &d.pinned)?;
        m.serialize_field("unlocked", &d.unlocked)?;
        m.serialize_field("processCount", &self.process_count)?;
        m.serialize_field("path", &d.path.to_string_lossy())?;
        m.serialize_field("liveApply", &self.live_apply)?;
        m.serialize_field("composefs", &self.composefs)?;
        m.serialize_field("etc", &self.etc)?;
        m.end()
    }
}

/// `overlays[]`.
impl Serialize for OverlayReport {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut o = s.serialize_struct("Overlay", 6)?;
        o.serialize_field("mountPoint", &text(&self.mount_point))?;
        o.serialize_field("device", &Device(self.major, self.minor))?;
        o.serialize_field("lowerDeployment", &self.lower_deployment)?;
        o.serialize_field("upperDir", &self.upper_dir.as_deref().map(text))?;
        o.serialize_field("sourceCommits", &self.source_commits)?;
        o.serialize_field("files", &self.files)?;
        o.end()
    }
}
