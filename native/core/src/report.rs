//! What one scan reports: plain data, converted to JavaScript objects by the napi glue.
use std::path::PathBuf;

pub use crate::packages::PackageInfo;

/// Where to look. Every path is configurable so tests can scan fixtures and captured trees.
#[derive(Debug, Clone)]
pub struct ScanConfig {
    pub sysroot: PathBuf,
    pub proc_root: PathBuf,
    pub run_dir: PathBuf,
    pub host_root: PathBuf,
    /// The catalog database; None keeps it in memory for this scan only.
    pub catalog_path: Option<PathBuf>,
    /// Only these PIDs (explain, restart verification); None scans every process.
    pub pids: Option<Vec<u32>>,
    /// Say what long work is doing on stderr (only when it is a terminal).
    pub progress: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RootKind {
    Deployment,
    Host,
    Foreign,
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ProcessState {
    Current,
    Overlay,
    Stale,
    Foreign,
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OriginKind {
    Deployment,
    Overlay,
    Catalog,
    Untracked,
}

#[derive(Debug, Clone)]
pub struct Origin {
    pub kind: OriginKind,
    pub deployment: Option<String>,
    pub commit: Option<String>,
    pub version: Option<String>,
    pub object: Option<String>,
    pub tree_path: Option<Vec<u8>>,
    /// The package that installed this file, from the package database of the tree it
    /// came from (`packages`); None when that tree has none or does not list the path.
    pub package: Option<PackageInfo>,
}

impl Origin {
    pub fn untracked() -> Origin {
        Origin {
            kind: OriginKind::Untracked,
            deployment: None,
            commit: None,
            version: None,
            object: None,
            tree_path: None,
            package: None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct FileReport {
    pub path: Vec<u8>,
    pub major: u32,
    pub minor: u32,
    pub ino: u64,
    pub deleted: bool,
    pub superseded: bool,
    pub origin: Origin,
}

#[derive(Debug, Clone)]
pub struct ProcessReport {
    pub pid: u32,
    pub comm: Vec<u8>,
    pub exe: Option<Vec<u8>>,
    pub root_kind: RootKind,
    pub root_deployment: Option<String>,
    pub cgroup_unit: Option<String>,
    pub state: ProcessState,
    pub files: Vec<FileReport>,
}

#[derive(Debug, Clone)]
pub struct DeploymentReport {
    pub id: String,
    pub osname: String,
    pub checksum: String,
    pub serial: u32,
    pub version: Option<String>,
    pub refspec: Option<String>,
    pub booted: bool,
    pub pending: bool,
    pub rollback: bool,
    pub staged: bool,
    pub pinned: bool,
    pub unlocked: String,
    pub path: PathBuf,
    pub process_count: u32,
    /// rpm-ostree apply-live: the commit live-applied onto this deployment (and one an
    /// interrupted apply-live was moving to), when its stamp is in the run directory.
    pub live_apply: Option<LiveApply>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveApply {
    pub commit: Option<String>,
    pub inprogress: Option<String>,
}

#[derive(Debug, Clone)]
pub struct OverlayFileReport {
    pub path: Vec<u8>,
    pub object: Option<String>,
    pub commits: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct OverlayReport {
    pub mount_point: Vec<u8>,
    pub major: u32,
    pub minor: u32,
    pub lower_deployment: Option<String>,
    pub upper_dir: Option<Vec<u8>>,
    pub source_commits: Vec<String>,
    pub files: Vec<OverlayFileReport>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub code: String,
    pub message: String,
    pub pid: Option<u32>,
}

impl Warning {
    pub fn new(code: &str, message: impl Into<String>, pid: Option<u32>) -> Warning {
        Warning {
            code: code.to_string(),
            message: message.into(),
            pid,
        }
    }
}

#[derive(Debug, Clone)]
pub struct ScanReport {
    pub sysroot_path: PathBuf,
    pub repo_mode: Option<String>,
    pub ostree_booted: bool,
    pub deployments: Vec<DeploymentReport>,
    pub overlays: Vec<OverlayReport>,
    pub processes: Vec<ProcessReport>,
    pub warnings: Vec<Warning>,
    /// For the packages whose files are in memory: the versions installed in the tree
    /// that counts as installed for the processes mapping them (the booted, else default,
    /// deployment for processes in deployments; the host root's database for processes
    /// in the host root), with that tree's name (a deployment id, or `host`).
    pub installed_packages: Vec<(String, PackageInfo)>,
}
