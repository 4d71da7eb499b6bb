//! The kernel report as JavaScript sees it (part of `ScanResult`).
use livetree_core::kernel as core;
use napi_derive::napi;

#[napi(object)]
pub struct KernelOut {
    /// `uname -r`
    pub running_release: String,
    /// `uname -v`
    pub running_version: String,
    pub boot_id: Option<String>,
    pub installed: Vec<InstalledKernelOut>,
    pub expected: Option<String>,
    pub modules_available: Option<bool>,
    pub livepatches: Vec<LivepatchOut>,
    pub reboot_needed: bool,
    pub soft_reboot_possible: Option<bool>,
    pub reasons: Vec<KernelReasonOut>,
    /// The deployment the kernel was booted with, when OSTree-booted.
    pub booted_deployment: Option<String>,
}

#[napi(object)]
pub struct InstalledKernelOut {
    pub release: String,
    pub path: String,
    pub deployment: Option<String>,
    pub version_string: Option<String>,
}

#[napi(object)]
pub struct LivepatchOut {
    pub name: String,
    pub enabled: bool,
    pub transition: bool,
    pub objects: Vec<String>,
}

/// A reason code and what its words need; the words are made in TypeScript.
#[napi(object)]
pub struct KernelReasonOut {
    /// newer-kernel | kernel-rebuilt | pending-deployment | staged-deployment |
    /// modules-missing | livepatch-transition
    pub code: String,
    pub release: Option<String>,
    pub deployment: Option<String>,
    pub name: Option<String>,
}

pub fn kernel(k: core::KernelReport) -> KernelOut {
    KernelOut {
        running_release: k.running.release,
        running_version: k.running.version,
        boot_id: k.boot_id,
        installed: k
            .installed
            .into_iter()
            .map(|i| InstalledKernelOut {
                release: i.release,
                path: i.path.to_string_lossy().into_owned(),
                deployment: i.deployment,
                version_string: i.version_string,
            })
            .collect(),
        expected: k.expected,
        modules_available: k.modules_available,
        livepatches: k
            .livepatches
            .into_iter()
            .map(|p| LivepatchOut {
                name: p.name,
                enabled: p.enabled,
                transition: p.transition,
                objects: p.objects,
            })
            .collect(),
        reboot_needed: k.reboot_needed,
        soft_reboot_possible: k.soft_reboot_possible,
        reasons: k
            .reasons
            .into_iter()
            .map(|r| KernelReasonOut {
                code: r.code.to_string(),
                release: r.release,
                deployment: r.deployment,
                name: r.name,
            })
            .collect(),
        booted_deployment: k.booted_deployment,
    }
}
