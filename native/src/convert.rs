//! Plain `#[napi(object)]` shapes and the conversions from core types.
use base64::Engine;
use livetree_core::scan as core;
use napi::bindgen_prelude::{Float64Array, Uint32Array, Uint8Array};
use napi_derive::napi;
use std::collections::HashMap;
use std::path::PathBuf;

#[napi(object)]
pub struct ScanOptions {
    pub sysroot: Option<String>,
    pub proc_root: Option<String>,
    /// `/sys` by default: live patches.
    pub sys_root: Option<String>,
    pub run_dir: Option<String>,
    pub host_root: Option<String>,
    /// Path of the catalog database; absent keeps the catalog in memory.
    pub catalog_path: Option<String>,
    pub pids: Option<Vec<u32>>,
    /// Progress of long work on stderr; the caller sets it when stderr is a terminal.
    pub progress: Option<bool>,
    /// Also report the kernel (`status` does; a scan of a few PIDs need not).
    pub kernel: Option<bool>,
}

#[napi(object)]
pub struct WarningOut {
    pub code: String,
    pub message: String,
    pub pid: Option<u32>,
}

#[napi(object)]
pub struct OriginOut {
    /// deployment | overlay | catalog | untracked
    pub kind: String,
    pub deployment: Option<String>,
    pub commit: Option<String>,
    pub version: Option<String>,
    pub object_checksum: Option<String>,
    pub tree_path: Option<String>,
    pub package: Option<PackageOut>,
}

/// The contract's `origin.package`.
#[napi(object)]
#[derive(Clone)]
pub struct PackageOut {
    pub name: String,
    pub version: String,
    pub arch: Option<String>,
    /// dpkg | rpm
    pub manager: String,
    pub source: Option<String>,
    pub source_version: Option<String>,
}

/// A package version installed in a tree (a deployment id, or `host`).
#[napi(object)]
pub struct InstalledOut {
    pub tree: String,
    pub package: PackageOut,
}

fn package(p: core::PackageInfo) -> PackageOut {
    PackageOut {
        name: p.name,
        version: p.version,
        arch: p.arch,
        manager: p.manager.as_str().to_string(),
        source: p.source,
        source_version: p.source_version,
    }
}

/// A path as JavaScript sees it.
#[napi(object)]
pub struct PathOut {
    /// Lossy UTF-8 (U+FFFD for bad bytes); `base64` then holds the exact bytes.
    pub text: String,
    pub base64: Option<String>,
}

#[napi(object)]
pub struct ProcessOut {
    pub pid: u32,
    pub comm: String,
    pub exe: Option<String>,
    /// deployment | host | foreign | unknown
    pub root_kind: String,
    pub root_deployment: Option<String>,
    pub cgroup_unit: Option<String>,
    /// current | overlay | stale | foreign | unknown
    pub state: String,
    /// This process's files are `files_start .. files_start + files_count` of the
    /// result's `file*` columns.
    pub files_start: u32,
    pub files_count: u32,
}

#[napi(object)]
pub struct DeploymentOut {
    pub id: String,
    pub osname: String,
    pub checksum: String,
    pub serial: u32,
    pub version: Option<String>,
    pub refspec: Option<String>,
    /// Whether the deployment has a readable `.origin` file.
    pub has_origin: bool,
    pub booted: bool,
    pub pending: bool,
    pub rollback: bool,
    pub staged: bool,
    pub pinned: bool,
    pub unlocked: String,
    pub path: String,
    pub process_count: u32,
    pub live_apply: Option<LiveApplyOut>,
    pub composefs: Option<ComposefsOut>,
}

#[napi(object)]
pub struct ComposefsOut {
    pub image: Option<String>,
    pub digest: Option<String>,
    pub mounted: bool,
}

#[napi(object)]
pub struct LiveApplyOut {
    pub commit: Option<String>,
    pub inprogress: Option<String>,
}

#[napi(object)]
pub struct OverlayFileOut {
    pub path: String,
    pub object_checksum: Option<String>,
    pub commits: Vec<String>,
}

#[napi(object)]
pub struct OverlayOut {
    pub mount_point: String,
    pub device: String,
    pub lower_deployment: Option<String>,
    pub upper_dir: Option<String>,
    pub source_commits: Vec<String>,
    pub files: Vec<OverlayFileOut>,
}

#[napi(object)]
pub struct ScanResult {
    /// Thousands of processes map the same few files from the same few commits: paths and
    /// origins cross once each, and files refer to them by index. This keeps the result
    /// (and the JavaScript heap) small, and makes equal origins the same object.
    pub paths: Vec<PathOut>,
    pub origins: Vec<OriginOut>,
    /// MAJOR:MINOR in decimal.
    pub devs: Vec<String>,
    /// Files as columns (one entry per distinct dev+ino per process), not as tens of
    /// thousands of objects: indexes into `paths`, `origins`, `devs`; inode numbers
    /// (exact below 2^53); flags bit 0 deleted (the bytes are gone), bit 1 superseded,
    /// bit 2 path gone (the mapped name was unlinked).
    pub file_path: Uint32Array,
    pub file_origin: Uint32Array,
    pub file_dev: Uint32Array,
    pub file_ino: Float64Array,
    pub file_flags: Uint8Array,
    /// Why each file makes its process stale (the core's one rule): 0 for none, else
    /// 1 + an index into `stale_codes`.
    pub file_stale: Uint8Array,
    /// The contract's `staleReason` codes, in the core's order.
    pub stale_codes: Vec<String>,
    /// 0 for none, else 1 + an index into `identical_deployments`: a current deployment
    /// holding the very same bytes at the same tree path (`identicalIn`).
    pub file_identical: Uint32Array,
    pub identical_deployments: Vec<String>,
    pub sysroot_path: String,
    pub repo_mode: Option<String>,
    pub ostree_booted: bool,
    pub deployments: Vec<DeploymentOut>,
    pub overlays: Vec<OverlayOut>,
    pub processes: Vec<ProcessOut>,
    pub warnings: Vec<WarningOut>,
    /// Present when the options asked for it and the running kernel could be read.
    pub kernel: Option<crate::kernel_out::KernelOut>,
    /// Installed versions of the packages in memory, each with the tree it was read from.
    pub installed_packages: Vec<InstalledOut>,
}

pub fn config(o: &ScanOptions) -> core::ScanConfig {
    let p = |v: &Option<String>, d: &str| PathBuf::from(v.as_deref().unwrap_or(d));
    core::ScanConfig {
        sysroot: p(&o.sysroot, "/"),
        proc_root: p(&o.proc_root, "/proc"),
        sys_root: p(&o.sys_root, "/sys"),
        run_dir: p(&o.run_dir, "/run"),
        host_root: p(&o.host_root, "/"),
        catalog_path: o.catalog_path.as_ref().map(PathBuf::from),
        pids: o.pids.clone(),
        progress: o.progress.unwrap_or(false),
        kernel: o.kernel.unwrap_or(false),
    }
}

/// A core error as a JavaScript `Error` with the message, and the code (`ENOENT`,
/// `EACCES`, `ECORRUPT`, `EIO`, `ECATALOG`) and path as properties, as Node's own
/// file-system errors carry them: the TypeScript side reads `error.code`, it does not
/// parse the message.
pub fn error(env: &napi::Env, e: &livetree_core::Error) -> napi::Error {
    let path = e.path().to_string_lossy();
    coded_error(env, e.code(), &e.to_string(), Some(&path))
}

/// A JavaScript `Error` with `code` (and `path`) properties, wrapped so that napi throws
/// or rejects with that very object.
pub fn coded_error(env: &napi::Env, code: &str, message: &str, path: Option<&str>) -> napi::Error {
    use napi::bindgen_prelude::{JsObjectValue, JsValue};
    let build = || -> napi::Result<napi::Error> {
        let mut js = env.create_error(napi::Error::from_reason(message))?;
        js.set_named_property("code", code)?;
        if let Some(path) = path {
            js.set_named_property("path", path)?;
        }
        Ok(napi::Error::from(js.to_unknown()))
    };
    // Only an environment that is shutting down refuses to build an object; the message
    // still crosses then.
    build().unwrap_or_else(|_| napi::Error::from_reason(format!("{code}: {message}")))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn text_b64(bytes: &[u8]) -> (String, Option<String>) {
    match std::str::from_utf8(bytes) {
        Ok(s) => (s.to_string(), None),
        Err(_) => (
            text(bytes),
            Some(base64::engine::general_purpose::STANDARD.encode(bytes)),
        ),
    }
}

fn origin_kind(k: core::OriginKind) -> &'static str {
    match k {
        core::OriginKind::Deployment => "deployment",
        core::OriginKind::Overlay => "overlay",
        core::OriginKind::Catalog => "catalog",
        core::OriginKind::Untracked => "untracked",
    }
}

fn root_kind(k: core::RootKind) -> &'static str {
    match k {
        core::RootKind::Deployment => "deployment",
        core::RootKind::Host => "host",
        core::RootKind::Foreign => "foreign",
        core::RootKind::Unknown => "unknown",
    }
}

fn state(s: core::ProcessState) -> &'static str {
    match s {
        core::ProcessState::Current => "current",
        core::ProcessState::Overlay => "overlay",
        core::ProcessState::Stale => "stale",
        core::ProcessState::Foreign => "foreign",
        core::ProcessState::Unknown => "unknown",
    }
}

/// Every stale reason the core decides, in the order `file_stale` indexes them.
const STALE_REASONS: [core::StaleReason; 5] = [
    core::StaleReason::Deleted,
    core::StaleReason::Superseded,
    core::StaleReason::RemovedDeployment,
    core::StaleReason::Unlinked,
    core::StaleReason::OtherCommit,
];

/// Interns paths and origins while files are converted.
#[derive(Default)]
struct Tables {
    paths: Vec<PathOut>,
    path_index: HashMap<Vec<u8>, u32>,
    origins: Vec<OriginOut>,
    origin_index: HashMap<OriginKey, u32>,
    devs: Vec<String>,
    dev_index: HashMap<(u32, u32), u32>,
    file_path: Vec<u32>,
    file_origin: Vec<u32>,
    file_dev: Vec<u32>,
    file_ino: Vec<f64>,
    file_flags: Vec<u8>,
    file_stale: Vec<u8>,
    file_identical: Vec<u32>,
    identical: Vec<String>,
}

type OriginKey = (
    &'static str,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<Vec<u8>>,
    Option<core::PackageInfo>,
);

impl Tables {
    fn path(&mut self, bytes: Vec<u8>) -> u32 {
        if let Some(i) = self.path_index.get(&bytes) {
            return *i;
        }
        let (text, base64) = text_b64(&bytes);
        let i = self.paths.len() as u32;
        self.paths.push(PathOut { text, base64 });
        self.path_index.insert(bytes, i);
        i
    }

    fn origin(&mut self, o: core::Origin) -> u32 {
        let key: OriginKey = (
            origin_kind(o.kind),
            o.deployment,
            o.commit,
            o.version,
            o.object,
            o.tree_path,
            o.package,
        );
        if let Some(i) = self.origin_index.get(&key) {
            return *i;
        }
        let i = self.origins.len() as u32;
        self.origins.push(OriginOut {
            kind: key.0.to_string(),
            deployment: key.1.clone(),
            commit: key.2.clone(),
            version: key.3.clone(),
            object_checksum: key.4.clone(),
            tree_path: key.5.as_deref().map(text),
            package: key.6.clone().map(package),
        });
        self.origin_index.insert(key, i);
        i
    }

    fn dev(&mut self, major: u32, minor: u32) -> u32 {
        let next = self.devs.len() as u32;
        let i = *self.dev_index.entry((major, minor)).or_insert(next);
        if i == next {
            self.devs.push(format!("{major}:{minor}"));
        }
        i
    }

    /// Append a process's files to the columns; returns (start, count).
    fn files(&mut self, files: Vec<core::FileReport>) -> (u32, u32) {
        let start = self.file_path.len() as u32;
        let count = files.len() as u32;
        for f in files {
            let path = self.path(f.path);
            self.file_path.push(path);
            let dev = self.dev(f.major, f.minor);
            self.file_dev.push(dev);
            self.file_ino.push(f.ino as f64);
            self.file_flags.push(
                u8::from(f.deleted) | (u8::from(f.superseded) << 1) | (u8::from(f.path_gone) << 2),
            );
            let stale = f
                .stale_reason
                .and_then(|r| STALE_REASONS.iter().position(|c| *c == r))
                .map_or(0, |i| i as u8 + 1);
            self.file_stale.push(stale);
            let identical = match f.identical_in {
                Some(id) => match self.identical.iter().position(|d| *d == id) {
                    Some(i) => i as u32 + 1,
                    None => {
                        self.identical.push(id);
                        self.identical.len() as u32
                    }
                },
                None => 0,
            };
            self.file_identical.push(identical);
            let origin = self.origin(f.origin);
            self.file_origin.push(origin);
        }
        (start, count)
    }
}

pub fn report(r: core::ScanReport) -> ScanResult {
    let mut t = Tables::default();
    let processes = r
        .processes
        .into_iter()
        .map(|p| {
            let (files_start, files_count) = t.files(p.files);
            ProcessOut {
                pid: p.pid,
                comm: text(&p.comm),
                exe: p.exe.as_deref().map(text),
                root_kind: root_kind(p.root_kind).to_string(),
                root_deployment: p.root_deployment,
                cgroup_unit: p.cgroup_unit,
                state: state(p.state).to_string(),
                files_start,
                files_count,
            }
        })
        .collect::<Vec<_>>();
    ScanResult {
        paths: t.paths,
        origins: t.origins,
        devs: t.devs,
        file_path: t.file_path.into(),
        file_origin: t.file_origin.into(),
        file_dev: t.file_dev.into(),
        file_ino: t.file_ino.into(),
        file_flags: t.file_flags.into(),
        file_stale: t.file_stale.into(),
        stale_codes: STALE_REASONS.iter().map(|r| r.code().to_string()).collect(),
        file_identical: t.file_identical.into(),
        identical_deployments: t.identical,
        sysroot_path: r.sysroot_path.to_string_lossy().into_owned(),
        repo_mode: r.repo_mode,
        ostree_booted: r.ostree_booted,
        deployments: r
            .deployments
            .into_iter()
            .map(|d| DeploymentOut {
                id: d.id,
                osname: d.osname,
                checksum: d.checksum,
                serial: d.serial,
                version: d.version,
                refspec: d.refspec,
                has_origin: d.has_origin,
                booted: d.booted,
                pending: d.pending,
                rollback: d.rollback,
                staged: d.staged,
                pinned: d.pinned,
                unlocked: d.unlocked,
                path: d.path.to_string_lossy().into_owned(),
                process_count: d.process_count,
                live_apply: d.live_apply.map(|l| LiveApplyOut {
                    commit: l.commit,
                    inprogress: l.inprogress,
                }),
                composefs: d.composefs.map(|c| ComposefsOut {
                    image: c.image.map(|p| p.to_string_lossy().into_owned()),
                    digest: c.digest,
                    mounted: c.mounted,
                }),
            })
            .collect(),
        overlays: r
            .overlays
            .into_iter()
            .map(|o| OverlayOut {
                mount_point: text(&o.mount_point),
                device: format!("{}:{}", o.major, o.minor),
                lower_deployment: o.lower_deployment,
                upper_dir: o.upper_dir.as_deref().map(text),
                source_commits: o.source_commits,
                files: o
                    .files
                    .into_iter()
                    .map(|f| OverlayFileOut {
                        path: text(&f.path),
                        object_checksum: f.object,
                        commits: f.commits,
                    })
                    .collect(),
            })
            .collect(),
        processes,
        kernel: r.kernel.map(crate::kernel_out::kernel),
        installed_packages: r
            .installed_packages
            .into_iter()
            .map(|(tree, p)| InstalledOut {
                tree,
                package: package(p),
            })
            .collect(),
        warnings: r
            .warnings
            .into_iter()
            .map(|w| WarningOut {
                code: w.code,
                message: w.message,
                pid: w.pid,
            })
            .collect(),
    }
}
