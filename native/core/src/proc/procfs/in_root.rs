//! Paths inside a process's root: made relative to it, and stat'ed or opened through
//! `/proc/PID/root` without following a link out of it.
use std::ffi::{CString, OsStr};
use std::fs::{self, File};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

use super::dev_split;
use crate::error::{Error, Result};

/// A path as maps or `root` print it (from the reader's root) made relative to the
/// process's root link target: `/srv/chroot` + `/srv/chroot/usr/bin/x` → `/usr/bin/x`.
/// With root `/` the path is returned as is; None if the path lies outside the root.
pub fn path_in_root<'a>(root: &[u8], path: &'a [u8]) -> Option<&'a [u8]> {
    if root.strip_suffix(b"/").unwrap_or(root).is_empty() {
        return Some(path);
    }
    below(root, path)
}

/// `path` relative to `dir` (`/lib/x.so`), `/` for `dir` itself, None outside it.
pub fn below<'a>(dir: &[u8], path: &'a [u8]) -> Option<&'a [u8]> {
    let dir = dir.strip_suffix(b"/").unwrap_or(dir);
    let rest = path.strip_prefix(dir)?;
    if rest.is_empty() {
        Some(b"/")
    } else if rest[0] == b'/' {
        Some(rest)
    } else {
        None
    }
}

/// (major, minor, inode) of `path` resolved inside process `pid`'s own root and mount
/// namespace, following symlinks as the process would; None if nothing is there now.
/// `path` is relative to the process's root (see [`path_in_root`]).
///
/// The resolution uses openat2(RESOLVE_IN_ROOT) on `/proc/PID/root`, so an absolute
/// symlink inside a container or chroot resolves in that root and not in ours, which a
/// plain stat of `/proc/PID/root/PATH` would get wrong. Kernels before 5.6 lack openat2;
/// there the plain stat is used.
pub fn stat_in_root(proc_root: &Path, pid: u32, path: &[u8]) -> Result<Option<(u32, u32, u64)>> {
    Ok(stat_in_root_raw(proc_root, pid, path)?.map(|(dev, ino)| {
        let (ma, mi) = dev_split(dev);
        (ma, mi, ino)
    }))
}

pub(super) fn stat_in_root_raw(
    proc_root: &Path,
    pid: u32,
    path: &[u8],
) -> Result<Option<(u64, u64)>> {
    Ok(metadata_in_root(proc_root, pid, path)?.map(|m| (m.dev(), m.ino())))
}

/// The metadata of `path` resolved inside process `pid`'s own root and mount namespace,
/// as [`stat_in_root`] resolves it; None if nothing is there now.
pub fn metadata_in_root(proc_root: &Path, pid: u32, path: &[u8]) -> Result<Option<fs::Metadata>> {
    ProcessRoot::open(proc_root, pid)?.metadata(path)
}

/// A process's root (`/proc/PID/root`), opened once for many paths resolved in it.
pub struct ProcessRoot {
    root: File,
    root_path: std::path::PathBuf,
}

impl ProcessRoot {
    /// Opens process `pid`'s root.
    pub fn open(proc_root: &Path, pid: u32) -> Result<ProcessRoot> {
        let root_path = proc_root.join(pid.to_string()).join("root");
        let root = fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_PATH | libc::O_DIRECTORY)
            .open(&root_path)
            .map_err(|e| Error::from_io(&root_path, e))?;
        Ok(ProcessRoot { root, root_path })
    }

    /// The metadata of `path` resolved in this root, as [`metadata_in_root`] does.
    pub fn metadata(&self, path: &[u8]) -> Result<Option<fs::Metadata>> {
        let rel: &[u8] = {
            let t = path.strip_prefix(b"/").unwrap_or(path);
            if t.is_empty() {
                b"."
            } else {
                t
            }
        };
        // A NUL byte cannot be in a file name, so nothing can exist there.
        let Ok(c_rel) = CString::new(rel) else {
            return Ok(None);
        };
        let display = || self.root_path.join(OsStr::from_bytes(rel));
        match openat2_in_root(&self.root, &c_rel) {
            Ok(file) => {
                let m = file.metadata().map_err(|e| Error::from_io(&display(), e))?;
                Ok(Some(m))
            }
            Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => match fs::metadata(display()) {
                Ok(m) => Ok(Some(m)),
                Err(e) if is_absent(&e) => Ok(None),
                Err(e) => Err(Error::from_io(&display(), e)),
            },
            Err(e) if is_absent(&e) => Ok(None),
            Err(e) => Err(Error::from_io(&display(), e)),
        }
    }
}

fn is_absent(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOENT) | Some(libc::ENOTDIR))
}

/// A file opened by [`open_in_root`], or nothing at its path.
pub enum Opened {
    /// Opened for reading.
    File(File),
    /// Nothing is there (or a directory on the way is not one).
    Absent,
}

/// Open `path` for reading inside the tree at `root` (a directory), resolved as a process
/// with that root would resolve it: `..` and absolute symlinks stay inside it
/// (openat2 `RESOLVE_IN_ROOT`; on kernels without openat2, the plain path). Non-blocking,
/// so a FIFO where a file was expected does not hang.
pub fn open_in_root(root: &Path, path: &[u8]) -> Result<Opened> {
    let dir = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH | libc::O_DIRECTORY)
        .open(root)
        .map_err(|e| Error::from_io(root, e))?;
    let rel: &[u8] = match path.strip_prefix(b"/").unwrap_or(path) {
        b"" => b".",
        t => t,
    };
    let Ok(c_rel) = CString::new(rel) else {
        return Ok(Opened::Absent);
    };
    let display = || root.join(OsStr::from_bytes(rel));
    let flags = libc::O_RDONLY | libc::O_NONBLOCK | libc::O_CLOEXEC | libc::O_NOCTTY;
    let opened = match openat2_flags(&dir, &c_rel, flags) {
        Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
            .open(display()),
        other => other,
    };
    match opened {
        Ok(f) => Ok(Opened::File(f)),
        Err(e) if is_absent(&e) => Ok(Opened::Absent),
        Err(e) => Err(Error::from_io(&display(), e)),
    }
}

fn openat2_in_root(root: &File, rel: &CString) -> io::Result<File> {
    openat2_flags(root, rel, libc::O_PATH | libc::O_CLOEXEC)
}

fn openat2_flags(root: &File, rel: &CString, flags: i32) -> io::Result<File> {
    // SAFETY: open_how is plain integers; all-zero is its documented default.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = flags as u64;
    // IN_ROOT: ".." and absolute symlinks stay inside the process's root.
    // NO_MAGICLINKS: a /proc-style link inside that tree must not lead back out.
    how.resolve = libc::RESOLVE_IN_ROOT | libc::RESOLVE_NO_MAGICLINKS;
    // SAFETY: openat2 reads `rel` (NUL-terminated, alive for the call) and `how` (a valid
    // open_how of the size we pass); it returns a new fd that we then own, or -1.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            root.as_raw_fd(),
            rel.as_ptr(),
            &how as *const libc::open_how,
            std::mem::size_of::<libc::open_how>(),
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is a fresh descriptor that nothing else owns.
    Ok(unsafe { File::from_raw_fd(fd as i32) })
}
