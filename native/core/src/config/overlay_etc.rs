//! The newest change under a container's `/etc` from the pieces of its root overlay, so
//! that the open-file check may skip the fd directories of its processes without walking
//! `/etc` through the overlay (docs/config.md, "Cost").
//!
//! Whatever a path of the merged view shows is an inode of one of the overlay's layer
//! directories (`stat` through the overlay answers with the inode of the upper or of the
//! top-most lower that holds it, a merged directory with its upper's or top-most lower's)
//! or of what is mounted over it. A change made inside the container lands in the upper
//! directory: a file or directory copied up (a new inode, changed now), a new file, a
//! whiteout for one removed, a directory of the upper changed by a removal or rename. So
//! the newest change time under the merged `/etc`, as a walk of it through the process's
//! root would find it, is at most the newest of:
//! - everything under each lower layer's `etc` (layers are shared by the containers of one
//!   image: walked once per scan for all of them);
//! - everything under the upper's `etc`, or — when the upper has none — the upper
//!   directory itself (an `/etc` of the upper alone removed since changed it);
//! - each mount below `/etc` in the container's mount table (podman bind-mounts
//!   `/etc/hosts`, `/etc/hostname`, `/etc/resolv.conf`): the mounted file as seen through
//!   the process's root, or everything under a mounted directory.
//!
//! A layer's `etc` is walked as a root's is (`open_files::newest_etc`: `lstat` of every
//! entry, at most `WALK_LIMIT`); anything that cannot be read whole, something mounted on
//! `/etc` itself, a mount point that cannot be seen, answers None, and the fd directories
//! are read as without it. Read-only: `lstat` and `readdir` of the layer directories.
use std::collections::HashMap;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::open_files::newest_etc;
use crate::proc::mountinfo::Mount;

/// What the merged `/etc` of a container's root overlay is made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverlayEtc {
    /// The upper (the container's own writable layer) directory, as the kernel mounted it.
    pub upper: PathBuf,
    /// The lower layer directories, as the kernel mounted them.
    pub lowers: Vec<PathBuf>,
    /// The mount points strictly below `/etc` in the container's mount table.
    pub mounts: Vec<Vec<u8>>,
}

/// Whether `path` is `/etc` or below it.
fn at_or_below_etc(path: &[u8]) -> bool {
    path == b"/etc" || path.starts_with(b"/etc/")
}

impl OverlayEtc {
    /// The pieces of a root overlay whose layer directories are `layers` (the upper first,
    /// then the lowers, exactly as mounted), seen with mount table `mounts` in which the
    /// overlay is mount `root_mount_id`. None when anything but the overlay is mounted on
    /// `/` or on `/etc` itself: then `/etc` is not the overlay's.
    pub fn new(layers: &[PathBuf], mounts: &[Mount], root_mount_id: u32) -> Option<OverlayEtc> {
        let (upper, lowers) = layers.split_first()?;
        let mut below = Vec::new();
        for m in mounts.iter().filter(|m| m.mount_id != root_mount_id) {
            let p = m.mount_point.as_slice();
            if p == b"/" || p == b"/etc" {
                return None;
            }
            if at_or_below_etc(p) && !below.contains(&m.mount_point) {
                below.push(m.mount_point.clone());
            }
        }
        Some(OverlayEtc {
            upper: upper.clone(),
            lowers: lowers.to_vec(),
            mounts: below,
        })
    }

    /// The newest change time (ctime, ns) under the merged `/etc` as the process whose root
    /// is `root` (`/proc/PID/root`) sees it, or a bound above it; None when a piece could not
    /// be read whole. Stops early, as `newest_etc` does, once a change at or past `enough` is
    /// seen. `lowers` keeps each lower layer's answer for the scan.
    pub fn newest(
        &self,
        root: &Path,
        enough: i64,
        lowers: &mut HashMap<PathBuf, Option<i64>>,
    ) -> Option<i64> {
        // The container's own changes first: the upper's `etc` is small, and a change there
        // after the processes started ends it at once.
        let mut newest = newest_etc(&self.upper.join("etc"), enough)?;
        for m in &self.mounts {
            if newest >= enough {
                return Some(newest);
            }
            let rel = m.strip_prefix(b"/").unwrap_or(m);
            let at = root.join(std::ffi::OsStr::from_bytes(rel));
            // `lstat` of a mount point is of the root of what is mounted there.
            let meta = std::fs::symlink_metadata(&at).ok()?;
            let this = if meta.is_dir() {
                newest_etc(&at, enough)?
            } else {
                meta.ctime() * 1_000_000_000 + meta.ctime_nsec()
            };
            newest = newest.max(this);
        }
        for l in &self.lowers {
            if newest >= enough {
                return Some(newest);
            }
            let this = *lowers
                .entry(l.clone())
                .or_insert_with(|| newest_etc(&l.join("etc"), i64::MAX));
            newest = newest.max(this?);
        }
        Some(newest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mount(id: u32, point: &str) -> Mount {
        Mount {
            mount_id: id,
            parent_id: 1,
            major: 0,
            minor: 1,
            root: b"/".to_vec(),
            mount_point: point.as_bytes().to_vec(),
            mount_options: "rw".into(),
            optional_fields: Vec::new(),
            fstype: "tmpfs".into(),
            source: b"tmpfs".to_vec(),
            super_options: Vec::new(),
        }
    }

    fn ctime(p: &Path) -> i64 {
        let m = std::fs::symlink_metadata(p).unwrap();
        m.ctime() * 1_000_000_000 + m.ctime_nsec()
    }

    #[test]
    fn the_mount_table_decides_which_mounts_count() {
        let layers = vec![PathBuf::from("/s/up"), PathBuf::from("/s/lo")];
        let table = [
            mount(10, "/"),
            mount(11, "/proc"),
            mount(12, "/etc/hosts"),
            mount(13, "/etc/hostname"),
            mount(14, "/etcetera"),
            mount(15, "/etc/hosts"),
        ];
        let o = OverlayEtc::new(&layers, &table, 10).unwrap();
        assert_eq!(o.upper, PathBuf::from("/s/up"));
        assert_eq!(o.lowers, vec![PathBuf::from("/s/lo")]);
        assert_eq!(
            o.mounts,
            vec![b"/etc/hosts".to_vec(), b"/etc/hostname".to_vec()]
        );
        // Something else on `/` or on `/etc` itself: `/etc` is not the overlay's.
        assert_eq!(
            OverlayEtc::new(&layers, &[mount(10, "/"), mount(16, "/etc")], 10),
            None
        );
        assert_eq!(
            OverlayEtc::new(&layers, &[mount(10, "/"), mount(17, "/")], 10),
            None
        );
        assert_eq!(OverlayEtc::new(&[], &table, 10), None);
    }

    #[test]
    fn newest_of_the_pieces() {
        let d = std::env::temp_dir().join(format!("livetree-overlay-etc-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        for p in [
            "up/etc",
            "lo1/etc/deep",
            "lo2",
            "root/etc/mnt-dir",
            "root/etc",
        ] {
            std::fs::create_dir_all(d.join(p)).unwrap();
        }
        std::fs::write(d.join("lo1/etc/deep/a.conf"), b"a").unwrap();
        std::fs::write(d.join("up/etc/hosts"), b"").unwrap();
        std::fs::write(d.join("root/etc/hosts"), b"127.0.0.1 x\n").unwrap();
        std::fs::write(d.join("root/etc/mnt-dir/b.conf"), b"b").unwrap();
        let o = OverlayEtc {
            upper: d.join("up"),
            lowers: vec![d.join("lo1"), d.join("lo2")],
            mounts: vec![b"/etc/hosts".to_vec(), b"/etc/mnt-dir".to_vec()],
        };
        let all = [
            "up/etc",
            "up/etc/hosts",
            "lo1/etc",
            "lo1/etc/deep",
            "lo1/etc/deep/a.conf",
            // lo2 has no etc: its own directory stands for it.
            "lo2",
            "root/etc/hosts",
            "root/etc/mnt-dir",
            "root/etc/mnt-dir/b.conf",
        ];
        let newest = all.iter().map(|p| ctime(&d.join(p))).max().unwrap();
        let mut cache = HashMap::new();
        assert_eq!(
            o.newest(&d.join("root"), i64::MAX, &mut cache),
            Some(newest)
        );
        // Each lower's answer is kept for the scan.
        assert_eq!(cache.len(), 2);
        assert_eq!(cache[&d.join("lo2")], Some(ctime(&d.join("lo2"))));

        // A change deep in a lower layer moves the answer.
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(d.join("lo1/etc/deep/a.conf"), b"changed").unwrap();
        let changed = ctime(&d.join("lo1/etc/deep/a.conf"));
        assert!(changed > newest);
        assert_eq!(
            o.newest(&d.join("root"), i64::MAX, &mut HashMap::new()),
            Some(changed)
        );
        // Asked to stop at once: the upper's `etc` itself is enough, no lower is walked.
        let mut cache = HashMap::new();
        assert_eq!(
            o.newest(&d.join("root"), i64::MIN, &mut cache),
            Some(ctime(&d.join("up/etc")))
        );
        assert!(cache.is_empty());

        // The upper without `etc`: the upper directory itself (an `/etc` removed since).
        std::fs::remove_dir_all(d.join("up/etc")).unwrap();
        let up = ctime(&d.join("up"));
        assert!(
            o.newest(&d.join("root"), i64::MAX, &mut HashMap::new())
                .unwrap()
                >= up
        );
        // A mount point that cannot be seen, a layer that cannot be read: unknown.
        let gone = OverlayEtc {
            mounts: vec![b"/etc/none".to_vec()],
            ..o.clone()
        };
        assert_eq!(
            gone.newest(&d.join("root"), i64::MAX, &mut HashMap::new()),
            None
        );
        let unreadable = OverlayEtc {
            lowers: vec![d.join("no-such-layer/sub")],
            mounts: Vec::new(),
            ..o.clone()
        };
        assert_eq!(
            unreadable.newest(&d.join("root"), i64::MAX, &mut HashMap::new()),
            None
        );
        std::fs::remove_dir_all(&d).unwrap();
    }
}
