//! What a scan knows about trees before it looks at any process: the sysroot's
//! deployments, the repo (its mode and the inode index of its objects) and the catalog
//! of every commit ever seen. Origins are resolved here, once per (dev, ino).
use std::cell::{OnceCell, RefCell};
use std::collections::HashMap;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::attribute::{commit_of_id, DeploymentRef};
use crate::catalog::{Catalog, CatalogFile, CommitRecord, DeploymentRecord, ObjectHit};
use crate::ostree::repo::{InodeIndex, Repo, RepoMode};
use crate::ostree::sysroot::{self, SysrootStatus};
use crate::packages::{self, CommitTree, PackageInfo, PackageTable, RootTree};
use crate::proc::procfs::dev_split;
use crate::progress::Progress;
use crate::report::{Origin, OriginKind, Warning};
use crate::Result;

/// One commit's answers: tree path → package (None: the commit's table does not list it).
type PathPackages = HashMap<Vec<u8>, Option<PackageInfo>>;

/// What attribution draws on, read once per scan (or kept by a `Scanner`): the sysroot, the
/// repo, the catalog and the deployments.
pub struct Knowledge {
    /// The sysroot's deployments and what could not be read of it.
    pub status: SysrootStatus,
    /// The sysroot's repo, when it has one.
    pub repo: Option<Repo>,
    /// The catalog, where commits seen by earlier scans are kept.
    pub catalog: Catalog,
    /// The current deployments, as attribution needs them.
    pub deployments: Vec<DeploymentRef>,
    /// The repo's inode index, built on the first question about an inode on the repo's
    /// device (`object_of`): a host whose processes map nothing there (composefs serves its
    /// files from an overlay device; a plain host has no repo) never pays for reading every
    /// `objects/XX` directory. None inside: it could not be built (`index_error`).
    index: OnceCell<Option<InodeIndex>>,
    /// (major, minor) of the repo's objects directory, for matching maps entries; None
    /// without a repo whose objects can be mapped (no repo, or an archive one).
    index_dev: Option<(u32, u32)>,
    /// Why the index could not be built, said by every scan that goes without it.
    index_error: RefCell<Option<String>>,
    /// This scan built the index (for the scanner's counters).
    index_built: std::cell::Cell<bool>,
    /// Where building the index says so (a person at a terminal waits for it).
    progress: Progress,
    hits: RefCell<HashMap<String, Vec<ObjectHit>>>,
    /// What opening the catalog said (read-only, unavailable): said again by every scan
    /// that reuses this catalog (see `scanner.rs`).
    catalog_warnings: Vec<Warning>,
    /// Packages by commit and tree path, as the catalog answered (once per file).
    packages: RefCell<HashMap<String, PathPackages>>,
    /// The host root's package database, parsed on first need and kept while it is
    /// unchanged (see `host_packages`).
    host_root: PathBuf,
    /// This scan's copy of the host's table, once asked for.
    host_packages: OnceCell<PackageTable>,
    /// The table as the last read left it, for later scans of this knowledge.
    host_kept: RefCell<Option<HostPackages>>,
    /// Composefs images read by earlier scans (`composefs/cache.rs`).
    pub images: crate::composefs::cache::ImageCache,
    /// Container stores, their configuration and image package tables read by earlier
    /// scans (`containers/store.rs`), each kept while its files are unchanged.
    pub containers: crate::containers::store::StoreCache,
    /// This scan read the host's database (rather than keeping the table).
    host_read: std::cell::Cell<bool>,
}

/// The host's package table as one read left it: the owners of the paths wanted then,
/// and the fingerprint of the database files it was read from.
struct HostPackages {
    fingerprint: Vec<u8>,
    wanted: std::collections::HashSet<Vec<u8>>,
    table: PackageTable,
    /// Read from the database itself and not yet recorded in the catalog.
    unrecorded: bool,
}

/// Parts of an earlier `Knowledge` that a reload may keep because nothing they were built
/// from changed (`scanner.rs` decides that). Empty: load everything.
#[derive(Default)]
pub struct Reused {
    /// An open catalog and the warnings opening it gave.
    pub catalog: Option<(Catalog, Vec<Warning>)>,
    /// The repo's inode index.
    pub index: Option<InodeIndex>,
    /// Composefs images read so far (each entry holds while its file is unchanged).
    pub images: crate::composefs::cache::ImageCache,
    /// Container stores and image package tables read so far (each holds while its
    /// files are unchanged).
    pub containers: crate::containers::store::StoreCache,
}

impl Knowledge {
    /// Read the sysroot, open the repo, record every deployed commit in the catalog and
    /// index the repo's objects. Damage anywhere below the sysroot becomes a warning.
    pub fn load(
        sysroot_path: &Path,
        run_dir: &Path,
        host_root: &Path,
        catalog_path: Option<&Path>,
        progress: Progress,
        warnings: &mut Vec<Warning>,
    ) -> Result<Knowledge> {
        Knowledge::load_reusing(
            sysroot_path,
            run_dir,
            host_root,
            catalog_path,
            Reused::default(),
            progress,
            warnings,
        )
    }

    /// `load`, keeping the parts of an earlier load that `reused` carries.
    pub fn load_reusing(
        sysroot_path: &Path,
        run_dir: &Path,
        host_root: &Path,
        catalog_path: Option<&Path>,
        reused: Reused,
        progress: Progress,
        warnings: &mut Vec<Warning>,
    ) -> Result<Knowledge> {
        let repo_dir = sysroot_path.join("ostree/repo");
        let repo = if repo_dir.is_dir() {
            match Repo::open(&repo_dir) {
                Ok(r) => Some(r),
                Err(e) => {
                    warnings.push(Warning::new("repo-unreadable", e.to_string(), None));
                    None
                }
            }
        } else {
            None
        };
        let versions: RefCell<HashMap<String, Option<String>>> = RefCell::new(HashMap::new());
        let version_of = |c: &str| -> Option<String> {
            let repo = repo.as_ref()?;
            versions
                .borrow_mut()
                .entry(c.to_string())
                .or_insert_with(|| repo.read_commit(c).ok().and_then(|ci| ci.version))
                .clone()
        };
        let status = sysroot::read_sysroot(sysroot_path, run_dir, host_root, &version_of)?;
        warnings.extend(
            status
                .warnings
                .iter()
                .map(|w| Warning::new(&w.code, w.message.clone(), None)),
        );

        if repo.is_none() && !repo_dir.is_dir() && !status.deployments.is_empty() {
            warnings.push(Warning::new(
                "repo-unreadable",
                format!(
                    "{}: no repository, so deployments cannot be traced to their commits' files",
                    repo_dir.display()
                ),
                None,
            ));
        }
        let (catalog, catalog_warnings) = match reused.catalog {
            Some(c) => c,
            None => {
                let mut said = Vec::new();
                (open_catalog(catalog_path, &mut said)?, said)
            }
        };
        warnings.extend(catalog_warnings.iter().cloned());
        let mut k = Knowledge {
            deployments: status
                .deployments
                .iter()
                .map(|d| DeploymentRef {
                    id: d.id(),
                    commit: d.checksum.clone(),
                    dir_dev: d.dir_dev,
                    dir_ino: d.dir_ino,
                })
                .collect(),
            status,
            repo,
            catalog,
            index: OnceCell::new(),
            index_dev: None,
            index_error: RefCell::new(None),
            index_built: std::cell::Cell::new(false),
            progress,
            hits: RefCell::new(HashMap::new()),
            catalog_warnings,
            packages: RefCell::new(HashMap::new()),
            host_root: host_root.to_path_buf(),
            host_packages: OnceCell::new(),
            host_kept: RefCell::new(None),
            images: reused.images,
            containers: reused.containers,
            host_read: std::cell::Cell::new(false),
        };
        k.record(progress, warnings);
        // An index is only worth keeping for the same repo in a bare mode (see index_device).
        k.index_dev = k.index_device(warnings);
        if let Some(index) = reused
            .index
            .filter(|i| Some(dev_split(i.dev)) == k.index_dev)
        {
            let _ = k.index.set(Some(index));
        }
        progress.done();
        Ok(k)
    }

    /// Record each deployed commit (with its whole file table) and each deployment.
    fn record(&mut self, progress: Progress, warnings: &mut Vec<Warning>) {
        let Some(repo) = &self.repo else { return };
        if self.catalog.is_read_only() {
            return;
        }
        for d in &self.status.deployments {
            if self.catalog.has_commit(&d.checksum).unwrap_or(false) {
                let _ = self.catalog.touch_commit(&d.checksum);
                // Recorded once, so its file table is known; but a deployment whose commit
                // (or its root tree) has since vanished from the repo or been damaged is
                // damage to report, whatever the catalog remembers. Two small objects, each
                // verified against its checksum; the whole tree is walked only when recorded.
                let root = repo
                    .read_commit(&d.checksum)
                    .and_then(|c| repo.read_dirtree(&c.root_tree));
                if let Err(e) = root {
                    warnings.push(Warning::new(
                        "commit-unreadable",
                        format!("commit {} of deployment {}: {e}", d.checksum, d.id()),
                        None,
                    ));
                } else if self.catalog.has_packages(&d.checksum).unwrap_or(true) {
                    // Damage seen when its table was recorded still makes it partial.
                    let said = self
                        .catalog
                        .package_warnings(&d.checksum)
                        .unwrap_or_default();
                    warnings.extend(
                        said.into_iter()
                            .map(|w| Warning::new("package-db", w, None)),
                    );
                } else {
                    // A commit recorded by a livetree that did not read package databases
                    // yet: its table is read now.
                    match repo.walk_tree(&d.checksum) {
                        Ok(tree) => {
                            let files: Vec<CatalogFile> =
                                tree.files.into_iter().map(CatalogFile::from).collect();
                            record_packages(&mut self.catalog, repo, &d.checksum, &files, warnings);
                        }
                        Err(e) => {
                            warnings.push(Warning::new("commit-unreadable", e.to_string(), None))
                        }
                    }
                }
            } else if let Err(e) = record_commit(
                &mut self.catalog,
                repo,
                &d.checksum,
                &d.osname,
                d.refspec.as_deref(),
                progress,
                warnings,
            ) {
                warnings.push(Warning::new("commit-unreadable", e.to_string(), None));
            }
            let rec = DeploymentRecord {
                id: d.id(),
                osname: d.osname.clone(),
                commit: d.checksum.clone(),
                dir_dev: d.dir_dev,
                dir_ino: d.dir_ino,
                path: d.path.clone(),
            };
            if let Err(e) = self.catalog.record_deployment(&rec) {
                warnings.push(Warning::new("catalog-write", e.to_string(), None));
            }
        }
        // Commits the repo's refs name but no deployment holds yet: a live update applies
        // files of such a newer commit through an overlay, and only a recorded commit can
        // be named as the source of an overlaid file.
        let refs = repo.list_refs().unwrap_or_default();
        for (refspec, checksum) in refs {
            if self.catalog.has_commit(&checksum).unwrap_or(true) {
                continue;
            }
            let osname = self
                .status
                .deployments
                .iter()
                .find(|d| d.refspec.as_deref() == Some(refspec.as_str()))
                .map(|d| d.osname.clone())
                .unwrap_or_default();
            // A ref to a commit whose tree is partial (a commit-only pull) is not damage; a
            // ref to a commit object that is missing or damaged is.
            if let Err(e) = repo.read_commit(&checksum) {
                warnings.push(Warning::new(
                    "commit-unreadable",
                    format!("ref {refspec} names commit {checksum}: {e}"),
                    None,
                ));
                continue;
            }
            let _ = record_commit(
                &mut self.catalog,
                repo,
                &checksum,
                &osname,
                Some(&refspec),
                progress,
                warnings,
            );
        }
    }

    /// The device of the repo's objects directory, when its objects can be mapped: only
    /// bare modes keep deployment files as hard links of objects; an archive repo's objects
    /// are compressed and never mapped, so attribution there goes by checksum.
    fn index_device(&self, warnings: &mut Vec<Warning>) -> Option<(u32, u32)> {
        let repo = self.repo.as_ref()?;
        if matches!(repo.mode(), RepoMode::Archive) {
            return None;
        }
        let objects = repo.path().join("objects");
        match std::fs::metadata(&objects) {
            Ok(m) => Some(dev_split(m.dev())),
            Err(e) => {
                warnings.push(Warning::new(
                    "repo-index",
                    crate::Error::from_io(&objects, e).to_string(),
                    None,
                ));
                None
            }
        }
    }

    /// The index, built now if this is the first question about it.
    fn index(&self) -> Option<&InodeIndex> {
        self.index
            .get_or_init(|| {
                let repo = self.repo.as_ref()?;
                self.index_built.set(true);
                self.progress.say(&format!(
                    "indexing the objects of {}",
                    repo.path().display()
                ));
                let built = repo.inode_index();
                self.progress.done();
                match built {
                    Ok(index) => Some(index),
                    Err(e) => {
                        *self.index_error.borrow_mut() = Some(e.to_string());
                        None
                    }
                }
            })
            .as_ref()
    }

    /// Why building the index failed, if it did: every later scan of this knowledge goes
    /// without the index, so each says so (a `repo-index` warning), as a load warning is.
    pub fn index_error(&self) -> Option<String> {
        self.index_error.borrow().clone()
    }

    /// Whether the index was built since the last call (for the scanner's counters).
    pub fn take_index_built(&self) -> bool {
        self.index_built.replace(false)
    }

    /// Give back the catalog and/or the index for a reload that keeps them.
    pub fn into_reused(self, keep_catalog: bool, keep_index: bool) -> Reused {
        Reused {
            catalog: keep_catalog.then_some((self.catalog, self.catalog_warnings)),
            index: if keep_index {
                self.index.into_inner().flatten()
            } else {
                None
            },
            // Keyed by each image file's stamp: valid whatever else changed.
            images: self.images,
            containers: self.containers,
        }
    }

    /// Forget the catalog lookups cached so far: the catalog changed under them.
    pub fn forget_lookups(&self) {
        self.hits.borrow_mut().clear();
    }

    /// The repo's mode, for the report (None without a repo).
    pub fn repo_mode(&self) -> Option<String> {
        self.repo.as_ref().map(|r| r.mode().as_str().to_string())
    }

    /// Whether the repo is bare-user: files are then checksummed with their `user.ostreemeta`.
    pub fn bare_user(&self) -> bool {
        matches!(
            self.repo.as_ref().map(|r| r.mode()),
            Some(RepoMode::BareUser) | Some(RepoMode::BareUserOnly)
        )
    }

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
    pub fn package_at(&self, commit: &str, tree_path: &[u8]) -> Result<Option<PackageInfo>> {
        if let Some(hit) = self
            .packages
            .borrow()
            .get(commit)
            .and_then(|m| m.get(tree_path))
        {
            return Ok(hit.clone());
        }
        let found = self.catalog.package_at(commit, tree_path)?;
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
    pub fn host_packages(&self, wanted: &std::collections::HashSet<Vec<u8>>) -> &PackageTable {
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

/// Read a commit's file table from the repo and record it in the catalog. A commit that
/// cannot be read is the caller's to judge (damage, or a partial pull); a catalog that
/// refuses the write is a warning.
fn record_commit(
    catalog: &mut Catalog,
    repo: &Repo,
    checksum: &str,
    osname: &str,
    refspec: Option<&str>,
    progress: Progress,
    warnings: &mut Vec<Warning>,
) -> Result<()> {
    progress.say(&format!(
        "reading commit {}…",
        &checksum[..checksum.len().min(10)]
    ));
    let rec = commit_record(repo, checksum, osname, refspec)?;
    progress.say(&format!(
        "recording commit {}… ({}): {} files",
        &checksum[..checksum.len().min(10)],
        rec.version.as_deref().unwrap_or("no version"),
        rec.files.len()
    ));
    if let Err(e) = catalog.record_commit(&rec) {
        warnings.push(Warning::new("catalog-write", e.to_string(), None));
        return Ok(());
    }
    record_packages(catalog, repo, checksum, &rec.files, warnings);
    Ok(())
}

/// Read a commit's package database from its repo objects and record its path → package
/// table, once per commit: later scans, and scans after the commit is pruned, ask the
/// catalog. A damaged database is recorded as far as it reads, with warnings.
fn record_packages(
    catalog: &mut Catalog,
    repo: &Repo,
    checksum: &str,
    files: &[CatalogFile],
    warnings: &mut Vec<Warning>,
) {
    let tree = CommitTree::new(repo, checksum, files);
    // Only paths that are files of this commit: not the directories every list names, nor
    // files a package listed but the image builder removed. A commit's table is then no
    // bigger than its file list.
    let in_commit: std::collections::HashSet<Vec<u8>> = files
        .iter()
        .map(|f| packages::canonical_path(&f.path).into_owned())
        .collect();
    let table = packages::read_table_for(&tree, Some(&in_commit));
    warnings.extend(
        table
            .warnings
            .iter()
            .map(|w| Warning::new("package-db", w.clone(), None)),
    );
    if let Err(e) = catalog.record_packages(checksum, &table) {
        warnings.push(Warning::new("catalog-write", e.to_string(), None));
    }
}

/// Read a commit and its file table from the repo, in the catalog's shape.
pub fn commit_record(
    repo: &Repo,
    checksum: &str,
    osname: &str,
    refspec: Option<&str>,
) -> Result<CommitRecord> {
    let info = repo.read_commit(checksum)?;
    let tree = repo.walk_tree(checksum)?;
    let files = tree.files.into_iter().map(CatalogFile::from).collect();
    Ok(CommitRecord {
        checksum: checksum.to_string(),
        version: info.version,
        subject: Some(info.subject),
        timestamp: info.timestamp,
        parent: info.parent,
        osname: Some(osname.to_string()),
        refspec: refspec.map(str::to_string),
        files,
    })
}

/// The catalog at `path`; read-only when it may not be written (an ordinary user, a
/// read-only `/var`), so that lookups still work and nothing is written; else an in-memory
/// one for this scan. Both fallbacks are warnings. A scan never creates the state
/// directory (the CLI creates the default one; a mistyped one must not appear). A damaged
/// catalog is an error: scanning on without it would silently forget history.
fn open_catalog(path: Option<&Path>, warnings: &mut Vec<Warning>) -> Result<Catalog> {
    let Some(path) = path else {
        return Catalog::memory();
    };
    let unavailable = |warnings: &mut Vec<Warning>, why: String| {
        warnings.push(Warning::new(
            "catalog-unavailable",
            format!(
                "{why}; scanning without the catalog, so files of deleted trees cannot be traced \
                 and nothing seen now is recorded"
            ),
            None,
        ));
        Catalog::memory()
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        match std::fs::metadata(dir) {
            Ok(md) if md.is_dir() => {}
            Ok(_) => return unavailable(warnings, format!("{}: not a directory", dir.display())),
            Err(e) => return unavailable(warnings, crate::Error::from_io(dir, e).to_string()),
        }
    }
    match Catalog::open(path) {
        Ok(c) => Ok(c),
        Err(e) if is_unwritable(&e) => match Catalog::open_read_only(path) {
            Ok(c) => {
                warnings.push(Warning::new(
                    "catalog-read-only",
                    format!(
                        "{}: the catalog is read-only to this user; it is used for lookups, \
                         and what this scan sees is not recorded",
                        path.display()
                    ),
                    None,
                ));
                Ok(c)
            }
            // A damaged file is refused, as when it is writable; anything else (another
            // schema version it may not migrate, a file it may not read) is a warning.
            Err(e) if e.to_string().contains("damaged") => Err(e),
            Err(e) => unavailable(warnings, e.to_string()),
        },
        Err(e) => Err(e),
    }
}

/// Whether opening the catalog for writing failed for want of permission (as opposed to
/// damage, which must not be papered over).
fn is_unwritable(e: &crate::Error) -> bool {
    match e {
        crate::Error::PermissionDenied(_) | crate::Error::NotFound(_) | crate::Error::Io { .. } => {
            true
        }
        crate::Error::Catalog { .. } => {
            let text = e.to_string();
            text.contains("readonly")
                || text.contains("unable to open")
                || text.contains("permission")
                || text.contains("cannot switch the catalog to WAL")
        }
        crate::Error::Corrupt { .. } => false,
    }
}
