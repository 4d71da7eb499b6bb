//! The files of a tree, for reading its package database: a directory on disk (the host
//! root) or an OSTree commit read through its repo objects, so a commit's database is read
//! without a checkout and even when no deployment of it exists.
use std::collections::HashMap;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::ostree::object::CatalogFile;
use crate::ostree::repo::{parse_filez_header, ObjectKind, Repo, RepoMode};
use crate::{Error, Result};

/// Package databases are small; a "status" of hundreds of megabytes is not one.
const MAX_DB_FILE: u64 = 512 << 20;

/// Read access to a tree by relative path (`var/lib/dpkg/status`, no leading slash).
pub trait TreeReader {
    /// How warnings name the tree: a directory, or `commit CHECKSUM`.
    fn describe(&self) -> String;
    /// A regular file's bytes; `None` when there is no such file.
    fn read(&self, path: &str) -> Result<Option<Vec<u8>>>;
    /// Whether a file or directory exists at `path`.
    fn exists(&self, path: &str) -> bool;
    /// The names in a directory (empty when it does not exist).
    fn list(&self, dir: &str) -> Result<Vec<Vec<u8>>>;
    /// A path on disk holding exactly this file's bytes, for readers (SQLite) that need
    /// one; `None` when the file is only stored compressed.
    fn local_path(&self, path: &str) -> Option<PathBuf>;
    /// Whether files sit beside each other as in the tree (a directory on disk), so that
    /// SQLite finds a database's `-wal` next to it. Repo objects are stored by checksum.
    fn is_directory(&self) -> bool {
        false
    }
}

/// A directory tree on disk, such as the host's `/`.
pub struct RootTree {
    /// The tree's root directory.
    pub root: PathBuf,
}

impl TreeReader for RootTree {
    fn describe(&self) -> String {
        self.root
            .display()
            .to_string()
            .trim_end_matches('/')
            .to_string()
    }

    fn read(&self, path: &str) -> Result<Option<Vec<u8>>> {
        let full = self.root.join(path);
        let size = match std::fs::metadata(&full) {
            Ok(m) if m.is_file() => m.len(),
            Ok(_) => return Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::from_io(&full, e)),
        };
        let f = std::fs::File::open(&full).map_err(|e| Error::from_io(&full, e))?;
        // Room for the whole file (its size a hint only): two reads, not one per doubling.
        let mut bytes = Vec::with_capacity(size.min(MAX_DB_FILE) as usize);
        f.take(MAX_DB_FILE)
            .read_to_end(&mut bytes)
            .map_err(|e| Error::from_io(&full, e))?;
        Ok(Some(bytes))
    }

    fn exists(&self, path: &str) -> bool {
        self.root.join(path).is_file()
    }

    fn list(&self, dir: &str) -> Result<Vec<Vec<u8>>> {
        let full = self.root.join(dir);
        let rd = match std::fs::read_dir(&full) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::from_io(&full, e)),
        };
        Ok(rd
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().as_bytes().to_vec())
            .collect())
    }

    fn local_path(&self, path: &str) -> Option<PathBuf> {
        let p = self.root.join(path);
        p.is_file().then_some(p)
    }

    fn is_directory(&self) -> bool {
        true
    }
}

/// An OSTree commit: its file table (tree path → object) and the repo holding the objects.
pub struct CommitTree<'a> {
    repo: &'a Repo,
    checksum: String,
    files: HashMap<Vec<u8>, String>,
}

impl<'a> CommitTree<'a> {
    /// Only the files below the package database directories are kept: a commit has
    /// 100k files and this runs once per commit, for a few hundred of them.
    pub fn new(repo: &'a Repo, checksum: &str, files: &[CatalogFile]) -> CommitTree<'a> {
        let dirs: Vec<Vec<u8>> = super::DPKG_DIRS
            .iter()
            .chain(super::RPM_DIRS)
            .map(|d| format!("/{d}/").into_bytes())
            .collect();
        CommitTree {
            repo,
            checksum: checksum.to_string(),
            files: files
                .iter()
                .filter(|f| dirs.iter().any(|d| f.path.starts_with(d)))
                .map(|f| (f.path.clone(), f.object.clone()))
                .collect(),
        }
    }

    fn object(&self, path: &str) -> Option<&String> {
        let mut key = Vec::with_capacity(path.len() + 1);
        key.push(b'/');
        key.extend_from_slice(path.as_bytes());
        self.files.get(&key)
    }
}

impl TreeReader for CommitTree<'_> {
    fn describe(&self) -> String {
        format!("commit {}", &self.checksum[..self.checksum.len().min(12)])
    }

    fn read(&self, path: &str) -> Result<Option<Vec<u8>>> {
        let Some(object) = self.object(path) else {
            return Ok(None);
        };
        let file = self.repo.object_path(object, ObjectKind::File);
        let md = std::fs::symlink_metadata(&file).map_err(|e| Error::from_io(&file, e))?;
        if md.len() > MAX_DB_FILE {
            return Err(Error::corrupt(
                &file,
                "too large for a package database file",
            ));
        }
        if md.file_type().is_symlink() {
            return Ok(None);
        }
        let bytes = std::fs::read(&file).map_err(|e| Error::from_io(&file, e))?;
        if self.repo.mode() != RepoMode::Archive {
            return Ok(Some(bytes));
        }
        inflate_filez(&file, &bytes).map(Some)
    }

    fn exists(&self, path: &str) -> bool {
        self.object(path).is_some()
    }

    fn list(&self, dir: &str) -> Result<Vec<Vec<u8>>> {
        let mut prefix = Vec::with_capacity(dir.len() + 2);
        prefix.push(b'/');
        prefix.extend_from_slice(dir.as_bytes());
        prefix.push(b'/');
        Ok(self
            .files
            .keys()
            .filter_map(|p| p.strip_prefix(&prefix[..]))
            .filter(|rest| !rest.contains(&b'/'))
            .map(<[u8]>::to_vec)
            .collect())
    }

    fn local_path(&self, path: &str) -> Option<PathBuf> {
        // Bare modes store a regular file's bytes as they are; archive compresses them.
        if self.repo.mode() == RepoMode::Archive {
            return None;
        }
        self.object(path)
            .map(|o| self.repo.object_path(o, ObjectKind::File))
    }
}

/// The content of an archive-mode `.filez` object.
fn inflate_filez(path: &Path, bytes: &[u8]) -> Result<Vec<u8>> {
    let (meta, size, start) = parse_filez_header(bytes).map_err(|e| Error::corrupt(path, e.0))?;
    if meta.symlink_target.is_some() || size > MAX_DB_FILE {
        return Err(Error::corrupt(path, "not a package database file"));
    }
    let mut out = Vec::with_capacity(size as usize);
    flate2::read::DeflateDecoder::new(&bytes[start..])
        .take(MAX_DB_FILE)
        .read_to_end(&mut out)
        .map_err(|e| Error::from_io(path, e))?;
    Ok(out)
}
