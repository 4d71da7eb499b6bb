//! A read-only EROFS reader over bytes, for the images composefs mounts (`.ostree.cfs`).
//!
//! Only what attribution needs: the directory tree, each inode's number (the kernel uses
//! the nid, an inode's 32-byte slot from the metadata start, as `st_ino`), type, size and
//! xattrs (`trusted.overlay.redirect` names the object a metacopy file reads from). Regular
//! file data is never read: composefs files are holes whose bytes live in the repo.
//!
//! Every offset comes from untrusted bytes, so every read is bounds-checked and the walk
//! visits each directory once: a truncated or crafted image gives a `ParseError`, never a
//! panic or a loop. Layout: linux `fs/erofs/erofs_fs.h`.
use std::collections::HashSet;

use crate::ParseError;

const SUPER_OFFSET: usize = 1024;
const MAGIC: u32 = 0xE0F5_E1E2;
const SLOT: u64 = 32;

/// Data layouts (bits 1..3 of `i_format`).
const FLAT_PLAIN: u16 = 0;
const FLAT_INLINE: u16 = 2;
const CHUNK_BASED: u16 = 4;

const S_IFMT: u16 = 0o170000;
const S_IFDIR: u16 = 0o040000;
const S_IFREG: u16 = 0o100000;
const S_IFLNK: u16 = 0o120000;

/// The xattr name index of `trusted.`.
const XATTR_TRUSTED: u8 = 4;

/// Bounds for hostile images: a directory larger than this, or more entries overall, is
/// not an image any ostree commit produces.
const MAX_DIR_BYTES: u64 = 64 << 20;
const MAX_ENTRIES: usize = 4_000_000;
const MAX_DEPTH: usize = 256;

fn err(msg: impl Into<String>) -> ParseError {
    ParseError(msg.into())
}

fn le16(b: &[u8], at: usize) -> Result<u16, ParseError> {
    b.get(at..at + 2)
        .map(|s| u16::from_le_bytes([s[0], s[1]]))
        .ok_or_else(|| err(format!("truncated at byte {at}")))
}

fn le32(b: &[u8], at: usize) -> Result<u32, ParseError> {
    b.get(at..at + 4)
        .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
        .ok_or_else(|| err(format!("truncated at byte {at}")))
}

fn le64(b: &[u8], at: usize) -> Result<u64, ParseError> {
    b.get(at..at + 8)
        .map(|s| u64::from_le_bytes(s.try_into().unwrap_or([0; 8])))
        .ok_or_else(|| err(format!("truncated at byte {at}")))
}

fn slice(b: &[u8], at: u64, len: u64) -> Result<&[u8], ParseError> {
    let end = at.checked_add(len).ok_or_else(|| err("offset overflow"))?;
    let (at, end) = (
        usize::try_from(at).map_err(|_| err("offset overflow"))?,
        usize::try_from(end).map_err(|_| err("offset overflow"))?,
    );
    b.get(at..end)
        .ok_or_else(|| err(format!("bytes {at}..{end} beyond the image ({})", b.len())))
}

/// The superblock fields the reader uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Super {
    /// Bytes per block (2^blkszbits, 512 to 64 KiB).
    pub block_size: u64,
    /// The root directory's nid.
    pub root_nid: u64,
    /// Where nids count from: byte offset of the metadata area.
    pub meta_start: u64,
    /// Byte offset of the shared xattr area, which inodes' shared xattrs index into.
    pub xattr_start: u64,
}

/// Read the superblock at 1024 bytes, refusing an image that is not EROFS or whose block size
/// is out of range.
pub fn parse_super(b: &[u8]) -> Result<Super, ParseError> {
    let s = SUPER_OFFSET;
    if le32(b, s)? != MAGIC {
        return Err(err("not an EROFS image (bad magic)"));
    }
    let bits = *b
        .get(s + 12)
        .ok_or_else(|| err(format!("truncated at byte {}", s + 12)))?;
    if !(9..=16).contains(&bits) {
        return Err(err(format!("block size 2^{bits} out of range")));
    }
    let block_size = 1u64 << bits;
    Ok(Super {
        block_size,
        root_nid: u64::from(le16(b, s + 14)?),
        meta_start: u64::from(le32(b, s + 40)?) * block_size,
        xattr_start: u64::from(le32(b, s + 44)?) * block_size,
    })
}

/// The kind of an inode, from its mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A directory, whose entries are walked.
    Dir,
    /// A regular file: what processes map.
    File,
    /// A symbolic link.
    Symlink,
    /// A device, FIFO or socket: listed, never attributed.
    Other,
}

/// One inode as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inode {
    /// The inode's nid, which the kernel shows as its inode number through the mount.
    pub nid: u64,
    /// What the inode is, from its mode.
    pub kind: Kind,
    /// The inode's `st_mode`, type bits included.
    pub mode: u16,
    /// The file's size as the inode records it.
    pub size: u64,
    layout: u16,
    raw_blkaddr: u32,
    /// Byte offset of the inline xattr area and its length.
    xattr_at: u64,
    xattr_len: u64,
}

/// An image over its bytes.
pub struct Image<'a> {
    bytes: &'a [u8],
    /// The superblock, read once when the image is opened.
    pub sb: Super,
}

impl<'a> Image<'a> {
    /// Open an image over its bytes, reading the superblock.
    pub fn new(bytes: &'a [u8]) -> Result<Image<'a>, ParseError> {
        Ok(Image {
            sb: parse_super(bytes)?,
            bytes,
        })
    }

    /// Read the inode at `nid`, checking it lies inside the image.
    pub fn inode(&self, nid: u64) -> Result<Inode, ParseError> {
        let at = nid
            .checked_mul(SLOT)
            .and_then(|o| o.checked_add(self.sb.meta_start))
            .ok_or_else(|| err(format!("nid {nid} out of range")))?;
        let head = slice(self.bytes, at, 32).map_err(|e| err(format!("inode {nid}: {e}")))?;
        let format = le16(head, 0)?;
        let extended = format & 1 == 1;
        let layout = (format >> 1) & 7;
        let icount = u64::from(le16(head, 2)?);
        let mode = le16(head, 4)?;
        let (size, core) = if extended {
            let full = slice(self.bytes, at, 64).map_err(|e| err(format!("inode {nid}: {e}")))?;
            (le64(full, 8)?, 64)
        } else {
            (u64::from(le32(head, 8)?), 32)
        };
        let kind = match mode & S_IFMT {
            S_IFDIR => Kind::Dir,
            S_IFREG => Kind::File,
            S_IFLNK => Kind::Symlink,
            _ => Kind::Other,
        };
        // The xattr area: a 12-byte header, then 4 bytes per further count unit.
        let xattr_len = if icount == 0 {
            0
        } else {
            12 + (icount - 1) * 4
        };
        Ok(Inode {
            nid,
            kind,
            mode,
            size,
            layout,
            raw_blkaddr: le32(head, 16)?,
            xattr_at: at + core,
            xattr_len,
        })
    }

    /// The data of a directory or symlink (flat layouts only; what mkfs.erofs and
    /// composefs write for them).
    pub fn data(&self, ino: &Inode) -> Result<Vec<u8>, ParseError> {
        if ino.size > MAX_DIR_BYTES {
            return Err(err(format!("inode {}: {} bytes", ino.nid, ino.size)));
        }
        let bs = self.sb.block_size;
        let size = ino.size;
        match ino.layout {
            FLAT_PLAIN => Ok(slice(self.bytes, u64::from(ino.raw_blkaddr) * bs, size)?.to_vec()),
            FLAT_INLINE => {
                // Whole blocks at raw_blkaddr, the last (partial) block inline right after
                // the inode and its xattrs.
                let nblocks = size.div_ceil(bs);
                let head_len = nblocks.saturating_sub(1) * bs;
                let mut out = Vec::with_capacity(size as usize);
                if head_len > 0 {
                    out.extend_from_slice(slice(
                        self.bytes,
                        u64::from(ino.raw_blkaddr) * bs,
                        head_len,
                    )?);
                }
                let tail = slice(self.bytes, ino.xattr_at + ino.xattr_len, size - head_len)?;
                out.extend_from_slice(tail);
                Ok(out)
            }
            CHUNK_BASED => Err(err(format!(
                "inode {}: chunk-based layout for a directory or symlink",
                ino.nid
            ))),
            other => Err(err(format!(
                "inode {}: data layout {other} not supported (compressed)",
                ino.nid
            ))),
        }
    }

    /// The `trusted.` xattr `name` of an inode (inline or shared), if present.
    pub fn trusted_xattr(&self, ino: &Inode, name: &[u8]) -> Result<Option<Vec<u8>>, ParseError> {
        if ino.xattr_len == 0 {
            return Ok(None);
        }
        let area = slice(self.bytes, ino.xattr_at, ino.xattr_len)?;
        let shared = usize::from(*area.get(4).ok_or_else(|| err("xattr header"))?);
        let mut at = 12usize;
        for _ in 0..shared {
            let id = u64::from(le32(area, at)?);
            at += 4;
            let off = self.sb.xattr_start + id * 4;
            let head = slice(self.bytes, off, 4)?;
            if let Some(v) = self.match_entry(head, off, name)? {
                return Ok(Some(v));
            }
        }
        while at + 4 <= area.len() {
            let head = &area[at..at + 4];
            let len = 4 + usize::from(head[0]) + usize::from(le16(head, 2)?);
            if let Some(v) = self.match_entry(head, ino.xattr_at + at as u64, name)? {
                return Ok(Some(v));
            }
            at += len.div_ceil(4) * 4;
        }
        Ok(None)
    }

    /// The value of the xattr entry at `off` (its 4-byte head given) if it is `trusted.NAME`.
    fn match_entry(
        &self,
        head: &[u8],
        off: u64,
        name: &[u8],
    ) -> Result<Option<Vec<u8>>, ParseError> {
        let (name_len, index, value_len) = (head[0], head[1], le16(head, 2)?);
        if index != XATTR_TRUSTED || usize::from(name_len) != name.len() {
            return Ok(None);
        }
        let body = slice(
            self.bytes,
            off + 4,
            u64::from(name_len) + u64::from(value_len),
        )?;
        if &body[..name.len()] != name {
            return Ok(None);
        }
        Ok(Some(body[name.len()..].to_vec()))
    }

    /// The entries of a directory: (name, nid), without `.` and `..`.
    pub fn read_dir(&self, dir: &Inode) -> Result<Vec<(Vec<u8>, u64)>, ParseError> {
        let data = self.data(dir)?;
        let bs = self.sb.block_size as usize;
        let mut out = Vec::new();
        for block in data.chunks(bs) {
            let first_nameoff = usize::from(le16(block, 8)?);
            if first_nameoff < 12 || first_nameoff % 12 != 0 || first_nameoff > block.len() {
                return Err(err(format!("directory {}: bad first name offset", dir.nid)));
            }
            let count = first_nameoff / 12;
            for i in 0..count {
                let nid = le64(block, i * 12)?;
                let start = usize::from(le16(block, i * 12 + 8)?);
                let end = if i + 1 < count {
                    usize::from(le16(block, (i + 1) * 12 + 8)?)
                } else {
                    block.len()
                };
                let raw = block
                    .get(start..end)
                    .filter(|_| start <= end)
                    .ok_or_else(|| err(format!("directory {}: bad name offset", dir.nid)))?;
                // The last name of a block is padded with NULs to the block's end.
                let name = raw.split(|b| *b == 0).next().unwrap_or(raw);
                if name.is_empty() || name.contains(&b'/') {
                    return Err(err(format!("directory {}: invalid name", dir.nid)));
                }
                if name != b"." && name != b".." {
                    out.push((name.to_vec(), nid));
                }
            }
        }
        Ok(out)
    }
}

/// One path of an image as attribution needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Absolute path inside the image (`/usr/bin/sleep`).
    pub path: Vec<u8>,
    /// The nid: the inode number the kernel shows for it.
    pub ino: u64,
    /// What the entry is.
    pub kind: Kind,
    /// The file size the image records.
    pub size: u64,
    /// `trusted.overlay.redirect` as stored (regular files only).
    pub redirect: Option<Vec<u8>>,
}

/// Every entry of the image, directories first-visited order (root first). Each directory
/// is entered once: a directory reachable twice (a crafted image) is an error.
pub fn walk(bytes: &[u8]) -> Result<Vec<Entry>, ParseError> {
    let img = Image::new(bytes)?;
    let root = img.inode(img.sb.root_nid)?;
    if root.kind != Kind::Dir {
        return Err(err("root inode is not a directory"));
    }
    let mut out = vec![Entry {
        path: b"/".to_vec(),
        ino: root.nid,
        kind: Kind::Dir,
        size: root.size,
        redirect: None,
    }];
    let mut seen = HashSet::from([root.nid]);
    let mut stack = vec![(Vec::new(), root, 0usize)];
    while let Some((prefix, dir, depth)) = stack.pop() {
        if depth > MAX_DEPTH {
            return Err(err("directories nested too deep"));
        }
        for (name, nid) in img.read_dir(&dir)? {
            let ino = img.inode(nid)?;
            let mut path = prefix.clone();
            path.push(b'/');
            path.extend_from_slice(&name);
            let redirect = if ino.kind == Kind::File {
                img.trusted_xattr(&ino, b"overlay.redirect")?
            } else {
                None
            };
            out.push(Entry {
                path: path.clone(),
                ino: nid,
                kind: ino.kind,
                size: ino.size,
                redirect,
            });
            if out.len() > MAX_ENTRIES {
                return Err(err("too many entries"));
            }
            if ino.kind == Kind::Dir {
                if !seen.insert(nid) {
                    return Err(err(format!("directory inode {nid} reached twice")));
                }
                stack.push((path, ino, depth + 1));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_garbage_without_panicking() {
        assert!(walk(b"").is_err());
        assert!(walk(&[0u8; 4096]).is_err());
        let mut b = vec![0u8; 2048];
        b[1024..1028].copy_from_slice(&MAGIC.to_le_bytes());
        b[1024 + 12] = 12;
        // Root nid 0 lies at byte 0: zeros, a mode of 0, not a directory.
        assert!(walk(&b).is_err());
        b[1024 + 12] = 40;
        assert!(walk(&b).is_err());
    }

    #[test]
    fn an_image_cut_inside_the_superblock_is_an_error() {
        // Found by the erofs fuzz target: the magic, then the image ends before the block
        // size byte (1036) — it was read by index and panicked.
        let mut b = vec![0u8; 1031];
        b[1024..1028].copy_from_slice(&MAGIC.to_le_bytes());
        let e = parse_super(&b).unwrap_err();
        assert_eq!(e.0, "truncated at byte 1036");
        assert!(walk(&b).is_err());
    }
}
