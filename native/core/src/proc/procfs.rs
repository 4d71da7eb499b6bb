//! Reading `/proc`: the I/O side of the process scan.
//!
//! Every function takes `proc_root` (normally `/proc`) so tests can aim it at a captured
//! tree. Parsing is left to `maps`, `mountinfo` and `cgroup`; this module only fetches
//! bytes, links and stats, and turns the races of a live system into typed errors: a
//! process that exits during a scan is `Error::NotFound`, one whose maps we may not read
//! is `Error::PermissionDenied`.
//!
//! Speed matters (thousands of processes per scan): a [`ProcReader`] reads each file into
//! one reused buffer, builds each path in another, and small single-record files are read
//! with a single `read`. docs/proc-reading.md has the syscall and instruction counts.
use std::ffi::{CStr, CString, OsStr};
use std::fs::{self, File};
use std::io::{self, Read};
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::proc::cgroup::{parse_cgroup, parse_systemd_cgroup, CgroupEntry};
use crate::proc::maps::{parse_file_mappings, parse_maps, FileMapping, MapEntry};
use crate::proc::mountinfo::{parse_mountinfo, Mount};

const DELETED_SUFFIX: &[u8] = b" (deleted)";

/// What one process looks like from /proc, before any attribution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessRaw {
    /// The process id.
    pub pid: u32,
    /// `comm` without its newline; None if it could not be read.
    pub comm: Option<Vec<u8>>,
    /// Target of `exe`; None for kernel threads or when not readable.
    pub exe: Option<LinkTarget>,
    /// Target of `root` as the kernel prints it from the reader's root
    /// (`/` for most processes, the chroot directory for a chrooted one).
    pub root: Option<Vec<u8>>,
    /// (st_dev, st_ino) of the process's root directory.
    pub root_dev_ino: Option<(u64, u64)>,
    /// Inode of the process's mount namespace (`ns/mnt` is `mnt:[INODE]`).
    pub mnt_ns: Option<u64>,
    /// Empty if `cgroup` could not be read.
    pub cgroup: Vec<CgroupEntry>,
    /// Every line of `maps`.
    pub maps: Vec<MapEntry>,
    /// A kernel thread (`PF_KTHREAD` in the flags of `/proc/PID/stat`): it runs the
    /// kernel's own code and has no memory map, so it is no process of the report. Only
    /// `pid` and `comm` are read for one; everything else is empty.
    pub kernel_thread: bool,
    /// When the process started, in clock ticks since boot (`stat` field 22); None when
    /// `stat` could not be read.
    pub start_ticks: Option<u64>,
}

/// `PF_KTHREAD` in the flags field of `/proc/PID/stat` (include/linux/sched.h): set for
/// kernel threads only. A user-space process whose maps happen to be empty lacks it.
pub const PF_KTHREAD: u64 = 0x0020_0000;

/// A symlink target from /proc with the kernel's ` (deleted)` marker split off.
/// The marker alone proves nothing: a file may be named `x (deleted)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkTarget {
    /// The target path.
    pub path: Vec<u8>,
    /// The kernel appended ` (deleted)` (removed from `path`).
    pub deleted_suffix: bool,
}

impl LinkTarget {
    /// Split the kernel's ` (deleted)` marker off a link target.
    pub fn from_bytes(mut raw: Vec<u8>) -> LinkTarget {
        let deleted_suffix = raw.ends_with(DELETED_SUFFIX);
        if deleted_suffix {
            raw.truncate(raw.len() - DELETED_SUFFIX.len());
        }
        LinkTarget {
            path: raw,
            deleted_suffix,
        }
    }
}

/// The mapped file itself, reached through `/proc/PID/map_files/START-END`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapFileInfo {
    /// The link target: exact bytes (no escaping at all), ` (deleted)` removed when the
    /// kernel appended it.
    pub exact_path: Vec<u8>,
    /// True when the kernel marked the name deleted (the dentry was unlinked). With
    /// `nlink > 0` the inode lives on under another name (another hard link).
    pub deleted: bool,
    /// 0 means the file is gone from every directory: only map_files can still read it.
    pub nlink: u64,
    /// (major, minor) of the file's device.
    pub dev: (u32, u32),
    /// The file's inode number.
    pub ino: u64,
}

/// Split a `st_dev` into (major, minor) with glibc's encoding (`gnu_dev_major/minor`).
pub fn dev_split(st_dev: u64) -> (u32, u32) {
    let major = ((st_dev >> 32) & 0xffff_f000) | ((st_dev >> 8) & 0x0000_0fff);
    let minor = ((st_dev >> 12) & 0xffff_ff00) | (st_dev & 0x0000_00ff);
    (major as u32, minor as u32)
}

/// Numeric entries of `proc_root`, in ascending order. Other entries (`self`, `sys`...)
/// are skipped.
pub fn list_pids(proc_root: &Path) -> Result<Vec<u32>> {
    let dir = fs::read_dir(proc_root).map_err(|e| Error::from_io(proc_root, e))?;
    let mut pids = Vec::with_capacity(512);
    for entry in dir {
        let entry = entry.map_err(|e| Error::from_io(proc_root, e))?;
        let name = entry.file_name();
        if let Some(pid) = parse_pid(name.as_bytes()) {
            pids.push(pid);
        }
    }
    pids.sort_unstable();
    Ok(pids)
}

fn parse_pid(name: &[u8]) -> Option<u32> {
    if name.is_empty() || name[0] == b'0' {
        return None;
    }
    crate::proc::maps::parse_dec(name).and_then(|v| u32::try_from(v).ok())
}

/// Read one process. See [`ProcReader::read_process`].
pub fn read_process(proc_root: &Path, pid: u32) -> Result<ProcessRaw> {
    ProcReader::new().read_process(proc_root, pid)
}

/// Read the mount table as process `pid` sees it (its mount namespace).
pub fn read_mountinfo(proc_root: &Path, pid: u32) -> Result<Vec<Mount>> {
    ProcReader::new().read_mountinfo(proc_root, pid)
}

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

        // comm first: cheap, and a missing process shows up here before any real work.
        let comm = match self.read_file(b"comm\0", true) {
            Ok(n) => Some(trim_newline(&self.buf[..n]).to_vec()),
            Err(e @ Error::NotFound(_)) => return Err(e),
            Err(_) => None,
        };
        // stat, once: the start time (startedAt, and what "changed since start" compares
        // with), and what a process without a memory map is. Missing, it says nothing by
        // itself (a captured tree may lack it); with no maps either, the process is gone.
        let (start_ticks, mapless) = match self.read_file(b"stat\0", true) {
            Ok(n) => (
                stat_start_ticks(&self.buf[..n]),
                mapless_kind(&self.buf[..n]),
            ),
            Err(Error::NotFound(_)) => (None, Mapless::Gone),
            Err(_) => (None, Mapless::Running),
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

fn mapless_kind(stat: &[u8]) -> Mapless {
    match stat_state_flags(stat) {
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

fn trim_newline(b: &[u8]) -> &[u8] {
    b.strip_suffix(b"\n").unwrap_or(b)
}

/// The state letter (field 3) and the flags (field 9) of `/proc/PID/stat`, counted after
/// the last `)`, since comm may hold `)` and spaces. The flags are None when that field is
/// missing or not a number.
fn stat_state_flags(stat: &[u8]) -> Option<(u8, u64)> {
    let close = stat.iter().rposition(|b| *b == b')')?;
    let state = *stat.get(close + 2)?;
    let flags = stat
        .get(close + 2..)?
        .split(|b| *b == b' ' || *b == b'\n')
        .nth(6)
        .and_then(crate::proc::maps::parse_dec)
        .unwrap_or(0);
    Some((state, flags))
}

/// The start time of `/proc/PID/stat` (field 22, clock ticks after boot): counted from
/// the last `)`, since comm may hold `)` and spaces.
pub fn stat_start_ticks(stat: &[u8]) -> Option<u64> {
    let close = stat.iter().rposition(|b| *b == b')')?;
    // Fields 3.. follow ") "; field 22 is the 20th of them.
    let field = stat
        .get(close + 1..)?
        .split(|b| *b == b' ')
        .filter(|f| !f.is_empty())
        .nth(19)?;
    std::str::from_utf8(field).ok()?.trim_end().parse().ok()
}

/// `mnt:[4026531841]` → 4026531841.
fn parse_ns_link(link: &[u8]) -> Option<u64> {
    let open = link.iter().position(|b| *b == b'[')?;
    let inner = link.get(open + 1..link.len().checked_sub(1)?)?;
    if link.last() != Some(&b']') {
        return None;
    }
    crate::proc::maps::parse_dec(inner)
}

fn read_link_bytes(path: &Path) -> Result<Vec<u8>> {
    fs::read_link(path)
        .map(|p| p.into_os_string().into_vec())
        .map_err(|e| Error::from_io(path, e))
}

fn map_files_path(proc_root: &Path, pid: u32, range: &str) -> PathBuf {
    let mut p = proc_root.join(pid.to_string());
    p.push("map_files");
    p.push(range);
    p
}

/// readlink and stat of `/proc/PID/map_files/START-END` (`range` as
/// [`crate::proc::maps::MapEntry::map_files_name`] gives it). Needs CAP_SYS_ADMIN; without it
/// the kernel refuses and this returns `PermissionDenied`.
pub fn map_file_info(proc_root: &Path, pid: u32, range: &str) -> Result<MapFileInfo> {
    let path = map_files_path(proc_root, pid, range);
    let raw = read_link_bytes(&path)?;
    // stat follows the magic link to the mapped inode itself, even when it is deleted.
    let meta = fs::metadata(&path).map_err(|e| Error::from_io(&path, e))?;
    let (nlink, dev, ino) = (meta.nlink(), meta.dev(), meta.ino());
    let mut target = LinkTarget::from_bytes(raw);
    if target.deleted_suffix && nlink > 0 && names_this_inode(proc_root, pid, &target, dev, ino) {
        // The name really ends in " (deleted)" and is still linked: the kernel added nothing.
        target.path.extend_from_slice(DELETED_SUFFIX);
        target.deleted_suffix = false;
    }
    Ok(MapFileInfo {
        exact_path: target.path,
        deleted: target.deleted_suffix,
        nlink,
        dev: dev_split(dev),
        ino,
    })
}

/// Whether the full link text (suffix included) is a live name of (dev, ino) in the
/// process's root: the one case where " (deleted)" is part of the name.
fn names_this_inode(proc_root: &Path, pid: u32, t: &LinkTarget, dev: u64, ino: u64) -> bool {
    let mut full = t.path.clone();
    full.extend_from_slice(DELETED_SUFFIX);
    let root = read_link_bytes(&proc_root.join(pid.to_string()).join("root")).unwrap_or_default();
    let Some(inside) = path_in_root(&root, &full) else {
        return false;
    };
    matches!(stat_in_root_raw(proc_root, pid, inside), Ok(Some((d, i))) if d == dev && i == ino)
}

/// Open the mapped file read-only through map_files (it works for deleted files too).
pub fn open_map_file(proc_root: &Path, pid: u32, range: &str) -> Result<File> {
    let path = map_files_path(proc_root, pid, range);
    File::open(&path).map_err(|e| Error::from_io(&path, e))
}

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

fn stat_in_root_raw(proc_root: &Path, pid: u32, path: &[u8]) -> Result<Option<(u64, u64)>> {
    Ok(metadata_in_root(proc_root, pid, path)?.map(|m| (m.dev(), m.ino())))
}

/// The metadata of `path` resolved inside process `pid`'s own root and mount namespace,
/// as [`stat_in_root`] resolves it; None if nothing is there now.
pub fn metadata_in_root(proc_root: &Path, pid: u32, path: &[u8]) -> Result<Option<fs::Metadata>> {
    let root_path = proc_root.join(pid.to_string()).join("root");
    let root = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH | libc::O_DIRECTORY)
        .open(&root_path)
        .map_err(|e| Error::from_io(&root_path, e))?;
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
    let display = || root_path.join(OsStr::from_bytes(rel));
    match openat2_in_root(&root, &c_rel) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_split_matches_glibc() {
        // makedev(253, 1) and a large one: makedev(0x12345, 0xabcdef).
        assert_eq!(dev_split(0xfd01), (253, 1));
        let (ma, mi) = (0x12345u64, 0xab_cdefu64);
        let dev = ((ma & 0xfff) << 8) | ((ma & !0xfff) << 32) | (mi & 0xff) | ((mi & !0xff) << 12);
        assert_eq!(dev_split(dev), (0x12345, 0xab_cdef));
    }

    #[test]
    fn ns_link_and_stat_state() {
        assert_eq!(parse_ns_link(b"mnt:[4026531841]"), Some(4026531841));
        assert_eq!(parse_ns_link(b"mnt:[]"), None);
        assert_eq!(parse_ns_link(b"mnt:[12"), None);
        assert_eq!(parse_ns_link(b""), None);
        assert_eq!(
            stat_state_flags(b"42 (a) b) c) Z 1 2").map(|s| s.0),
            Some(b'Z')
        );
        assert_eq!(stat_state_flags(b"42 (x"), None);
    }

    #[test]
    fn start_ticks() {
        let stat = b"7 (a) b) 1 2) S 1 7 7 0 -1 4194560 0 0 0 0 3 4 0 0 20 0 1 0 123456 0 0\n";
        assert_eq!(stat_start_ticks(stat), Some(123456));
        assert_eq!(
            stat_start_ticks(b"7 (a) S 1 7 7 0 -1 4194560 0 0 0 0 3 4 0 0 20 0 1 0"),
            None
        );
        assert_eq!(stat_start_ticks(b"7 (a"), None);
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
    fn pids_and_roots() {
        assert_eq!(parse_pid(b"123"), Some(123));
        assert_eq!(parse_pid(b"self"), None);
        assert_eq!(parse_pid(b"0"), None);
        assert_eq!(parse_pid(b"99999999999"), None);
        assert_eq!(path_in_root(b"/", b"/usr/lib/x"), Some(&b"/usr/lib/x"[..]));
        assert_eq!(
            path_in_root(b"/srv/r", b"/srv/r/usr/x"),
            Some(&b"/usr/x"[..])
        );
        assert_eq!(path_in_root(b"/srv/r", b"/srv/r"), Some(&b"/"[..]));
        assert_eq!(path_in_root(b"/srv/r", b"/srv/rx/usr"), None);
        assert_eq!(path_in_root(b"/srv/r", b"/usr/x"), None);
    }

    #[test]
    fn link_target_suffix() {
        let t = LinkTarget::from_bytes(b"/a (deleted) (deleted)".to_vec());
        assert_eq!(t.path, b"/a (deleted)");
        assert!(t.deleted_suffix);
        let t = LinkTarget::from_bytes(b"/a\nb".to_vec());
        assert!(!t.deleted_suffix);
    }

    fn tree() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/captured/procfs/tree")
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

    #[test]
    fn the_scan_read_agrees_with_the_full_read() {
        let root = tree();
        let full = read_process(&root, 4242).unwrap();
        let (raw, files) = ProcReader::new().read_process_files(&root, 4242).unwrap();
        assert!(raw.maps.is_empty());
        assert_eq!(files, crate::proc::maps::group_file_mappings(&full.maps));
        assert_eq!(
            crate::proc::cgroup::systemd_cgroup_path(&raw.cgroup),
            crate::proc::cgroup::systemd_cgroup_path(&full.cgroup)
        );
        let strip = |p: ProcessRaw| ProcessRaw {
            maps: Vec::new(),
            cgroup: Vec::new(),
            ..p
        };
        assert_eq!(strip(raw), strip(full));
        assert!(matches!(
            ProcReader::new().read_process_files(&root, 4343),
            Err(Error::NotFound(_))
        ));
    }

    #[test]
    fn reads_a_built_proc_tree() {
        // proc_root can point at any tree: files and plain symlinks stand in for /proc's.
        let root = tree();
        assert_eq!(list_pids(&root).unwrap(), vec![4242, 4343]);
        let p = read_process(&root, 4242).unwrap();
        assert_eq!(p.comm.as_deref(), Some(&b"my prog"[..]));
        let exe = p.exe.unwrap();
        assert_eq!(
            (exe.path.as_slice(), exe.deleted_suffix),
            (&b"/tmp/ovt/m/sl"[..], true)
        );
        assert_eq!(p.root.as_deref(), Some(&b"/"[..]));
        let slash = fs::metadata("/").unwrap();
        assert_eq!(p.root_dev_ino, Some((slash.dev(), slash.ino())));
        assert_eq!(p.mnt_ns, Some(4026531841));
        assert_eq!(p.maps.len(), 4);
        let files = crate::proc::maps::group_file_mappings(&p.maps);
        assert_eq!(files.len(), 2);
        assert_eq!(files[1].path, b"/usr/lib/new\nline.so");
        assert!(files[1].deleted_suffix);
        assert_eq!(
            crate::proc::cgroup::systemd_cgroup_path(&p.cgroup),
            Some("/init.scope")
        );
        assert_eq!(read_mountinfo(&root, 4242).unwrap().len(), 3);
        // An empty maps with state Z is a zombie: gone.
        assert!(matches!(read_process(&root, 4343), Err(Error::NotFound(_))));
        assert!(matches!(read_process(&root, 1), Err(Error::NotFound(_))));
        // Errors carry the path they concern.
        match read_mountinfo(&root, 4343) {
            Err(Error::NotFound(path)) => assert!(path.ends_with("4343/mountinfo")),
            other => panic!("{other:?}"),
        }
    }
}
