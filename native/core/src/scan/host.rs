//! Packages of files: a commit's file from that commit's table, a host file from the
//! host's database (and the catalog's record of the file a scan saw current).
use std::os::unix::ffi::OsStrExt;
use std::sync::Arc;

use super::{host_file_record, Scan};
use crate::catalog::{HostFileKey, HostFileRecord};
use crate::fast_hash::{FastMap, FastSet};
use crate::proc::procfs::path_in_root;
use crate::report::{FileReport, Origin, OriginKind, PackageInfo, ProcessReport, RootKind};

impl Scan<'_> {
    /// The package that installed a file of a known commit, from that commit's table in
    /// the catalog. Files of the host root are named after all processes (`host_packages`).
    pub(super) fn package(&mut self, origin: &Origin) -> Option<Arc<PackageInfo>> {
        let (Some(commit), Some(tree_path)) = (&origin.commit, &origin.tree_path) else {
            return None;
        };
        match self.k.package_at(commit, tree_path) {
            Ok(p) => p,
            Err(e) => {
                self.warn_once("catalog-read", e.to_string(), None);
                None
            }
        }
    }

    /// Name the package of each file that a process in the host's own root maps from the
    /// host's database, reading it once for all of them, and record each current file's
    /// package in the catalog (`catalog/host_files.rs`). A deleted or replaced host file is
    /// not what the database describes: it names the package recorded when a scan saw that
    /// very file (same device, inode and path) current, or none, never a guess.
    /// Returns the records to write (the scan holds the knowledge read-only).
    pub(super) fn host_packages(&mut self, processes: &mut [ProcessReport]) -> Vec<HostFileRecord> {
        let is_host_file = |p: &ProcessReport, f: &FileReport| {
            p.root_kind == RootKind::Host && f.origin.kind == OriginKind::Untracked
        };
        let current = |f: &FileReport| !f.deleted && !f.superseded;
        // Paths as the scanner sees them, below the host root (`/` on a real host).
        let root = self.cfg.host_root.as_os_str().as_bytes().to_vec();
        let in_root = |path: &[u8]| path_in_root(&root, path).map(<[u8]>::to_vec);
        let wanted: FastSet<Vec<u8>> = processes
            .iter()
            .flat_map(|p| {
                p.files
                    .iter()
                    .filter(move |f| is_host_file(p, f) && current(f))
            })
            .filter_map(|f| in_root(&f.path))
            .map(|p| crate::packages::canonical_path(&p).into_owned())
            .collect();
        let any_replaced = processes
            .iter()
            .any(|p| p.files.iter().any(|f| is_host_file(p, f) && !current(f)));
        if wanted.is_empty() && !any_replaced {
            return Vec::new();
        }
        // Read even when only replaced files are mapped: the installed version is compared.
        self.k.host_packages(&wanted);
        let mut recorded: FastMap<HostFileKey, Option<Arc<PackageInfo>>> = FastMap::default();
        let mut to_record: FastMap<HostFileKey, HostFileRecord> = FastMap::default();
        for p in processes.iter_mut() {
            if p.root_kind != RootKind::Host {
                continue;
            }
            for f in p.files.iter_mut() {
                if f.origin.kind != OriginKind::Untracked {
                    continue;
                }
                let Some(rel) = in_root(&f.path) else {
                    continue;
                };
                let key = (f.major, f.minor, f.ino, rel);
                if current(f) {
                    let table = self.k.host_packages_read();
                    f.origin.package = table.and_then(|t| t.lookup(&key.3).cloned());
                    if let Some(package) = &f.origin.package {
                        if !to_record.contains_key(&key)
                            && !self.k.catalog.host_file_known(&key, package)
                        {
                            if let Some(r) = host_file_record(&f.path, &key, package) {
                                to_record.insert(key, r);
                            }
                        }
                    }
                } else {
                    f.origin.package = self.recorded_package(&mut recorded, key);
                }
            }
        }
        to_record.into_values().collect()
    }

    /// The package a scan recorded for this very file (device, inode, path) while it was
    /// current, asked of the catalog once per file per scan (`recorded` holds the answers):
    /// what a deleted or replaced file of the host or another root names, never a guess.
    pub(super) fn recorded_package(
        &mut self,
        recorded: &mut FastMap<HostFileKey, Option<Arc<PackageInfo>>>,
        key: HostFileKey,
    ) -> Option<Arc<PackageInfo>> {
        if let Some(hit) = recorded.get(&key) {
            return hit.clone();
        }
        let hit = self
            .k
            .catalog
            .host_file_package(key.0, key.1, key.2, &key.3)
            .unwrap_or_else(|e| {
                self.warn_once("catalog-read", e.to_string(), None);
                None
            })
            .map(Arc::new);
        recorded.insert(key, hit.clone());
        hit
    }
}
