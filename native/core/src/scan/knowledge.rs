//! What a scan knows about trees before it looks at any process: the sysroot's
//! deployments, the repo (its mode and the inode index of its objects) and the catalog
//! of every commit ever seen. Origins are resolved here, once per (dev, ino).
use std::cell::{OnceCell, RefCell};
use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::attribute::DeploymentRef;
use crate::catalog::{Catalog, ObjectHit};
use crate::ostree::repo::{InodeIndex, Repo, RepoMode};
use crate::ostree::sysroot::{self, SysrootStatus};
use crate::packages::{PackageInfo, PackageTable};
use crate::proc::procfs::dev_split;
use crate::progress::Progress;
use crate::report::Warning;
use crate::Result;

mod lookup;
mod record;
pub use record::commit_record;
use record::open_catalog;

/// One commit's answers: tree path → package (None: the commit's table does not list it).
type PathPackages = HashMap<Vec<u8>, Option<Arc<PackageInfo>>>;

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
    /// What comparing the contents of the deployments' `etc` and `usr/etc` entries said
    /// (`deployments[].etc`), by their stamps: a kept scanner reads them again only once
    /// one of the two changed (`config/etc_diff.rs`).
    pub etc_verdicts: crate::config::etc_diff::Verdicts,
    /// This scan read the host's database (rather than keeping the table).
    host_read: std::cell::Cell<bool>,
}

/// The host's package table as one read left it: the owners of the paths wanted then,
/// and the fingerprint of the database files it was read from.
struct HostPackages {
    fingerprint: Vec<u8>,
    wanted: crate::fast_hash::FastSet<Vec<u8>>,
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
    /// The `etc` comparisons' verdicts (each holds while its two entries are unchanged).
    pub etc_verdicts: crate::config::etc_diff::Verdicts,
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
            etc_verdicts: reused.etc_verdicts,
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
            etc_verdicts: self.etc_verdicts,
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
}
