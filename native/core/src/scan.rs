//! One scan: the stages of design.md joined into a single report.
pub use crate::report::*;
use crate::sysroot;

/// Run one scan.
pub fn run(cfg: &ScanConfig) -> crate::Result<ScanReport> {
    let version_of = |_: &str| None;
    let status = sysroot::read_sysroot(&cfg.sysroot, &cfg.run_dir, &cfg.host_root, &version_of)?;
    let mut warnings: Vec<Warning> = status
        .warnings
        .iter()
        .map(|w| Warning::new(&w.code, w.message.clone(), None))
        .collect();
    let deployments = status
        .deployments
        .iter()
        .map(|d| DeploymentReport {
            id: d.id(),
            osname: d.osname.clone(),
            checksum: d.checksum.clone(),
            serial: d.serial,
            version: d.version.clone(),
            refspec: d.refspec.clone(),
            booted: d.booted,
            pending: d.pending,
            rollback: d.rollback,
            staged: d.staged,
            pinned: d.pinned,
            unlocked: d.unlocked.clone(),
            path: d.path.clone(),
            process_count: 0,
        })
        .collect();
    warnings.sort_by(|a, b| a.code.cmp(&b.code));
    Ok(ScanReport {
        sysroot_path: status.path,
        repo_mode: None,
        ostree_booted: status.ostree_booted,
        deployments,
        overlays: Vec::new(),
        processes: Vec::new(),
        warnings,
    })
}
