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
use std::fs::{self, File};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::proc::cgroup::CgroupEntry;
use crate::proc::maps::MapEntry;
use crate::proc::mountinfo::Mount;

mod in_root;
mod reader;
use in_root::stat_in_root_raw;
pub use in_root::{
    below, metadata_in_root, open_in_root, path_in_root, stat_in_root, Opened, ProcessRoot,
};
pub use reader::ProcReader;

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
    /// The parent's PID (`stat` field 4); None when `stat` could not be read.
    pub ppid: Option<u32>,
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
/// are skipped. A directory with none is no `/proc` (a mistyped or empty `--proc-root`):
/// an error, never a host with no processes (a real `/proc` always lists the reader).
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
    if pids.is_empty() {
        return Err(Error::Corrupt {
            path: proc_root.to_path_buf(),
            reason: "no process directory in it: not a /proc, nor a copy of one".into(),
        });
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

fn trim_newline(b: &[u8]) -> &[u8] {
    b.strip_suffix(b"\n").unwrap_or(b)
}

/// What the scan takes from one `/proc/PID/stat` line: the name, the state and flags, the
/// parent and the start time, each as its own function below reads it, with the last `)`
/// (where comm ends) found once for all of them. The reader parses every process's stat;
/// searching it again for each field cost as much as the rest of attribution together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StatFields<'a> {
    /// [`stat_comm`].
    pub comm: Option<&'a [u8]>,
    /// [`stat_state_flags`].
    pub state_flags: Option<(u8, u64)>,
    /// [`stat_ppid`].
    pub ppid: Option<u32>,
    /// [`stat_start_ticks`].
    pub start_ticks: Option<u64>,
}

/// The fields of `stat` the scan uses (see [`StatFields`]).
pub(crate) fn parse_stat(stat: &[u8]) -> StatFields<'_> {
    let Some(close) = last_close(stat) else {
        return StatFields {
            comm: None,
            state_flags: None,
            ppid: None,
            start_ticks: None,
        };
    };
    let (ppid, start_ticks) = ppid_start_after(stat, close);
    StatFields {
        comm: comm_before(stat, close),
        state_flags: state_flags_after(stat, close),
        ppid,
        start_ticks,
    }
}

/// Index of the last `)`: a word at a time from the end (the "has a zero byte" test of
/// maps' `find_newline` on the word XOR a word of `)`), then that word's bytes from the top,
/// since the test may flag a byte above the match it found, never miss one.
fn last_close(s: &[u8]) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    const CLOSE: u64 = LO * b')' as u64;
    let mut end = s.len();
    while end >= 8 {
        let mut word = [0u8; 8];
        word.copy_from_slice(&s[end - 8..end]);
        let w = u64::from_le_bytes(word) ^ CLOSE;
        if w.wrapping_sub(LO) & !w & HI != 0 {
            if let Some(i) = s[end - 8..end].iter().rposition(|b| *b == b')') {
                return Some(end - 8 + i);
            }
        }
        end -= 8;
    }
    s[..end].iter().rposition(|b| *b == b')')
}

/// The state letter (field 3) and the flags (field 9) of `/proc/PID/stat`, counted after
/// the last `)`, since comm may hold `)` and spaces. The flags are None when that field is
/// missing or not a number. (The reader takes them from [`parse_stat`].)
#[cfg(test)]
fn stat_state_flags(stat: &[u8]) -> Option<(u8, u64)> {
    state_flags_after(stat, last_close(stat)?)
}

/// [`stat_state_flags`] with the last `)` at `close`.
fn state_flags_after(stat: &[u8], close: usize) -> Option<(u8, u64)> {
    let state = *stat.get(close + 2)?;
    let flags = stat
        .get(close + 2..)?
        .split(|b| *b == b' ' || *b == b'\n')
        .nth(6)
        .and_then(crate::proc::maps::parse_dec)
        .unwrap_or(0);
    Some((state, flags))
}

/// The process's name in `/proc/PID/stat` (field 2): the bytes between the first `(` and
/// the last `)`, since the name may hold either, and spaces. None when there are no such
/// parentheses (no stat file of a kernel).
pub fn stat_comm(stat: &[u8]) -> Option<&[u8]> {
    comm_before(stat, last_close(stat)?)
}

/// [`stat_comm`] with the last `)` at `close`.
fn comm_before(stat: &[u8], close: usize) -> Option<&[u8]> {
    let open = stat.iter().position(|b| *b == b'(')?;
    stat.get(open + 1..close)
}

/// The parent PID in `/proc/PID/stat` (field 4, the one after the `)` that ends comm,
/// and the state).
pub fn stat_ppid(stat: &[u8]) -> Option<u32> {
    ppid_start_after(stat, last_close(stat)?).0
}

/// The start time of `/proc/PID/stat` (field 22, clock ticks after boot): counted from
/// the last `)`, since comm may hold `)` and spaces.
pub fn stat_start_ticks(stat: &[u8]) -> Option<u64> {
    ppid_start_after(stat, last_close(stat)?).1
}

/// [`stat_ppid`] and [`stat_start_ticks`] with the last `)` at `close`, in one walk of the
/// fields: 3.. follow ") "; the parent is the 2nd of them, the start time the 20th.
fn ppid_start_after(stat: &[u8], close: usize) -> (Option<u32>, Option<u64>) {
    let mut fields = stat[close + 1..]
        .split(|b| *b == b' ')
        .filter(|f| !f.is_empty());
    if fields.next().is_none() {
        return (None, None);
    }
    let Some(ppid) = fields.next() else {
        return (None, None);
    };
    let ppid = crate::proc::maps::parse_dec(ppid).and_then(|v| u32::try_from(v).ok());
    let start = fields
        .nth(17)
        .and_then(|f| std::str::from_utf8(f).ok()?.trim_end().parse().ok());
    (ppid, start)
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
    fn the_name_in_stat_is_everything_between_the_first_open_and_the_last_close_parenthesis() {
        let name = |stat: &[u8]| stat_comm(stat).map(<[u8]>::to_vec);
        assert_eq!(name(b"7 (sleep) S 1 7"), Some(b"sleep".to_vec()));
        assert_eq!(name(b"7 (a) b) (c) S 1 7"), Some(b"a) b) (c".to_vec()));
        assert_eq!(name(b"7 (new\nline) S 1"), Some(b"new\nline".to_vec()));
        assert_eq!(name(b"7 () S 1"), Some(Vec::new()));
        assert_eq!(name(b"7 sleep S 1"), None);
        assert_eq!(name(b"7 ) (x"), None);
    }

    #[test]
    fn the_last_close_parenthesis_is_found_a_word_at_a_time_as_byte_by_byte() {
        let line = b"12 (a) b)c) ) x)) S 1 12 12 0 -1 4194560 0 0 0 0 3 4 0 0 20 0 1 0 99 0 0 )\n";
        // Every cut of the line, so the match falls at every place in a word and in the tail.
        for end in 0..=line.len() {
            for start in 0..=end.min(9) {
                let s = &line[start..end];
                assert_eq!(last_close(s), s.iter().rposition(|b| *b == b')'), "{s:?}");
            }
        }
        assert_eq!(last_close(b""), None);
        assert_eq!(last_close(b"no parenthesis here at all"), None);
        // A byte just above a `)` that the word test flags as well (a borrow: '(' is ')' XOR 1).
        assert_eq!(last_close(b"abcdef)("), Some(6));
        assert_eq!(last_close(b"abcdef()"), Some(7));
    }

    #[test]
    fn one_stat_parse_gives_what_each_field_function_gives() {
        let lines: [&[u8]; 9] = [
            b"7 (sleep) S 1 7 7 0 -1 4194560 0 0 0 0 3 4 0 0 20 0 1 0 123456 0 0\n",
            b"7 (a) b) 1 2) S 1 7 7 0 -1 4194560 0 0 0 0 3 4 0 0 20 0 1 0 123456 0 0\n",
            b"2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 0 0 0 0 20 0 1 0 8 0 0",
            b"7 (a) S 1 7 7 0 -1 4194560 0 0 0 0 3 4 0 0 20 0 1 0",
            b"7 (a)  S  1 7",
            b"7 (a) Z",
            b"7 (a",
            b"7 ) (x",
            b"",
        ];
        for l in lines {
            let f = parse_stat(l);
            assert_eq!(f.comm, stat_comm(l), "{l:?}");
            assert_eq!(f.state_flags, stat_state_flags(l), "{l:?}");
            assert_eq!(f.ppid, stat_ppid(l), "{l:?}");
            assert_eq!(f.start_ticks, stat_start_ticks(l), "{l:?}");
        }
        let f = parse_stat(lines[0]);
        assert_eq!(
            (f.comm, f.state_flags, f.ppid, f.start_ticks),
            (
                Some(&b"sleep"[..]),
                Some((b'S', 4_194_560)),
                Some(1),
                Some(123456)
            )
        );
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
        // A directory without a single PID is no /proc: an error naming it, not no processes.
        let empty = root.join("4242/ns");
        assert!(fs::read_dir(&empty).unwrap().all(|e| e
            .unwrap()
            .file_name()
            .as_bytes()
            .iter()
            .any(|b| !b.is_ascii_digit())));
        assert_eq!(
            list_pids(&empty).unwrap_err().to_string(),
            format!(
                "{}: corrupt: no process directory in it: not a /proc, nor a copy of one",
                empty.display()
            )
        );
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
