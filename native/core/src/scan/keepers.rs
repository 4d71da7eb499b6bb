//! What identifying a container reads from /proc beyond the scan's own reads, read ahead
//! on a thread beside attribution: its keeper's (conmon's) `cmdline` and the owner of the
//! process's `/proc/PID` (see docs/containers.md). Reading another process's command line
//! is kernel time (its memory is read): about 27 µs each, 200 containers 5 ms of the one
//! attribution thread, where the machine's other core is idle. The keeper of each view's
//! first process is found from the family the scan read (`keeper_walk`, the same walk
//! attribution makes); attribution takes a read from here, waiting for it when the thread
//! has not reached it yet, and reads itself whatever was not planned.
use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex};

use crate::containers::engine::{self, CgroupHint};

/// Each process read by the scan: its parent and its systemd cgroup path, as read.
pub(super) type Family = HashMap<u32, (Option<u32>, Option<String>)>;

/// A walk up at most this many ancestors finds no keeper.
const MAX_WALK: usize = 8;

/// The nearest ancestor of `pid` (whose parent is `ppid`) outside the container's cgroup
/// (`hint`): its PID and its systemd cgroup path. Each ancestor's parent and cgroup from
/// `family`; `read_ppid` and `read_path` read one the scan did not read. None: no keeper
/// (init reached, or a read failed).
pub(super) fn keeper_walk(
    pid: u32,
    ppid: Option<u32>,
    hint: Option<&CgroupHint>,
    family: &Family,
    read_ppid: &mut dyn FnMut(u32) -> Option<u32>,
    read_path: &mut dyn FnMut(u32) -> Option<String>,
) -> Option<(u32, String)> {
    let mut pid = pid;
    let mut parent = ppid;
    for _ in 0..MAX_WALK {
        pid = match parent {
            Some(p) => p,
            None => read_ppid(pid)?,
        };
        if pid <= 1 {
            return None;
        }
        let path = match family.get(&pid) {
            Some((up, Some(path))) => {
                parent = *up;
                path.clone()
            }
            _ => {
                parent = None;
                read_path(pid)?
            }
        };
        let inside =
            engine::from_cgroup_path(&path).is_some_and(|h| hint.is_some_and(|c| c.id == h.id));
        if !inside {
            return Some((pid, path));
        }
    }
    None
}

/// What the thread read so far, and whether it is done.
#[derive(Default)]
struct Read {
    cmdlines: HashMap<u32, Vec<u8>>,
    owners: HashMap<u32, Option<u32>>,
    done: bool,
}

type Shared = Arc<(Mutex<Read>, Condvar)>;

/// The reads planned and the thread making them.
pub(super) struct Keepers {
    shared: Shared,
    /// The keepers whose command line is read here, and the processes whose owner is.
    cmdlines: std::collections::HashSet<u32>,
    owners: std::collections::HashSet<u32>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Marks the reads done when the thread ends, however it ends: nothing waits forever.
struct Done(Shared);

impl Drop for Done {
    fn drop(&mut self) {
        let (lock, cv) = &*self.0;
        lock.lock().unwrap_or_else(|p| p.into_inner()).done = true;
        cv.notify_all();
    }
}

impl Keepers {
    /// Start reading, in this order, the owner of each of `owners` and the command line
    /// of its keeper (None: none found from the family) under `proc_root`.
    pub(super) fn start(proc_root: PathBuf, plan: Vec<(u32, Option<u32>)>) -> Keepers {
        let shared: Shared = Arc::default();
        let owners = plan.iter().map(|(p, _)| *p).collect();
        let cmdlines = plan.iter().filter_map(|(_, k)| *k).collect();
        let mine = shared.clone();
        let thread = std::thread::Builder::new()
            .name("livetree-keepers".into())
            .spawn(move || {
                let done = Done(mine);
                let (lock, cv) = &*done.0;
                for (pid, keeper) in plan {
                    let owner = std::fs::metadata(proc_root.join(pid.to_string()))
                        .ok()
                        .map(|m| m.uid());
                    let cmdline = keeper
                        .map(|k| read_limited(&proc_root.join(k.to_string()).join("cmdline")));
                    let mut read = lock.lock().unwrap_or_else(|p| p.into_inner());
                    read.owners.insert(pid, owner);
                    if let (Some(k), Some(c)) = (keeper, cmdline) {
                        read.cmdlines.insert(k, c);
                    }
                    drop(read);
                    cv.notify_all();
                }
            })
            .ok();
        if thread.is_none() {
            // No thread: nothing is planned, attribution reads everything itself.
            return Keepers {
                shared,
                cmdlines: Default::default(),
                owners: Default::default(),
                thread: None,
            };
        }
        Keepers {
            shared,
            cmdlines,
            owners,
            thread,
        }
    }

    /// Wait until `got` answers from what the thread read (or the thread ended).
    fn wait<T>(&self, mut got: impl FnMut(&mut Read) -> Option<T>) -> Option<T> {
        let (lock, cv) = &*self.shared;
        let mut read = lock.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if let Some(v) = got(&mut read) {
                return Some(v);
            }
            if read.done {
                return None;
            }
            read = cv.wait(read).unwrap_or_else(|p| p.into_inner());
        }
    }

    /// The command line of keeper `pid` as the thread read it; None when it was not
    /// planned (or the thread ended without it): read it then.
    pub(super) fn cmdline(&self, pid: u32) -> Option<Vec<u8>> {
        if !self.cmdlines.contains(&pid) {
            return None;
        }
        self.wait(|r| r.cmdlines.get(&pid).cloned())
    }

    /// The owner of `/proc/PID` as the thread read it (inner None: unreadable); None when
    /// it was not planned.
    pub(super) fn owner(&self, pid: u32) -> Option<Option<u32>> {
        if !self.owners.contains(&pid) {
            return None;
        }
        self.wait(|r| r.owners.get(&pid).copied())
    }
}

impl Drop for Keepers {
    fn drop(&mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The first 64 KiB of a /proc file (a command line is far shorter), empty when unreadable.
/// A /proc file has no size: room for 4 KiB first, so that a command line (conmon's is
/// about 2 KiB) takes one read and the one finding its end — each read of another
/// process's `cmdline` reads its memory again, and an empty buffer growing from 32 bytes
/// took 8.
pub(super) fn read_limited(path: &std::path::Path) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::with_capacity(4096);
    if let Ok(f) = std::fs::File::open(path) {
        let _ = f.take(64 << 10).read_to_end(&mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hint(id: &str) -> CgroupHint {
        engine::from_cgroup_path(&format!("/machine.slice/libpod-{id}.scope")).unwrap()
    }

    #[test]
    fn the_walk_stops_at_the_first_ancestor_outside_the_container() {
        let id = "a".repeat(64);
        let inside = format!("/machine.slice/libpod-{id}.scope");
        let family: Family = [
            (30, (Some(20), Some(inside.clone()))),
            (
                20,
                (
                    Some(10),
                    Some("/machine.slice/libpod-conmon-x.scope".into()),
                ),
            ),
            (10, (Some(1), Some("/system.slice/podman.service".into()))),
        ]
        .into_iter()
        .collect();
        let h = hint(&id);
        let mut no_read = |_| -> Option<u32> { panic!("read a parent the family holds") };
        let mut no_path = |_| -> Option<String> { panic!("read a cgroup the family holds") };
        let got = keeper_walk(40, Some(30), Some(&h), &family, &mut no_read, &mut no_path);
        assert_eq!(
            got,
            Some((20, "/machine.slice/libpod-conmon-x.scope".to_string()))
        );
        // An ancestor the scan did not read is read, and a failed read finds no keeper.
        let mut reads = Vec::new();
        let got = keeper_walk(40, Some(35), Some(&h), &family, &mut |_| None, &mut |p| {
            reads.push(p);
            None
        });
        assert_eq!((got, reads), (None, vec![35]));
        // Up to init: none.
        let got = keeper_walk(5, Some(1), Some(&h), &family, &mut |_| None, &mut |_| None);
        assert_eq!(got, None);
    }

    #[test]
    fn reads_ahead_what_was_planned_only() {
        let d = std::env::temp_dir().join(format!("livetree-keepers-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        for (pid, cmd) in [
            (7u32, &b"conmon\0-b\0/g/overlay-containers/x/userdata\0"[..]),
            (8, b"sh\0"),
        ] {
            std::fs::create_dir_all(d.join(pid.to_string())).unwrap();
            std::fs::write(d.join(pid.to_string()).join("cmdline"), cmd).unwrap();
        }
        let uid = std::fs::metadata(d.join("8")).unwrap().uid();
        // 9 has no /proc entry (exited): its owner is unknown, its keeper's line empty.
        let k = Keepers::start(d.clone(), vec![(8, Some(7)), (9, Some(10))]);
        assert_eq!(
            k.cmdline(7).as_deref(),
            Some(&b"conmon\0-b\0/g/overlay-containers/x/userdata\0"[..])
        );
        assert_eq!(
            k.cmdline(7).as_deref(),
            Some(&b"conmon\0-b\0/g/overlay-containers/x/userdata\0"[..])
        );
        assert_eq!(k.cmdline(10), Some(Vec::new()));
        assert_eq!(k.owner(8), Some(Some(uid)));
        assert_eq!(k.owner(9), Some(None));
        // Not planned: the caller reads it.
        assert_eq!(k.cmdline(8), None);
        assert_eq!(k.owner(7), None);
        drop(k);
        std::fs::remove_dir_all(&d).unwrap();
    }
}
