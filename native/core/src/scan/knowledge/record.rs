//! What the knowledge writes to the catalog while loading: each deployed commit with its
//! file and package tables, each deployment; and opening the catalog itself.
use std::path::Path;

use super::Knowledge;
use crate::catalog::{Catalog, CatalogFile, CommitRecord, DeploymentRecord};
use crate::ostree::repo::Repo;
use crate::packages::{self, CommitTree};
use crate::progress::Progress;
use crate::report::Warning;
use crate::Result;

impl Knowledge {
    /// Record each deployed commit (with its whole file table) and each deployment.
    pub(super) fn record(&mut self, progress: Progress, warnings: &mut Vec<Warning>) {
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
    let in_commit: crate::fast_hash::FastSet<Vec<u8>> = files
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
pub(super) fn open_catalog(path: Option<&Path>, warnings: &mut Vec<Warning>) -> Result<Catalog> {
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
