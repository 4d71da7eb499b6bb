//! What one scan reports: plain data, converted to JavaScript objects by the napi glue.
use std::path::PathBuf;

pub use crate::error::Warning;
pub use crate::packages::PackageInfo;

/// Where to look. Every path is configurable so tests can scan fixtures and captured trees.
#[derive(Debug, Clone)]
pub struct ScanConfig {
    pub sysroot: PathBuf,
    pub proc_root: PathBuf,
    /// `/sys` (live patches), for the kernel report.
    pub sys_root: PathBuf,
    pub run_dir: PathBuf,
    pub host_root: PathBuf,
    /// The catalog database; None keeps it in memory for this scan only.
    pub catalog_path: Option<PathBuf>,
    /// Only these PIDs (explain, restart verification); None scans every process.
    pub pids: Option<Vec<u32>>,
    /// Say what long work is doing on stderr (only when it is a terminal).
    pub progress: bool,
    /// Also report the kernel (running, installed, reboot verdict). `status` asks for it;
    /// `explain` and restart verification, which look at a few PIDs, do not.
    pub kernel: bool,
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

/// Why a file makes its process stale: the one rule, decided in `attribute::stale_reason`
/// and carried to the document as `files[].staleReason`; renderers turn it into words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StaleReason {
    /// The bytes are gone: the mapped inode has no name left anywhere.
    Deleted,
    /// The path now names another file in the process's own root and mount namespace.
    Superseded,
    /// The path is gone with a deployment that no longer exists (the bytes may live on
    /// under another name, such as a newer deployment's identical file).
    RemovedDeployment,
    /// The path was unlinked, but another hard link keeps the bytes: whatever is
    /// restarted will not find this file where it was.
    Unlinked,
    /// A file of a commit other than the process's own deployment's.
    OtherCommit,
}

impl StaleReason {
    /// The contract's code.
    pub fn code(self) -> &'static str {
        match self {
            StaleReason::Deleted => "deleted",
            StaleReason::Superseded => "superseded",
            StaleReason::RemovedDeployment => "removed-deployment",
            StaleReason::Unlinked => "unlinked",
            StaleReason::OtherCommit => "other-commit",
        }
    }
}

#[derive(Debug, Clone)]
pub struct FileReport {
    pub path: Vec<u8>,
    pub major: u32,
    pub minor: u32,
    pub ino: u64,
    /// The bytes are gone: map_files shows the inode with no link left (link count 0).
    /// Without map_files (not root) the kernel's marker is all there is, and this is
    /// the same as `path_gone`.
    pub deleted: bool,
    /// The mapped name was unlinked (the kernel's marker, confirmed through map_files),
    /// whether or not another hard link keeps the bytes.
    pub path_gone: bool,
    pub superseded: bool,
    pub origin: Origin,
    pub stale_reason: Option<StaleReason>,
    /// For a stale file, a current deployment whose file at the same tree path is this
    /// very object: restarting the process would load identical bytes.
    pub identical_in: Option<String>,
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
    /// See sysroot::Deployment::has_origin.
    pub has_origin: bool,
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
    /// The deployment's composefs image, when it has one.
    pub composefs: Option<ComposefsReport>,
}

/// `deployments[].composefs` of the contract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComposefsReport {
    pub image: Option<PathBuf>,
    pub digest: Option<String>,
    pub mounted: bool,
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

#[derive(Debug, Clone)]
pub struct ScanReport {
    pub sysroot_path: PathBuf,
    pub repo_mode: Option<String>,
    pub ostree_booted: bool,
    pub deployments: Vec<DeploymentReport>,
    pub overlays: Vec<OverlayReport>,
    pub processes: Vec<ProcessReport>,
    pub warnings: Vec<Warning>,
    pub kernel: Option<crate::kernel::KernelReport>,
    /// For the packages whose files are in memory: the versions installed in the tree
    /// that counts as installed for the processes mapping them (the booted, else default,
    /// deployment for processes in deployments; the host root's database for processes
    /// in the host root), with that tree's name (a deployment id, or `host`).
    pub installed_packages: Vec<(String, PackageInfo)>,
}
