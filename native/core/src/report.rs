//! What one scan reports: plain data. These types are also the status document's parts as
//! the scan decides them: they serialize (serde) to exactly the contract's JSON shapes
//! (`schema/status.schema.json`), which the napi glue hands to TypeScript as one JSON text.
//! The shapes that are not a plain field-for-field derive are written out in `contract`.
use std::path::PathBuf;
use std::sync::Arc;

use serde::Serialize;

use crate::as_text::{lossy_path, lossy_path_opt, lossy_text_opt};

pub use crate::error::Warning;
pub use crate::packages::PackageInfo;

/// Where to look. Every path is configurable so tests can scan fixtures and captured trees.
#[derive(Debug, Clone)]
pub struct ScanConfig {
    /// The physical sysroot holding `ostree/` and `boot/` (`/sysroot` on a booted host, or a
    /// test tree).
    pub sysroot: PathBuf,
    /// Where `/proc` is read from, so that a test can scan a captured copy.
    pub proc_root: PathBuf,
    /// `/sys` (live patches), for the kernel report.
    pub sys_root: PathBuf,
    /// Where `ostree-booted`, the staged deployment and the unlock flags are looked for
    /// (normally `/run`).
    pub run_dir: PathBuf,
    /// The root whose (dev, ino) names the booted deployment (normally `/`).
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

/// What a process's root directory is, which decides which commit its files are judged against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RootKind {
    /// The root is a deployment's directory, current or since undeployed (`root_deployment`
    /// names it).
    Deployment,
    /// The root is the host's own root, which is not a deployment.
    Host,
    /// A root a container engine set up (podman, CRI-O, docker, systemd-nspawn, ...): the
    /// process's `container` says which.
    Container,
    /// The root is neither a deployment, a container nor the host's root: a chroot's tree.
    Foreign,
    /// The root could not be read or classified (the process exited, or no permission).
    Unknown,
}

/// The contract's `processes[].state`, decided by `attribute::process_state`: unknown, else
/// stale, else overlay, else foreign, else current.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ProcessState {
    /// Nothing it maps is stale or served by an overlay, and its root is a deployment or the
    /// host's.
    Current,
    /// It maps a file served by the upper layer of a dynamic overlay on a deployment.
    Overlay,
    /// A mapped file is deleted, superseded or from another commit: a restart would load other
    /// bytes.
    Stale,
    /// Its root is no deployment and not the host's root, and nothing it maps is stale.
    Foreign,
    /// Its maps could not be read (permissions, or it exited during the scan).
    Unknown,
}

/// Where a mapped file's bytes were traced to (the contract's `origin.kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OriginKind {
    /// A file of a current deployment's tree.
    Deployment,
    /// A file of a dynamic overlay's upper layer.
    Overlay,
    /// An object only the catalog still knows: from a commit an earlier scan saw, no longer
    /// deployed.
    Catalog,
    /// A container image layer (or the container's own writable layer): `Origin::layer`.
    Layer,
    /// Nothing known explains the file: no deployment, overlay or catalog entry holds it.
    Untracked,
}

/// The commit, deployment and tree path a mapped file came from, as far as the scan could tell
/// (the contract's `files[].origin`, fields in its order).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Origin {
    /// What kind of source explains the file; the other fields are filled as far as it allows.
    pub kind: OriginKind,
    /// The deployment (OSNAME/CHECKSUM.SERIAL) whose tree holds the file, when one does.
    pub deployment: Option<String>,
    /// The commit checksum whose tree holds the file.
    pub commit: Option<String>,
    /// The ostree content object (checksum) the file's bytes are.
    #[serde(rename = "objectChecksum")]
    pub object: Option<String>,
    /// The file's path inside the commit's tree, e.g. `/usr/lib/libc.so.6` (as text, lossy).
    #[serde(serialize_with = "lossy_text_opt")]
    pub tree_path: Option<Vec<u8>>,
    /// That commit's `version` metadata, when it has one.
    pub version: Option<String>,
    /// The package that installed this file, from the package database of the tree it
    /// came from (`packages`); None when that tree has none or does not list the path.
    pub package: Option<Arc<PackageInfo>>,
    /// For a file of a container layer: which layer (left out of the JSON otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layer: Option<LayerRef>,
}

/// The contract's `origin.layer`: the top-most layer of a container's overlay holding the
/// mapped file.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LayerRef {
    /// The engine's layer ID (the layer directory's name; not a digest).
    pub id: String,
    /// The layer's uncompressed diff digest, `sha256:HEX`; None for the container's own
    /// writable layer.
    pub diff_digest: Option<String>,
    /// Whether the image the container's image name resolves to now still holds this
    /// layer; None for the container's own layer, or when that cannot be known.
    pub in_current_image: Option<bool>,
}

/// The contract's `processes[].container`: the container a process runs in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerReport {
    /// The engine that set it up: `podman`, `cri-o`, `docker`, `containerd`,
    /// `systemd-nspawn`, `lxc`.
    pub engine: String,
    /// The engine's container ID (a machine's name for systemd-nspawn).
    pub id: String,
    /// Its name, when the engine records one.
    pub name: Option<String>,
    /// The image it was created from; None when the engine's records were not read.
    pub image: Option<ContainerImage>,
    /// The image name now resolves to another image, or to none; None when unknown (no
    /// records, or created from an image ID rather than a name).
    pub image_outdated: Option<bool>,
    /// The graph root of the store holding its records.
    #[serde(serialize_with = "lossy_path_opt")]
    pub storage_root: Option<PathBuf>,
    /// Added: the systemd unit that runs the container (a Quadlet `.service`, a generated
    /// `container-NAME.service`), from the cgroups of its processes and of its conmon;
    /// None when it runs in no service.
    pub unit: Option<String>,
}

/// The contract's `container.image`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerImage {
    /// The image ID (the config digest's hex).
    pub id: Option<String>,
    /// The manifest digest, `sha256:HEX`.
    pub digest: Option<String>,
    /// The reference the container was created with.
    pub name: Option<String>,
    /// The image ID that name resolves to in the store now; None when it resolves to none.
    pub name_now_resolves_to: Option<String>,
}

impl Origin {
    /// The origin of a file nothing explains: every field empty.
    pub fn untracked() -> Origin {
        Origin {
            kind: OriginKind::Untracked,
            deployment: None,
            commit: None,
            object: None,
            tree_path: None,
            version: None,
            package: None,
            layer: None,
        }
    }
}

/// Why a file makes its process stale: the one rule, decided in `attribute::stale_reason`
/// and carried to the document as `files[].staleReason`; renderers turn it into words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StaleReason {
    /// The bytes are gone: the mapped inode has no name left anywhere, and its path names
    /// nothing now.
    Deleted,
    /// The path now names another file in the process's own root and mount namespace,
    /// whether or not the mapped one still has a name (a rename over it unlinks it).
    Superseded,
    /// The path is gone with a deployment that no longer exists (the bytes may live on
    /// under another name, such as a newer deployment's identical file).
    RemovedDeployment,
    /// The path was unlinked, but another hard link keeps the bytes: whatever is
    /// restarted will not find this file where it was.
    Unlinked,
    /// A file of a commit other than the process's own deployment's.
    OtherCommit,
    /// A file of a container image layer that the image the container's image name
    /// resolves to now no longer holds: the tag moved on.
    ImageOutdated,
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
            StaleReason::ImageOutdated => "image-outdated",
        }
    }
}

/// One distinct file-backed mapping of a process (one per dev+ino, not per address range).
/// Serialized as the contract's `processes[].files[]` in `contract`.
#[derive(Debug, Clone)]
pub struct FileReport {
    /// The path as the kernel's maps show it (escapes decoded, no ` (deleted)` suffix), as bytes.
    pub path: Vec<u8>,
    /// The device major number of the mapped inode, as maps show it.
    pub major: u32,
    /// The device minor number of the mapped inode, as maps show it.
    pub minor: u32,
    /// The mapped inode number (on an overlay: the lower or upper inode's number).
    pub ino: u64,
    /// The bytes are gone: map_files shows the inode with no link left (link count 0).
    /// Without map_files (not root) the kernel's marker is all there is, and this is
    /// the same as `path_gone`.
    pub deleted: bool,
    /// The mapped name was unlinked (the kernel's marker, confirmed through map_files),
    /// whether or not another hard link keeps the bytes.
    pub path_gone: bool,
    /// The path now resolves, in the process's own root and mount namespace, to a different
    /// file: replaced on disk. Also when the mapped file was unlinked (`deleted` or
    /// `path_gone`): a package upgrade renames the new file over the old one, which unlinks
    /// the old one and leaves the path naming the new one.
    pub superseded: bool,
    /// Where the file's bytes come from.
    pub origin: Origin,
    /// Why the file makes its process stale, or None when it does not.
    pub stale_reason: Option<StaleReason>,
    /// For a stale file, a current deployment whose file at the same tree path is this
    /// very object: restarting the process would load identical bytes.
    pub identical_in: Option<String>,
}

/// One process as the scan saw it: its root, its unit, its files and the verdict on them.
/// Serialized as the contract's `processes[]` in `contract`.
#[derive(Debug, Clone)]
pub struct ProcessReport {
    /// The process id, in the PID namespace of `proc_root`.
    pub pid: u32,
    /// `/proc/PID/comm`, as bytes (the kernel allows any byte but NUL).
    pub comm: Vec<u8>,
    /// The target of `/proc/PID/exe`, when readable.
    pub exe: Option<Vec<u8>>,
    /// What the process's root directory is.
    pub root_kind: RootKind,
    /// The deployment (OSNAME/CHECKSUM.SERIAL) that is the process's root, when `root_kind` is
    /// `Deployment`.
    pub root_deployment: Option<String>,
    /// The systemd unit whose cgroup holds the process, so a restart can be proposed per unit.
    pub cgroup_unit: Option<String>,
    /// The systemd cgroup path it is in (the cgroup2 entry, else v1's `name=systemd`), as
    /// `/proc/PID/cgroup` shows it to us; None when it has none.
    pub cgroup: Option<String>,
    /// The container it runs in, when `root_kind` is `Container` (shared by its processes).
    pub container: Option<std::sync::Arc<ContainerReport>>,
    /// The verdict over all its files, the contract's `state`.
    pub state: ProcessState,
    /// Its distinct file-backed mappings.
    pub files: Vec<FileReport>,
    /// When it started, nanoseconds since the epoch (UTC); None when unknown.
    pub started_ns: Option<i64>,
    /// When it started, in clock ticks after boot (`/proc/PID/stat` field 22, as the scan
    /// read it); None when unknown. What a unit's `unit-file` check measures from
    /// (`config::unit_files`), without reading `stat` again.
    pub start_ticks: Option<u64>,
    /// Configuration it depends on that changed after it started (`config`); a
    /// process with any needs a reload (`needsReload`).
    pub config_changes: Vec<crate::config::ConfigChange>,
    /// Why its maps could not be read, as the core error's code (`EACCES` when permission
    /// was refused, `EIO`, `ECORRUPT`, …); None for a process that was read (also one that
    /// is `unknown` for another reason, such as an unproven composefs image). Not part of
    /// the document: it decides whether an unreadable scan is a failure (nothing read, and
    /// not only for want of permission) or an answer (`unknown`), and how that is worded.
    pub unreadable: Option<&'static str>,
}

/// A kernel thread the scan saw (`PF_KTHREAD`): no process of the report, named only so
/// that `explain PID` can say what it is. Serialized as `{pid, comm}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KernelThread {
    /// The thread's id, in the PID namespace of `proc_root`.
    pub pid: u32,
    /// `/proc/PID/comm` (as text, lossy).
    #[serde(serialize_with = "crate::as_text::lossy_text")]
    pub comm: Vec<u8>,
}

/// One deployment of the sysroot, in the order `ostree admin status` lists them: the
/// sysroot's own record of it and what the scan adds. Serialized as the contract's
/// `deployments[]` in `contract`.
#[derive(Debug, Clone)]
pub struct DeploymentReport {
    /// OSNAME/CHECKSUM.SERIAL, the id processes and files refer to it by.
    pub id: String,
    /// The deployment as the sysroot lists it (commit, version, flags, directory).
    pub deployment: crate::ostree::sysroot::Deployment,
    /// How many scanned processes have this deployment as their root.
    pub process_count: u32,
    /// rpm-ostree apply-live: the commit live-applied onto this deployment (and one an
    /// interrupted apply-live was moving to), when its stamp is in the run directory.
    pub live_apply: Option<LiveApply>,
    /// The deployment's composefs image, when it has one.
    pub composefs: Option<ComposefsReport>,
    /// Its `/etc` against its `/usr/etc`, as `ostree admin config-diff` counts them; None
    /// when they could not be read (a warning says why).
    pub etc: Option<crate::config::etc_diff::EtcCounts>,
}

/// `deployments[].composefs` of the contract.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ComposefsReport {
    /// The deployment's EROFS image (`.ostree.cfs`), None when it is gone.
    #[serde(serialize_with = "lossy_path_opt")]
    pub image: Option<PathBuf>,
    /// The composefs digest the commit metadata expects (`ostree.composefs.digest.v0`), hex.
    pub digest: Option<String>,
    /// A live composefs mount of this image was found in some scanned mount namespace.
    pub mounted: bool,
}

/// rpm-ostree apply-live state read from `rpmostree-is-live.stamp` in the run directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LiveApply {
    /// The commit live-applied onto the deployment.
    pub commit: Option<String>,
    /// The commit an interrupted apply-live was moving to.
    pub inprogress: Option<String>,
}

/// One file of an overlay's upper layer, and the commits known to hold the same object there.
#[derive(Debug, Clone, Serialize)]
pub struct OverlayFileReport {
    /// The file's path inside the tree, e.g. `/usr/lib/libc.so.6` (as text, lossy).
    #[serde(serialize_with = "crate::as_text::lossy_text")]
    pub path: Vec<u8>,
    /// The content object its bytes are, when they match a known object.
    #[serde(rename = "objectChecksum")]
    pub object: Option<String>,
    /// Known commits whose tree holds this exact object at this path; empty for a hand-made hotfix.
    pub commits: Vec<String>,
}

/// A dynamic overlay: an overlayfs mount whose lower layer is a deployment's tree.
/// Serialized as the contract's `overlays[]` in `contract`.
#[derive(Debug, Clone)]
pub struct OverlayReport {
    /// Where it is mounted, named as the scanner sees it (below the process's root).
    pub mount_point: Vec<u8>,
    /// The overlay's device major number, which its files' maps entries show.
    pub major: u32,
    /// The overlay's device minor number.
    pub minor: u32,
    /// The deployment its lower layer is, when recognised.
    pub lower_deployment: Option<String>,
    /// Its upper directory, when reachable from the scanner.
    pub upper_dir: Option<Vec<u8>>,
    /// Commits that supply the upper layer's content.
    pub source_commits: Vec<String>,
    /// The upper layer's files that processes map.
    pub files: Vec<OverlayFileReport>,
}

/// The contract's `sysroot`: which sysroot was scanned and what it is.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SysrootReport {
    /// The sysroot that was scanned.
    #[serde(serialize_with = "lossy_path")]
    pub path: PathBuf,
    /// The repo's mode (`bare`, `bare-user`, `bare-user-only`, `archive`), None without a repo.
    pub repo_mode: Option<String>,
    /// The host itself is booted from an OSTree deployment (`ostree-booted` exists).
    pub ostree_booted: bool,
}

/// Everything one scan found: deployments, overlays, processes, the kernel, and what went
/// wrong. Serialized (in `contract`), it is the part of the status document the scan
/// decides (TypeScript adds the host, the time, systemd's units and the summary).
#[derive(Debug, Clone)]
pub struct ScanReport {
    /// The sysroot that was scanned.
    pub sysroot: SysrootReport,
    /// Every deployment of the sysroot.
    pub deployments: Vec<DeploymentReport>,
    /// Every dynamic overlay on a deployment seen from any scanned mount namespace.
    pub overlays: Vec<OverlayReport>,
    /// The scanned processes (those that exited during the scan are left out, and kernel
    /// threads, which are no processes here: they map no files and run the kernel's code).
    pub processes: Vec<ProcessReport>,
    /// The kernel threads seen, left out of `processes` and every count but their own
    /// (`summary.kernelThreads`).
    pub kernel_threads: Vec<KernelThread>,
    /// What the scan could not do, or did only in part.
    pub warnings: Vec<Warning>,
    /// The running and installed kernels and the reboot verdict, when the config asked for it.
    pub kernel: Option<crate::kernel::KernelReport>,
    /// For the packages whose files are in memory: the versions installed in the tree
    /// that counts as installed for the processes mapping them (the booted, else default,
    /// deployment for processes in deployments; the host root's database for processes
    /// in the host root), with that tree's name (a deployment id, or `host`); serialized
    /// as `[{tree, package}]`.
    pub installed_packages: Vec<(String, PackageInfo)>,
    /// The trees besides deployments and `host` whose database was read for
    /// `installed_packages` (`container:ID`: the image a container's image name resolves to
    /// now), so that a package missing there reads as not installed, not as unknown;
    /// serialized as `comparedTrees`.
    pub compared_trees: Vec<String>,
    /// What proving which image each composefs mount serves cost (files checksummed); not
    /// part of the document, counted by the scanner for the benchmark.
    pub composefs_proof: ProofCost,
    /// The fd directories the configuration pass read (`config::Pass::fd_reads`); not part
    /// of the document, counted by the scanner for the tests and the benchmark.
    pub config_fd_reads: usize,
    /// The process roots (`/proc/PID/root`) opened to tell what a mapped path names now:
    /// one per (mount namespace, root) view whose paths were looked up (`Scan::resolve`);
    /// not part of the document, counted by the scanner for the tests and the benchmark.
    pub root_opens: usize,
}

/// How much proving which image composefs mounts serve took (`composefs/identify.rs`), for
/// the scanner's counters and the benchmark.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ProofCost {
    /// Mapped files whose bytes were checksummed (each distinct inode once).
    pub mapped_hashed: usize,
    /// Files checksummed through the mount.
    pub probed: usize,
}
