//! Reading a container's layer directories as the overlay stacks them: which layer
//! supplies a mapped file, and a layer stack as a tree for the package database reader.
//!
//! The same reader serves a single directory tree that must not be left through a link
//! (a chroot's root, read through `/proc/PID/root`).
//!
//! A path is looked for in each layer from the top down, as overlayfs does: a whiteout (a
//! character device 0:0, or a `.wh.NAME` file as fuse-overlayfs and image tarballs write
//! it) hides the path in every layer below; an opaque directory (xattr
//! `trusted.overlay.opaque` or `user.overlay.opaque` = `y`, or a `.wh..wh..opq` file in it)
//! hides what lower layers hold below it. Every directory on the way is opened with
//! `O_NOFOLLOW`, one component at a time: a symbolic link in a layer (a container may
//! write any) is never followed out of the layer.
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::ffi::CString;
use std::fs::File;
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use crate::packages::TreeReader;
use crate::{Error, Result};

/// A package database file larger than this is not one.
const MAX_DB_FILE: u64 = 512 << 20;

/// What one layer holds at a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Probe {
    /// The (device, inode, file type bits) of what the layer holds there; None when
    /// nothing (or a whiteout).
    pub entry: Option<(u64, u64, u32)>,
    /// A whiteout or a non-directory on the way: nothing below this layer shows at the path.
    pub hidden: bool,
    /// An opaque directory on the way (or the path itself): lower layers add nothing here.
    pub opaque: bool,
}

impl Probe {
    /// Layers below this one cannot contribute to the path.
    pub fn stops(&self) -> bool {
        (self.entry.is_some() && !self.is_dir()) || self.hidden || self.opaque
    }

    /// What the layer holds there is a directory.
    pub fn is_dir(&self) -> bool {
        self.entry
            .is_some_and(|(_, _, mode)| mode & libc::S_IFMT == libc::S_IFDIR)
    }

    /// What the layer holds there is a regular file.
    pub fn is_file(&self) -> bool {
        self.entry
            .is_some_and(|(_, _, mode)| mode & libc::S_IFMT == libc::S_IFREG)
    }
}

fn cstr(b: &[u8]) -> Option<CString> {
    CString::new(b).ok()
}

fn open_dir_at(dir: libc::c_int, name: &[u8]) -> std::io::Result<OwnedFd> {
    open_dir_flags(dir, name, libc::O_NOFOLLOW)
}

fn open_dir_flags(dir: libc::c_int, name: &[u8], extra: libc::c_int) -> std::io::Result<OwnedFd> {
    let c = cstr(name).ok_or_else(|| std::io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: a valid NUL-terminated name and a directory descriptor (or AT_FDCWD).
    let fd = unsafe {
        libc::openat(
            dir,
            c.as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC | extra,
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: openat returned a new descriptor we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn stat_at(dir: libc::c_int, name: &[u8]) -> std::io::Result<libc::stat> {
    let c = cstr(name).ok_or_else(|| std::io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: zeroed stat is a valid out-parameter; the name is NUL-terminated.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::fstatat(dir, c.as_ptr(), &mut st, libc::AT_SYMLINK_NOFOLLOW) };
    if r < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(st)
}

fn is_whiteout(st: &libc::stat) -> bool {
    st.st_mode & libc::S_IFMT == libc::S_IFCHR && st.st_rdev == 0
}

fn xattr_is_y(fd: &OwnedFd, name: &[u8]) -> bool {
    let mut buf = [0u8; 2];
    // SAFETY: a NUL-terminated attribute name, a buffer of the length passed.
    let n = unsafe {
        libc::fgetxattr(
            fd.as_raw_fd(),
            name.as_ptr().cast(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    n == 1 && buf[0] == b'y'
}

fn is_opaque(fd: &OwnedFd) -> bool {
    xattr_is_y(fd, b"trusted.overlay.opaque\0")
        || xattr_is_y(fd, b"user.overlay.opaque\0")
        || stat_at(fd.as_raw_fd(), b".wh..wh..opq").is_ok()
}

/// The components of an absolute path inside a tree; `.` and empty ones dropped.
fn components(rel: &[u8]) -> Vec<&[u8]> {
    rel.split(|b| *b == b'/')
        .filter(|c| !c.is_empty() && *c != b".")
        .collect()
}

/// Open the directory `rel` below `layer` one component at a time, following no link;
/// also whether a directory on the way (or `rel` itself) is opaque, or the way is hidden.
/// A walk that cannot go on says what the layer holds below it, and how many of `dirs`
/// decided that (the one it stopped at and those above it).
fn walk(layer: &Path, dirs: &[&[u8]]) -> std::result::Result<(OwnedFd, bool), (Probe, usize)> {
    let mut opaque = false;
    // The layer directory itself is ours (a store's, or /proc/PID/root, a magic link):
    // followed. Below it nothing is.
    let mut fd = open_dir_flags(libc::AT_FDCWD, layer.as_os_str().as_bytes(), 0)
        .map_err(|_| (Probe::default(), 0))?;
    for (n, c) in dirs.iter().enumerate() {
        if *c == b".." {
            return Err((Probe::default(), n + 1));
        }
        match open_dir_at(fd.as_raw_fd(), c) {
            Ok(next) => {
                opaque |= is_opaque(&next);
                fd = next;
            }
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                let wh = [b".wh.", *c].concat();
                let hidden = stat_at(fd.as_raw_fd(), &wh).is_ok();
                let p = Probe {
                    hidden,
                    opaque,
                    ..Probe::default()
                };
                return Err((p, n + 1));
            }
            // Not a directory (a file, a link, a whiteout device): it hides the path.
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOTDIR) | Some(libc::ELOOP)) => {
                let p = Probe {
                    hidden: true,
                    opaque,
                    ..Probe::default()
                };
                return Err((p, n + 1));
            }
            Err(_) => return Err((Probe::default(), n + 1)),
        }
    }
    Ok((fd, opaque))
}

/// What `layer` holds at `rel` (an absolute path inside the container).
pub fn probe(layer: &Path, rel: &[u8]) -> Probe {
    probe_deciding(layer, rel).0
}

/// `probe`, and when a directory on the way decided the answer (absent, hidden, not a
/// directory), that directory as a path inside the layer: every path below it gets the
/// same answer from this layer.
pub fn probe_deciding(layer: &Path, rel: &[u8]) -> (Probe, Option<Vec<u8>>) {
    let parts = components(rel);
    let Some((last, dirs)) = parts.split_last() else {
        return (Probe::default(), None);
    };
    if *last == b".." {
        return (Probe::default(), None);
    }
    match walk(layer, dirs) {
        Ok((fd, opaque)) => (probe_last(&fd, opaque, last), None),
        Err((p, n)) => (p, Some(dirs[..n].join(&b'/'))),
    }
}

/// The directories a path lies below, as `probe_deciding` names them, shortest first.
pub fn dir_prefixes(rel: &[u8]) -> Vec<Vec<u8>> {
    let parts = components(rel);
    let dirs = &parts[..parts.len().saturating_sub(1)];
    (0..=dirs.len()).map(|n| dirs[..n].join(&b'/')).collect()
}

/// What the directory `fd` (opaque or not) holds under `last`.
fn probe_last(fd: &OwnedFd, opaque: bool, last: &[u8]) -> Probe {
    match stat_at(fd.as_raw_fd(), last) {
        Ok(st) if is_whiteout(&st) => Probe {
            hidden: true,
            opaque,
            ..Probe::default()
        },
        Ok(st) => {
            let mut opaque = opaque;
            if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
                if let Ok(d) = open_dir_at(fd.as_raw_fd(), last) {
                    opaque |= is_opaque(&d);
                }
            }
            Probe {
                entry: Some((st.st_dev, st.st_ino, st.st_mode)),
                hidden: false,
                opaque,
            }
        }
        Err(_) => {
            let wh = [b".wh.", last].concat();
            Probe {
                hidden: stat_at(fd.as_raw_fd(), &wh).is_ok(),
                opaque,
                ..Probe::default()
            }
        }
    }
}

/// Which layer of a stack (top-most first) supplies inode `ino` at `rel`: from the top
/// down, the first layer whose entry there has that inode number, as long as no layer
/// above hides the lower ones. A higher layer holding another file there does not stop
/// the search (the mapped file was replaced since, and still comes from the lower layer);
/// its whiteout or an opaque directory does. `probe(i, rel)` says what layer `i` holds.
pub fn layer_of(
    count: usize,
    rel: &[u8],
    ino: u64,
    probe: &mut dyn FnMut(usize, &[u8]) -> Probe,
) -> Option<usize> {
    for i in 0..count {
        let p = probe(i, rel);
        if p.entry.is_some_and(|(_, file_ino, _)| file_ino == ino) && !p.is_dir() {
            return Some(i);
        }
        if p.hidden || p.opaque {
            return None;
        }
    }
    None
}

/// A directory of one layer as a walk found it: open (and whether opaque), or what stopped
/// the walk.
type WalkedDir = std::result::Result<(Rc<OwnedFd>, bool), Probe>;

/// A name in an open directory.
type InDir<'p> = (Rc<OwnedFd>, &'p [u8]);

/// What single layers hold at the paths `LayerTree`s read, shared by the trees of one scan
/// (`StoreCache`): an image layer is in several stacks (an image's own as of each of its
/// layers, the image a name points to now), and each of its database files is probed and
/// read once for all of them. Kept for one scan: `clear` when the next begins.
#[derive(Default)]
pub struct LayerFiles {
    probes: RefCell<HashMap<(PathBuf, String), Probe>>,
    bytes: RefCell<HashMap<(PathBuf, String), Vec<u8>>>,
}

impl LayerFiles {
    /// Forget what was read: layers may have changed since.
    pub fn clear(&self) {
        self.probes.borrow_mut().clear();
        self.bytes.borrow_mut().clear();
    }
}

/// A stack of layer directories (top-most first) read as the one tree the overlay makes of
/// them, for the package database reader: the image's own dpkg or rpm database as of a
/// layer is this tree from that layer down. Each directory walked is kept open while the
/// tree is read: a database is a hundred list files in one directory.
pub struct LayerTree<'a> {
    layers: &'a [PathBuf],
    name: String,
    dirs: RefCell<HashMap<(usize, Vec<u8>), WalkedDir>>,
    shared: Option<&'a LayerFiles>,
}

impl<'a> LayerTree<'a> {
    /// The tree of `layers` (top-most first), named `name` in warnings.
    pub fn new(layers: &'a [PathBuf], name: String) -> LayerTree<'a> {
        LayerTree {
            layers,
            name,
            dirs: RefCell::new(HashMap::new()),
            shared: None,
        }
    }

    /// The same, sharing what each layer holds at a path with the other trees of `files`.
    pub fn sharing(layers: &'a [PathBuf], name: String, files: &'a LayerFiles) -> LayerTree<'a> {
        LayerTree {
            shared: Some(files),
            ..LayerTree::new(layers, name)
        }
    }

    /// A key of `LayerFiles`: layer `i` and `path`.
    fn key(&self, i: usize, path: &str) -> (PathBuf, String) {
        (self.layers[i].clone(), path.to_string())
    }

    /// Layer `i`'s directory `dir` (components), walked once.
    fn dir(&self, i: usize, dirs: &[&[u8]]) -> WalkedDir {
        let key = (i, dirs.join(&b'/'));
        if let Some(hit) = self.dirs.borrow().get(&key) {
            return hit.clone();
        }
        let walked = walk(&self.layers[i], dirs)
            .map(|(fd, opaque)| (Rc::new(fd), opaque))
            .map_err(|(p, _)| p);
        self.dirs.borrow_mut().insert(key, walked.clone());
        walked
    }

    /// What layer `i` holds at `path`, and the directory holding it with the last name.
    fn probe_at<'p>(&self, i: usize, path: &'p str) -> (Probe, Option<InDir<'p>>) {
        let parts = components(path.as_bytes());
        let Some((last, dirs)) = parts.split_last() else {
            return (Probe::default(), None);
        };
        if *last == b".." {
            return (Probe::default(), None);
        }
        match self.dir(i, dirs) {
            Ok((fd, opaque)) => (probe_last(&fd, opaque, last), Some((fd, *last))),
            Err(p) => (p, None),
        }
    }

    /// The layer that supplies `path` as a regular file, and its directory and name there
    /// when this tree probed it (not when the probe was shared: `LayerFiles`).
    fn find_file<'p>(&self, path: &'p str) -> Option<(usize, Option<InDir<'p>>)> {
        for i in 0..self.layers.len() {
            let known = self
                .shared
                .and_then(|s| s.probes.borrow().get(&self.key(i, path)).copied());
            let (p, at) = match known {
                Some(p) => (p, None),
                None => {
                    let (p, at) = self.probe_at(i, path);
                    if let Some(s) = self.shared {
                        s.probes.borrow_mut().insert(self.key(i, path), p);
                    }
                    (p, at)
                }
            };
            if p.is_file() {
                // A probe that found a file has its directory (`probe_at`).
                return Some((i, at));
            }
            if p.stops() {
                return None;
            }
        }
        None
    }
}

impl TreeReader for LayerTree<'_> {
    fn describe(&self) -> String {
        self.name.clone()
    }

    fn read(&self, path: &str) -> Result<Option<Vec<u8>>> {
        let Some((i, at)) = self.find_file(path) else {
            return Ok(None);
        };
        if let Some(hit) = self
            .shared
            .and_then(|s| s.bytes.borrow().get(&self.key(i, path)).cloned())
        {
            return Ok(Some(hit));
        }
        let Some((dir, name)) = at.or_else(|| self.probe_at(i, path).1) else {
            return Ok(None);
        };
        let full = self.layers[i].join(path.trim_start_matches('/'));
        let c = cstr(name).ok_or_else(|| Error::NotFound(full.clone()))?;
        // SAFETY: a directory descriptor and a NUL-terminated name.
        let fd = unsafe {
            libc::openat(
                dir.as_raw_fd(),
                c.as_ptr(),
                libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK,
            )
        };
        if fd < 0 {
            return Err(Error::from_io(&full, std::io::Error::last_os_error()));
        }
        // SAFETY: openat returned a new descriptor we own.
        let f = unsafe { File::from_raw_fd(fd) };
        let meta = f.metadata().map_err(|e| Error::from_io(&full, e))?;
        if !meta.is_file() {
            return Ok(None);
        }
        // Room for the whole file: one read and the one that finds its end, not a read
        // of 32, 32, 64, 128… bytes as an empty buffer grows (a Debian base's file lists
        // took 9 reads each).
        let mut bytes = Vec::with_capacity(meta.len().min(MAX_DB_FILE) as usize);
        f.take(MAX_DB_FILE)
            .read_to_end(&mut bytes)
            .map_err(|e| Error::from_io(&full, e))?;
        if let Some(s) = self.shared {
            s.bytes
                .borrow_mut()
                .insert(self.key(i, path), bytes.clone());
        }
        Ok(Some(bytes))
    }

    fn exists(&self, path: &str) -> bool {
        self.find_file(path).is_some()
    }

    fn list(&self, dir: &str) -> Result<Vec<Vec<u8>>> {
        let mut out = Vec::new();
        let mut seen: HashSet<Vec<u8>> = HashSet::new();
        for i in 0..self.layers.len() {
            let (p, at) = self.probe_at(i, dir);
            if p.hidden || (p.entry.is_some() && !p.is_dir()) {
                break;
            }
            if let (true, Some((parent, name))) = (p.is_dir(), at) {
                let full = self.layers[i].join(dir.trim_start_matches('/'));
                let d =
                    open_dir_at(parent.as_raw_fd(), name).map_err(|e| Error::from_io(&full, e))?;
                // Listed through the open directory: no path walked again.
                let via = PathBuf::from(format!("/proc/self/fd/{}", d.as_raw_fd()));
                let rd = std::fs::read_dir(&via).map_err(|e| Error::from_io(&full, e))?;
                for e in rd.filter_map(|e| e.ok()) {
                    let name = e.file_name().as_bytes().to_vec();
                    if let Some(hidden) = name.strip_prefix(b".wh.") {
                        seen.insert(hidden.to_vec());
                        continue;
                    }
                    let whiteout = e.file_type().is_ok_and(|t| {
                        use std::os::unix::fs::FileTypeExt;
                        t.is_char_device()
                    }) && stat_at(d.as_raw_fd(), &name)
                        .is_ok_and(|st| is_whiteout(&st));
                    if seen.insert(name.clone()) && !whiteout {
                        out.push(name);
                    }
                }
            }
            if p.opaque {
                break;
            }
        }
        Ok(out)
    }

    fn local_path(&self, path: &str) -> Option<PathBuf> {
        self.find_file(path)
            .map(|(i, _)| self.layers[i].join(path.trim_start_matches('/')))
    }
}

#[cfg(test)]
mod tests;
