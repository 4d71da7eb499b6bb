//! `open-file`: files under `/etc` a process holds open (`/proc/PID/fd`, by link only)
//! that changed after it started, or whose path now names another file or none (a file
//! replaced by rename, as editors and package managers do).
use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
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

/// The buffer `getdents64` fills with a process's fd names: 32 KiB holds about a thousand.
const DENTS: usize = 32 * 1024;
/// The most one `/proc/PID/fd` entry takes: the 19-byte header and a name of at most 10
/// digits and its NUL, 8-aligned.
const MAX_FD_DIRENT: usize = 32;

/// The fd links of one process whose target (as the scanner reads it) passes `wanted`,
/// with their held inode's identity. The directory is listed with raw `getdents64` (no
/// `fdopendir`: it would add an `fstat` and two `fcntl`s per process), and only once more
/// when the first call filled the buffer; one `readlinkat` per fd relative to the open
/// directory (no path walk of `/proc/PID/fd/N` each time), one `fstatat` only for the
/// links `wanted` keeps.
fn held_files(dir: &Path, wanted: impl Fn(&[u8]) -> bool) -> std::io::Result<Vec<Held>> {
    let c = CString::new(dir.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
    // SAFETY: c is NUL-terminated; the fd returned is owned by `fd` below.
    let raw = unsafe {
        libc::open(
            c.as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    };
    if raw < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: raw is a fresh descriptor nothing else owns; OwnedFd closes it once.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    let mut out = Vec::new();
    let mut dents = vec![0u8; DENTS];
    let mut link = [0u8; 4096];
    loop {
        // SAFETY: fd is an open directory; dents is writable for its length.
        let n = unsafe {
            libc::syscall(
                libc::SYS_getdents64,
                fd.as_raw_fd(),
                dents.as_mut_ptr(),
                dents.len(),
            )
        };
        if n < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let n = n as usize;
        if n == 0 {
            break;
        }
        let mut at = 0;
        while at + 19 <= n {
            // linux_dirent64: d_ino u64, d_off i64, d_reclen u16, d_type u8, d_name.
            let reclen = u16::from_ne_bytes([dents[at + 16], dents[at + 17]]) as usize;
            if reclen < 19 || at + reclen > n {
                break;
            }
            let name = &dents[at + 19..at + reclen];
            let name = &name[..name.iter().position(|b| *b == 0).unwrap_or(name.len())];
            at += reclen;
            if name.first() == Some(&b'.') || name.is_empty() {
                continue;
            }
            let Ok(cname) = CString::new(name) else {
                continue;
            };
            // SAFETY: fd is open; cname is NUL-terminated; link is writable for its length.
            let len = unsafe {
                libc::readlinkat(
                    fd.as_raw_fd(),
                    cname.as_ptr(),
                    link.as_mut_ptr().cast(),
                    link.len(),
                )
            };
            if len <= 0 {
                continue;
            }
            let target = &link[..len as usize];
            if !wanted(target) {
                continue;
            }
            // SAFETY: an all-zero stat is valid; fstatat fills it on success.
            let mut st: libc::stat = unsafe { std::mem::zeroed() };
            // SAFETY: as for readlinkat; st is a valid, writable stat. Follows the fd's
            // magic link to the held inode, even when its name is gone.
            let ok = unsafe { libc::fstatat(fd.as_raw_fd(), cname.as_ptr(), &mut st, 0) } == 0;
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
        // Room left for another entry: the kernel had no more to give.
        if n + MAX_FD_DIRENT <= dents.len() {
            break;
        }
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
                Some((d, i, ctime)) if (d, i) != (dev, ino) => Some(ctime),
                Some((_, _, ctime)) => clock
                    .changed_after(ctime, facts.started_ns)
                    .then_some(ctime),
                // Removed: the held file's own change time (the unlink).
                None => Some(held_ctime),
            };
            if let Some(changed_ns) = changed {
                out.push(ConfigChange {
                    path,
                    changed_ns,
                    source: ConfigSource::OpenFile,
                    package: None,
                });
            }
        }
        out
    }
}
