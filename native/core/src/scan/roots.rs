//! Roots with a package database of their own: a chroot, a debootstrapped tree, a machine
//! systemd-nspawn runs without registering it, a container whose layers livetree does not
//! resolve (docker's, known by its cgroup). A process whose root is none of a deployment,
//! a resolved container or the host's names each file's package from that root's own
//! dpkg or rpm database, read through `/proc/PID/root` without following a link out of it
//! (`containers::layers::LayerTree` over that one directory), and kept while its database
//! files are unchanged. As for the host root (`host_packages`), each current file's package
//! is recorded in the catalog by (device, inode, path as the scanner sees it), so that a
//! file upgraded inside the root later still names the version it had — never a guess: a
//! file no scan saw current names none.
use std::collections::HashMap;
use std::sync::Arc;

use super::Scan;
use crate::catalog::{HostFileKey, HostFileRecord};
use crate::containers::layers::LayerTree;
use crate::fast_hash::FastMap;
use crate::packages::{PackageInfo, PackageTable};
use crate::proc::procfs::path_in_root;
use crate::report::{OriginKind, ProcessReport, RootKind, Warning};

impl Scan<'_> {
    /// Name the packages of foreign-root processes' files from their roots' databases;
    /// returns the catalog records to write.
    pub(super) fn root_packages(&mut self, processes: &mut [ProcessReport]) -> Vec<HostFileRecord> {
        let foreign = std::mem::take(&mut self.containers.foreign);
        let mut tables: HashMap<(u64, u64), Option<Arc<PackageTable>>> = HashMap::new();
        let mut recorded: FastMap<HostFileKey, Option<Arc<PackageInfo>>> = FastMap::default();
        let mut to_record: FastMap<HostFileKey, HostFileRecord> = FastMap::default();
        for p in processes
            .iter_mut()
            .filter(|p| matches!(p.root_kind, RootKind::Foreign | RootKind::Container))
        {
            let Some((Some(id), root)) = foreign.get(&p.pid) else {
                continue;
            };
            let table = match tables.get(id) {
                Some(t) => t.clone(),
                None => {
                    let t = self.root_table(p.pid, *id);
                    tables.insert(*id, t.clone());
                    t
                }
            };
            let Some(table) = table else {
                continue;
            };
            for f in p
                .files
                .iter_mut()
                .filter(|f| f.origin.kind == OriginKind::Untracked)
            {
                let Some(rel) = path_in_root(root, &f.path) else {
                    continue;
                };
                let key = (f.major, f.minor, f.ino, f.path.clone());
                if !f.deleted && !f.superseded {
                    f.origin.package = table.lookup(rel).cloned();
                    let Some(package) = &f.origin.package else {
                        continue;
                    };
                    if to_record.contains_key(&key) || self.k.catalog.host_file_known(&key, package)
                    {
                        continue;
                    }
                    if let Some(r) = self.root_file_record(p.pid, rel, &key, package) {
                        to_record.insert(key, r);
                    }
                } else {
                    f.origin.package = self.recorded_package(&mut recorded, key);
                }
            }
        }
        to_record.into_values().collect()
    }

    /// The package table of process `pid`'s root, kept by the root's identity and its
    /// database files' stamps; None when the root holds no package database.
    fn root_table(&mut self, pid: u32, id: (u64, u64)) -> Option<Arc<PackageTable>> {
        let dir = self.cfg.proc_root.join(pid.to_string()).join("root");
        let fingerprint = crate::packages::database_fingerprint(&dir);
        // It begins with the path it was read through (/proc/PID/root differs for each
        // process of one root): the root's identity takes its place.
        let files = fingerprint
            .splitn(2, |b| *b == 0)
            .nth(1)
            .unwrap_or_default();
        if files.is_empty() {
            return None;
        }
        let mut key = b"root\0".to_vec();
        key.extend_from_slice(&id.0.to_le_bytes());
        key.extend_from_slice(&id.1.to_le_bytes());
        key.extend_from_slice(files);
        let layers = [dir];
        let name = format!("the root of PID {pid}");
        let table = self.k.containers.kept_table(key, || {
            crate::packages::read_table(&LayerTree::new(&layers, name))
        });
        for w in &table.warnings {
            self.warnings
                .push(Warning::new("package-db", w.clone(), Some(pid)));
        }
        Some(table)
    }

    /// The record of a current file of a root: its size and mtime, only when the path in
    /// the root is still the mapped inode.
    fn root_file_record(
        &self,
        pid: u32,
        rel: &[u8],
        key: &HostFileKey,
        package: &PackageInfo,
    ) -> Option<HostFileRecord> {
        let mut full = self.cfg.proc_root.join(pid.to_string()).join("root");
        full.push(
            <std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(
                rel.strip_prefix(b"/").unwrap_or(rel),
            ),
        );
        let meta = std::fs::symlink_metadata(&full).ok()?;
        super::record_of(&meta, key, package)
    }
}
