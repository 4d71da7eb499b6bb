//! The one place that decides whether the kernel needs a reboot, and why. Pure: it takes
//! what `inspect` read and returns codes; TypeScript turns the codes into words.
use std::cmp::Ordering;

use super::livepatch::Livepatch;
use super::procfile::ProcVersion;
use super::release;

/// The kernel in memory.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Running {
    /// `uname -r`
    pub release: String,
    /// `uname -v`
    pub version: String,
    /// `/proc/version`, when it parsed: what its image's version string must equal.
    #[serde(skip)]
    pub build: Option<ProcVersion>,
}

/// One kernel image found on disk.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Installed {
    /// From the path (`/usr/lib/modules/RELEASE/vmlinuz`, `/boot/vmlinuz-RELEASE`): the
    /// name the boot loader and the module loader use.
    pub release: String,
    /// Where the image is.
    #[serde(serialize_with = "crate::as_text::lossy_path")]
    pub path: std::path::PathBuf,
    /// The deployment id when the image is a deployment's.
    pub deployment: Option<String>,
    /// Read from the image itself (x86 bzImage header); None for other images.
    pub version_string: Option<String>,
    /// In `/boot`, where the boot loader takes it from (preferred over the copy in
    /// `/usr/lib/modules` when both exist).
    #[serde(skip)]
    pub in_boot: bool,
}

/// A deployment as far as the next boot is concerned, in boot order (default first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeploymentKernel {
    /// The deployment's id (OSNAME/CHECKSUM.SERIAL).
    pub id: String,
    /// It is staged: it becomes the default at shutdown.
    pub staged: bool,
    /// ostree's checksum of kernel + initramfs: equal means the same boot files.
    pub bootcsum: Option<String>,
    /// Index into the installed list of this deployment's kernel.
    pub kernel: Option<usize>,
}

/// The host booted from an OSTree deployment.
#[derive(Debug, Clone, Copy)]
pub struct OstreeBoot<'a> {
    /// The deployments in boot order, the default first.
    pub deployments: &'a [DeploymentKernel],
    /// Index of the booted deployment.
    pub booted: usize,
}

/// Why a reboot is needed. The parameters name what the words will need.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Reason {
    /// newer-kernel, kernel-rebuilt, pending-deployment, staged-deployment,
    /// modules-missing, livepatch-transition
    pub code: &'static str,
    /// The kernel release concerned (the expected one, or the running one).
    pub release: Option<String>,
    /// The deployment concerned, for reasons about a pending or staged one.
    pub deployment: Option<String>,
    /// The live patch concerned.
    pub name: Option<String>,
}

impl Reason {
    fn new(code: &'static str) -> Reason {
        Reason {
            code,
            release: None,
            deployment: None,
            name: None,
        }
    }
}

/// What `decide` concludes about the next boot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// The release the next boot would run.
    pub expected: Option<String>,
    /// Why a reboot is needed (empty when it is not).
    pub reasons: Vec<Reason>,
    /// A reboot is needed.
    pub reboot_needed: bool,
    /// OSTree with a pending or staged default deployment: whether its kernel is the
    /// running one, so a userspace-only (soft) reboot would apply it. None otherwise.
    pub soft_reboot_possible: Option<bool>,
}

/// Decide. `modules_available` is whether the running release's module directory is in
/// the running root (None: the root holds no module tree at all, so nothing to miss).
pub fn decide(
    running: &Running,
    installed: &[Installed],
    ostree: Option<OstreeBoot<'_>>,
    modules_available: Option<bool>,
    livepatches: &[Livepatch],
) -> Verdict {
    let mut reasons = Vec::new();
    let mut soft_reboot_possible = None;
    let expected = match ostree {
        Some(boot) => {
            let default = boot.deployments.first();
            let kernel_of = |d: &DeploymentKernel| d.kernel.and_then(|i| installed.get(i));
            if let Some(d) = default.filter(|_| boot.booted != 0) {
                let mut r = Reason::new(if d.staged {
                    "staged-deployment"
                } else {
                    "pending-deployment"
                });
                r.deployment = Some(d.id.clone());
                r.release = kernel_of(d).map(|k| k.release.clone());
                reasons.push(r);
                let booted = boot.deployments.get(boot.booted);
                soft_reboot_possible = Some(kernel_of(d).is_some_and(|k| {
                    same_kernel(running, k, || {
                        d.bootcsum.is_some() && booted.is_some_and(|b| b.bootcsum == d.bootcsum)
                    })
                }));
            }
            default.and_then(kernel_of).map(|k| k.release.clone())
        }
        None => {
            let chosen = boot_images(installed);
            let flavour = release::flavour(&running.release);
            let newest = |pool: &mut dyn Iterator<Item = &Installed>| {
                pool.max_by(|a, b| release::compare(&a.release, &b.release))
                    .cloned()
            };
            let same: Option<Installed> = newest(
                &mut chosen
                    .iter()
                    .copied()
                    .filter(|k| release::flavour(&k.release) == flavour),
            );
            match same {
                Some(k) => {
                    match release::compare(&k.release, &running.release) {
                        Ordering::Greater => {
                            let mut r = Reason::new("newer-kernel");
                            r.release = Some(k.release.clone());
                            reasons.push(r);
                        }
                        Ordering::Equal if !same_kernel(running, &k, || true) => {
                            let mut r = Reason::new("kernel-rebuilt");
                            r.release = Some(k.release.clone());
                            reasons.push(r);
                        }
                        _ => {}
                    }
                    Some(k.release)
                }
                // No kernel of this kind is installed (a custom or externally booted
                // kernel): report what the boot loader would pick, never call it newer.
                None => newest(&mut chosen.iter().copied()).map(|k| k.release),
            }
        }
    };
    if modules_available == Some(false) {
        let mut r = Reason::new("modules-missing");
        r.release = Some(running.release.clone());
        reasons.push(r);
    }
    for p in livepatches.iter().filter(|p| p.transition) {
        let mut r = Reason::new("livepatch-transition");
        r.name = Some(p.name.clone());
        reasons.push(r);
    }
    Verdict {
        expected,
        reboot_needed: !reasons.is_empty(),
        reasons,
        soft_reboot_possible,
    }
}

/// Whether an image is the running kernel: same release, and the same build when both
/// build strings are known; otherwise `fallback` decides (ostree's boot checksum).
fn same_kernel(running: &Running, k: &Installed, fallback: impl Fn() -> bool) -> bool {
    if k.release != running.release {
        return false;
    }
    match (&k.version_string, &running.build) {
        (Some(s), Some(b)) => *s == b.image_string(),
        _ => fallback(),
    }
}

/// One image per release, the one the boot loader uses: `/boot`'s copy when there is
/// one. Rescue images are never the next regular boot.
fn boot_images(installed: &[Installed]) -> Vec<&Installed> {
    let mut out: Vec<&Installed> = Vec::new();
    for k in installed.iter().filter(|k| !release::is_rescue(&k.release)) {
        match out.iter_mut().find(|o| o.release == k.release) {
            Some(o) if k.in_boot && !o.in_boot => *o = k,
            Some(_) => {}
            None => out.push(k),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::procfile::parse_version;

    const RUNNING: &[u8] = b"Linux version 6.1.0-57-amd64 (debian-kernel@lists.debian.org) (gcc-12 (Debian 12.2.0-14) 12.2.0, GNU ld (GNU Binutils for Debian) 2.40) #1 SMP PREEMPT_DYNAMIC Debian 6.1.192-3 (2026-11-26)\n";
    const SAME: &str = "6.1.0-57-amd64 (debian-kernel@lists.debian.org) #1 SMP PREEMPT_DYNAMIC Debian 6.1.192-3 (2026-11-26)";

    fn running() -> Running {
        let b = parse_version(RUNNING).unwrap();
        Running {
            release: b.release.clone(),
            version: b.uts_version.clone(),
            build: Some(b),
        }
    }

    fn boot(release: &str, version: Option<&str>) -> Installed {
        Installed {
            release: release.into(),
            path: format!("/boot/vmlinuz-{release}").into(),
            deployment: None,
            version_string: version.map(str::to_string),
            in_boot: true,
        }
    }

    fn codes(v: &Verdict) -> Vec<&'static str> {
        v.reasons.iter().map(|r| r.code).collect()
    }

    #[test]
    fn current_kernel_needs_nothing() {
        let v = decide(
            &running(),
            &[boot("6.1.0-57-amd64", Some(SAME))],
            None,
            Some(true),
            &[],
        );
        assert_eq!(v.expected.as_deref(), Some("6.1.0-57-amd64"));
        assert!(v.reasons.is_empty());
        assert!(!v.reboot_needed);
        assert_eq!(v.soft_reboot_possible, None);
    }

    #[test]
    fn newer_kernel_of_the_same_flavour() {
        let installed = [
            boot("6.1.0-9-amd64", None),
            boot("6.1.0-57-amd64", Some(SAME)),
            boot("6.1.0-58-amd64", None),
            boot("6.1.0-10-amd64", None),
        ];
        let v = decide(&running(), &installed, None, Some(true), &[]);
        assert_eq!(v.expected.as_deref(), Some("6.1.0-58-amd64"));
        assert_eq!(codes(&v), ["newer-kernel"]);
        assert_eq!(v.reasons[0].release.as_deref(), Some("6.1.0-58-amd64"));
        assert!(v.reboot_needed);
    }

    #[test]
    fn other_flavours_are_not_updates() {
        let installed = [
            boot("6.1.0-57-amd64", Some(SAME)),
            boot("6.1.0-58-rt-amd64", None),
            boot("6.1.0-57-amd64+", None),
            boot("6.2.0-mybuild", None),
            boot("0-rescue-0123456789abcdef", None),
        ];
        let v = decide(&running(), &installed, None, Some(true), &[]);
        assert_eq!(v.expected.as_deref(), Some("6.1.0-57-amd64"));
        assert!(v.reasons.is_empty(), "{:?}", v.reasons);
    }

    #[test]
    fn a_custom_kernel_with_nothing_of_its_kind_installed() {
        let mut r = running();
        r.release = "6.18.44-custom+".into();
        r.build = None;
        let v = decide(
            &r,
            &[boot("6.1.0-57-amd64", None), boot("6.1.0-9-amd64", None)],
            None,
            None,
            &[],
        );
        assert_eq!(v.expected.as_deref(), Some("6.1.0-57-amd64"));
        assert!(!v.reboot_needed);
    }

    #[test]
    fn rebuilt_under_the_same_release() {
        let other = "6.1.0-57-amd64 (debian-kernel@lists.debian.org) #1 SMP PREEMPT_DYNAMIC Debian 6.1.192-4 (2026-12-01)";
        let v = decide(
            &running(),
            &[boot("6.1.0-57-amd64", Some(other))],
            None,
            Some(true),
            &[],
        );
        assert_eq!(codes(&v), ["kernel-rebuilt"]);
        // An unreadable version string is no evidence of a rebuild.
        let v = decide(
            &running(),
            &[boot("6.1.0-57-amd64", None)],
            None,
            Some(true),
            &[],
        );
        assert!(v.reasons.is_empty());
    }

    #[test]
    fn boot_copy_wins_over_the_modules_copy() {
        let other = "6.1.0-57-amd64 (someone@else) #2 SMP";
        let mut modules = boot("6.1.0-57-amd64", Some(other));
        modules.in_boot = false;
        modules.path = "/usr/lib/modules/6.1.0-57-amd64/vmlinuz".into();
        let v = decide(
            &running(),
            &[modules.clone(), boot("6.1.0-57-amd64", Some(SAME))],
            None,
            Some(true),
            &[],
        );
        assert!(v.reasons.is_empty());
        let v = decide(&running(), &[modules], None, Some(true), &[]);
        assert_eq!(codes(&v), ["kernel-rebuilt"]);
    }

    fn dep(id: &str, staged: bool, bootcsum: &str, kernel: usize) -> DeploymentKernel {
        DeploymentKernel {
            id: id.into(),
            staged,
            bootcsum: Some(bootcsum.into()),
            kernel: Some(kernel),
        }
    }

    #[test]
    fn ostree_pending_and_staged() {
        let installed = [boot("6.1.0-58-amd64", None), boot("6.1.0-57-amd64", None)];
        let deps = [dep("os/b.0", false, "bb", 0), dep("os/a.0", false, "aa", 1)];
        let v = decide(
            &running(),
            &installed,
            Some(OstreeBoot {
                deployments: &deps,
                booted: 1,
            }),
            Some(true),
            &[],
        );
        assert_eq!(codes(&v), ["pending-deployment"]);
        assert_eq!(v.reasons[0].deployment.as_deref(), Some("os/b.0"));
        assert_eq!(v.reasons[0].release.as_deref(), Some("6.1.0-58-amd64"));
        assert_eq!(v.expected.as_deref(), Some("6.1.0-58-amd64"));
        assert_eq!(v.soft_reboot_possible, Some(false));

        // Same kernel (same boot checksum): a soft reboot would do.
        let installed = [boot("6.1.0-57-amd64", None), boot("6.1.0-57-amd64", None)];
        let deps = [dep("os/b.0", true, "aa", 0), dep("os/a.0", false, "aa", 1)];
        let v = decide(
            &running(),
            &installed,
            Some(OstreeBoot {
                deployments: &deps,
                booted: 1,
            }),
            Some(true),
            &[],
        );
        assert_eq!(codes(&v), ["staged-deployment"]);
        assert_eq!(v.soft_reboot_possible, Some(true));

        // Booted is the default: nothing to do, even with a newer rollback around.
        let installed = [boot("6.1.0-57-amd64", None), boot("6.1.0-99-amd64", None)];
        let deps = [dep("os/a.0", false, "aa", 0), dep("os/z.0", false, "zz", 1)];
        let v = decide(
            &running(),
            &installed,
            Some(OstreeBoot {
                deployments: &deps,
                booted: 0,
            }),
            Some(true),
            &[],
        );
        assert!(v.reasons.is_empty());
        assert_eq!(v.expected.as_deref(), Some("6.1.0-57-amd64"));
        assert_eq!(v.soft_reboot_possible, None);
    }

    #[test]
    fn ostree_soft_reboot_needs_the_same_build() {
        let other = "6.1.0-57-amd64 (someone@else) #2 SMP";
        let installed = [
            boot("6.1.0-57-amd64", Some(other)),
            boot("6.1.0-57-amd64", Some(SAME)),
        ];
        let deps = [dep("os/b.0", false, "bb", 0), dep("os/a.0", false, "aa", 1)];
        let v = decide(
            &running(),
            &installed,
            Some(OstreeBoot {
                deployments: &deps,
                booted: 1,
            }),
            Some(true),
            &[],
        );
        assert_eq!(v.soft_reboot_possible, Some(false));
        let installed = [
            boot("6.1.0-57-amd64", Some(SAME)),
            boot("6.1.0-57-amd64", Some(SAME)),
        ];
        let v = decide(
            &running(),
            &installed,
            Some(OstreeBoot {
                deployments: &deps,
                booted: 1,
            }),
            Some(true),
            &[],
        );
        assert_eq!(v.soft_reboot_possible, Some(true));
    }

    #[test]
    fn modules_and_livepatches() {
        let installed = [boot("6.1.0-57-amd64", Some(SAME))];
        let v = decide(&running(), &installed, None, Some(false), &[]);
        assert_eq!(codes(&v), ["modules-missing"]);
        assert_eq!(v.reasons[0].release.as_deref(), Some("6.1.0-57-amd64"));
        let v = decide(&running(), &installed, None, None, &[]);
        assert!(!v.reboot_needed);

        let lp = |name: &str, transition: bool| Livepatch {
            name: name.into(),
            enabled: true,
            transition,
            objects: vec!["vmlinux".into()],
        };
        // Live-patched and settled: no reboot.
        let v = decide(
            &running(),
            &installed,
            None,
            Some(true),
            &[lp("kpatch_1", false)],
        );
        assert!(!v.reboot_needed);
        let v = decide(
            &running(),
            &installed,
            None,
            Some(true),
            &[lp("kpatch_1", false), lp("kpatch_2", true)],
        );
        assert_eq!(codes(&v), ["livepatch-transition"]);
        assert_eq!(v.reasons[0].name.as_deref(), Some("kpatch_2"));
    }
}
