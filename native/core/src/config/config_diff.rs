//! `livetree config-diff [DEPLOYMENT]`: configuration that differs from what was
//! shipped. On an OSTree sysroot, a deployment's `/etc` against its commit's `/usr/etc`
//! (`etc_diff`, the list `ostree admin config-diff` prints), for any deployment; on a
//! plain host (a sysroot with no `ostree/`), the dpkg conffiles whose contents differ from
//! dpkg's record or that are gone (`conffile_drift`, what `debsums -ce` reports).
use std::path::{Path, PathBuf};

use base64::Engine;
use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};

use super::conffile_drift::{self, ConffileDrift, Drift};
use super::etc_diff::{self, EtcDiff};
use crate::error::{Error, Warning};
use crate::ostree::sysroot::{read_sysroot, Deployment};
use crate::packages::{RootTree, TreeReader, RPM_DIRS};

/// What `config-diff` found.
#[derive(Debug, Clone)]
pub enum ConfigDiff {
    /// An OSTree deployment's `/etc` drift.
    Ostree {
        /// The deployment compared.
        deployment: Box<Deployment>,
        /// Its M, D and A lists.
        diff: EtcDiff,
    },
    /// A plain host's drifted conffiles.
    Packages {
        /// The root checked.
        root: PathBuf,
        /// Modified and missing conffiles.
        drift: Vec<ConffileDrift>,
        /// What could not be checked.
        warnings: Vec<Warning>,
    },
}

/// Why `config-diff` gave no diff.
#[derive(Debug)]
pub enum Failure {
    /// No deployment by that name (or none at all): code `ENODEPLOYMENT`.
    NoDeployment(String),
    /// A database livetree cannot check yet, or none: code `ENOTSUP`.
    Unsupported(String),
    /// Reading failed (the core's codes: `ENOENT`, `EACCES`, `EIO`, `ECORRUPT`).
    Core(Error),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Failure {
        Failure::Core(e)
    }
}

impl Failure {
    /// The code the command turns into words.
    pub fn code(&self) -> &'static str {
        match self {
            Failure::NoDeployment(_) => "ENODEPLOYMENT",
            Failure::Unsupported(_) => "ENOTSUP",
            Failure::Core(e) => e.code(),
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::NoDeployment(m) | Failure::Unsupported(m) => f.write_str(m),
            Failure::Core(e) => write!(f, "{e}"),
        }
    }
}

/// Why no deployment was chosen, naming the ones there are.
fn no_such(sysroot: &Path, wanted: &str, listed: &[Deployment]) -> Failure {
    let ids: Vec<String> = listed
        .iter()
        .map(|d| format!("{} {}", d.index, d.id()))
        .collect();
    Failure::NoDeployment(format!(
        "{}: no deployment {wanted} (deployments: {})",
        sysroot.display(),
        if ids.is_empty() {
            "none".into()
        } else {
            ids.join(", ")
        }
    ))
}

/// Which deployment `wanted` names: its index as `ostree admin status` lists them,
/// `OSNAME/CHECKSUM.SERIAL` or `CHECKSUM.SERIAL`; without one, the booted deployment,
/// else the first listed (the default).
pub fn choose<'a>(
    sysroot: &Path,
    deployments: &'a [Deployment],
    wanted: Option<&str>,
) -> std::result::Result<&'a Deployment, Failure> {
    let found = match wanted {
        None => deployments
            .iter()
            .find(|d| d.booted)
            .or_else(|| deployments.first()),
        Some(w) if !w.is_empty() && w.bytes().all(|b| b.is_ascii_digit()) => {
            w.parse::<usize>().ok().and_then(|i| deployments.get(i))
        }
        Some(w) => deployments.iter().find(|d| {
            let id = d.id();
            id == w || id.split_once('/').is_some_and(|(_, rest)| rest == w)
        }),
    };
    found.ok_or_else(|| no_such(sysroot, wanted.unwrap_or("(default)"), deployments))
}

/// The configuration diff of `sysroot` (`run_dir` and `host_root` tell the booted
/// deployment, as for `status`): of deployment `wanted` on an OSTree sysroot, else of the
/// conffiles of the packages installed in `sysroot` itself.
pub fn config_diff(
    sysroot: &Path,
    run_dir: &Path,
    host_root: &Path,
    wanted: Option<&str>,
) -> std::result::Result<ConfigDiff, Failure> {
    let status = read_sysroot(sysroot, run_dir, host_root, &|_| None)?;
    if sysroot.join("ostree").is_dir() {
        let d = choose(sysroot, &status.deployments, wanted)?;
        let diff = etc_diff::deployment_etc(&d.path)?;
        return Ok(ConfigDiff::Ostree {
            deployment: Box::new(d.clone()),
            diff,
        });
    }
    if let Some(w) = wanted {
        return Err(no_such(sysroot, w, &[]));
    }
    match conffile_drift::dpkg_drift(sysroot)? {
        Some((drift, warnings)) => Ok(ConfigDiff::Packages {
            root: sysroot.to_path_buf(),
            drift,
            warnings,
        }),
        None => {
            let tree = RootTree {
                root: sysroot.to_path_buf(),
            };
            let rpm = RPM_DIRS
                .iter()
                .any(|d| tree.exists(&format!("{d}/rpmdb.sqlite")));
            Err(Failure::Unsupported(format!(
                "{}: {}",
                sysroot.display(),
                if rpm {
                    "an rpm database: checking %config files against rpm's digests is not implemented yet"
                } else {
                    "neither an OSTree sysroot nor a dpkg database: nothing to compare configuration against"
                }
            )))
        }
    }
}

/// One line of the diff.
struct Line<'a> {
    change: u8,
    path: &'a [u8],
    package: Option<&'a crate::packages::PackageInfo>,
}

impl Serialize for Line<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut m = s.serialize_struct("Line", 4)?;
        m.serialize_field("change", &(self.change as char).to_string())?;
        m.serialize_field("path", &crate::as_text::text(self.path))?;
        m.serialize_field(
            "pathBase64",
            &base64::engine::general_purpose::STANDARD.encode(self.path),
        )?;
        m.serialize_field("package", &self.package)?;
        m.end()
    }
}

impl ConfigDiff {
    /// Whether anything differs.
    pub fn is_empty(&self) -> bool {
        match self {
            ConfigDiff::Ostree { diff, .. } => diff.lines().is_empty(),
            ConfigDiff::Packages { drift, .. } => drift.is_empty(),
        }
    }
}

/// The JSON `config-diff --json` prints (docs/config.md): `kind`, the deployment or root,
/// `counts` and `changes` in ostree's (or debsums') order, `warnings`.
impl Serialize for ConfigDiff {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut m = s.serialize_struct("ConfigDiff", 6)?;
        match self {
            ConfigDiff::Ostree { deployment, diff } => {
                m.serialize_field("kind", "ostree")?;
                m.serialize_field(
                    "deployment",
                    &serde_json::json!({
                        "id": deployment.id(),
                        "index": deployment.index,
                        "booted": deployment.booted,
                        "path": deployment.path.to_string_lossy(),
                    }),
                )?;
                m.serialize_field("root", &Option::<String>::None)?;
                m.serialize_field("counts", &diff.counts())?;
                let lines: Vec<Line> = diff
                    .lines()
                    .into_iter()
                    .map(|(change, path)| Line {
                        change,
                        path,
                        package: None,
                    })
                    .collect();
                m.serialize_field("changes", &lines)?;
                m.serialize_field("warnings", &Vec::<Warning>::new())?;
            }
            ConfigDiff::Packages {
                root,
                drift,
                warnings,
            } => {
                m.serialize_field("kind", "packages")?;
                m.serialize_field("deployment", &Option::<String>::None)?;
                m.serialize_field("root", &root.to_string_lossy())?;
                let modified = drift.iter().filter(|d| d.drift == Drift::Modified).count();
                m.serialize_field(
                    "counts",
                    &serde_json::json!({"modified": modified, "added": 0, "removed": drift.len() - modified}),
                )?;
                let lines: Vec<Line> = drift
                    .iter()
                    .map(|d| Line {
                        change: if d.drift == Drift::Modified {
                            b'M'
                        } else {
                            b'D'
                        },
                        path: &d.path,
                        package: Some(&d.package),
                    })
                    .collect();
                m.serialize_field("changes", &lines)?;
                m.serialize_field("warnings", warnings)?;
            }
        }
        m.end()
    }
}
