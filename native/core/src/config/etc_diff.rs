//! `/etc` drift of an OSTree deployment: its `etc` against its commit's `usr/etc`, the list
//! `ostree admin config-diff` prints (M, then D, then A lines; same paths, same order).
//!
//! libostree's `ostree_diff_dirs` with `OSTREE_DIFF_FLAGS_IGNORE_XATTRS` over two native
//! directories, `a` = `usr/etc`, `b` = `etc`:
//! - each child of `a`, in enumeration order: absent in `b` → removed; another file type
//!   in `b` (regular, directory, symlink, special) → modified, not descended; same type →
//!   modified when the two content checksums differ (for a regular file the header uid,
//!   gid, mode and the bytes; a symlink's uid, gid, mode and target; a directory's uid, gid,
//!   mode; a special file's uid, gid, mode — rdev is always 0 in ostree's header), and a
//!   directory is then descended (its own modified, removed and added entries follow);
//! - then each child of `b` absent in `a` → added, with everything below it.
//!
//! Equal checksums are equal inputs, so the inputs are compared here, bytes only when
//! owner, mode and size agree. Enumeration order is GLib's local enumerator's: `readdir`
//! order taken 1000 entries at a time, each batch sorted by inode number with GLib's own
//! comparison (the difference of the two 64-bit numbers truncated to a C `int`).
//!
//! A kept scanner (`Knowledge::etc_verdicts`) keeps what comparing bytes and links said,
//! by the two entries' stamps ([`Verdicts`]): its later scans read no file's contents
//! again until one of the two changes.
use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};
use std::ffi::OsStr;
use std::fs::{self, File, Metadata};
use std::io::{self, Read};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{DirEntryExt, MetadataExt};
use std::path::Path;

use serde::Serialize;

use super::now_ns;
use crate::error::{Error, Result};

/// How many names GLib's enumerator reads before sorting them by inode.
const CHUNK: usize = 1000;

/// The three lists `ostree admin config-diff` prints, paths relative to `etc`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct EtcDiff {
    /// Present in both, different (M lines).
    pub modified: Vec<Vec<u8>>,
    /// In `usr/etc` only (D lines).
    pub removed: Vec<Vec<u8>>,
    /// In `etc` only (A lines).
    pub added: Vec<Vec<u8>>,
}

/// `deployments[].etc` of the contract: the sizes of the three lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct EtcCounts {
    /// M lines.
    pub modified: usize,
    /// A lines.
    pub added: usize,
    /// D lines.
    pub removed: usize,
}

impl EtcDiff {
    /// The lines' counts.
    pub fn counts(&self) -> EtcCounts {
        EtcCounts {
            modified: self.modified.len(),
            added: self.added.len(),
            removed: self.removed.len(),
        }
    }

    /// Every line as ostree prints it, less the newline: `M    PATH` (four spaces), M
    /// lines first, then D, then A. The path's bytes are as they are.
    pub fn lines(&self) -> Vec<(u8, &[u8])> {
        let m = self.modified.iter().map(|p| (b'M', p.as_slice()));
        let d = self.removed.iter().map(|p| (b'D', p.as_slice()));
        let a = self.added.iter().map(|p| (b'A', p.as_slice()));
        m.chain(d).chain(a).collect()
    }
}

/// The diff of deployment directory `deploy`: `deploy/etc` against `deploy/usr/etc`.
pub fn deployment_etc(deploy: &Path) -> Result<EtcDiff> {
    deployment_etc_with(deploy, &mut Verdicts::default())
}

/// [`deployment_etc`], reusing and adding to `verdicts` (a kept scanner's).
pub fn deployment_etc_with(deploy: &Path, verdicts: &mut Verdicts) -> Result<EtcDiff> {
    diff_dirs_with(&deploy.join("usr/etc"), &deploy.join("etc"), verdicts)
}

/// `a` (the default) against `b` (what is in effect), as ostree compares them.
pub fn diff_dirs(a: &Path, b: &Path) -> Result<EtcDiff> {
    diff_dirs_with(a, b, &mut Verdicts::default())
}

fn diff_dirs_with(a: &Path, b: &Path, verdicts: &mut Verdicts) -> Result<EtcDiff> {
    diff_dirs_settled(a, b, verdicts, now_ns() - SETTLED_NS)
}

/// The diff, keeping the verdicts of entries whose ctimes are before `settled_before`.
fn diff_dirs_settled(
    a: &Path,
    b: &Path,
    verdicts: &mut Verdicts,
    settled_before: i64,
) -> Result<EtcDiff> {
    for d in [a, b] {
        let m = fs::symlink_metadata(d).map_err(|e| Error::from_io(d, e))?;
        if !m.is_dir() {
            return Err(Error::corrupt(d, "not a directory"));
        }
    }
    let mut out = EtcDiff::default();
    let mut differ = Differ {
        verdicts,
        settled_before,
        ba: vec![0u8; 64 * 1024],
        bb: vec![0u8; 64 * 1024],
    };
    walk(a, b, &[], &mut out, &mut differ)?;
    Ok(out)
}

/// What the outcome of comparing an entry's contents rests on: (device, inode, size, mtime
/// ns, ctime ns). Writing a file, or making a new one at its inode number, moves its ctime.
type Stamp = (u64, u64, u64, i64, i64);

fn stamp(m: &Metadata) -> Stamp {
    (
        m.dev(),
        m.ino(),
        m.size(),
        m.mtime() * 1_000_000_000 + m.mtime_nsec(),
        m.ctime() * 1_000_000_000 + m.ctime_nsec(),
    )
}

/// A verdict is kept only for entries whose ctime is this far before the comparison began:
/// a change at or after that moment sets a later ctime, whatever the filesystem's timestamp
/// granularity (a file written again within one tick of the clock may keep its ctime; as
/// git's "racily clean" entries, such a recent one is compared again next time).
const SETTLED_NS: i64 = 2_000_000_000;

/// What comparing the bytes of two regular files (or the targets of two symlinks) said, by
/// the two entries' stamps. Only the entries the last scan looked at are kept.
#[derive(Debug, Default)]
pub struct Verdicts {
    last: HashMap<(Stamp, Stamp), bool>,
    this: HashMap<(Stamp, Stamp), bool>,
    /// Contents compared (bytes read, or links read) since this was made.
    pub compared: usize,
}

impl Verdicts {
    fn get(&mut self, key: &(Stamp, Stamp)) -> Option<bool> {
        let v = self.this.get(key).or_else(|| self.last.get(key)).copied()?;
        self.this.insert(*key, v);
        Some(v)
    }

    /// End of one scan's diffs: what it did not look at is forgotten.
    pub fn end_scan(&mut self) {
        self.last = std::mem::take(&mut self.this);
    }
}

/// One diff's comparisons: the verdicts, and the buffers files are read into.
struct Differ<'a> {
    verdicts: &'a mut Verdicts,
    settled_before: i64,
    ba: Vec<u8>,
    bb: Vec<u8>,
}

/// GLib's `GFileType` classes: another class in `b` is a modification, not descended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Regular,
    Directory,
    Symlink,
    Special,
}

fn kind(m: &Metadata) -> Kind {
    let t = m.file_type();
    if t.is_file() {
        Kind::Regular
    } else if t.is_dir() {
        Kind::Directory
    } else if t.is_symlink() {
        Kind::Symlink
    } else {
        Kind::Special
    }
}

/// GLib's `sort_by_inode`: `a - b` of two `guint64`s returned as an `int`.
fn glib_inode_order(a: u64, b: u64) -> Ordering {
    (a.wrapping_sub(b) as u32 as i32).cmp(&0)
}

/// The names in `dir` in GLib's enumeration order.
fn names(dir: &Path) -> Result<Vec<Vec<u8>>> {
    let err = |e| Error::from_io(dir, e);
    let mut out = Vec::new();
    let mut batch: Vec<(u64, Vec<u8>)> = Vec::with_capacity(64);
    let flush = |batch: &mut Vec<(u64, Vec<u8>)>, out: &mut Vec<Vec<u8>>| {
        // Stable, as glibc's merge sort is.
        batch.sort_by(|x, y| glib_inode_order(x.0, y.0));
        out.extend(batch.drain(..).map(|(_, n)| n));
    };
    for entry in fs::read_dir(dir).map_err(err)? {
        let entry = entry.map_err(err)?;
        batch.push((entry.ino(), entry.file_name().into_vec()));
        if batch.len() == CHUNK {
            flush(&mut batch, &mut out);
        }
    }
    flush(&mut batch, &mut out);
    Ok(out)
}

/// `lstat`, None when nothing is there.
fn lstat(path: &Path) -> Result<Option<Metadata>> {
    match fs::symlink_metadata(path) {
        Ok(m) => Ok(Some(m)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::from_io(path, e)),
    }
}

fn join(rel: &[u8], name: &[u8]) -> Vec<u8> {
    let mut p = rel.to_vec();
    if !p.is_empty() {
        p.push(b'/');
    }
    p.extend_from_slice(name);
    p
}

fn walk(a: &Path, b: &Path, rel: &[u8], out: &mut EtcDiff, differ: &mut Differ) -> Result<()> {
    let in_a = names(a)?;
    for name in &in_a {
        let name_os = OsStr::from_bytes(name);
        let (ca, cb) = (a.join(name_os), b.join(name_os));
        // Gone since it was listed: GLib's enumerator skips it.
        let Some(ma) = lstat(&ca)? else { continue };
        let path = join(rel, name);
        let Some(mb) = lstat(&cb)? else {
            out.removed.push(path);
            continue;
        };
        let (ka, kb) = (kind(&ma), kind(&mb));
        if ka != kb {
            out.modified.push(path);
            continue;
        }
        if differ.differ(&ca, &ma, &cb, &mb)? {
            out.modified.push(path.clone());
        }
        if ka == Kind::Directory {
            walk(&ca, &cb, &path, out, differ)?;
        }
    }
    // `usr/etc` is a deployment's, made immutable: what was listed there is there (ostree
    // asks for each name of `b` again; the answer is the same).
    let in_a: HashSet<Vec<u8>> = in_a.into_iter().collect();
    for name in names(b)? {
        if in_a.contains(&name) {
            continue;
        }
        let cb = b.join(OsStr::from_bytes(&name));
        let Some(mb) = lstat(&cb)? else { continue };
        let path = join(rel, &name);
        out.added.push(path.clone());
        if mb.is_dir() {
            added_below(&cb, &path, out)?;
        }
    }
    Ok(())
}

/// Everything below an added directory, depth first, in enumeration order.
fn added_below(dir: &Path, rel: &[u8], out: &mut EtcDiff) -> Result<()> {
    for name in names(dir)? {
        let child = dir.join(OsStr::from_bytes(&name));
        let Some(m) = lstat(&child)? else { continue };
        let path = join(rel, &name);
        out.added.push(path.clone());
        if m.is_dir() {
            added_below(&child, &path, out)?;
        }
    }
    Ok(())
}

impl Differ<'_> {
    /// Whether ostree's content checksums of two entries of one kind differ.
    fn differ(&mut self, pa: &Path, a: &Metadata, pb: &Path, b: &Metadata) -> Result<bool> {
        if (a.uid(), a.gid(), a.mode()) != (b.uid(), b.gid(), b.mode()) {
            return Ok(true);
        }
        match kind(a) {
            Kind::Directory | Kind::Special => Ok(false),
            Kind::Regular if a.size() != b.size() => Ok(true),
            Kind::Regular if (a.dev(), a.ino()) == (b.dev(), b.ino()) => Ok(false),
            k => {
                let key = (stamp(a), stamp(b));
                if let Some(v) = self.verdicts.get(&key) {
                    return Ok(v);
                }
                self.verdicts.compared += 1;
                let differ = if k == Kind::Symlink {
                    let t = |p: &Path| fs::read_link(p).map_err(|e| Error::from_io(p, e));
                    t(pa)? != t(pb)?
                } else {
                    !self.same_bytes(pa, pb)?
                };
                // Both settled: a later change moves a ctime, and so the key.
                if key.0 .4 < self.settled_before && key.1 .4 < self.settled_before {
                    self.verdicts.this.insert(key, differ);
                }
                Ok(differ)
            }
        }
    }

    /// Whether two regular files hold the same bytes (read side by side, stopping at the
    /// first difference).
    fn same_bytes(&mut self, pa: &Path, pb: &Path) -> Result<bool> {
        let open = |p: &Path| File::open(p).map_err(|e| Error::from_io(p, e));
        let (mut fa, mut fb) = (open(pa)?, open(pb)?);
        loop {
            let na = read_full(&mut fa, &mut self.ba).map_err(|e| Error::from_io(pa, e))?;
            let nb = read_full(&mut fb, &mut self.bb).map_err(|e| Error::from_io(pb, e))?;
            if na != nb || self.ba[..na] != self.bb[..nb] {
                return Ok(false);
            }
            if na == 0 {
                return Ok(true);
            }
        }
    }
}

/// Fill `buf` as far as the file goes.
fn read_full(f: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{symlink, PermissionsExt};

    fn tmp(name: &str) -> std::path::PathBuf {
        let d =
            std::env::temp_dir().join(format!("livetree-etcdiff-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(d.join("usr/etc")).unwrap();
        fs::create_dir_all(d.join("etc")).unwrap();
        d
    }

    #[test]
    fn glib_order_truncates_like_c() {
        assert_eq!(glib_inode_order(5, 10), Ordering::Less);
        assert_eq!(glib_inode_order(10, 5), Ordering::Greater);
        assert_eq!(glib_inode_order(7, 7), Ordering::Equal);
        // 2^32 apart: the low 32 bits of the difference are 0, so GLib calls them equal.
        assert_eq!(glib_inode_order(1 << 32, 0), Ordering::Equal);
    }

    #[test]
    fn kinds_of_change() {
        let d = tmp("kinds");
        let (a, b) = (d.join("usr/etc"), d.join("etc"));
        for dir in [&a, &b] {
            fs::write(dir.join("same"), b"x").unwrap();
            fs::create_dir(dir.join("sub")).unwrap();
            fs::write(dir.join("sub/inner"), b"1").unwrap();
            symlink("target", dir.join("link")).unwrap();
        }
        fs::write(a.join("edited"), b"old").unwrap();
        fs::write(b.join("edited"), b"new").unwrap();
        fs::write(a.join("chmod"), b"m").unwrap();
        fs::write(b.join("chmod"), b"m").unwrap();
        fs::set_permissions(b.join("chmod"), fs::Permissions::from_mode(0o600)).unwrap();
        fs::write(a.join("gone"), b"g").unwrap();
        fs::write(b.join("sub/new"), b"n").unwrap();
        fs::write(a.join("sub/inner"), b"2").unwrap();
        fs::create_dir(b.join("newdir")).unwrap();
        fs::write(b.join("newdir/f"), b"f").unwrap();
        fs::write(a.join("typed"), b"t").unwrap();
        fs::create_dir(b.join("typed")).unwrap();
        fs::write(b.join("typed/below"), b"b").unwrap();
        let diff = deployment_etc(&d).unwrap();
        let mut m = diff.modified.clone();
        m.sort();
        assert_eq!(
            m,
            vec![
                b"chmod".to_vec(),
                b"edited".to_vec(),
                b"sub/inner".to_vec(),
                b"typed".to_vec()
            ]
        );
        assert_eq!(diff.removed, vec![b"gone".to_vec()]);
        let mut added = diff.added.clone();
        added.sort();
        assert_eq!(
            added,
            vec![
                b"newdir".to_vec(),
                b"newdir/f".to_vec(),
                b"sub/new".to_vec()
            ]
        );
        // A subdirectory's additions come before the top level's (found while descending).
        assert_eq!(diff.added[0], b"sub/new".to_vec());
        // An added directory is followed by what it holds.
        let at = diff.added.iter().position(|p| p == b"newdir").unwrap();
        assert_eq!(diff.added[at + 1], b"newdir/f".to_vec());
        assert_eq!(
            diff.counts(),
            EtcCounts {
                modified: 4,
                added: 3,
                removed: 1
            }
        );
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn verdicts_are_kept_by_stamp_and_only_for_settled_entries() {
        let d = tmp("verdicts");
        let (a, b) = (d.join("usr/etc"), d.join("etc"));
        for dir in [&a, &b] {
            fs::write(dir.join("same"), b"same bytes").unwrap();
            fs::write(dir.join("other"), b"one").unwrap();
            symlink("target", dir.join("link")).unwrap();
        }
        let mut v = Verdicts::default();
        // Just written: not settled, so compared on every diff.
        for _ in 0..2 {
            let diff = diff_dirs_with(&a, &b, &mut v).unwrap();
            assert_eq!(
                diff.counts(),
                EtcCounts {
                    modified: 0,
                    added: 0,
                    removed: 0
                }
            );
        }
        assert_eq!(v.compared, 6);
        assert!(v.this.is_empty());
        // Taken as settled: the second diff reads nothing.
        let later = now_ns() + 60_000_000_000;
        let mut v = Verdicts::default();
        diff_dirs_settled(&a, &b, &mut v, later).unwrap();
        v.end_scan();
        assert_eq!(v.compared, 3);
        let diff = diff_dirs_settled(&a, &b, &mut v, later).unwrap();
        v.end_scan();
        assert_eq!(v.compared, 3);
        assert!(diff.modified.is_empty());
        // Edited in place, same size: its ctime moves, so it is compared again.
        fs::write(b.join("other"), b"two").unwrap();
        fs::remove_file(b.join("link")).unwrap();
        symlink("tarbet", b.join("link")).unwrap();
        let diff = diff_dirs_settled(&a, &b, &mut v, later).unwrap();
        v.end_scan();
        assert_eq!(v.compared, 5);
        let mut m = diff.modified.clone();
        m.sort();
        assert_eq!(m, vec![b"link".to_vec(), b"other".to_vec()]);
        // What a scan did not look at is forgotten by the next.
        assert_eq!(v.last.len(), 3);
        fs::remove_file(b.join("same")).unwrap();
        let diff = diff_dirs_settled(&a, &b, &mut v, later).unwrap();
        v.end_scan();
        assert_eq!(diff.removed, vec![b"same".to_vec()]);
        assert_eq!(v.last.len(), 2);
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn missing_etc_is_an_error_naming_it() {
        let d = tmp("missing");
        fs::remove_dir(d.join("etc")).unwrap();
        let e = deployment_etc(&d).unwrap_err().to_string();
        assert!(e.contains(&d.join("etc").display().to_string()), "{e}");
        fs::remove_dir_all(&d).unwrap();
    }
}
