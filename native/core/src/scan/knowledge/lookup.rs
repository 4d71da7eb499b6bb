//! The lookups a scan asks of the knowledge: which object or deployment a mapped inode
//! is, where a file came from, which package installed it.
use std::cell::OnceCell;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::Arc;

use super::{HostPackages, Knowledge};
use crate::attribute::commit_of_id;
use crate::catalog::ObjectHit;
use crate::packages::{self, PackageInfo, PackageTable, RootTree};
use crate::proc::procfs::dev_split;
use crate::report::{Origin, OriginKind};
use crate::Result;

impl Knowledge {
    /// The repo object a mapped inode is, when the repo holds it (bare modes).
    pub fn object_of(&self, major: u32, minor: u32, ino: u64) -> Option<String> {
        // The device first: an inode elsewhere never builds the index.
        if self.index_dev != Some((major, minor)) {
            return None;
        }
        let index = self.index()?;
        index.get(index.dev, ino)
    }

    /// The package that installed `tree_path` in `commit`, from the catalog's table of
    /// that commit (recorded when a scan first saw it, so it outlives the commit).
    pub fn package_at(&self, commit: &str, tree_path: &[u8]) -> Result<Option<Arc<PackageInfo>>> {
        if let Some(hit) = self
            .packages
            .borrow()
            .get(commit)
            .and_then(|m| m.get(tree_path))
        {
            return Ok(hit.clone());
        }
        let found = self.catalog.package_at(commit, tree_path)?.map(Arc::new);
        self.packages
            .borrow_mut()
            .entry(commit.to_string())
            .or_default()
            .insert(tree_path.to_vec(), found.clone());
        Ok(found)
    }

    /// The host root's package database, keeping the owners of `wanted` paths only (see
    /// `packages::read_table_for`). Read once per scan at most, and not at all when the
    /// table kept from an earlier scan of this knowledge came from the same database files
    /// (`packages::database_fingerprint`) and holds every path wanted now: a host's
    /// database is 100k paths in hundreds of files, and reading it was most of a warm
    /// scan's time on a host without OSTree.
    pub fn host_packages(&self, wanted: &crate::fast_hash::FastSet<Vec<u8>>) -> &PackageTable {
        self.host_packages.get_or_init(|| {
            let fingerprint = packages::database_fingerprint(&self.host_root);
            let mut kept = self.host_kept.borrow_mut();
            if let Some(h) = kept
                .as_ref()
                .filter(|h| h.fingerprint == fingerprint && wanted.is_subset(&h.wanted))
            {
                // Only the owners of the wanted paths and the package list: a small copy.
                return h.table.clone();
            }
            // What an earlier scan (this process's or another's) recorded, if it holds. A
            // catalog that cannot answer is no reason to fail: the database is read.
            if let Ok(Some(table)) = self.catalog.host_database(&fingerprint, wanted) {
                *kept = Some(HostPackages {
                    fingerprint,
                    wanted: wanted.clone(),
                    table: table.clone(),
                    unrecorded: false,
                });
                return table;
            }
            let table = packages::read_table_for(
                &RootTree {
                    root: self.host_root.clone(),
                },
                Some(wanted),
            );
            self.host_read.set(true);
            *kept = Some(HostPackages {
                fingerprint,
                wanted: wanted.clone(),
                table: table.clone(),
                unrecorded: true,
            });
            table
        })
    }

    /// Record in the catalog what this scan read from the host's package database, so the
    /// next scan (of any process) can answer from there while the database is unchanged.
    pub fn record_host_database(&mut self) -> Result<()> {
        let mut kept = self.host_kept.borrow_mut();
        let Some(h) = kept.as_mut().filter(|h| h.unrecorded) else {
            return Ok(());
        };
        if self.catalog.is_read_only() {
            return Ok(());
        }
        self.catalog
            .record_host_database(&h.fingerprint, &h.table, &h.wanted)?;
        h.unrecorded = false;
        Ok(())
    }

    /// Record in the catalog the image layer stacks' tables this scan read from their
    /// databases (`StoreCache::take_unrecorded`), so the next scan (of any process) can
    /// answer from there while their stamps hold.
    pub fn record_layer_databases(&mut self) -> Result<()> {
        let read = self.containers.take_unrecorded();
        if self.catalog.is_read_only() {
            return Ok(());
        }
        for (stamp, table, wanted) in read {
            self.catalog
                .record_layer_database(&stamp, &table, &wanted)?;
        }
        Ok(())
    }

    /// A new scan begins: it has not asked for the host's table yet. The table read by an
    /// earlier scan is kept; `host_packages` decides whether it still holds.
    pub fn begin_scan(&mut self) {
        self.containers.begin_scan();
        self.host_packages = OnceCell::new();
        self.host_read.set(false);
    }

    /// Whether this scan read the host's package database (for the scanner's counters).
    pub fn host_database_read(&self) -> bool {
        self.host_read.get()
    }

    /// The host's table, when this scan asked for it (its warnings are then the scan's).
    pub fn host_packages_read(&self) -> Option<&PackageTable> {
        self.host_packages.get()
    }

    /// Versions of `name` installed in a commit, from the catalog.
    pub fn commit_package(&self, commit: &str, name: &str) -> Result<Vec<PackageInfo>> {
        self.catalog.commit_package(commit, name)
    }

    /// A deployment id recorded by an earlier scan for this root directory.
    pub fn deployment_by_dir(&self, dev: u64, ino: u64) -> Option<String> {
        self.catalog
            .find_deployment_by_dir(dev, ino)
            .ok()
            .flatten()
            .map(|d| d.id)
    }

    /// Every recorded (commit, path) holding this object, newest first; cached per scan.
    pub fn object_hits(&self, object: &str) -> Result<Vec<ObjectHit>> {
        let mut cache = self.hits.borrow_mut();
        if !cache.contains_key(object) {
            let hits = self.catalog.find_object(object)?;
            cache.insert(object.to_string(), hits);
        }
        Ok(cache[object].clone())
    }

    /// The origin of a file served by an overlay's upper (or a non-deployment lower)
    /// layer: the commit that holds this very object at this very tree path, else one
    /// that holds it elsewhere, else none (a hand-made hotfix). `deployment` names a
    /// current deployment of that commit, such as the pending one a live update applied.
    /// `treePath` is where the named commit holds these bytes (a commit holding them
    /// elsewhere never claims them at the overlay's path); with no commit, where the file
    /// sits in the tree.
    pub fn overlay_origin(&self, object: &str, tree_path: &[u8]) -> Result<Origin> {
        let hits = self.object_hits(object)?;
        let pick = hits
            .iter()
            .find(|h| h.path == tree_path)
            .or_else(|| hits.first());
        Ok(Origin {
            kind: OriginKind::Overlay,
            deployment: pick.and_then(|h| {
                self.deployments
                    .iter()
                    .find(|d| d.commit == h.commit)
                    .map(|d| d.id.clone())
            }),
            commit: pick.map(|h| h.commit.clone()),
            version: pick.and_then(|h| h.version.clone()),
            object: Some(object.to_string()),
            tree_path: Some(pick.map_or_else(|| tree_path.to_vec(), |h| h.path.clone())),
            package: None,
            layer: None,
        })
    }

    /// Where an object came from, preferring the process's own deployment, then any
    /// current deployment, then any commit the catalog remembers. `mapped` is the path the
    /// kernel shows (used to pick the tree path when a commit holds the object twice).
    ///
    /// `by_inode` says how the object was found. The mapped inode itself being the repo
    /// object (a bare repo's hard link) is identity: the file *is* that tree's file. A
    /// checksum of the bytes (a deleted file read through map_files) is only equality: the
    /// file is a tree's own only when the process's own deployment holds that object at
    /// the very path the process maps (`inner`, inside its root). Anything else — a
    /// chroot's or the host's copy with the same bytes — is origin `catalog` with the
    /// commit and tree path that hold those bytes, never a deployment it does not belong to.
    pub fn origin_of(
        &self,
        object: &str,
        mapped: &[u8],
        inner: Option<&[u8]>,
        root_deployment: Option<&str>,
        by_inode: bool,
    ) -> Result<Origin> {
        let hits = self.object_hits(object)?;
        let own = root_deployment.and_then(commit_of_id);
        let deployed = |c: &str| self.deployments.iter().find(|d| d.commit == c);
        let own_here =
            |h: &&ObjectHit| Some(h.commit.as_str()) == own && Some(&h.path[..]) == inner;
        if !by_inode {
            if let Some(h) = hits.iter().find(own_here) {
                return Ok(self.deployment_origin(object, h, root_deployment));
            }
        }
        let pick = hits
            .iter()
            .filter(|h| Some(h.commit.as_str()) == own)
            .chain(hits.iter().filter(|h| deployed(&h.commit).is_some()))
            .chain(hits.iter())
            .next();
        let Some(first) = pick else {
            return Ok(Origin {
                object: Some(object.to_string()),
                ..Origin::untracked()
            });
        };
        // Among the chosen commit's paths for this object, prefer the one the mapped
        // path ends with (a library may be installed under two names).
        let best = hits
            .iter()
            .filter(|h| h.commit == first.commit)
            .find(|h| mapped.ends_with(&h.path))
            .unwrap_or(first);
        if !by_inode {
            return Ok(Origin {
                kind: OriginKind::Catalog,
                deployment: None,
                commit: Some(best.commit.clone()),
                version: best.version.clone(),
                object: Some(object.to_string()),
                tree_path: Some(best.path.clone()),
                package: None,
                layer: None,
            });
        }
        Ok(self.deployment_origin(object, best, root_deployment))
    }

    /// The origin of a file that is `hit`'s: `deployment` names a deployment that exists
    /// now, the process's own when it holds this commit, else any current one. A commit
    /// only the catalog remembers (its deployment undeployed and pruned) is `catalog`.
    fn deployment_origin(
        &self,
        object: &str,
        hit: &ObjectHit,
        root_deployment: Option<&str>,
    ) -> Origin {
        let own = root_deployment.and_then(commit_of_id);
        let own_current = root_deployment.filter(|id| self.deployments.iter().any(|d| d.id == *id));
        let deployment = if Some(hit.commit.as_str()) == own && own_current.is_some() {
            own_current.map(str::to_string)
        } else {
            self.deployments
                .iter()
                .find(|d| d.commit == hit.commit)
                .map(|d| d.id.clone())
        };
        Origin {
            kind: if deployment.is_some() {
                OriginKind::Deployment
            } else {
                OriginKind::Catalog
            },
            deployment,
            commit: Some(hit.commit.clone()),
            version: hit.version.clone(),
            object: Some(object.to_string()),
            tree_path: Some(hit.path.clone()),
            package: None,
            layer: None,
        }
    }

    /// For a stale file: a current deployment whose tree holds this very object at the
    /// same tree path (the process's own first, then the booted one, then the first in
    /// `ostree admin status` order): restarting would load identical bytes from there.
    /// The catalog says what the commit held; the deployment's file on disk must still be
    /// that object (a path unlinked by hand is not "identical bytes there").
    pub fn identical_in(
        &self,
        object: &str,
        tree_path: &[u8],
        root_deployment: Option<&str>,
    ) -> Option<String> {
        let hits = self.object_hits(object).ok()?;
        let holds = |commit: &str| {
            hits.iter()
                .any(|h| h.commit == commit && h.path == tree_path)
        };
        let mut order: Vec<&crate::ostree::sysroot::Deployment> =
            self.status.deployments.iter().collect();
        order.sort_by_key(|d| (Some(d.id()).as_deref() != root_deployment, !d.booted));
        order
            .into_iter()
            .find(|d| holds(&d.checksum) && self.on_disk(&d.path, tree_path, object))
            .map(|d| d.id())
    }

    /// Whether the file at `tree_path` in the deployment at `dir` is `object` now: by its
    /// inode where the repo hard-links deployments to objects, else by its checksum.
    fn on_disk(&self, dir: &Path, tree_path: &[u8], object: &str) -> bool {
        let rel = tree_path.strip_prefix(b"/").unwrap_or(tree_path);
        let file = dir.join(std::ffi::OsStr::from_bytes(rel));
        let Ok(md) = std::fs::symlink_metadata(&file) else {
            return false;
        };
        if self.index_dev.is_some() && self.index().is_some() {
            let (major, minor) = dev_split(md.dev());
            return self.object_of(major, minor, md.ino()).as_deref() == Some(object);
        }
        crate::ostree::checksum::checksum_path(&file).is_ok_and(|c| c == object)
    }
}
