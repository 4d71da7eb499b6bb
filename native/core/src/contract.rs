//! How the scan's report serializes as the status document's parts
//! (`schema/status.schema.json`). Most report types derive `Serialize` where they are
//! declared; the few whose contract shape is not their Rust shape (a nested `root`, a
//! `MAJ:MIN` device, a `pathBase64` only for a path that is not UTF-8, the sysroot's
//! deployment record with what the scan adds) are written out here, each in the contract's
//! key order, which the document keeps.
//!
//! The whole report (`ScanReport`) is written with each distinct origin once, in `origins`,
//! each distinct file once, in `files` (its origin by index in `origins`), and each process
//! naming its files by index there: thousands of processes map the same few files from the
//! same few commits, so this keeps the text small (at 3000 processes on one replaced libc,
//! a third of what it was) and lets the reader make equal origins and equal files one object
//! each (`src/model/scan-parts.ts` puts them back in place). A file or process written alone
//! carries its origin inline and a process its files whole, as the document shows them.
use base64::Engine;
use serde::ser::{SerializeMap, SerializeStruct};
use serde::{Serialize, Serializer};

use crate::as_text::text;
use crate::fast_hash::{FastMap, FastSet};
use crate::packages::PackageInfo;
use crate::report::{
    DeploymentReport, FileReport, Origin, OverlayReport, ProcessReport, ProcessState, ScanReport,
};

/// The distinct origins of a report's files, in the order first met.
struct Origins<'a> {
    list: Vec<&'a Origin>,
    index: FastMap<&'a Origin, u32>,
}

impl<'a> Origins<'a> {
    fn of(processes: &'a [ProcessReport]) -> Origins<'a> {
        let mut o = Origins {
            list: Vec::new(),
            index: FastMap::default(),
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

/// The distinct files of a report's processes (every field the contract writes of a file
/// equal, `FileKey`), in the order first met, and each process's files by index there, all
/// processes' in one run (a process's are the next `files.len()` of `ids`).
struct Files<'a> {
    list: Vec<&'a FileReport>,
    ids: Vec<u32>,
}

impl<'a> Files<'a> {
    fn of(processes: &'a [ProcessReport]) -> Files<'a> {
        let mut t = Files {
            list: Vec::new(),
            ids: Vec::with_capacity(processes.iter().map(|p| p.files.len()).sum()),
        };
        let mut index: FastMap<FileKey<'a>, u32> = FastMap::default();
        for f in processes.iter().flat_map(|p| &p.files) {
            let next = t.list.len() as u32;
            t.ids.push(*index.entry(file_key(f)).or_insert_with(|| {
                t.list.push(f);
                next
            }));
        }
        t
    }
}

/// The scan's document parts: `sysroot`, `deployments`, `overlays`, `origins` and `files`
/// (see the module's comment), `processes`, `counts`, `kernelThreads` (`[{pid, comm}]`), `warnings`,
/// `kernel`, `installedPackages`, `comparedTrees`.
impl Serialize for ScanReport {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Parts(self, With::Processes).serialize(s)
    }
}

/// Which processes the report's parts carry.
#[derive(Clone, Copy)]
enum With<'a> {
    /// Every process, its files by index in the file table, with the origin table.
    Processes,
    /// None.
    Nothing,
    /// None, but what adding systemd's units needs of them (`unitTable`, see `write_units`),
    /// with the length of each process's text in bytes.
    UnitTable(&'a [usize]),
}

/// The report's parts, with the processes (and their origin and file tables), their unit table, or nothing.
struct Parts<'a>(&'a ScanReport, With<'a>);

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
                let files = Files::of(&report.processes);
                let list = files.list.iter().map(|f| File(f, Some(&origins)));
                r.serialize_field("files", &Seq(list))?;
                let mut rest = files.ids.as_slice();
                let processes: Vec<Process> = report
                    .processes
                    .iter()
                    .map(|p| {
                        let (ids, after) = rest.split_at(p.files.len());
                        rest = after;
                        Process(p, Some(ids))
                    })
                    .collect();
                r.serialize_field("processes", &processes)?;
            }
            With::UnitTable(lengths) => {
                r.serialize_field("unitTable", &UnitTable::of(&report.processes, lengths))?;
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
    let (array, _) = process_texts(&report.processes)?;
    out.extend_from_slice(&array);
    // Only serde_json wrote these bytes, and it writes UTF-8.
    Ok(String::from_utf8(out).expect("serde_json writes UTF-8"))
}

/// The contract's `processes` array as JSON text, and the length in bytes of each process's
/// text in it. Thousands of processes are megabytes of text, written after the scan while
/// nothing else runs: runs of processes are written on the machine's cores at once
/// (`crate::parallel`) and joined in order, the same bytes one writer would give.
fn process_texts(processes: &[ProcessReport]) -> serde_json::Result<(Vec<u8>, Vec<usize>)> {
    const RUN: usize = 128;
    let runs: Vec<&[ProcessReport]> = processes.chunks(RUN).collect();
    let written = crate::parallel::in_batches(
        &runs,
        1,
        || (),
        |(), run| -> serde_json::Result<(Vec<u8>, Vec<usize>)> {
            let mut text = Vec::with_capacity(run.len() * 1024);
            let mut lengths = Vec::with_capacity(run.len());
            for p in run.iter() {
                let start = text.len();
                serde_json::to_writer(&mut text, p)?;
                lengths.push(text.len() - start);
            }
            Ok((text, lengths))
        },
    );
    let mut array = Vec::with_capacity(2 + processes.len() * 1024);
    let mut lengths = Vec::with_capacity(processes.len());
    array.push(b'[');
    for run in written {
        let (text, run_lengths) = run?;
        let mut at = 0;
        for n in run_lengths {
            if !lengths.is_empty() {
                array.push(b',');
            }
            array.extend_from_slice(&text[at..at + n]);
            at += n;
            lengths.push(n);
        }
    }
    array.push(b']');
    Ok((array, lengths))
}

/// The report as `write_apart` writes it, two JSON texts on two lines, but with the table of
/// what adding systemd's units needs of each process in the parts (`unitTable`, see
/// `UnitTable`), and there the length of each process's text in the array in bytes (UTF-8:
/// the caller keeps the array as the bytes it got and slices them). A caller that adds the units (`status --json`
/// with systemd) parses the first line only, builds the units from the table, prints the
/// array's text where it left the processes as they were (by the lengths, each process's
/// text is a slice of it, and a run of processes one slice), and writes again only the
/// processes the units changed (`src/model/unit-table.ts`).
pub fn write_units(report: &ScanReport) -> serde_json::Result<String> {
    let (array, lengths) = process_texts(&report.processes)?;
    // serde_json writes no raw newline (one inside a string is escaped): the first line ends
    // exactly where the parts end.
    let mut out = serde_json::to_vec(&Parts(report, With::UnitTable(&lengths)))?;
    out.reserve(array.len() + 1);
    out.push(b'\n');
    out.extend_from_slice(&array);
    // Only serde_json wrote these bytes, and it writes UTF-8.
    Ok(String::from_utf8(out).expect("serde_json writes UTF-8"))
}

/// A file as a table keeps it once: every field the contract writes of it.
type FileKey<'a> = (
    &'a [u8],
    (u32, u32, u64),
    (bool, bool, bool),
    &'a crate::report::Origin,
    Option<crate::report::StaleReason>,
    Option<&'a str>,
);

fn file_key(f: &FileReport) -> FileKey<'_> {
    (
        f.path.as_slice(),
        (f.major, f.minor, f.ino),
        (f.deleted, f.superseded, f.path_gone),
        &f.origin,
        f.stale_reason,
        f.identical_in.as_deref(),
    )
}

/// `unitTable`: what adding systemd's units to the processes needs of each, in columns (one
/// entry per process, in the order of `processes`), and sparse for the few processes that
/// need more:
/// - `pids`; `lengths`, each process's text's length in bytes (UTF-8);
/// - `groups`, each distinct `[cgroup, unit]` pair (the cgroup path and the unit read from
///   it, the contract's `cgroup` and `unit`), and `group`, each process's pair by index;
/// - the stale processes (`needsRestart`), what their unit's reasons are made of: `stale`
///   (their indexes), `staleRoots` (their `root.kind`), `staleFiles` (each one's stale files
///   in the order of its maps, by index in `files`, the distinct stale files as the contract
///   writes them: thousands of processes that map one replaced libc share one entry);
/// - the processes with configuration changes (`needsReload`): `config` (their indexes),
///   `configStartedAt` (`startedAt`) and `configChanges`;
/// - `starts`, each process's start in clock ticks after boot as the scan read it (null when
///   unknown): what its unit's `unit-file` check measures from (`config::unit_files`).
struct UnitTable<'a> {
    processes: &'a [ProcessReport],
    lengths: &'a [usize],
    groups: Vec<(Option<&'a str>, Option<&'a str>)>,
    group: Vec<u32>,
    files: Vec<&'a FileReport>,
    stale: Vec<u32>,
    stale_files: Vec<Vec<u32>>,
    config: Vec<u32>,
}

impl<'a> UnitTable<'a> {
    fn of(processes: &'a [ProcessReport], lengths: &'a [usize]) -> UnitTable<'a> {
        let mut t = UnitTable {
            processes,
            lengths,
            groups: Vec::new(),
            group: Vec::with_capacity(processes.len()),
            files: Vec::new(),
            stale: Vec::new(),
            stale_files: Vec::new(),
            config: Vec::new(),
        };
        let mut groups = FastMap::default();
        let mut files: FastMap<FileKey<'a>, u32> = FastMap::default();
        for (i, p) in processes.iter().enumerate() {
            let pair = (p.cgroup.as_deref(), p.cgroup_unit.as_deref());
            let next = t.groups.len() as u32;
            t.group.push(*groups.entry(pair).or_insert_with(|| {
                t.groups.push(pair);
                next
            }));
            if p.state == ProcessState::Stale {
                t.stale.push(i as u32);
                let mut own = Vec::new();
                for f in p.files.iter().filter(|f| f.stale_reason.is_some()) {
                    let next = t.files.len() as u32;
                    own.push(*files.entry(file_key(f)).or_insert_with(|| {
                        t.files.push(f);
                        next
                    }));
                }
                t.stale_files.push(own);
            }
            if !p.config_changes.is_empty() {
                t.config.push(i as u32);
            }
        }
        t
    }
}

impl Serialize for UnitTable<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let at = |i: &u32| &self.processes[*i as usize];
        let mut m = s.serialize_struct("UnitTable", 12)?;
        m.serialize_field("pids", &Seq(self.processes.iter().map(|p| p.pid)))?;
        m.serialize_field("lengths", self.lengths)?;
        m.serialize_field("groups", &self.groups)?;
        m.serialize_field("group", &self.group)?;
        m.serialize_field("files", &Seq(self.files.iter().map(|f| File(f, None))))?;
        m.serialize_field("stale", &self.stale)?;
        m.serialize_field(
            "staleRoots",
            &Seq(self.stale.iter().map(|i| at(i).root_kind)),
        )?;
        m.serialize_field("staleFiles", &self.stale_files)?;
        m.serialize_field("config", &self.config)?;
        let started = self
            .config
            .iter()
            .map(|i| at(i).started_ns.map(crate::config::utc));
        m.serialize_field("configStartedAt", &Seq(started))?;
        m.serialize_field(
            "configChanges",
            &Seq(self.config.iter().map(|i| &at(i).config_changes)),
        )?;
        m.serialize_field("starts", &Seq(self.processes.iter().map(|p| p.start_ticks)))?;
        m.end()
    }
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
        let mut stale = FastSet::default();
        let mut untracked = FastSet::default();
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
        let mut containers = FastMap::default();
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
        Process(self, None).serialize(s)
    }
}

/// `processes[].files[]`: the path as text, and its exact bytes in `pathBase64` only when
/// they are not UTF-8.
impl Serialize for FileReport {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        File(self, None).serialize(s)
    }
}

/// A process, its files whole (origins inline) or (with the report's tables) by index.
struct Process<'a>(&'a ProcessReport, Option<&'a [u32]>);

impl Serialize for Process<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let Process(p, ids) = *self;
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
        match ids {
            Some(ids) => m.serialize_field("files", ids)?,
            None => m.serialize_field("files", &Seq(p.files.iter().map(|f| File(f, None))))?,
        }
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
