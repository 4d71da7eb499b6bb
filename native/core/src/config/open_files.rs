//! `open-file`: files under `/etc` a process holds open (`/proc/PID/fd`, by link only)
//! that changed after it started, or whose path now names another file or none (a file
//! replaced by rename, as editors and package managers do).
use std::collections::HashMap;
use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::rc::Rc;

use super::{Clock, ConfigChange, ConfigSource, Facts, Pass, RootKey, Subject};
use crate::proc::procfs::{path_in_root, LinkTarget};

/// Whether an fd's target (inside the process's root) is configuration: below `/etc`.
pub fn is_config_path(path: &[u8]) -> bool {
    path.starts_with(b"/etc/")
}

/// What one process's fd directory held (read by `Pass::read_fds`).
pub(super) struct HeldFds {
    dir: std::path::PathBuf,
    held: std::io::Result<Vec<Held>>,
}

/// One open file of a process: its fd number's link target and, for a regular file, the
/// held inode's (dev, ino, ctime ns).
struct Held {
    target: Vec<u8>,
    inode: Option<(u64, u64, i64)>,
}

/// The buffers one thread reads fd directories with, kept from process to process (a
/// zeroed 32 KiB per process was a memset of 100 MB at 3000 processes).
struct FdBuffers {
    dents: Vec<u8>,
    link: Vec<u8>,
}

impl FdBuffers {
    fn new() -> FdBuffers {
        FdBuffers {
            dents: vec![0u8; DENTS],
            link: vec![0u8; 4096],
        }
    }
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
fn held_files(
    dir: &Path,
    bufs: &mut FdBuffers,
    wanted: impl Fn(&[u8]) -> bool,
) -> std::io::Result<Vec<Held>> {
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
    let FdBuffers { dents, link } = bufs;
    let read = each_dirent(fd.as_raw_fd(), dents, MAX_FD_DIRENT, |name| {
        let Ok(cname) = CString::new(name) else {
            return Ok(());
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
            return Ok(());
        }
        let target = &link[..len as usize];
        if !wanted(target) {
            return Ok(());
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
        Ok::<(), std::convert::Infallible>(())
    });
    match read {
        // A record the kernel wrote malformed ends the listing with what was read.
        Ok(()) | Err(DirStop::Malformed) => {}
        Err(DirStop::Io(e)) => return Err(e),
        Err(DirStop::By(never)) => match never {},
    }
    Ok(out)
}

/// A root's `/etc` is walked for the newest change only when this many scanned processes
/// have that root: below it, reading their fd directories costs less than the walk.
const WALK_FROM_PROCESSES: usize = 8;
/// The most one `linux_dirent64` takes: the 19-byte header, a name of at most 255 bytes
/// and its NUL, 8-aligned.
const MAX_DIRENT: usize = 280;
/// Entries under one `/etc` the walk looks at, at most; past that its fds are read.
const WALK_LIMIT: usize = 20_000;

/// The newest change time (ctime, ns) of `etc` and of everything below it (not following
/// symlinks), or None when it could not be walked whole (an error, an entry gone meanwhile,
/// more than `WALK_LIMIT` entries). The walk stops early, with what it found, once a change
/// at or past `enough` is seen: no process it was asked for can be skipped then.
///
/// A root with no `/etc` at all (a minimal chroot) answers with the change time of the
/// directory above it: a process can hold a file under an `/etc` that is gone only if that
/// `/etc` was there when it started, and its removal or renaming since set that directory's
/// change time (an unmount cannot leave a mount point missing).
pub fn newest_etc(etc: &Path, enough: i64) -> Option<i64> {
    let ctime = |m: &std::fs::Metadata| m.ctime() * 1_000_000_000 + m.ctime_nsec();
    // Opened first (a directory, not through a symbolic link), its change time from the
    // open descriptor: one path lookup for the usual `/etc`, a second only for anything else.
    let c = CString::new(etc.as_os_str().as_bytes()).ok()?;
    let top = match open_dir(libc::AT_FDCWD, &c) {
        Some(fd) => fd,
        None => {
            return match std::fs::symlink_metadata(etc) {
                // Not a directory (a symbolic link, a file): its own change time.
                Ok(m) if !m.is_dir() => Some(ctime(&m)),
                // Through `/proc/PID/root` itself: the magic link is followed to the root.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    std::fs::metadata(etc.parent()?).ok().map(|m| ctime(&m))
                }
                // A directory that could not be opened, or replaced meanwhile.
                _ => None,
            };
        }
    };
    // SAFETY: an all-zero stat is valid; fstat fills it on success.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: top is an open descriptor; st is a valid, writable stat.
    if unsafe { libc::fstat(top.as_raw_fd(), &mut st) } != 0 {
        return None;
    }
    let mut newest = st.st_ctime * 1_000_000_000 + st.st_ctime_nsec;
    // Each directory is read through a descriptor opened relative to its parent's, and each
    // entry `lstat`ed relative to it (`fstatat`): no path is resolved again from the top
    // (through `/proc/PID/root`, a dozen components) for every entry. A directory is opened
    // when its turn comes, so the descriptors open at once are at most the depth walked.
    let top = Rc::new(top);
    let mut pending: Vec<(Rc<OwnedFd>, CString)> = Vec::new();
    let mut dir = Some(top);
    let mut buf = vec![0u8; 8192];
    let mut seen = 0usize;
    loop {
        let d = match dir.take() {
            Some(d) => d,
            None => {
                let Some((parent, name)) = pending.pop() else {
                    break;
                };
                Rc::new(open_dir(parent.as_raw_fd(), &name)?)
            }
        };
        if newest >= enough {
            return Some(newest);
        }
        let walked = each_dirent(d.as_raw_fd(), &mut buf, MAX_DIRENT, |name| {
            seen += 1;
            if seen > WALK_LIMIT {
                return Err(());
            }
            let cname = CString::new(name).map_err(|_| ())?;
            // SAFETY: an all-zero stat is valid; fstatat fills it on success.
            let mut st: libc::stat = unsafe { std::mem::zeroed() };
            // SAFETY: d is open; cname is NUL-terminated; st is a valid, writable stat.
            let ok = unsafe {
                libc::fstatat(
                    d.as_raw_fd(),
                    cname.as_ptr(),
                    &mut st,
                    libc::AT_SYMLINK_NOFOLLOW,
                )
            } == 0;
            if !ok {
                // Gone meanwhile, or not to be looked at: not walked whole.
                return Err(());
            }
            newest = newest.max(st.st_ctime * 1_000_000_000 + st.st_ctime_nsec);
            if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
                pending.push((d.clone(), cname));
            }
            Ok(())
        });
        // Any stop before the end (an error, a malformed record, the limit, an entry gone):
        // not walked whole.
        walked.ok()?;
    }
    Some(newest)
}

/// Why `each_dirent` stopped before the end of the directory.
enum DirStop<E> {
    /// `getdents64` failed.
    Io(std::io::Error),
    /// A record's length does not fit the bytes the kernel gave.
    Malformed,
    /// `each` asked to stop.
    By(E),
}

/// Every name in the open directory `fd` but `.` and `..` (without its NUL), in the
/// kernel's order, read with raw `getdents64` into `buf`: the one reader of its
/// `linux_dirent64` records (d_ino u64, d_off i64, d_reclen u16, d_type u8, d_name). The
/// directory is read again only when a call left less room than `max_dirent` (the longest
/// entry it can hold): otherwise the kernel had no more to give. `each` may stop the listing.
fn each_dirent<E>(
    fd: libc::c_int,
    buf: &mut [u8],
    max_dirent: usize,
    mut each: impl FnMut(&[u8]) -> Result<(), E>,
) -> Result<(), DirStop<E>> {
    loop {
        // SAFETY: fd is an open directory; buf is writable for its length.
        let n = unsafe { libc::syscall(libc::SYS_getdents64, fd, buf.as_mut_ptr(), buf.len()) };
        if n < 0 {
            return Err(DirStop::Io(std::io::Error::last_os_error()));
        }
        let n = n as usize;
        if n == 0 {
            return Ok(());
        }
        let mut at = 0;
        while at + 19 <= n {
            let reclen = u16::from_ne_bytes([buf[at + 16], buf[at + 17]]) as usize;
            if reclen < 19 || at + reclen > n {
                return Err(DirStop::Malformed);
            }
            let name = &buf[at + 19..at + reclen];
            let name = &name[..name.iter().position(|b| *b == 0).unwrap_or(name.len())];
            at += reclen;
            if name.is_empty() || name == b"." || name == b".." {
                continue;
            }
            each(name).map_err(DirStop::By)?;
        }
        if n + max_dirent <= buf.len() {
            return Ok(());
        }
    }
}

/// A directory opened for reading its entries, relative to `at` (or the working directory):
/// never through a symbolic link in its last component (one put there since it was seen
/// as a directory fails, and the walk is not whole).
fn open_dir(at: libc::c_int, name: &CString) -> Option<OwnedFd> {
    // SAFETY: name is NUL-terminated; the fd returned is owned by the OwnedFd below.
    let raw = unsafe {
        libc::openat(
            at,
            name.as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC,
        )
    };
    // SAFETY: raw is a fresh descriptor nothing else owns; OwnedFd closes it once.
    (raw >= 0).then(|| unsafe { OwnedFd::from_raw_fd(raw) })
}

impl Pass {
    /// The newest change under each root's `/etc`, once per root: a process that started
    /// after it holds no file under `/etc` that changed since (`nothing_changed_since`), and
    /// its fd directory need not be read. The one rule for where the answer comes from: a
    /// container's root overlay whose pieces are known answers from them (`overlay_etc`:
    /// its own layer, its mounts, the image layers walked once per scan for every container);
    /// else, or when those could not be read, a root holding at least `WALK_FROM_PROCESSES`
    /// processes has its `/etc` walked; any other root is not, and its fds are read.
    pub(super) fn walk_etcs(&mut self, subjects: &[Subject], clock: &Clock) {
        // Per root: a PID to walk through, how many processes, the latest start.
        let mut roots: HashMap<RootKey, (u32, usize, i64)> = HashMap::new();
        for p in subjects.iter().filter(|p| p.exe.is_some()) {
            if let Some(f) = self.facts.get(&p.pid) {
                let e = roots.entry(f.root.clone()).or_insert((p.pid, 0, i64::MIN));
                e.1 += 1;
                e.2 = e.2.max(f.started_ns);
            }
        }
        for (root, (pid, count, latest)) in roots {
            let proc_root = self.proc_root.join(pid.to_string()).join("root");
            let enough = latest.saturating_add(clock.tick_ns);
            let from_layers = match self.overlay_etcs.get(&root) {
                Some(o) => o.newest(&proc_root, enough, &mut self.layer_etcs),
                None => None,
            };
            let newest = match from_layers {
                Some(n) => Some(n),
                None if count >= WALK_FROM_PROCESSES => newest_etc(&proc_root.join("etc"), enough),
                None => continue,
            };
            self.etc_newest.insert(root, newest);
        }
    }

    /// Whether nothing under the process's `/etc` changed after it started (by the walk of
    /// its root): then no file it holds there can have changed since it started.
    pub(super) fn nothing_changed_since(&self, facts: &Facts, clock: &Clock) -> bool {
        match self.etc_newest.get(&facts.root) {
            Some(Some(newest)) => !clock.changed_after(*newest, facts.started_ns),
            _ => false,
        }
    }

    /// The files under `/etc` each of `fds` (a process and its root) holds open, read on up
    /// to four threads at once: reading a fd directory is kernel time, one process at a
    /// time, and nothing of it depends on another process's. Each thread keeps its buffers.
    pub(super) fn read_fds(&self, fds: &[(u32, RootKey)]) -> HashMap<u32, HeldFds> {
        let proc_root = self.proc_root.as_path();
        crate::parallel::in_batches(fds, 64, FdBuffers::new, |bufs, (pid, root)| {
            let dir = proc_root.join(pid.to_string()).join("fd");
            let root = &root.2;
            // The prefix decides, with or without the ` (deleted)` marker: no copy per fd.
            let held = held_files(&dir, bufs, |t| {
                path_in_root(root, t).is_some_and(is_config_path)
            });
            (*pid, HeldFds { dir, held })
        })
        .into_iter()
        .collect()
    }

    /// The files under `/etc` process `pid` holds open (`fds`, as read_fds read them) that
    /// changed after it started.
    pub(super) fn open_file_changes(
        &mut self,
        pid: u32,
        fds: HeldFds,
        facts: &Facts,
        clock: &Clock,
    ) -> Vec<ConfigChange> {
        let root = facts.root.2.clone();
        let held = match fds.held {
            Ok(h) => h,
            // Exited since it was read: nothing runs, nothing to say.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
            Err(e) => {
                self.warn_once(
                    "config-fds",
                    format!("open files not checked ({}: {e})", fds.dir.display()),
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
            // Only what changed after the process started: a file replaced or removed before
            // it (held through a descriptor inherited from its parent) is not. A replaced file
            // still held is a change even after a reload (the daemon did not open the new
            // one); one changed in place counts from the latest recorded reload.
            let changed = match self.now(pid, &facts.root, &path) {
                // The path names another file now: newer configuration, put there when its
                // ctime says (a rename sets the moved file's ctime).
                Some((d, i, ctime)) if (d, i) != (dev, ino) => clock
                    .changed_after(ctime, facts.started_ns)
                    .then_some((ctime, true)),
                Some((_, _, ctime)) => facts.changed_since(clock, ctime).then_some((ctime, false)),
                // Removed: the held file's own change time (the unlink).
                None => clock
                    .changed_after(held_ctime, facts.started_ns)
                    .then_some((held_ctime, true)),
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn newest_change_under_etc_and_early_stop() {
        let d = std::env::temp_dir().join(format!("livetree-newest-etc-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(d.join("etc/a/b")).unwrap();
        std::fs::write(d.join("etc/a/b/deep.conf"), b"x").unwrap();
        std::os::unix::fs::symlink("/nowhere", d.join("etc/link")).unwrap();
        let ct = |p: &str| {
            let m = std::fs::symlink_metadata(d.join(p)).unwrap();
            m.ctime() * 1_000_000_000 + m.ctime_nsec()
        };
        let all = ["etc", "etc/a", "etc/a/b", "etc/a/b/deep.conf", "etc/link"];
        let newest = all.iter().map(|p| ct(p)).max().unwrap();
        assert_eq!(newest_etc(&d.join("etc"), i64::MAX), Some(newest));
        // Asked to stop at once: the top's own time is enough.
        assert_eq!(newest_etc(&d.join("etc"), i64::MIN), Some(ct("etc")));
        // No /etc in this root: the change time of the root itself.
        assert_eq!(newest_etc(&d.join("no-etc"), i64::MAX), Some(ct(".")));
        // Nothing above it either: unknown.
        assert_eq!(newest_etc(&d.join("gone/etc"), i64::MAX), None);
        // An /etc removed: the directory above it changed then.
        let before = ct(".");
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::remove_dir_all(d.join("etc")).unwrap();
        let after = newest_etc(&d.join("etc"), i64::MAX).unwrap();
        assert!(after > before, "{after} > {before}");
        assert_eq!(after, ct("."));
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_directory_larger_than_one_read_is_walked_whole() {
        let d = std::env::temp_dir().join(format!("livetree-etc-many-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(d.join("etc/many/sub")).unwrap();
        // Long names: far more than one 8 KiB `getdents64` holds.
        for i in 0..600 {
            std::fs::write(d.join(format!("etc/many/{i:0>100}.conf")), b"x").unwrap();
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
        // The newest, written last, listed wherever the directory puts it.
        std::fs::write(d.join("etc/many/sub/last.conf"), b"y").unwrap();
        std::fs::write(d.join(format!("etc/many/{:0>100}.conf", 300)), b"z").unwrap();
        let ct = |p: &Path| {
            let m = std::fs::symlink_metadata(p).unwrap();
            m.ctime() * 1_000_000_000 + m.ctime_nsec()
        };
        let last = ct(&d.join(format!("etc/many/{:0>100}.conf", 300)));
        assert_eq!(newest_etc(&d.join("etc"), i64::MAX), Some(last));
        // Past the limit of entries: not walked whole.
        for i in 0..WALK_LIMIT {
            std::fs::File::create(d.join(format!("etc/many/sub/{i}"))).unwrap();
        }
        assert_eq!(newest_etc(&d.join("etc"), i64::MAX), None);
        // `/etc` a symbolic link: its own change time, not followed.
        std::fs::remove_dir_all(d.join("etc")).unwrap();
        std::os::unix::fs::symlink("/", d.join("etc")).unwrap();
        assert_eq!(
            newest_etc(&d.join("etc"), i64::MAX),
            Some(ct(&d.join("etc")))
        );
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn fd_directories_read_on_several_threads_say_what_one_reads() {
        let d = std::env::temp_dir().join(format!("livetree-read-fds-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(d.join("etc")).unwrap();
        std::fs::write(d.join("etc/held.conf"), b"x").unwrap();
        let held = std::fs::File::open(d.join("etc/held.conf")).unwrap();
        let pass = Pass::new(Path::new("/proc"));
        let own = std::process::id();
        let key: RootKey = (None, None, d.as_os_str().as_bytes().to_vec());
        // Our own process, then one that is gone, each many times: more than one batch, so
        // more than one thread reads (on a machine with more than one core).
        let mut fds = vec![(own, key.clone()); 100];
        fds.extend(vec![(u32::MAX - 1, key.clone()); 100]);
        let read = pass.read_fds(&fds);
        assert_eq!(read.len(), 2);
        let mine = read[&own].held.as_ref().unwrap();
        let expected = format!("{}/etc/held.conf", d.display());
        assert!(
            mine.iter()
                .any(|h| h.target == expected.as_bytes() && h.inode.is_some()),
            "{:?}",
            mine.iter()
                .map(|h| String::from_utf8_lossy(&h.target).into_owned())
                .collect::<Vec<_>>()
        );
        let gone = read[&(u32::MAX - 1)]
            .held
            .as_ref()
            .err()
            .map(std::io::Error::kind);
        assert_eq!(gone, Some(std::io::ErrorKind::NotFound));
        drop(held);
        std::fs::remove_dir_all(&d).unwrap();
    }
}
