//! An OSTree repository, read-only: its mode, refs, commits, dirtrees, dirmeta, content
//! objects, and an index from (device, inode) to content object.
//!
//! The object parsers (`parse_commit`, `parse_dirtree`, `parse_dirmeta`) take bytes; the
//! `Repo` methods do the I/O and attach the object's path to every error. Metadata
//! objects are content-addressed by the SHA-256 of their bytes, so every read verifies it:
//! a truncated or bit-flipped object is reported as `Error::Corrupt` naming its path.
use std::fs;
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirEntryExt, MetadataExt};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::ostree::checksum;
use crate::ostree::keyfile;
pub use crate::ostree::object::{parse_dirmeta, DirMeta, FileMeta};

mod parse;
mod tree;
pub use parse::{
    is_checksum, parse_commit, parse_dirtree, parse_filez_header, CommitInfo, DirTree,
};
pub use tree::{InoHasher, InodeIndex, Tree, TreeDir, TreeFile};

/// Ostree refuses metadata objects larger than this (OSTREE_MAX_METADATA_SIZE); so do we,
/// rather than reading an arbitrarily large file into memory.
const MAX_METADATA_SIZE: u64 = 128 * 1024 * 1024;

/// How the repository stores content objects (`[core] mode` in `config`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RepoMode {
    /// Objects are the files themselves, with real uid/gid/mode/xattrs; deployments
    /// hard-link them.
    Bare,
    /// Objects are files owned by the repo's user; the real metadata is in the
    /// `user.ostreemeta` xattr, symlinks are regular files holding the target.
    BareUser,
    /// Like bare-user, but no metadata is kept: uid/gid are 0, no xattrs.
    BareUserOnly,
    /// Bare, with xattrs in separate objects.
    BareSplitXattrs,
    /// Compressed `.filez` objects (also spelled `archive-z2`).
    Archive,
}

impl RepoMode {
    /// The name ostree's `config` and the status document use for this mode.
    pub fn as_str(&self) -> &'static str {
        match self {
            RepoMode::Bare => "bare",
            RepoMode::BareUser => "bare-user",
            RepoMode::BareUserOnly => "bare-user-only",
            RepoMode::BareSplitXattrs => "bare-split-xattrs",
            RepoMode::Archive => "archive",
        }
    }

    /// Parse ostree's mode names; `archive-z2` is the historical name of `archive`.
    pub fn from_name(s: &str) -> Option<RepoMode> {
        Some(match s {
            "bare" => RepoMode::Bare,
            "bare-user" => RepoMode::BareUser,
            "bare-user-only" => RepoMode::BareUserOnly,
            "bare-split-xattrs" => RepoMode::BareSplitXattrs,
            "archive" | "archive-z2" => RepoMode::Archive,
            _ => return None,
        })
    }
}

/// Object types, named by their file extension in `objects/XX/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ObjectKind {
    /// A content object (`.file`, or `.filez` in an archive repo).
    File,
    /// A directory listing (`.dirtree`).
    DirTree,
    /// A directory's owner, mode and xattrs (`.dirmeta`).
    DirMeta,
    /// A commit (`.commit`).
    Commit,
    /// A commit's detached metadata, such as signatures (`.commitmeta`).
    CommitMeta,
    /// The marker left for a commit that was deleted (`.commit-tombstone`).
    TombstoneCommit,
    /// The xattrs of a bare-split-xattrs content object (`.file-xattrs`).
    FileXattrs,
    /// The link from a bare-split-xattrs object to its xattrs (`.file-xattrs-link`).
    FileXattrsLink,
}

impl ObjectKind {
    /// The file name extension the object has in `objects/XX/`.
    pub fn extension(&self) -> &'static str {
        match self {
            ObjectKind::File => "file",
            ObjectKind::DirTree => "dirtree",
            ObjectKind::DirMeta => "dirmeta",
            ObjectKind::Commit => "commit",
            ObjectKind::CommitMeta => "commitmeta",
            ObjectKind::TombstoneCommit => "tombstone-commit",
            ObjectKind::FileXattrs => "file-xattrs",
            ObjectKind::FileXattrsLink => "file-xattrs-link",
        }
    }

    fn is_meta(&self) -> bool {
        !matches!(
            self,
            ObjectKind::File | ObjectKind::FileXattrs | ObjectKind::FileXattrsLink
        )
    }
}

/// A read-only handle on a repository.
#[derive(Debug, Clone)]
pub struct Repo {
    path: PathBuf,
    mode: RepoMode,
}

impl Repo {
    /// Open the repository at `path`: read `config` and its `[core] mode` (ostree's default
    /// when absent is `bare`). A config that does not parse, or names an unknown mode,
    /// is `Error::Corrupt` naming the config file.
    pub fn open(path: &Path) -> Result<Repo> {
        let config = path.join("config");
        let bytes = fs::read(&config).map_err(|e| Error::from_io(&config, e))?;
        let kf = keyfile::parse(&bytes).map_err(|e| Error::corrupt(&config, e.0))?;
        if !kf.groups.iter().any(|(g, _)| g == "core") {
            return Err(Error::corrupt(&config, "no [core] group"));
        }
        let mode_name = kf.get("core", "mode").unwrap_or("bare");
        let mode = RepoMode::from_name(mode_name)
            .ok_or_else(|| Error::corrupt(&config, format!("unknown repo mode {mode_name:?}")))?;
        let objects = path.join("objects");
        match fs::metadata(&objects) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => return Err(Error::corrupt(&objects, "not a directory")),
            Err(e) => return Err(Error::from_io(&objects, e)),
        }
        Ok(Repo {
            path: path.to_path_buf(),
            mode,
        })
    }

    /// The repo's directory (`SYSROOT/ostree/repo`).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The repo's mode, from its `config`: it decides how deployment files relate to objects.
    pub fn mode(&self) -> RepoMode {
        self.mode
    }

    /// Where an object lives: `objects/XX/REST.EXT`; archive content objects end in `.filez`.
    /// The checksum is not validated here; the readers below do that.
    pub fn object_path(&self, checksum: &str, kind: ObjectKind) -> PathBuf {
        let (head, rest) = if checksum.len() > 2 && checksum.is_char_boundary(2) {
            checksum.split_at(2)
        } else {
            (checksum, "")
        };
        let z = if kind == ObjectKind::File && self.mode == RepoMode::Archive {
            "z"
        } else {
            ""
        };
        self.path
            .join("objects")
            .join(head)
            .join(format!("{rest}.{}{z}", kind.extension()))
    }

    fn checked_path(&self, checksum: &str, kind: ObjectKind) -> Result<PathBuf> {
        if !is_checksum(checksum) {
            return Err(Error::corrupt(
                &self.path,
                format!("invalid checksum {checksum:?}"),
            ));
        }
        Ok(self.object_path(checksum, kind))
    }

    /// Read a metadata object and verify that its bytes hash to its name.
    pub fn read_metadata_object(
        &self,
        checksum: &str,
        kind: ObjectKind,
    ) -> Result<(PathBuf, Vec<u8>)> {
        let path = self.checked_path(checksum, kind)?;
        if !kind.is_meta() {
            return Err(Error::corrupt(&path, "not a metadata object"));
        }
        let f = fs::File::open(&path).map_err(|e| Error::from_io(&path, e))?;
        let mut bytes = Vec::new();
        f.take(MAX_METADATA_SIZE + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| Error::from_io(&path, e))?;
        if bytes.len() as u64 > MAX_METADATA_SIZE {
            return Err(Error::corrupt(&path, "metadata object too large"));
        }
        // Detached commit metadata is not content-addressed by its own bytes.
        if kind != ObjectKind::CommitMeta {
            let actual = checksum::sha256_hex(&bytes);
            if actual != checksum {
                return Err(Error::corrupt(
                    &path,
                    format!("checksum mismatch: object hashes to {actual}"),
                ));
            }
        }
        Ok((path, bytes))
    }

    /// Read and decode a commit object, checking its checksum.
    pub fn read_commit(&self, checksum: &str) -> Result<CommitInfo> {
        let (path, bytes) = self.read_metadata_object(checksum, ObjectKind::Commit)?;
        parse_commit(checksum, &bytes).map_err(|e| Error::corrupt(&path, e.0))
    }

    /// Read and decode a dirtree object, checking its checksum.
    pub fn read_dirtree(&self, checksum: &str) -> Result<DirTree> {
        let (path, bytes) = self.read_metadata_object(checksum, ObjectKind::DirTree)?;
        parse_dirtree(&bytes).map_err(|e| Error::corrupt(&path, e.0))
    }

    /// Read and decode a dirmeta object, checking its checksum.
    pub fn read_dirmeta(&self, checksum: &str) -> Result<DirMeta> {
        let (path, bytes) = self.read_metadata_object(checksum, ObjectKind::DirMeta)?;
        parse_dirmeta(&bytes).map_err(|e| Error::corrupt(&path, e.0))
    }

    /// Resolve a ref (`name` in refs/heads, or `remote:name` in refs/remotes) or a full
    /// checksum to a commit checksum.
    pub fn resolve_ref(&self, refspec: &str) -> Result<String> {
        if is_checksum(refspec) {
            return Ok(refspec.to_string());
        }
        let rel = match refspec.split_once(':') {
            Some((remote, name)) => Path::new("refs/remotes").join(remote).join(name),
            None => Path::new("refs/heads").join(refspec),
        };
        if refspec.split([':', '/']).any(|c| c == ".." || c == ".") {
            return Err(Error::NotFound(self.path.join(rel)));
        }
        let path = self.path.join(rel);
        read_ref_file(&path)
    }

    /// All refs: `refs/heads/**` by name, `refs/remotes/REMOTE/**` as `REMOTE:name`,
    /// sorted by name.
    pub fn list_refs(&self) -> Result<Vec<(String, String)>> {
        let mut out = Vec::new();
        collect_refs(&self.path.join("refs/heads"), "", &mut out)?;
        let remotes = self.path.join("refs/remotes");
        match fs::read_dir(&remotes) {
            Ok(rd) => {
                for e in rd {
                    let e = e.map_err(|e| Error::from_io(&remotes, e))?;
                    let name = e.file_name().to_string_lossy().into_owned();
                    if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                        collect_refs(&e.path(), &format!("{name}:"), &mut out)?;
                    }
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::from_io(&remotes, e)),
        }
        out.sort();
        Ok(out)
    }

    /// Checksums of all loose objects of one kind, sorted.
    pub fn list_objects(&self, kind: ObjectKind) -> Result<Vec<String>> {
        let suffix = if kind == ObjectKind::File && self.mode == RepoMode::Archive {
            ".filez".to_string()
        } else {
            format!(".{}", kind.extension())
        };
        let mut out = Vec::new();
        self.for_each_object(&suffix, |checksum, _| out.push(checksum))?;
        out.sort();
        Ok(out)
    }

    /// Checksums of every commit object in the repository, sorted.
    pub fn list_commits(&self) -> Result<Vec<String>> {
        self.list_objects(ObjectKind::Commit)
    }

    /// Visit `objects/XX/REST<suffix>` entries with their full checksum and d_ino.
    fn for_each_object(&self, suffix: &str, mut f: impl FnMut(String, u64)) -> Result<()> {
        self.for_each_object_name(suffix, |head, rest, ino| {
            let mut checksum = String::with_capacity(64);
            checksum.push_str(&String::from_utf8_lossy(head));
            checksum.push_str(&String::from_utf8_lossy(rest));
            if is_checksum(&checksum) {
                f(checksum, ino);
            }
        })
    }

    /// Every object whose name ends in `suffix`: the two-character directory, the other 62
    /// characters of the name (not yet checked to be hex) and the entry's inode number.
    fn for_each_object_name(
        &self,
        suffix: &str,
        mut f: impl FnMut(&[u8], &[u8], u64),
    ) -> Result<()> {
        let objects = self.path.join("objects");
        let rd = fs::read_dir(&objects).map_err(|e| Error::from_io(&objects, e))?;
        for sub in rd {
            let sub = sub.map_err(|e| Error::from_io(&objects, e))?;
            let head = sub.file_name();
            let head = head.as_bytes();
            if head.len() != 2 || !head.iter().all(|b| b.is_ascii_hexdigit()) {
                continue;
            }
            let dir = sub.path();
            let entries = match fs::read_dir(&dir) {
                Ok(e) => e,
                // `objects/XX` is expected to be a directory; anything else is not ours.
                Err(e) if e.raw_os_error() == Some(libc::ENOTDIR) => continue,
                Err(e) => return Err(Error::from_io(&dir, e)),
            };
            for e in entries {
                let e = e.map_err(|e| Error::from_io(&dir, e))?;
                let name = e.file_name();
                let Some(rest) = name.as_bytes().strip_suffix(suffix.as_bytes()) else {
                    continue;
                };
                if rest.len() != 62 {
                    continue;
                }
                f(head, rest, e.ino());
            }
        }
        Ok(())
    }

    /// The metadata ostree hashed for a content object, read the way this repo mode
    /// stores it.
    pub fn file_object_meta(&self, checksum: &str) -> Result<FileMeta> {
        let path = self.checked_path(checksum, ObjectKind::File)?;
        match self.mode {
            RepoMode::Archive => {
                let bytes = read_filez_head(&path)?;
                parse_filez_header(&bytes)
                    .map(|(m, _, _)| m)
                    .map_err(|e| Error::corrupt(&path, e.0))
            }
            RepoMode::BareUser => {
                let raw = checksum::path_xattr(&path, "user.ostreemeta")
                    .map_err(|e| Error::from_io(&path, e))?
                    .ok_or_else(|| Error::corrupt(&path, "no user.ostreemeta xattr"))?;
                let m = parse_dirmeta(&raw).map_err(|e| Error::corrupt(&path, e.0))?;
                let symlink_target = if m.mode & 0o170000 == 0o120000 {
                    // Bare-user stores a symlink as a regular file holding its target,
                    // NUL-terminated; ostree reads it as a C string.
                    let mut t = fs::read(&path).map_err(|e| Error::from_io(&path, e))?;
                    if let Some(nul) = t.iter().position(|b| *b == 0) {
                        t.truncate(nul);
                    }
                    Some(t)
                } else {
                    None
                };
                Ok(FileMeta {
                    uid: m.uid,
                    gid: m.gid,
                    mode: m.mode,
                    rdev: 0,
                    symlink_target,
                    xattrs: m.xattrs,
                })
            }
            RepoMode::Bare | RepoMode::BareUserOnly | RepoMode::BareSplitXattrs => {
                let md = fs::symlink_metadata(&path).map_err(|e| Error::from_io(&path, e))?;
                let symlink_target = if md.file_type().is_symlink() {
                    let t = fs::read_link(&path).map_err(|e| Error::from_io(&path, e))?;
                    Some(t.as_os_str().as_bytes().to_vec())
                } else {
                    None
                };
                // Bare-user-only keeps no ownership or xattrs: ostree hashes uid/gid 0.
                let (uid, gid, xattrs) = match self.mode {
                    RepoMode::Bare => (
                        md.uid(),
                        md.gid(),
                        checksum::path_xattrs(&path).map_err(|e| Error::from_io(&path, e))?,
                    ),
                    RepoMode::BareUserOnly => (0, 0, Vec::new()),
                    // Split xattrs live in separate objects, which this reader does not follow.
                    _ => (md.uid(), md.gid(), Vec::new()),
                };
                Ok(FileMeta {
                    uid,
                    gid,
                    mode: md.mode(),
                    rdev: 0,
                    symlink_target,
                    xattrs,
                })
            }
        }
    }

    /// Recompute a content object's checksum from what is stored (fsck for one object).
    pub fn file_object_checksum(&self, checksum: &str) -> Result<String> {
        let meta = self.file_object_meta(checksum)?;
        let path = self.object_path(checksum, ObjectKind::File);
        if meta.symlink_target.is_some() {
            return checksum::file_checksum(&meta, io::empty())
                .map_err(|e| Error::from_io(&path, e));
        }
        let f = fs::File::open(&path).map_err(|e| Error::from_io(&path, e))?;
        if self.mode == RepoMode::Archive {
            let mut reader = io::BufReader::new(f);
            let head = read_filez_head(&path)?;
            let (_, _, start) =
                parse_filez_header(&head).map_err(|e| Error::corrupt(&path, e.0))?;
            io::copy(&mut (&mut reader).take(start as u64), &mut io::sink())
                .map_err(|e| Error::from_io(&path, e))?;
            let inflated = flate2::read::DeflateDecoder::new(reader);
            checksum::file_checksum(&meta, inflated).map_err(|e| Error::from_io(&path, e))
        } else {
            checksum::file_checksum(&meta, f).map_err(|e| Error::from_io(&path, e))
        }
    }
}

/// Read just the size prefix and header of a `.filez` object.
fn read_filez_head(path: &Path) -> Result<Vec<u8>> {
    let mut f = fs::File::open(path).map_err(|e| Error::from_io(path, e))?;
    let mut prefix = [0u8; 8];
    f.read_exact(&mut prefix).map_err(|e| match e.kind() {
        io::ErrorKind::UnexpectedEof => Error::corrupt(path, "truncated file header"),
        _ => Error::from_io(path, e),
    })?;
    let len = u32::from_be_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]) as u64;
    if len > MAX_METADATA_SIZE {
        return Err(Error::corrupt(path, "file header too large"));
    }
    let mut head = prefix.to_vec();
    f.take(len)
        .read_to_end(&mut head)
        .map_err(|e| Error::from_io(path, e))?;
    Ok(head)
}

fn read_ref_file(path: &Path) -> Result<String> {
    let bytes = fs::read(path).map_err(|e| Error::from_io(path, e))?;
    let text = String::from_utf8_lossy(&bytes);
    let sum = text.trim();
    if !is_checksum(sum) {
        return Err(Error::corrupt(path, "ref does not hold a checksum"));
    }
    Ok(sum.to_string())
}

fn collect_refs(dir: &Path, prefix: &str, out: &mut Vec<(String, String)>) -> Result<()> {
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::from_io(dir, e)),
    };
    for e in rd {
        let e = e.map_err(|e| Error::from_io(dir, e))?;
        let name = format!("{prefix}{}", e.file_name().to_string_lossy());
        let path = e.path();
        let ft = e.file_type().map_err(|e| Error::from_io(&path, e))?;
        if ft.is_dir() {
            let sub_prefix = format!("{name}/");
            collect_refs(&path, &sub_prefix, out)?;
        } else if ft.is_symlink() && fs::metadata(&path).map(|m| m.is_dir()).unwrap_or(false) {
            // Only real directories are descended into, so a symlink loop cannot recurse.
            continue;
        } else {
            // Ref aliases are symlinks to other ref files; reading follows them.
            out.push((name, read_ref_file(&path)?));
        }
    }
    Ok(())
}

/// The 32 bytes of a checksum spelled as a two-character directory and 62 more lowercase
/// hex characters (as ostree names objects); None for anything else.
fn parse_hex_checksum(head: &[u8], rest: &[u8]) -> Option<[u8; 32]> {
    // Lowercase only: ostree names objects so. 0xff marks any other byte.
    const DIGIT: [u8; 256] = crate::hex::digit_table(false);
    if head.len() != 2 || rest.len() != 62 {
        return None;
    }
    let mut name = [0u8; 64];
    name[..2].copy_from_slice(head);
    name[2..].copy_from_slice(rest);
    let mut out = [0u8; 32];
    let mut bad = 0u8;
    for (i, byte) in out.iter_mut().enumerate() {
        let (hi, lo) = (DIGIT[name[2 * i] as usize], DIGIT[name[2 * i + 1] as usize]);
        bad |= (hi | lo) & 0xf0;
        *byte = (hi << 4) | (lo & 0x0f);
    }
    (bad == 0).then_some(out)
}

#[cfg(test)]
mod tests {
    //! Pure-parser tests on objects captured from a real repo by
    //! `fixtures/captured/repo/capture.sh`.
    use super::*;

    #[test]
    fn object_names_parse_to_their_checksum_bytes_and_nothing_else_does() {
        let sum = "0123456789abcdef".repeat(4);
        let got = parse_hex_checksum(&sum.as_bytes()[..2], &sum.as_bytes()[2..]).unwrap();
        assert_eq!(crate::ostree::checksum::to_hex(&got), sum);
        for bad in ["0123456789ABCDEF", "0123456789abcdeg", "0123456789abcde/"] {
            let name = bad.repeat(4);
            assert_eq!(
                parse_hex_checksum(&name.as_bytes()[..2], &name.as_bytes()[2..]),
                None,
                "{bad}"
            );
        }
        assert_eq!(parse_hex_checksum(b"01", b"23"), None);
    }
}
