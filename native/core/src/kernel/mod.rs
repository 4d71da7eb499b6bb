//! The kernel: what runs, what the next boot would run, live patches, and whether only a
//! reboot helps.
//!
//! - `procfile`: `/proc/version` and `/proc/cmdline` (bytes in),
//! - `image`: the version string in a bzImage header (bytes in),
//! - `release`: kernel-release order and flavour,
//! - `livepatch`: `/sys/kernel/livepatch`,
//! - `verdict`: the decision, pure.
//!
//! [`inspect`] is the I/O: every root (`proc_root`, `sys_root`, the running root, the
//! sysroot) is a parameter, so tests run it on captured directories as well as the host.
pub mod image;
pub mod livepatch;
pub mod procfile;
pub mod release;
pub mod verdict;

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::error::{Error, Warning};
use crate::ostree::bootentry::parse_bootlink;
use crate::ostree::sysroot::{parse_deploy_name, SysrootStatus};

pub use livepatch::Livepatch;
pub use verdict::{Installed, Reason, Running};

/// Where to look.
#[derive(Debug, Clone)]
pub struct KernelRoots<'a> {
    /// `/proc`: `version`, `sys/kernel/{osrelease,version,random/boot_id}`, `cmdline`.
    pub proc_root: &'a Path,
    /// `/sys`: `kernel/livepatch`.
    pub sys_root: &'a Path,
    /// The running root: `/usr/lib/modules`, `/boot`.
    pub host_root: &'a Path,
}

/// The kernel part of a scan: what runs, what is installed, and whether a reboot is needed.
/// Serialized, it is the contract's `kernel` but for the reasons' words, which TypeScript
/// makes from the codes, and with `bootId`, which goes to the document's `host`.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KernelReport {
    /// The running kernel, from /proc.
    pub running: Running,
    /// This boot's id (`/proc/sys/kernel/random/boot_id`).
    pub boot_id: Option<String>,
    /// Every kernel image found on disk.
    pub installed: Vec<Installed>,
    /// The release the next boot would run.
    pub expected: Option<String>,
    /// Whether the running release's modules directory exists in the running root (None: no
    /// module tree at all).
    pub modules_available: Option<bool>,
    /// Live patches loaded into the running kernel.
    pub livepatches: Vec<Livepatch>,
    /// A reboot would change the running kernel or is needed to finish a change.
    pub reboot_needed: bool,
    /// Whether a userspace-only (soft) reboot would be enough, on OSTree with a pending deployment.
    pub soft_reboot_possible: Option<bool>,
    /// Why a reboot is needed (empty when it is not).
    pub reasons: Vec<Reason>,
    /// The deployment the kernel was booted with (from `ostree=`), when OSTree-booted.
    #[serde(skip)]
    pub booted_deployment: Option<String>,
}

/// Read everything and decide. None (with a warning) only when the running kernel's
/// release cannot be read at all; anything else unreadable is a warning and the rest is
/// reported.
pub fn inspect(
    roots: &KernelRoots<'_>,
    status: &SysrootStatus,
    warnings: &mut Vec<Warning>,
) -> Option<KernelReport> {
    let warn = |w: &mut Vec<Warning>, code: &str, m: String| w.push(Warning::new(code, m, None));
    let proc_file = |rel: &str| -> Result<Vec<u8>, Error> {
        let p = roots.proc_root.join(rel);
        fs::read(&p).map_err(|e| Error::from_io(&p, e))
    };
    let proc_text = |rel: &str| -> Option<String> {
        proc_file(rel)
            .ok()
            .map(|b| String::from_utf8_lossy(&b).trim().to_string())
            .filter(|s| !s.is_empty())
    };

    let build = match proc_file("version") {
        Ok(b) => match procfile::parse_version(&b) {
            Ok(v) => Some(v),
            Err(e) => {
                let p = roots.proc_root.join("version");
                warn(
                    warnings,
                    "kernel-version-corrupt",
                    Error::corrupt(&p, e.0).to_string(),
                );
                None
            }
        },
        Err(e) => {
            warn(warnings, "kernel-version-unreadable", e.to_string());
            None
        }
    };
    // uname(2) answers from the same strings as these files.
    let Some(release) =
        proc_text("sys/kernel/osrelease").or_else(|| build.as_ref().map(|b| b.release.clone()))
    else {
        warn(
            warnings,
            "kernel-unreadable",
            format!(
                "{}: neither sys/kernel/osrelease nor version tells the running kernel",
                roots.proc_root.display()
            ),
        );
        return None;
    };
    let version = proc_text("sys/kernel/version")
        .or_else(|| build.as_ref().map(|b| b.uts_version.clone()))
        .unwrap_or_default();
    let running = Running {
        release,
        version,
        build,
    };

    let booted = booted_deployment(roots, status, warnings);
    let mut installed = Vec::new();
    let mut deployments = Vec::new();
    if booted.is_some() {
        // OSTree: each deployment brings its own kernel; the boot order is the deployment
        // order (a staged one first).
        for d in &status.deployments {
            let first = installed.len();
            modules_kernels(&d.path, Some(d.id()), &mut installed, warnings);
            // ostree boots the one kernel of a tree; should a tree hold several, the
            // newest is taken as the one it would boot.
            let kernel = (first..installed.len())
                .max_by(|&a, &b| release::compare(&installed[a].release, &installed[b].release));
            deployments.push(verdict::DeploymentKernel {
                id: d.id(),
                staged: d.staged,
                bootcsum: d.bootcsum.clone(),
                kernel,
            });
        }
    } else {
        modules_kernels(roots.host_root, None, &mut installed, warnings);
        boot_kernels(roots.host_root, &mut installed, warnings);
    }

    let modules_available = modules_available(roots.host_root, &running.release);
    let (livepatches, errors) = livepatch::read_livepatches(roots.sys_root);
    for e in errors {
        warn(warnings, "livepatch-unreadable", e.to_string());
    }
    let ostree = booted.map(|b| verdict::OstreeBoot {
        deployments: &deployments,
        booted: b,
    });
    let v = verdict::decide(
        &running,
        &installed,
        ostree,
        modules_available,
        &livepatches,
    );
    Some(KernelReport {
        boot_id: proc_text("sys/kernel/random/boot_id"),
        running,
        installed,
        expected: v.expected,
        modules_available,
        livepatches,
        reboot_needed: v.reboot_needed,
        soft_reboot_possible: v.soft_reboot_possible,
        reasons: v.reasons,
        booted_deployment: booted.map(|b| status.deployments[b].id()),
    })
}

/// The booted deployment's index: the kernel's own `ostree=` argument, followed through
/// the sysroot's `ostree/boot.N/OSNAME/BOOTCSUM/SERIAL` link to `deploy/CSUM.SERIAL`;
/// without one, the deployment the sysroot reader found to be `/`.
fn booted_deployment(
    roots: &KernelRoots<'_>,
    status: &SysrootStatus,
    warnings: &mut Vec<Warning>,
) -> Option<usize> {
    let fallback = status.deployments.iter().position(|d| d.booted);
    let cmdline = roots.proc_root.join("cmdline");
    let Some(arg) = fs::read(&cmdline)
        .ok()
        .and_then(|b| procfile::cmdline_ostree(&b))
    else {
        return fallback;
    };
    let resolved = (|| -> Result<usize, String> {
        let link = parse_bootlink(&arg).map_err(|e| e.0)?;
        let link_path = status.path.join(link.path.trim_start_matches('/'));
        let target =
            fs::read_link(&link_path).map_err(|e| Error::from_io(&link_path, e).to_string())?;
        let name = target
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| format!("{}: link has no target name", link_path.display()))?;
        let (checksum, serial) =
            parse_deploy_name(name).map_err(|e| format!("{}: {}", link_path.display(), e.0))?;
        status
            .deployments
            .iter()
            .position(|d| d.osname == link.osname && d.checksum == checksum && d.serial == serial)
            .ok_or_else(|| {
                format!(
                    "{} names {}/{checksum}.{serial}, which is no deployment of {}",
                    link_path.display(),
                    link.osname,
                    status.path.display()
                )
            })
    })();
    match resolved {
        Ok(i) => Some(i),
        Err(why) => {
            warnings.push(Warning::new(
                "kernel-booted-deployment-unknown",
                format!("{}: ostree={arg}: {why}", cmdline.display()),
                None,
            ));
            fallback
        }
    }
}

/// `ROOT/usr/lib/modules/RELEASE/vmlinuz` (and `ROOT/lib/modules` when `lib` is not the
/// usrmerge link to `usr/lib`).
fn modules_kernels(
    root: &Path,
    deployment: Option<String>,
    out: &mut Vec<Installed>,
    warnings: &mut Vec<Warning>,
) {
    for dir in module_dirs(root) {
        let Ok(rd) = fs::read_dir(&dir) else { continue };
        let mut found: Vec<(String, PathBuf)> = rd
            .flatten()
            .filter_map(|d| {
                let release = d.file_name().to_str()?.to_string();
                let image = d.path().join("vmlinuz");
                image.is_file().then_some((release, image))
            })
            .collect();
        found.sort();
        for (release, path) in found {
            let version_string = read_version_string(&path, warnings);
            out.push(Installed {
                release,
                path,
                deployment: deployment.clone(),
                version_string,
                in_boot: false,
            });
        }
    }
}

/// `ROOT/boot/vmlinuz-RELEASE`.
fn boot_kernels(root: &Path, out: &mut Vec<Installed>, warnings: &mut Vec<Warning>) {
    let dir = root.join("boot");
    let Ok(rd) = fs::read_dir(&dir) else { return };
    let mut found: Vec<(String, PathBuf)> = rd
        .flatten()
        .filter_map(|d| {
            let name = d.file_name();
            let release = name.to_str()?.strip_prefix("vmlinuz-")?.to_string();
            (!release.is_empty() && d.path().is_file()).then(|| (release, d.path()))
        })
        .collect();
    found.sort();
    for (release, path) in found {
        let version_string = read_version_string(&path, warnings);
        out.push(Installed {
            release,
            path,
            deployment: None,
            version_string,
            in_boot: true,
        });
    }
}

fn module_dirs(root: &Path) -> Vec<PathBuf> {
    let mut dirs = vec![root.join("usr/lib/modules")];
    // On a usrmerged root /lib is a link to usr/lib: the same directory, once.
    if root
        .join("lib")
        .symlink_metadata()
        .is_ok_and(|m| m.is_dir())
    {
        dirs.push(root.join("lib/modules"));
    }
    dirs
}

/// Whether `ROOT/usr/lib/modules/RELEASE` exists. A root with no module tree at all (a
/// container, a kernel booted from outside the root) has nothing to miss: None.
fn modules_available(root: &Path, release: &str) -> Option<bool> {
    let dirs = module_dirs(root);
    if dirs.iter().any(|d| d.join(release).is_dir()) {
        return Some(true);
    }
    let any = dirs
        .iter()
        .any(|d| fs::read_dir(d).is_ok_and(|rd| rd.flatten().any(|e| e.path().is_dir())));
    any.then_some(false)
}

/// The version string of an image, reading only its header. Damage is a warning naming the
/// file; an image of another kind is simply None.
fn read_version_string(path: &Path, warnings: &mut Vec<Warning>) -> Option<String> {
    let mut head = Vec::with_capacity(image::HEADER_LEN);
    let read =
        fs::File::open(path).and_then(|f| f.take(image::HEADER_LEN as u64).read_to_end(&mut head));
    if let Err(e) = read {
        warnings.push(Warning::new(
            "kernel-image-unreadable",
            Error::from_io(path, e).to_string(),
            None,
        ));
        return None;
    }
    match image::version_string(&head) {
        Ok(v) => v,
        Err(e) => {
            warnings.push(Warning::new(
                "kernel-image-corrupt",
                Error::corrupt(path, e.0).to_string(),
                None,
            ));
            None
        }
    }
}
