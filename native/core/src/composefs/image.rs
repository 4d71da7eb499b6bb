//! A composefs image as attribution uses it: path -> (inode number, size, object).
//!
//! ostree writes every non-empty regular file of a deployment as a metacopy inode whose
//! `trusted.overlay.redirect` is `/XX/YYYY….file`, the object in the repo's `objects/`
//! directory (the overlay's data-only layer) that its bytes are read from. A redirect of
//! any other shape would make overlayfs read some other file: it is not an object, so it is
//! never attributed, and the image is reported.
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::erofs::{self, Kind};
use crate::{Error, Result};

/// One path of an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageFile {
    /// The EROFS nid: what `st_ino` and /proc/PID/maps show through the mount (below any
    /// xino bits overlayfs adds).
    pub ino: u64,
    /// The file's size as the image records it.
    pub size: u64,
    /// The path is a directory.
    pub is_dir: bool,
    /// The object the redirect names (regular files with content).
    pub object: Option<String>,
}

/// Every path of one image.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageIndex {
    /// Every path of the image (absolute, `/` included) and what it is.
    pub files: HashMap<Vec<u8>, ImageFile>,
    /// The root directory's nid, which a process whose root is the mount shows.
    pub root_ino: u64,
    /// (path, redirect) of files whose redirect is not an object path: ignored.
    pub bad_redirects: Vec<(Vec<u8>, Vec<u8>)>,
}

/// A recorded image, without its entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComposefsImageInfo {
    /// The deployment (OSNAME/CHECKSUM.SERIAL) whose image it is.
    pub deployment_id: String,
    /// The commit the deployment was checked out from.
    pub commit: String,
    /// Where the image was (`DEPLOYMENT.ostree.cfs` beside the deployment directory).
    pub image: PathBuf,
    /// The image root's nid, to recognise a process root served by it.
    pub root_ino: u64,
}

/// Where images seen by earlier scans are kept (the catalog): so that a process still
/// running from an image whose deployment was pruned traces to its commit.
pub trait ImageStore {
    /// Whether the deployment's image is already recorded (then it is not read again).
    fn has_composefs_image(&self, deployment_id: &str) -> Result<bool>;
    /// Record a deployment's image with all its entries; an image already recorded is kept.
    fn record_composefs_image(
        &mut self,
        info: &ComposefsImageInfo,
        index: &ImageIndex,
    ) -> Result<()>;
    /// Every recorded image, newest first.
    fn composefs_images(&self) -> Result<Vec<ComposefsImageInfo>>;
    /// The recorded entries of a deployment's image.
    fn composefs_entries(&self, deployment_id: &str) -> Result<ImageIndex>;
}

/// The object checksum a redirect names, if it has exactly the shape ostree writes:
/// `/XX/` + 62 hex digits + `.file` (lowercase). Anything else (`..`, another directory,
/// a short name) is refused.
pub fn object_of_redirect(value: &[u8]) -> Option<String> {
    let rest = value.strip_prefix(b"/")?;
    let (dir, rest) = (rest.get(..2)?, rest.get(2..)?);
    let name = rest.strip_prefix(b"/")?.strip_suffix(b".file")?;
    let hex = |b: &[u8]| b.iter().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'));
    if name.len() != 62 || !hex(dir) || !hex(name) {
        return None;
    }
    let mut s = String::with_capacity(64);
    s.push_str(std::str::from_utf8(dir).ok()?);
    s.push_str(std::str::from_utf8(name).ok()?);
    Some(s)
}

impl ImageIndex {
    /// Index an image from its bytes.
    pub fn from_bytes(bytes: &[u8]) -> std::result::Result<ImageIndex, crate::ParseError> {
        let entries = erofs::walk(bytes)?;
        let mut out = ImageIndex {
            root_ino: entries.first().map(|e| e.ino).unwrap_or(0),
            ..ImageIndex::default()
        };
        out.files.reserve(entries.len());
        for e in entries {
            let object = match &e.redirect {
                Some(r) => {
                    let o = object_of_redirect(r);
                    if o.is_none() {
                        out.bad_redirects.push((e.path.clone(), r.clone()));
                    }
                    o
                }
                None => None,
            };
            out.files.insert(
                e.path,
                ImageFile {
                    ino: e.ino,
                    size: e.size,
                    is_dir: e.kind == Kind::Dir,
                    object,
                },
            );
        }
        Ok(out)
    }

    /// Read and index the image file (or loop device) at `path`. Damage is `Error::Corrupt`
    /// naming it.
    pub fn read(path: &Path) -> Result<ImageIndex> {
        let bytes = read_image_bytes(path)?;
        ImageIndex::from_bytes(&bytes).map_err(|e| Error::corrupt(path, e.0))
    }

    /// What the image holds at `path` (absolute), if anything.
    pub fn get(&self, path: &[u8]) -> Option<&ImageFile> {
        self.files.get(path)
    }
}

/// Images are metadata only (file bytes live in the repo): ostree's for a whole Fedora
/// CoreOS tree are a few MiB. Anything past this is refused rather than read into memory.
pub const MAX_IMAGE_BYTES: u64 = 512 << 20;

/// The bytes of an image file or of the block device holding one, at most
/// `MAX_IMAGE_BYTES`.
pub fn read_image_bytes(path: &Path) -> Result<Vec<u8>> {
    use std::io::Read;
    use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
    // Not through a symlink, and never blocking on a FIFO planted in its place: only a
    // regular file or a block device (a loop device) is read.
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| Error::from_io(path, e))?;
    let ft = f
        .metadata()
        .map_err(|e| Error::from_io(path, e))?
        .file_type();
    if !ft.is_file() && !ft.is_block_device() {
        return Err(Error::corrupt(path, "not a regular file"));
    }
    let mut bytes = Vec::new();
    f.take(MAX_IMAGE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::from_io(path, e))?;
    if bytes.len() as u64 > MAX_IMAGE_BYTES {
        return Err(Error::corrupt(
            path,
            format!(
                "larger than {} MiB: not a composefs image",
                MAX_IMAGE_BYTES >> 20
            ),
        ));
    }
    Ok(bytes)
}

/// overlayfs with `xino` puts the layer's number in the high bits of inode numbers; the
/// image's nids are far below them. 32 bits hold any nid of an image below 128 GiB.
pub const INO_MASK: u64 = (1 << 32) - 1;

/// Whether an inode number shown through an overlay is the image's `nid` (xino bits aside).
pub fn same_ino(shown: u64, nid: u64) -> bool {
    shown & INO_MASK == nid & INO_MASK
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirects() {
        let sum = "ab".to_string() + &"c".repeat(62);
        let good = format!("/ab/{}.file", "c".repeat(62));
        assert_eq!(object_of_redirect(good.as_bytes()), Some(sum));
        for bad in [
            "/ab/../../../etc/passwd".to_string(),
            format!("/AB/{}.file", "c".repeat(62)),
            format!("ab/{}.file", "c".repeat(62)),
            format!("/ab/{}.file", "c".repeat(61)),
            format!("/ab/{}.dirtree", "c".repeat(62)),
            format!("/ab/x/{}.file", "c".repeat(60)),
            String::new(),
        ] {
            assert_eq!(object_of_redirect(bad.as_bytes()), None, "{bad}");
        }
    }

    #[test]
    fn xino_bits_are_masked() {
        assert!(same_ino(107 | (1 << 63), 107));
        assert!(same_ino(107 | (3 << 61), 107));
        assert!(!same_ino(108, 107));
    }
}
