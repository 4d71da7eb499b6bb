//! The fast reader: one process's /proc files read into reused buffers, each path built
//! in place (docs/proc-reading.md).
use std::ffi::{CStr, OsStr};
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::FromRawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::{parse_ns_link, parse_stat, trim_newline, LinkTarget, ProcessRaw, PF_KTHREAD};
use crate::error::{Error, Result};
use crate::proc::cgroup::{parse_cgroup, parse_systemd_cgroup};
use crate::proc::maps::{parse_file_mappings, parse_maps, FileMapping};
use crate::proc::mountinfo::{parse_mountinfo, Mount};

/// Reads /proc files into buffers that are reused from process to process: the file
/// contents, link targets and the `PROC_ROOT/PID/NAME` path itself. A scan reads a few
/// files of each of thousands of processes, so per-file allocations add up.
pub struct ProcReader {
    buf: Vec<u8>,
    link: Vec<u8>,
    path: PidPath,
}

impl Default for ProcReader {
    fn default() -> Self {
        Self::new()
    }
}

impl ProcReader {
    /// A reader with a buffer for one process's files, reused across processes.
    pub fn new() -> ProcReader {
        // Large enough for the maps of most processes in a few reads; grows when needed.
        ProcReader {
            buf: vec![0; 256 * 1024],
            link: vec![0; 256],
            path: PidPath::default(),
        }
    }

    /// Read comm, maps, exe, root, mount namespace and cgroup of `pid`, with every mapping
    /// of maps parsed ([`ProcessRaw::maps`]).
    ///
    /// Errors: `NotFound` when the process is gone (before or during the read, or a
    /// zombie, which runs no code any more); `PermissionDenied` when maps may not be read.
    /// Everything but maps is best effort and becomes None (or empty) on failure.
    pub fn read_process(&mut self, proc_root: &Path, pid: u32) -> Result<ProcessRaw> {
        self.read(proc_root, pid, Maps::Entries).map(|(raw, _)| raw)
    }

    /// As [`ProcReader::read_process`], but maps is reduced to one [`FileMapping`] per
    /// distinct mapped file while it is parsed (`ProcessRaw::maps` stays empty): what the
    /// scan needs, without an allocation per mapping. The cgroup list keeps only the
    /// entries [`crate::proc::cgroup::systemd_cgroup_path`] looks at.
    pub fn read_process_files(
        &mut self,
        proc_root: &Path,
        pid: u32,
    ) -> Result<(ProcessRaw, Vec<FileMapping>)> {
        self.read(proc_root, pid, Maps::Files)
    }

    /// The reads per process are what the verdict needs and no more: comm, maps and
    /// cgroup opened by path (three `openat`), exe, root and ns/mnt (three `readlinkat`)
    /// and one `newfstatat` of root; `stat` (start time, and what a process without
    /// mappings is), one `read`. Opening
    /// by path rather than below an `O_PATH` descriptor of `/proc/PID` saves an `openat`
    /// and a `close` per process; a process that exits between two reads is caught as
    /// before (the next open fails with ENOENT, or exe does).
    fn read(
        &mut self,
        proc_root: &Path,
        pid: u32,
        mode: Maps,
    ) -> Result<(ProcessRaw, Vec<FileMapping>)> {
        self.path.set(proc_root, pid)?;

        // stat first: cheap, and a missing process shows up here before any real work. It
        // gives the start time (startedAt, and what "changed since start" compares with),
        // what a process without a memory map is, and the name: the kernel writes the very
        // name of `comm` between its parentheses (both are `proc_task_name`), which saves
        // reading `comm` apart. Missing, stat says nothing by itself (a captured tree may
        // lack it): comm is read for the name, and a process with no maps either is gone.
        let (comm, start_ticks, ppid, mapless) = match self.read_file(b"stat\0", true) {
            Ok(n) => {
                let stat = parse_stat(&self.buf[..n]);
                (
                    stat.comm.map(<[u8]>::to_vec),
                    stat.start_ticks,
                    stat.ppid,
                    mapless_kind(stat.state_flags),
                )
            }
            Err(Error::NotFound(_)) => (None, None, None, Mapless::Gone),
            Err(_) => (None, None, None, Mapless::Running),
        };
        let comm = match comm {
            Some(c) => Some(c),
            None => match self.read_file(b"comm\0", true) {
                Ok(n) => Some(trim_newline(&self.buf[..n]).to_vec()),
                Err(e @ Error::NotFound(_)) => return Err(e),
                Err(_) => None,
            },
        };

        let n = match self.read_file(b"maps\0", false) {
            Ok(n) => n,
            // A kernel thread has no memory map to refuse; should a kernel refuse its maps
            // all the same, it is still a kernel thread, not a process we could not read.
            // One that exited since (its stat gone, or a zombie) is gone, not unreadable.
            Err(e @ Error::PermissionDenied(_)) => {
                return match mapless {
                    Mapless::KernelThread => Ok((ProcessRaw::kernel_thread(pid, comm), Vec::new())),
                    Mapless::Gone => Err(Error::NotFound(self.path.base())),
                    Mapless::Running => Err(e),
                };
            }
            Err(e) => return Err(e),
        };
        let corrupt = |path: &PidPath, e: crate::error::ParseError| {
            Error::corrupt(&path.display(b"maps\0"), e.0)
        };
        let (maps, files, mapped) = match mode {
            Maps::Entries => {
                let maps = parse_maps(&self.buf[..n]).map_err(|e| corrupt(&self.path, e))?;
                let mapped = maps.len();
                (maps, Vec::new(), mapped)
            }
            Maps::Files => {
                let (files, mapped) =
                    parse_file_mappings(&self.buf[..n]).map_err(|e| corrupt(&self.path, e))?;
                (Vec::new(), files, mapped)
            }
        };

        let exe = match self.readlink(b"exe\0") {
            Ok(n) => Some(LinkTarget::from_bytes(self.link[..n].to_vec())),
            // exe vanishes with the address space: maps that were read are a half-dead
            // process's, so report it gone. (Kernel threads have neither.)
            Err(e @ Error::NotFound(_)) if mapped > 0 => return Err(e),
            Err(_) => None,
        };

        if mapped == 0 {
            match mapless {
                Mapless::Gone => return Err(Error::NotFound(self.path.base())),
                Mapless::KernelThread => {
                    return Ok((ProcessRaw::kernel_thread(pid, comm), Vec::new()))
                }
                Mapless::Running => {}
            }
        }

        let root = self
            .readlink(b"root\0")
            .ok()
            .map(|n| self.link[..n].to_vec());
        let root_dev_ino = self.stat(b"root\0").ok();
        let mnt_ns = self
            .readlink(b"ns/mnt\0")
            .ok()
            .and_then(|n| parse_ns_link(&self.link[..n]));
        let cgroup = match self.read_file(b"cgroup\0", true) {
            Ok(n) => match mode {
                Maps::Entries => parse_cgroup(&self.buf[..n]).unwrap_or_default(),
                Maps::Files => parse_systemd_cgroup(&self.buf[..n]).unwrap_or_default(),
            },
            Err(_) => Vec::new(),
        };

        let raw = ProcessRaw {
            pid,
            comm,
            exe,
            root,
            root_dev_ino,
            mnt_ns,
            cgroup,
            maps,
            kernel_thread: false,
            start_ticks,
            ppid,
        };
        Ok((raw, files))
    }

    /// Read `/proc/PID/mountinfo` through the reused buffer.
    pub fn read_mountinfo(&mut self, proc_root: &Path, pid: u32) -> Result<Vec<Mount>> {
        self.path.set(proc_root, pid)?;
        let n = self.read_file(b"mountinfo\0", false)?;
        parse_mountinfo(&self.buf[..n])
            .map_err(|e| Error::corrupt(&self.path.display(b"mountinfo\0"), e.0))
    }

    /// Read `PROC_ROOT/PID/NAME` into the reused buffer; returns the length. `one`: the
    /// kernel renders the file as one record (comm, stat, cgroup), so a `read` that does
    /// not fill the buffer already holds all of it, which saves the final empty read. A
    /// seq_file (maps, mountinfo) comes about a page per `read` and is read to the end.
    fn read_file(&mut self, name: &[u8], one: bool) -> Result<usize> {
        let err = |path: &PidPath, e: io::Error| Error::from_io(&path.display(name), e);
        let mut f = open_c(self.path.c(name)).map_err(|e| err(&self.path, e))?;
        let mut n = 0;
        loop {
            if n == self.buf.len() {
                self.buf.resize(self.buf.len() * 2, 0);
            }
            match f.read(&mut self.buf[n..]) {
                Ok(0) => return Ok(n),
                Ok(k) => {
                    n += k;
                    if one && n < self.buf.len() {
                        return Ok(n);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(err(&self.path, e)),
            }
        }
    }

    /// readlink of `PROC_ROOT/PID/NAME` into the reused link buffer; returns the length.
    fn readlink(&mut self, name: &[u8]) -> Result<usize> {
        loop {
            let c = self.path.c(name);
            // SAFETY: readlinkat reads the NUL-terminated `c` and writes at most
            // link.len() bytes into link.
            let n = unsafe {
                libc::readlinkat(
                    libc::AT_FDCWD,
                    c.as_ptr(),
                    self.link.as_mut_ptr().cast(),
                    self.link.len(),
                )
            };
            if n < 0 {
                return Err(Error::from_io(
                    &self.path.display(name),
                    io::Error::last_os_error(),
                ));
            }
            let n = n as usize;
            // A full buffer may mean a truncated target: retry with more room.
            if n < self.link.len() {
                return Ok(n);
            }
            let grown = self.link.len() * 4;
            self.link.resize(grown, 0);
        }
    }

    /// (st_dev, st_ino) of `PROC_ROOT/PID/NAME`, following the link.
    fn stat(&mut self, name: &[u8]) -> Result<(u64, u64)> {
        let c = self.path.c(name);
        // SAFETY: an all-zero stat is valid; fstatat fills it on success.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: c is NUL-terminated and st is a valid, writable stat.
        let r = unsafe { libc::fstatat(libc::AT_FDCWD, c.as_ptr(), &mut st, 0) };
        if r < 0 {
            return Err(Error::from_io(
                &self.path.display(name),
                io::Error::last_os_error(),
            ));
        }
        Ok((st.st_dev, st.st_ino))
    }
}

impl ProcessRaw {
    /// A kernel thread as the scan sees it: its PID and name, nothing else.
    fn kernel_thread(pid: u32, comm: Option<Vec<u8>>) -> ProcessRaw {
        ProcessRaw {
            pid,
            comm,
            exe: None,
            root: None,
            root_dev_ino: None,
            mnt_ns: None,
            cgroup: Vec::new(),
            maps: Vec::new(),
            kernel_thread: true,
            start_ticks: None,
            ppid: None,
        }
    }
}

/// What a process without a memory map is, from its `stat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mapless {
    /// A zombie or an exiting process: it runs no code any more.
    Gone,
    /// A kernel thread (`PF_KTHREAD`).
    KernelThread,
    /// Anything else: a user-space process that maps nothing (or a stat we could not parse).
    Running,
}

/// `state_flags`: [`super::stat_state_flags`] of its stat.
fn mapless_kind(state_flags: Option<(u8, u64)>) -> Mapless {
    match state_flags {
        Some((b'Z' | b'X' | b'x', _)) => Mapless::Gone,
        Some((_, flags)) if flags & PF_KTHREAD != 0 => Mapless::KernelThread,
        _ => Mapless::Running,
    }
}

/// How much of maps a read keeps.
#[derive(Clone, Copy)]
enum Maps {
    /// Every mapping, parsed ([`ProcessRaw::maps`]).
    Entries,
    /// One entry per distinct file, nothing per mapping.
    Files,
}

/// `PROC_ROOT/PID/` in a reused buffer, with a file name and NUL appended per call.
/// Paths for error messages are built only when an error happens.
#[derive(Default)]
struct PidPath {
    bytes: Vec<u8>,
    prefix: usize,
}

impl PidPath {
    fn set(&mut self, proc_root: &Path, pid: u32) -> Result<()> {
        let root = proc_root.as_os_str().as_bytes();
        if root.contains(&0) {
            return Err(Error::from_io(
                proc_root,
                io::Error::from(io::ErrorKind::InvalidInput),
            ));
        }
        self.bytes.clear();
        self.bytes.extend_from_slice(root);
        // As Path::join: "" + "42" is "42", "/proc/" + "42" is "/proc/42".
        if !self.bytes.is_empty() && !self.bytes.ends_with(b"/") {
            self.bytes.push(b'/');
        }
        let mut digits = [0u8; 10];
        let mut i = digits.len();
        let mut v = pid;
        loop {
            i -= 1;
            digits[i] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        self.bytes.extend_from_slice(&digits[i..]);
        self.bytes.push(b'/');
        self.prefix = self.bytes.len();
        Ok(())
    }

    /// `name` must end in a NUL and hold no other.
    fn c(&mut self, name: &[u8]) -> &CStr {
        self.bytes.truncate(self.prefix);
        self.bytes.extend_from_slice(name);
        CStr::from_bytes_with_nul(&self.bytes).expect("one NUL, at the end")
    }

    /// `PROC_ROOT/PID` for messages.
    fn base(&self) -> PathBuf {
        PathBuf::from(OsStr::from_bytes(&self.bytes[..self.prefix - 1]))
    }

    /// `PROC_ROOT/PID/NAME` for messages (`name` with its NUL).
    fn display(&self, name: &[u8]) -> PathBuf {
        let name = name.strip_suffix(b"\0").unwrap_or(name);
        self.base().join(OsStr::from_bytes(name))
    }
}

fn open_c(path: &CStr) -> io::Result<File> {
    // SAFETY: openat reads the NUL-terminated path; it returns a new fd we own, or -1.
    let fd = unsafe {
        libc::openat(
            libc::AT_FDCWD,
            path.as_ptr(),
            libc::O_RDONLY | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is a fresh descriptor that nothing else owns.
    Ok(unsafe { File::from_raw_fd(fd) })
}

#[cfg(test)]
mod tests {
    use super::super::stat_state_flags;
    use super::{Mapless, PidPath};
    use std::path::Path;

    fn mapless_kind(stat: &[u8]) -> Mapless {
        super::mapless_kind(stat_state_flags(stat))
    }

    #[test]
    fn kernel_threads_by_their_flag_not_by_empty_maps() {
        // kthreadd as the kernel writes it: flags 2129984 has PF_KTHREAD (0x200000).
        let kthreadd = b"2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 0 0 0 0 20 0 1 0 8 0 0";
        assert_eq!(stat_state_flags(kthreadd), Some((b'S', 2_129_984)));
        assert_eq!(mapless_kind(kthreadd), Mapless::KernelThread);
        // A worker with spaces and ')' in its name, idle (I).
        let worker = b"7 (kworker/0:0H (x) y) I 2 0 0 0 -1 69238880 0 0";
        assert_eq!(mapless_kind(worker), Mapless::KernelThread);
        // A user-space process (PF_KTHREAD clear) is no kernel thread, whatever it maps.
        let user = b"77 (a) b) S 1 77 77 0 -1 4194560 0 0";
        assert_eq!(stat_state_flags(user), Some((b'S', 4_194_560)));
        assert_eq!(mapless_kind(user), Mapless::Running);
        assert_eq!(
            mapless_kind(b"77 (a) Z 1 77 77 0 -1 2129984"),
            Mapless::Gone
        );
        // Cut before the flags: not taken for a kernel thread.
        assert_eq!(mapless_kind(b"9 (k) S 2 0"), Mapless::Running);
        assert_eq!(mapless_kind(b"garbage"), Mapless::Running);
    }

    #[test]
    fn pid_paths_are_built_like_path_join() {
        let mut p = PidPath::default();
        for (root, want) in [
            ("/proc", "/proc/42/maps"),
            ("/proc/", "/proc/42/maps"),
            ("", "42/maps"),
            ("rel/tree", "rel/tree/42/maps"),
        ] {
            p.set(Path::new(root), 42).unwrap();
            assert_eq!(p.c(b"maps\0").to_bytes(), want.as_bytes());
            assert_eq!(
                p.display(b"maps\0"),
                Path::new(root).join("42").join("maps")
            );
            assert_eq!(p.base(), Path::new(root).join("42"));
        }
        p.set(Path::new("/proc"), 4_294_967_295).unwrap();
        assert_eq!(p.c(b"ns/mnt\0").to_bytes(), b"/proc/4294967295/ns/mnt");
        p.set(Path::new("/proc"), 0).unwrap();
        assert_eq!(p.c(b"stat\0").to_bytes(), b"/proc/0/stat");
    }
}
