//! What an OSTree object says about the file or directory it stands for: the metadata that
//! content checksums hash (`FileMeta`), a decoded dirmeta (`DirMeta`), a commit tree's
//! (path, object) pair as the catalog keeps it (`CatalogFile`) and where the catalog found an
//! object (`ObjectHit`).
//!
//! These types live apart from `repo` (which reads objects) and `checksum` (which hashes
//! them) because both need them: with them in either one, the two modules imported each
//! other. `CatalogFile` and `ObjectHit` are here for the same reason: `packages` and `overlay`
//! use them, and `catalog` imports `packages` and `composefs` (which uses `overlay`).
//! `repo`, `checksum` and `catalog` re-export them under their old paths.
use crate::error::ParseError;
use crate::ostree::gvariant::{self, types, Type, Value, Xattrs};

/// The file-type bits of `st_mode` and the types ostree stores.
pub(crate) const S_IFMT: u32 = 0o170000;
pub(crate) const S_IFREG: u32 = 0o100000;
pub(crate) const S_IFLNK: u32 = 0o120000;
pub(crate) const S_IFDIR: u32 = 0o040000;

/// The metadata ostree hashes for a content object.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileMeta {
    /// The owner's user id as committed (not the repo user's on a bare-user repo).
    pub uid: u32,
    /// The owner's group id as committed.
    pub gid: u32,
    /// Full `st_mode`, file type bits included.
    pub mode: u32,
    /// Ostree always writes 0 here (it does not store device nodes); kept for completeness.
    pub rdev: u32,
    /// The target for symlinks, `None` for regular files.
    pub symlink_target: Option<Vec<u8>>,
    /// (name, value); names without a trailing NUL. Order does not matter: they are sorted
    /// before hashing.
    pub xattrs: Xattrs,
}

impl FileMeta {
    /// Whether the object is a symlink (its content is then the target, not bytes).
    pub fn is_symlink(&self) -> bool {
        self.mode & S_IFMT == S_IFLNK
    }
    /// Whether the object is a regular file, whose bytes are hashed after the header.
    pub fn is_regular(&self) -> bool {
        self.mode & S_IFMT == S_IFREG
    }
}

/// A dirmeta object (uid, gid, mode big-endian on disk; decoded here).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DirMeta {
    /// The directory owner's user id.
    pub uid: u32,
    /// The directory owner's group id.
    pub gid: u32,
    /// Full `st_mode` of the directory, type bits included.
    pub mode: u32,
    /// The directory's xattrs, (name, value).
    pub xattrs: Xattrs,
}

/// One file of a commit's tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogFile {
    /// The path inside the tree, as bytes (it need not be UTF-8), e.g. `/usr/bin/bash`.
    pub path: Vec<u8>,
    /// The ostree content checksum of the file object (64 lowercase hex digits).
    pub object: String,
    /// The entry is a symlink, not a regular file: its object is the link target.
    pub is_symlink: bool,
}

/// Where a file object was found: one (commit, path) pair per hit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectHit {
    /// The commit whose tree holds the object.
    pub commit: String,
    /// That commit's `version` metadata, when it has one.
    pub version: Option<String>,
    /// The path of the object in that commit's tree.
    pub path: Vec<u8>,
    /// The commit's own timestamp (seconds since the epoch), to prefer the newest hit.
    pub timestamp: u64,
    /// The entry is a symlink in that commit.
    pub is_symlink: bool,
}

pub(crate) fn known_type(s: &str) -> std::result::Result<Type, ParseError> {
    Type::parse(s)
}

pub(crate) fn field<'a>(
    v: &'a [Value],
    i: usize,
    what: &str,
) -> std::result::Result<&'a Value, ParseError> {
    v.get(i)
        .ok_or_else(|| ParseError(format!("missing field {i} ({what})")))
}

/// Decode `(uuua(ayay))`: a dirmeta object, or a bare-user `user.ostreemeta` xattr.
pub fn parse_dirmeta(bytes: &[u8]) -> std::result::Result<DirMeta, ParseError> {
    let v = gvariant::parse(&known_type(types::DIRMETA)?, bytes)?;
    let c = v
        .children()
        .ok_or_else(|| ParseError("dirmeta is not a tuple".into()))?;
    let u = |i: usize, what: &str| -> std::result::Result<u32, ParseError> {
        field(c, i, what)?
            .as_u32_be()
            .ok_or_else(|| ParseError(format!("{what} is not a u32")))
    };
    Ok(DirMeta {
        uid: u(0, "uid")?,
        gid: u(1, "gid")?,
        mode: u(2, "mode")?,
        xattrs: gvariant::parse_xattrs(field(c, 3, "xattrs")?)?,
    })
}
