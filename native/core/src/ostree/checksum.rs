//! OSTree content checksums, computed exactly as libostree does.
//!
//! A content ("file") object's checksum is SHA-256 over a length-prefixed file header
//! followed, for regular files only, by the file's bytes. The header is the GVariant
//! `(uuuusa(ayay))`: uid, gid, mode (each stored big-endian), rdev (always 0 in ostree),
//! the symlink target (empty for regular files) and the xattrs sorted by name. The prefix is
//! the header's length as a big-endian u32 plus four NUL bytes, so the header starts
//! 8-aligned (ostree's `variant_to_lenprefixed_buffer`). A directory's checksum is SHA-256
//! of its dirmeta variant `(uuua(ayay))`, with no prefix.
//!
//! This lets livetree recognise a file it can only read through an open descriptor (a
//! deleted library read via `/proc/PID/map_files/…`) as a specific repo object.
use std::ffi::CString;
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::ostree::gvariant::{self, types, Type, Value, Xattrs};
pub use crate::ostree::object::FileMeta;
use crate::ostree::object::{parse_dirmeta, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG};

/// Lowercase hex of a byte string (ostree's checksum notation).
pub fn to_hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(HEX[(b >> 4) as usize] as char);
        s.push(HEX[(b & 15) as usize] as char);
    }
    s
}

/// Ostree sorts xattrs by name with strcmp(); names hold no NUL, so byte order is the same.
fn sorted_xattrs(xattrs: &[(Vec<u8>, Vec<u8>)]) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut x = xattrs.to_vec();
    x.sort_by(|a, b| a.0.cmp(&b.0));
    x
}

/// The serialized file header `(uuuusa(ayay))`, without the length prefix.
pub fn file_header(meta: &FileMeta) -> Vec<u8> {
    let v = Value::Tuple(vec![
        Value::Uint32(meta.uid.swap_bytes()),
        Value::Uint32(meta.gid.swap_bytes()),
        Value::Uint32(meta.mode.swap_bytes()),
        Value::Uint32(meta.rdev.swap_bytes()),
        Value::Str(meta.symlink_target.clone().unwrap_or_default()),
        gvariant::xattrs_value(&sorted_xattrs(&meta.xattrs)),
    ]);
    serialize_known(types::FILE_HEADER, &v)
}

/// The serialized dirmeta `(uuua(ayay))` for a directory.
pub fn dirmeta(uid: u32, gid: u32, mode: u32, xattrs: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
    let v = Value::Tuple(vec![
        Value::Uint32(uid.swap_bytes()),
        Value::Uint32(gid.swap_bytes()),
        Value::Uint32(mode.swap_bytes()),
        gvariant::xattrs_value(&sorted_xattrs(xattrs)),
    ]);
    serialize_known(types::DIRMETA, &v)
}

fn serialize_known(type_string: &str, v: &Value) -> Vec<u8> {
    // Both the type strings and the value shapes are fixed in this file, so a failure here
    // is a programming error, caught by the unit tests; fall back to empty bytes
    // rather than panicking in production.
    Type::parse(type_string)
        .and_then(|t| gvariant::serialize(&t, v))
        .unwrap_or_default()
}

/// SHA-256 of the bytes, in hex: the checksum of any metadata object.
pub fn sha256_hex(bytes: &[u8]) -> String {
    to_hex(&Sha256::digest(bytes))
}

/// Checksum a content object from its metadata and its data. `content` is read to the
/// end for regular files and ignored for symlinks (ostree hashes only the header).
pub fn file_checksum(meta: &FileMeta, mut content: impl Read) -> io::Result<String> {
    let header = file_header(meta);
    let len = u32::try_from(header.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "file header too large"))?;
    let mut h = Sha256::new();
    h.update(len.to_be_bytes());
    h.update([0u8; 4]);
    h.update(&header);
    if meta.symlink_target.is_none() {
        let mut buf = vec![0u8; 128 * 1024];
        loop {
            match content.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => h.update(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }
    Ok(to_hex(&h.finalize()))
}

/// Reads a file from offset 0 with pread, leaving the descriptor's position alone.
struct PositionalReader<'a> {
    file: &'a File,
    pos: u64,
}

impl Read for PositionalReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.file.read_at(buf, self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

/// Where an open descriptor points, for error messages only.
fn fd_path(f: &File) -> PathBuf {
    let link = format!("/proc/self/fd/{}", f.as_raw_fd());
    std::fs::read_link(&link).unwrap_or_else(|_| PathBuf::from(link))
}

/// Checksum an open regular file, the way ostree would commit it: fstat for
/// uid/gid/mode, flistxattr/fgetxattr for xattrs, then its bytes from offset 0. Works on
/// `/proc/PID/map_files/…` descriptors of deleted files.
pub fn checksum_file(f: &File) -> Result<String> {
    let md = f.metadata().map_err(|e| Error::from_io(&fd_path(f), e))?;
    if md.mode() & S_IFMT != S_IFREG {
        return Err(Error::Io {
            path: fd_path(f),
            source: io::Error::new(io::ErrorKind::InvalidInput, "not a regular file"),
        });
    }
    let xattrs = fd_xattrs(f).map_err(|e| Error::from_io(&fd_path(f), e))?;
    let meta = FileMeta {
        uid: md.uid(),
        gid: md.gid(),
        mode: md.mode(),
        rdev: 0,
        symlink_target: None,
        xattrs,
    };
    file_checksum(&meta, PositionalReader { file: f, pos: 0 })
        .map_err(|e| Error::from_io(&fd_path(f), e))
}

/// Checksum an open bare-user repo object, or a hard link of one (a file of a bare-user
/// deployment): there the object's own owner, mode and xattrs are the repo user's, and the
/// committed uid/gid/mode/xattrs live in its `user.ostreemeta` xattr. Files without that
/// xattr are checksummed as `checksum_file` does.
pub fn checksum_bare_user_file(f: &File) -> Result<String> {
    let path = || fd_path(f);
    let raw = match get_value(
        &XattrTarget::Fd(f.as_raw_fd()),
        &CString::new("user.ostreemeta").unwrap_or_default(),
    ) {
        Ok(v) => v,
        Err(e) if is_no_xattr(&e) => return checksum_file(f),
        Err(e) => return Err(Error::from_io(&path(), e)),
    };
    let m = parse_dirmeta(&raw).map_err(|e| Error::corrupt(&path(), e.0))?;
    let mut meta = FileMeta {
        uid: m.uid,
        gid: m.gid,
        mode: m.mode,
        rdev: 0,
        symlink_target: None,
        xattrs: m.xattrs,
    };
    if meta.is_symlink() {
        // A bare-user symlink is a regular file holding the NUL-terminated target.
        let mut t = Vec::new();
        PositionalReader { file: f, pos: 0 }
            .take(libc::PATH_MAX as u64 + 1)
            .read_to_end(&mut t)
            .map_err(|e| Error::from_io(&path(), e))?;
        if let Some(nul) = t.iter().position(|b| *b == 0) {
            t.truncate(nul);
        }
        meta.symlink_target = Some(t);
    }
    file_checksum(&meta, PositionalReader { file: f, pos: 0 })
        .map_err(|e| Error::from_io(&path(), e))
}

/// Checksum a path without following a final symlink: a regular file or symlink gives its
/// content-object checksum, a directory its dirmeta checksum (as `ostree checksum` does).
pub fn checksum_path(path: &Path) -> Result<String> {
    let md = std::fs::symlink_metadata(path).map_err(|e| Error::from_io(path, e))?;
    let xattrs = path_xattrs(path).map_err(|e| Error::from_io(path, e))?;
    let mode = md.mode();
    match mode & S_IFMT {
        S_IFDIR => Ok(sha256_hex(&dirmeta(md.uid(), md.gid(), mode, &xattrs))),
        S_IFLNK => {
            let target = std::fs::read_link(path).map_err(|e| Error::from_io(path, e))?;
            let meta = FileMeta {
                uid: md.uid(),
                gid: md.gid(),
                mode,
                rdev: 0,
                symlink_target: Some(target.as_os_str().as_bytes().to_vec()),
                xattrs,
            };
            file_checksum(&meta, io::empty()).map_err(|e| Error::from_io(path, e))
        }
        S_IFREG => {
            let f = File::open(path).map_err(|e| Error::from_io(path, e))?;
            let meta = FileMeta {
                uid: md.uid(),
                gid: md.gid(),
                mode,
                rdev: 0,
                symlink_target: None,
                xattrs,
            };
            file_checksum(&meta, PositionalReader { file: &f, pos: 0 })
                .map_err(|e| Error::from_io(path, e))
        }
        _ => Err(Error::Io {
            path: path.to_path_buf(),
            source: io::Error::new(
                io::ErrorKind::InvalidInput,
                "ostree stores no such file type",
            ),
        }),
    }
}

/// The two ways to address a file for xattr calls.
enum XattrTarget<'a> {
    Fd(i32),
    /// Not following symlinks (l*xattr).
    Path(&'a CString),
}

fn cpath(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"))
}

/// Extended attributes of an open file, unsorted. A filesystem without xattr support
/// yields none.
pub fn fd_xattrs(f: &File) -> io::Result<Xattrs> {
    read_xattrs(XattrTarget::Fd(f.as_raw_fd()))
}

/// Extended attributes of a path (not following a final symlink), unsorted.
pub fn path_xattrs(path: &Path) -> io::Result<Xattrs> {
    let c = cpath(path)?;
    read_xattrs(XattrTarget::Path(&c))
}

/// One named xattr of a path (not following a final symlink); `None` if it is absent.
pub fn path_xattr(path: &Path, name: &str) -> io::Result<Option<Vec<u8>>> {
    let c = cpath(path)?;
    let n = CString::new(name)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "xattr name contains NUL"))?;
    match get_value(&XattrTarget::Path(&c), &n) {
        Ok(v) => Ok(Some(v)),
        Err(e) if is_no_xattr(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

fn is_no_xattr(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENODATA) | Some(libc::ENOTSUP))
}

fn list_names(t: &XattrTarget) -> io::Result<Vec<u8>> {
    // The list can grow between the size query and the read (ERANGE): retry a few times.
    for _ in 0..8 {
        let size = xattr_call(t, None, std::ptr::null_mut(), 0)?;
        let mut buf = vec![0u8; size];
        match xattr_call(t, None, buf.as_mut_ptr(), buf.len()) {
            Ok(n) => {
                buf.truncate(n);
                return Ok(buf);
            }
            Err(e) if e.raw_os_error() == Some(libc::ERANGE) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::from_raw_os_error(libc::ERANGE))
}

fn get_value(t: &XattrTarget, name: &CString) -> io::Result<Vec<u8>> {
    for _ in 0..8 {
        let size = xattr_call(t, Some(name), std::ptr::null_mut(), 0)?;
        let mut buf = vec![0u8; size];
        match xattr_call(t, Some(name), buf.as_mut_ptr(), buf.len()) {
            Ok(n) => {
                buf.truncate(n);
                return Ok(buf);
            }
            Err(e) if e.raw_os_error() == Some(libc::ERANGE) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::from_raw_os_error(libc::ERANGE))
}

/// listxattr (name = None) or getxattr (name = Some) on a descriptor or path.
fn xattr_call(
    t: &XattrTarget,
    name: Option<&CString>,
    buf: *mut u8,
    len: usize,
) -> io::Result<usize> {
    // SAFETY: `buf` is either null with `len` 0 (a size query) or points to a live
    // buffer of `len` bytes; the C strings are NUL-terminated and outlive the call.
    let r = unsafe {
        match (t, name) {
            (XattrTarget::Fd(fd), None) => libc::flistxattr(*fd, buf.cast(), len),
            (XattrTarget::Fd(fd), Some(n)) => libc::fgetxattr(*fd, n.as_ptr(), buf.cast(), len),
            (XattrTarget::Path(p), None) => libc::llistxattr(p.as_ptr(), buf.cast(), len),
            (XattrTarget::Path(p), Some(n)) => {
                libc::lgetxattr(p.as_ptr(), n.as_ptr(), buf.cast(), len)
            }
        }
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r as usize)
    }
}

fn read_xattrs(t: XattrTarget) -> io::Result<Xattrs> {
    let names = match list_names(&t) {
        Ok(n) => n,
        Err(e) if is_no_xattr(&e) => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for name in names.split(|b| *b == 0).filter(|n| !n.is_empty()) {
        let c = CString::new(name).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
        match get_value(&t, &c) {
            Ok(v) => out.push((name.to_vec(), v)),
            // Removed between list and get: it is no longer part of the file.
            Err(e) if e.raw_os_error() == Some(libc::ENODATA) => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_is_lowercase() {
        assert_eq!(to_hex(&[0x00, 0xab, 0x7f]), "00ab7f");
    }

    #[test]
    fn header_layout_matches_ostree() {
        let meta = FileMeta {
            uid: 0,
            gid: 0,
            mode: 0o100644,
            rdev: 0,
            symlink_target: None,
            xattrs: vec![
                (b"user.b".to_vec(), b"1".to_vec()),
                (b"user.a".to_vec(), b"2".to_vec()),
            ],
        };
        let h = file_header(&meta);
        // mode big-endian at offset 8.
        assert_eq!(&h[8..12], &0o100644u32.to_be_bytes());
        // Empty symlink target: a lone NUL at 16.
        assert_eq!(h[16], 0);
        let v = gvariant::parse_str(types::FILE_HEADER, &h).unwrap();
        let xs = gvariant::parse_xattrs(&v.children().unwrap()[5]).unwrap();
        assert_eq!(xs[0].0, b"user.a");
        assert_eq!(xs[1].0, b"user.b");
        // Re-serializing what we parsed gives identical bytes (normal form).
        let ty = Type::parse(types::FILE_HEADER).unwrap();
        assert_eq!(gvariant::serialize(&ty, &v).unwrap(), h);
        // Symlinks ignore content.
        let link = FileMeta {
            mode: 0o120777,
            symlink_target: Some(b"x".to_vec()),
            ..meta
        };
        assert_eq!(
            file_checksum(&link, &b"ignored"[..]).unwrap(),
            file_checksum(&link, io::empty()).unwrap()
        );
    }
}
