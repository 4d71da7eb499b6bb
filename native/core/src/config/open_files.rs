//! `open-file`: files under `/etc` a process holds open (`/proc/PID/fd`, by link only)
//! that changed after it started, or whose path now names another file or none (a file
//! replaced by rename, as editors and package managers do).
use std::ffi::{CStr, CString};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use super::{Clock, ConfigChange, ConfigSource, Facts, Pass};
use crate::procfs::{path_in_root, LinkTarget};

/// Whether an fd's target (inside the process's root) is configuration: below `/etc`.
pub fn is_config_path(path: &[u8]) -> bool {
    path.starts_with(b"/etc/")
}

/// One open file of a process: its fd number's link target and, for a regular file, the
/// held inode's (dev, ino, ctime ns).
struct Held {
    target: Vec<u8>,
    inode: Option<(u64, u64, i64)>,
}

/// The fd links of one process whose target (as the scanner reads it) passes `wanted`,
/// with their held inode's identity. One `readlinkat` per fd relative to the open fd
/// directory (no path walk of `/proc/PID/fd/N` each time), one `fstatat` only for the
/// links `wanted` keeps.
fn held_files(dir: &Path, wanted: impl Fn(&[u8]) -> bool) -> std::io::Result<Vec<Held>> {
    let c = CString::new(dir.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
    // SAFETY: c is NUL-terminated; the fd returned is owned by the DIR below.
    let fd = unsafe {
        libc::open(
            c.as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fd is a fresh directory descriptor; on success the DIR owns it.
    let d = unsafe { libc::fdopendir(fd) };
    if d.is_null() {
        let e = std::io::Error::last_os_error();
        // SAFETY: fdopendir failed, so fd is still ours to close.
        unsafe { libc::close(fd) };
        return Err(e);
    }
    struct Dir(*mut libc::DIR);
    impl Drop for Dir {
        fn drop(&mut self) {
            // SAFETY: the DIR came from fdopendir and is closed once, here.
            unsafe { libc::closedir(self.0) };
        }
    }
    let d = Dir(d);
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        // SAFETY: d.0 is an open DIR; readdir returns a pointer valid until the next call.
        let ent = unsafe { libc::readdir(d.0) };
        if ent.is_null() {
            break;
        }
        // SAFETY: ent points at a dirent whose d_name is NUL-terminated.
        let name = unsafe { CStr::from_ptr((*ent).d_name.as_ptr()) };
        if name.to_bytes().first() == Some(&b'.') {
            continue;
        }
        // SAFETY: fd is the DIR's descriptor (alive while d is); name is NUL-terminated;
        // buf is writable for its length.
        let n = unsafe { libc::readlinkat(fd, name.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
        if n <= 0 {
            continue;
        }
        let target = &buf[..n as usize];
        if !wanted(target) {
            continue;
        }
        // SAFETY: an all-zero stat is valid; fstatat fills it on success.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: as for readlinkat; st is a valid, writable stat. Follows the fd's magic
        // link to the held inode, even when its name is gone.
        let ok = unsafe { libc::fstatat(fd, name.as_ptr(), &mut st, 0) } == 0;
        let regular = ok && st.st_mode & libc::S_IFMT == libc::S_IFREG;
        out.push(Held {
            target: target.to_vec(),
            inode: regular.then(|| {
                (
                    st.st_dev,
                    st.st_ino,
                    st.st_ctime * 1_000_000_000 + st.st_ctime_nsec,
                )
            }),
        });
    }
    Ok(out)
}

impl Pass {
    /// The files under `/etc` process `pid` holds open that changed after it started.
    pub(super) fn open_file_changes(
        &mut self,
        pid: u32,
        facts: &Facts,
        clock: &Clock,
    ) -> Vec<ConfigChange> {
        let dir = self.proc_root.join(pid.to_string()).join("fd");
        let root = facts.root.2.clone();
        // The prefix decides, with or without the ` (deleted)` marker: no copy per fd.
        let held = match held_files(&dir, |t| path_in_root(&root, t).is_some_and(is_config_path)) {
            Ok(h) => h,
            // Exited since it was read: nothing runs, nothing to say.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
            Err(e) => {
                self.warn_once(
                    "config-fds",
                    format!("open files not checked ({}: {e})", dir.display()),
                );
                return Vec::new();
            }
        };
        let mut out = Vec::new();
        for h in held {
            let Some((dev, ino, held_ctime)) = h.inode else {
                continue;
            };
            let target = LinkTarget::from_bytes(h.target);
            let Some(path) = path_in_root(&root, &target.path) else {
                continue;
            };
            let path = path.to_vec();
            let changed = match self.now(pid, &facts.root, &path) {
                // The path names another file now: whatever is there is newer config.
                Some((d, i, ctime)) if (d, i) != (dev, ino) => Some((ctime, true)),
                Some((_, _, ctime)) => facts.changed_since(clock, ctime).then_some((ctime, false)),
                // Removed: the held file's own change time (the unlink).
                None => Some((held_ctime, true)),
            };
            if let Some((changed_ns, replaced)) = changed {
                out.push(ConfigChange {
                    path,
                    changed_ns,
                    source: ConfigSource::OpenFile,
                    package: None,
                    replaced,
                });
            }
        }
        out
    }
}
