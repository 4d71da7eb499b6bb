//! An OSTree sysroot's deployments and their flags, read the way `ostree admin status`
//! reads them (libostree's ostree-sysroot.c): the boot loader entries of the current
//! `boot/loader.N` are the source of truth, sorted by their `version` key, highest first;
//! a staged deployment (recorded in `/run/ostree/staged-deployment`) goes first.
//!
//! The pure part (`parse_origin`, `parse_staged`, `assign_roles`) takes bytes or values;
//! `read_sysroot` does the I/O and takes every root as a parameter, so tests can point it at
//! a sysroot built with the real `ostree` CLI and a fake `/run`.
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::error::{Error, ParseError, Result};
use crate::ostree::bootentry;
use crate::ostree::keyfile;

mod boot;
mod staged;
use boot::{deployment_from_link, read_boot_entries};
use staged::read_staged;
pub use staged::{parse_staged, Staged};

/// One deployment as `ostree admin status` lists it, with the flags and the directory identity
/// attribution needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployment {
    /// Position in the list, as `ostree admin` numbers deployments (pin, undeploy).
    pub index: usize,
    /// The stateroot it belongs to.
    pub osname: String,
    /// The commit it was checked out from.
    pub checksum: String,
    /// The serial that tells apart deployments of one commit.
    pub serial: u32,
    /// The checksum of its kernel and initramfs (`/boot/ostree/OSNAME-BOOTCSUM`), from its
    /// boot entry or the staged file.
    pub bootcsum: Option<String>,
    /// The tree boot serial from the `ostree=` argument; a staged deployment has none yet.
    pub bootserial: Option<u32>,
    /// The commit's `version` metadata, from the caller's repo reader.
    pub version: Option<String>,
    /// `[origin] refspec=`, else `container-image-reference=` or `baserefspec=`.
    pub refspec: Option<String>,
    /// The `.origin` file exists and parses: `ostree admin status` prints "origin: none"
    /// without one, "origin: <unknown origin type>" for one without a refspec.
    pub has_origin: bool,
    /// "none", "development", "hotfix" or "transient".
    pub unlocked: String,
    /// The host runs from this deployment.
    pub booted: bool,
    /// The next boot will run it (listed before the booted one, same stateroot).
    pub pending: bool,
    /// A rollback would boot it (listed after the booted one, same stateroot).
    pub rollback: bool,
    /// It was staged (`ostree admin deploy --stage`) and is finalised at shutdown.
    pub staged: bool,
    /// `ostree admin prune` keeps it (`[origin] pinned=true`).
    pub pinned: bool,
    /// SYSROOT/ostree/deploy/OSNAME/deploy/CHECKSUM.SERIAL
    pub path: PathBuf,
    /// `st_dev` of the deployment directory, as the kernel encodes it (the value stat(2)
    /// returns; split with the glibc major/minor macros to compare with /proc maps).
    pub dir_dev: u64,
    /// `st_ino` of the deployment directory: with `dir_dev`, how the booted one and a process's
    /// root are recognised.
    pub dir_ino: u64,
}

impl Deployment {
    /// `OSNAME/CHECKSUM.SERIAL`, the id the status document uses.
    pub fn id(&self) -> String {
        format!("{}/{}.{}", self.osname, self.checksum, self.serial)
    }
}

/// A damaged or missing piece of the sysroot; the rest is still read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// A stable code (`origin-corrupt`, `staged-missing`...) the TypeScript side turns into words.
    pub code: String,
    /// What was wrong, naming the file.
    pub message: String,
}

/// A sysroot as read: its repo, its deployments, and what could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SysrootStatus {
    /// The physical sysroot that was read.
    pub path: PathBuf,
    /// SYSROOT/ostree/repo when it exists.
    pub repo_path: Option<PathBuf>,
    /// RUN/ostree-booted exists: the host was booted by ostree-prepare-root.
    pub ostree_booted: bool,
    /// Every deployment, staged first, in the order `ostree admin status` lists them.
    pub deployments: Vec<Deployment>,
    /// Damaged or missing entries, origins and staged files.
    pub warnings: Vec<Warning>,
}

/// What a deployment's `.origin` key file says that status needs.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Origin {
    /// `[origin] refspec=`, else `container-image-reference=` or `baserefspec=`.
    pub refspec: Option<String>,
    /// `[origin] pinned=true`: prune keeps the deployment.
    pub pinned: bool,
    /// The raw `[origin] unlocked=` value; only "hotfix" survives a reboot.
    pub unlocked: Option<String>,
}

/// Decode a deployment's `.origin` key file.
pub fn parse_origin(bytes: &[u8]) -> std::result::Result<Origin, ParseError> {
    let kf = keyfile::parse(bytes)?;
    let refspec = ["refspec", "container-image-reference", "baserefspec"]
        .iter()
        .find_map(|k| kf.get("origin", k))
        .map(str::to_string);
    // GKeyFile booleans are "true"/"false" or "1"/"0".
    let pinned = matches!(kf.get("libostree-transient", "pinned"), Some("true" | "1"));
    Ok(Origin {
        refspec,
        pinned,
        unlocked: kf.get("origin", "unlocked").map(str::to_string),
    })
}

/// `CHECKSUM.SERIAL`, the basename of a deployment directory.
pub fn parse_deploy_name(name: &str) -> std::result::Result<(String, u32), ParseError> {
    let bad = || {
        ParseError(format!(
            "invalid deploy name '{name}', expected CHECKSUM.SERIAL"
        ))
    };
    let (csum, serial) = name.split_once('.').ok_or_else(bad)?;
    let hex = |c: u8| c.is_ascii_digit() || (b'a'..=b'f').contains(&c);
    if csum.is_empty() || !csum.bytes().all(hex) {
        return Err(bad());
    }
    if serial.is_empty() || !serial.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    Ok((csum.to_string(), serial.parse().map_err(|_| bad())?))
}

/// Set booted/pending/rollback as `ostree_sysroot_query_deployments_for` does: only when a
/// deployment is booted, and only among deployments of the booted osname; pending is the
/// first one listed before the booted one, rollback the first one after it.
pub fn assign_roles(deployments: &mut [Deployment], booted: Option<usize>) {
    for d in deployments.iter_mut() {
        d.booted = false;
        d.pending = false;
        d.rollback = false;
    }
    let Some(b) = booted else { return };
    let Some(osname) = deployments.get(b).map(|d| d.osname.clone()) else {
        return;
    };
    deployments[b].booted = true;
    if let Some(p) = deployments[..b].iter_mut().find(|d| d.osname == osname) {
        p.pending = true;
    }
    if let Some(r) = deployments[b + 1..].iter_mut().find(|d| d.osname == osname) {
        r.rollback = true;
    }
}

/// Read a sysroot's deployments.
///
/// - `sysroot`: the physical root holding `ostree/` and `boot/` (`/sysroot` on a booted
///   host, or a test directory).
/// - `run_dir`: normally `/run`; `ostree-booted`, `ostree/staged-deployment` and
///   `ostree/deployment-state/CSUM.SERIAL/unlocked-*` are looked up under it.
/// - `host_root`: normally `/`; when `run_dir/ostree-booted` exists, the deployment whose
///   directory has the same (dev, ino) as `host_root` is the booted one.
/// - `version_of`: commit checksum → `version` metadata, from the repo reader.
///
/// A sysroot without `ostree/` is no OSTree sysroot: no deployments, no repo. Damaged
/// entries or origins become warnings and the rest is still read.
pub fn read_sysroot(
    sysroot: &Path,
    run_dir: &Path,
    host_root: &Path,
    version_of: &dyn Fn(&str) -> Option<String>,
) -> Result<SysrootStatus> {
    let meta = fs::metadata(sysroot).map_err(|e| Error::from_io(sysroot, e))?;
    if !meta.is_dir() {
        return Err(Error::corrupt(sysroot, "not a directory"));
    }
    let ostree_booted = run_dir.join("ostree-booted").exists();
    let mut status = SysrootStatus {
        path: sysroot.to_path_buf(),
        repo_path: None,
        ostree_booted,
        deployments: Vec::new(),
        warnings: Vec::new(),
    };
    if !sysroot.join("ostree").is_dir() {
        return Ok(status);
    }
    let repo = sysroot.join("ostree/repo");
    if repo.is_dir() {
        status.repo_path = Some(repo);
    }
    let warnings = &mut status.warnings;
    let mut deployments = listed_deployments(sysroot, warnings);
    let mut booted = None;
    if ostree_booted {
        booted = find_booted(sysroot, run_dir, host_root, &deployments, warnings);
    }
    // ostree only honours a staged deployment on a booted host.
    if let Some(b) = booted {
        if let Some(d) = read_staged(sysroot, run_dir, warnings) {
            deployments.insert(0, d);
            booted = Some(b + 1);
        }
    }
    for (i, d) in deployments.iter_mut().enumerate() {
        d.index = i;
        d.version = version_of(&d.checksum);
        apply_origin(d, run_dir, warnings);
    }
    assign_roles(&mut deployments, booted);
    status.deployments = deployments;
    Ok(status)
}

fn warn(warnings: &mut Vec<Warning>, code: &str, message: String) {
    warnings.push(Warning {
        code: code.to_string(),
        message,
    })
}

/// The deployments the current boot version's entries link to, in the bootloader's order.
/// An entry that does not parse, or links to no deployment, is a warning naming its file.
fn listed_deployments(sysroot: &Path, warnings: &mut Vec<Warning>) -> Vec<Deployment> {
    let mut entries = match read_boot_entries(sysroot, warnings) {
        Ok(e) => e,
        Err(e) => {
            warn(warnings, "bootloader-corrupt", e.to_string());
            Vec::new()
        }
    };
    // Stable sort, like GLib's: entries with equal keys keep directory order.
    entries.sort_by(|a, b| bootentry::compare_entries(&a.1, &b.1));

    let mut deployments = Vec::new();
    for (file, entry) in &entries {
        let link = match entry.boot_link() {
            Ok(l) => l,
            Err(e) => {
                warn(
                    warnings,
                    "bootentry-corrupt",
                    format!("{}: {}", file.display(), e),
                );
                continue;
            }
        };
        match deployment_from_link(sysroot, &link) {
            Ok(d) => deployments.push(d),
            Err(e) => warn(
                warnings,
                "deployment-missing",
                format!("{}: {}", file.display(), e),
            ),
        }
    }
    deployments
}

/// The booted deployment: ostree-prepare-root left RUN/ostree-booted and made one
/// deployment directory the root; ostree matches it by (dev, ino).
fn find_booted(
    sysroot: &Path,
    run_dir: &Path,
    host_root: &Path,
    deployments: &[Deployment],
    warnings: &mut Vec<Warning>,
) -> Option<usize> {
    let root = match fs::metadata(host_root) {
        Ok(root) => root,
        Err(e) => {
            warn(
                warnings,
                "host-root-unreadable",
                Error::from_io(host_root, e).to_string(),
            );
            return None;
        }
    };
    let booted = deployments
        .iter()
        .position(|d| d.dir_dev == root.dev() && d.dir_ino == root.ino());
    if booted.is_none() {
        warn(
            warnings,
            "booted-not-found",
            format!(
                "{} exists but no deployment of {} is the root {}",
                run_dir.join("ostree-booted").display(),
                sysroot.display(),
                host_root.display()
            ),
        );
    }
    booted
}

/// Fill in what a deployment's origin file and runtime state say: refspec, pin, unlock.
fn apply_origin(d: &mut Deployment, run_dir: &Path, warnings: &mut Vec<Warning>) {
    // The origin sits beside the directory: CSUM.SERIAL.origin.
    let mut origin_path = d.path.clone().into_os_string();
    origin_path.push(".origin");
    let origin = read_origin(&PathBuf::from(origin_path), warnings);
    d.has_origin = origin.is_some();
    let origin = origin.unwrap_or_default();
    d.refspec = origin.refspec;
    d.pinned = origin.pinned;
    d.unlocked = unlock_state(run_dir, d, origin.unlocked.as_deref()).to_string();
}

/// A deployment's origin, or `None` with a warning saying why it is missing or unusable.
fn read_origin(origin_path: &Path, warnings: &mut Vec<Warning>) -> Option<Origin> {
    match fs::read(origin_path) {
        Ok(bytes) => match parse_origin(&bytes) {
            Ok(o) => Some(o),
            Err(e) => {
                warn(
                    warnings,
                    "origin-corrupt",
                    format!("{}: {}", origin_path.display(), e),
                );
                None
            }
        },
        // ostree writes an origin with every deployment: without it the refspec,
        // pin and unlock state are unknown, which the report must say.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            warn(
                warnings,
                "origin-missing",
                format!(
                    "{}: no origin file; the deployment's refspec, pin and unlock state are unknown",
                    origin_path.display()
                ),
            );
            None
        }
        Err(e) => {
            warn(
                warnings,
                "origin-unreadable",
                Error::from_io(origin_path, e).to_string(),
            );
            None
        }
    }
}

/// Same precedence as ostree: the runtime flags first, then a persistent hotfix.
fn unlock_state(run_dir: &Path, d: &Deployment, origin_unlocked: Option<&str>) -> &'static str {
    let state = run_dir.join(format!(
        "ostree/deployment-state/{}.{}",
        d.checksum, d.serial
    ));
    if state
        .join("unlocked-development")
        .symlink_metadata()
        .is_ok()
    {
        "development"
    } else if state.join("unlocked-transient").symlink_metadata().is_ok() {
        "transient"
    } else if origin_unlocked == Some("hotfix") {
        "hotfix"
    } else {
        "none"
    }
}

fn deploy_dir(sysroot: &Path, osname: &str, checksum: &str, serial: u32) -> PathBuf {
    sysroot.join(format!("ostree/deploy/{osname}/deploy/{checksum}.{serial}"))
}

fn new_deployment(
    sysroot: &Path,
    osname: &str,
    checksum: String,
    serial: u32,
    bootcsum: Option<String>,
    bootserial: Option<u32>,
    meta: &fs::Metadata,
) -> Deployment {
    Deployment {
        index: 0,
        osname: osname.to_string(),
        path: deploy_dir(sysroot, osname, &checksum, serial),
        checksum,
        serial,
        bootcsum,
        bootserial,
        version: None,
        refspec: None,
        has_origin: false,
        unlocked: "none".to_string(),
        booted: false,
        pending: false,
        rollback: false,
        staged: false,
        pinned: false,
        dir_dev: meta.dev(),
        dir_ino: meta.ino(),
    }
}

// --- Just enough GVariant to read the staged-deployment record. ---
// (The repo reader has the full decoder; this file only needs `a{sv}` with strings.)

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_fields() {
        let o = parse_origin(
            b"[origin]\nrefspec=demo/stable\nunlocked=hotfix\n\n[libostree-transient]\npinned=true\n",
        )
        .unwrap();
        assert_eq!(o.refspec.as_deref(), Some("demo/stable"));
        assert!(o.pinned);
        assert_eq!(o.unlocked.as_deref(), Some("hotfix"));
        let c = parse_origin(
            b"[origin]\ncontainer-image-reference=ostree-unverified-registry:quay.io/x/y:1\n",
        )
        .unwrap();
        assert_eq!(
            c.refspec.as_deref(),
            Some("ostree-unverified-registry:quay.io/x/y:1")
        );
        assert!(!c.pinned);
        assert!(parse_origin(b"refspec=x\n").is_err());
    }

    #[test]
    fn deploy_names() {
        assert_eq!(parse_deploy_name("ab12.3").unwrap(), ("ab12".into(), 3));
        for bad in ["ab12", "ab12.", "AB12.0", ".0", "ab12.x", "ab12.0.origin"] {
            assert!(parse_deploy_name(bad).is_err(), "{bad}");
        }
    }

    fn dep(osname: &str) -> Deployment {
        Deployment {
            index: 0,
            osname: osname.into(),
            checksum: "00".into(),
            serial: 0,
            bootcsum: None,
            bootserial: None,
            version: None,
            refspec: None,
            has_origin: false,
            unlocked: "none".into(),
            booted: false,
            pending: false,
            rollback: false,
            staged: false,
            pinned: false,
            path: PathBuf::new(),
            dir_dev: 0,
            dir_ino: 0,
        }
    }

    #[test]
    fn roles_follow_the_booted_osname() {
        let mut v = vec![dep("a"), dep("b"), dep("a"), dep("a"), dep("a")];
        assign_roles(&mut v, Some(2));
        let flags: Vec<_> = v
            .iter()
            .map(|d| (d.booted, d.pending, d.rollback))
            .collect();
        assert_eq!(
            flags,
            vec![
                (false, true, false),
                (false, false, false),
                (true, false, false),
                (false, false, true),
                (false, false, false)
            ]
        );
        assign_roles(&mut v, None);
        assert!(v.iter().all(|d| !d.booted && !d.pending && !d.rollback));
    }
}
