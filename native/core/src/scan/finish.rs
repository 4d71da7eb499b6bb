//! Report assembly: the scan's caches and warnings turned into the `ScanReport`, with the
//! installed versions of the packages in memory.
use super::{live_apply, Scan};
use crate::report::{
    ComposefsReport, DeploymentReport, PackageInfo, ProcessReport, ProofCost, RootKind, ScanReport,
    SysrootReport, Warning,
};

impl Scan<'_> {
    pub(super) fn finish(mut self, processes: Vec<ProcessReport>) -> ScanReport {
        let mut etc_warnings = Vec::new();
        // Each deployment's /etc drift, comparing contents only where the kept scanner's
        // verdicts do not already say (their two entries unchanged since).
        let verdicts = &mut self.k.etc_verdicts;
        let etcs: Vec<_> = self
            .k
            .status
            .deployments
            .iter()
            .map(|d| crate::config::etc_diff::deployment_etc_with(&d.path, verdicts))
            .collect();
        verdicts.end_scan();
        let deployments = self
            .k
            .status
            .deployments
            .iter()
            .zip(etcs)
            .map(|(d, etc)| {
                let id = d.id();
                DeploymentReport {
                    process_count: processes
                        .iter()
                        .filter(|p| p.root_deployment.as_deref() == Some(id.as_str()))
                        .count() as u32,
                    id,
                    deployment: d.clone(),
                    live_apply: live_apply(&self.cfg.run_dir, self.k.repo.as_ref(), d),
                    composefs: self.cfs.image_for(&d.id()).map(|i| ComposefsReport {
                        image: i.image.exists().then(|| i.image.clone()),
                        digest: i.digest.clone(),
                        mounted: self.cfs.mounted(&i.deployment_id),
                    }),
                    etc: match etc {
                        Ok(diff) => Some(diff.counts()),
                        Err(e) => {
                            etc_warnings.push(Warning::new(
                                "config-etc",
                                format!("{}: /etc drift not counted: {e}", d.id()),
                                None,
                            ));
                            None
                        }
                    },
                }
            })
            .collect();
        self.warnings.append(&mut etc_warnings);
        let overlays = std::mem::take(&mut self.overlays)
            .iter()
            .map(|o| self.overlay_report(o))
            .collect();
        let (installed_packages, compared_trees) = self.installed(&processes);
        if let Some(t) = self.k.host_packages_read() {
            self.warnings.extend(
                t.warnings
                    .iter()
                    .map(|w| Warning::new("package-db", w.clone(), None)),
            );
        }
        self.warnings.sort_by_key(|w| w.pid.is_some());
        ScanReport {
            composefs_proof: ProofCost {
                mapped_hashed: self.cfs_hashed,
                probed: self.cfs.cost.probed,
            },
            config_fd_reads: self.config.fd_reads,
            root_opens: self.root_opens,
            installed_packages,
            compared_trees,
            sysroot: SysrootReport {
                path: self.k.status.path.clone(),
                repo_mode: self.k.repo_mode(),
                ostree_booted: self.k.status.ostree_booted,
            },
            deployments,
            overlays,
            processes,
            kernel_threads: Vec::new(),
            warnings: self.warnings,
            kernel: None,
        }
    }

    /// The installed versions of the packages whose files are in memory, per tree that
    /// counts as installed: for processes rooted in a deployment, the booted deployment
    /// (else the default, first one); for processes in the host's own root, the host's
    /// database. Each entry names its tree (a deployment id, or `host`).
    /// The installed versions of the packages in memory, each with its tree, and the
    /// container trees read (see `ScanReport::compared_trees`).
    fn installed(
        &mut self,
        processes: &[ProcessReport],
    ) -> (Vec<(String, PackageInfo)>, Vec<String>) {
        let names = |kind: RootKind| {
            let mut n: Vec<&str> = processes
                .iter()
                .filter(|p| p.root_kind == kind)
                .flat_map(|p| p.files.iter())
                .filter_map(|f| f.origin.package.as_ref().map(|p| p.name.as_str()))
                .collect();
            n.sort_unstable();
            n.dedup();
            n
        };
        let mut out = Vec::new();
        let deployments = &self.k.status.deployments;
        let tree = deployments
            .iter()
            .find(|d| d.booted)
            .or_else(|| deployments.first())
            .map(|d| (d.checksum.clone(), d.id()));
        if let Some((checksum, id)) = tree {
            for name in names(RootKind::Deployment) {
                match self.k.commit_package(&checksum, name) {
                    Ok(found) => out.extend(found.into_iter().map(|p| (id.clone(), p))),
                    Err(e) => {
                        self.warn_once("catalog-read", e.to_string(), None);
                        break;
                    }
                }
            }
        }
        let host = names(RootKind::Host);
        if let Some(table) = self.k.host_packages_read().filter(|_| !host.is_empty()) {
            for name in host {
                out.extend(table.by_name(name).map(|p| ("host".to_string(), p.clone())));
            }
        }
        let (found, compared) = self.container_installed(processes);
        out.extend(found);
        (out, compared)
    }
}
