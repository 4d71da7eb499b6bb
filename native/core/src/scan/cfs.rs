//! The scan's composefs hooks: files on composefs mounts, overlays stacked on them, and
//! deployment files that are copies of their objects (see docs/composefs.md). Kept apart
//! from the scan driver so the rules of each stay readable.

use std::collections::{BTreeMap, HashMap};
use std::os::unix::fs::MetadataExt;

use super::{in_proc_root, root_prefix, view_of, RawProcess, Scan, View};
use crate::composefs::identify::MountProbe;
use crate::composefs::stacked::Stacked;
use crate::composefs::{CfsMount, ProcProbe};
use crate::overlay;
use crate::proc::maps::FileMapping;
use crate::proc::procfs::{self, path_in_root, ProcessRaw};

/// Where one mapped file of a composefs mount can be read: a process mapping it, the
/// mapping's range (for map_files) and its path inside that process's root.
struct MappedAt {
    pid: u32,
    range: crate::proc::maps::MapRange,
    path: Vec<u8>,
}

/// One composefs mount to identify: a view showing it (and a process of that view), and
/// what processes map from it.
struct MountWork {
    mount: CfsMount,
    view: View,
    pid: u32,
    inos: BTreeMap<u64, Vec<u8>>,
    at: HashMap<u64, MappedAt>,
}

impl Scan<'_> {
    /// Identify every composefs mount the views show, from the distinct files all processes
    /// map from it (checksummed once per (dev, ino)) and files read through the mount
    /// (composefs/identify.rs).
    pub(super) fn identify_composefs(&mut self, raws: &[RawProcess]) {
        let mut work: Vec<MountWork> = Vec::new();
        let mut by_dev: HashMap<(u32, u32), usize> = HashMap::new();
        for (_, r) in raws {
            let Ok((raw, maps)) = r else { continue };
            let Some(mounts) = self.cfs_views.of(raw) else {
                continue;
            };
            for c in mounts {
                let key = (c.major, c.minor);
                if self.cfs.decided(c.major, c.minor) || by_dev.contains_key(&key) {
                    continue;
                }
                by_dev.insert(key, work.len());
                work.push(MountWork {
                    mount: c.clone(),
                    view: view_of(raw),
                    pid: raw.pid,
                    inos: BTreeMap::new(),
                    at: HashMap::new(),
                });
            }
            let root = raw.root.as_deref().unwrap_or(b"/");
            for m in maps {
                let Some(&w) = by_dev.get(&(m.major, m.minor)) else {
                    continue;
                };
                let w = &mut work[w];
                if let std::collections::btree_map::Entry::Vacant(e) = w.inos.entry(m.inode) {
                    let path = path_in_root(root, &m.path).unwrap_or(&m.path).to_vec();
                    // Its path in the image: below the mount point as this process sees it
                    // (a file a stacked overlay serves shows a path relative to the layer;
                    // identification checks a path against the nid before trusting it).
                    let rel = overlay::below(&w.mount.mount_point, &path)
                        .map(<[u8]>::to_vec)
                        .unwrap_or_else(|| path.clone());
                    e.insert(rel);
                    w.at.insert(
                        m.inode,
                        MappedAt {
                            pid: raw.pid,
                            range: m.range,
                            path,
                        },
                    );
                }
            }
        }
        let proc_root = self.cfg.proc_root.clone();
        for w in work {
            // Other mounts below it in the view probed through cover parts of it. The view
            // is found by its key: the PID it was read through may be another process of it.
            let covered = self
                .pending_views
                .iter()
                .find(|v| v.view == w.view)
                .map(|v| {
                    v.mounts
                        .iter()
                        .filter(|m| (m.major, m.minor) != (w.mount.major, w.mount.minor))
                        .filter(|m| m.mount_point != w.mount.mount_point)
                        .filter(|m| procfs::below(&w.mount.mount_point, &m.mount_point).is_some())
                        .map(|m| m.mount_point.clone())
                        .collect()
                })
                .unwrap_or_default();
            let probe = ProcProbe {
                proc_root: &proc_root,
                pid: w.pid,
                mount_point: &w.mount.mount_point,
                covered,
            };
            let (major, minor) = (w.mount.major, w.mount.minor);
            self.cfs.load_stored(
                probe.root_ino(),
                &self.k.catalog,
                &mut self.k.images,
                &mut self.warnings,
            );
            // Kept across scans by the mount's unique id, where the kernel gives one.
            let unique = mount_unique_id(&in_proc_root(&proc_root, w.pid, &w.mount.mount_point));
            // Proven by an earlier scan of this very mount: it serves the same image still.
            if let Some(id) = unique.and_then(|u| self.k.images.proven(u)) {
                if self.cfs.adopt(&w.mount, &id) {
                    continue;
                }
            }
            let sums = &mut self.cfs_sums;
            let images = &mut self.k.images;
            let hashed = &mut self.cfs_hashed;
            let mut hash = |ino: u64| {
                sums.entry((major, minor, ino))
                    .or_insert_with(|| {
                        let at = w.at.get(&ino)?;
                        let compute = || mapped_checksum(&proc_root, at, (major, minor, ino));
                        let (sum, computed) = match unique {
                            Some(u) => images.mapped_sum(u, ino, compute),
                            None => (compute(), true),
                        };
                        *hashed += usize::from(computed);
                        sum
                    })
                    .clone()
            };
            let catalog = &self.k.catalog;
            let tree = |commit: &str, path: &[u8]| -> Option<Option<String>> {
                let hits = catalog.find_path(path).ok()?;
                if !catalog.has_commit(commit).unwrap_or(false) {
                    return None;
                }
                Some(
                    hits.into_iter()
                        .find(|h| h.commit == commit && !h.is_symlink)
                        .map(|h| h.object),
                )
            };
            self.cfs.identify_mount(
                &w.mount,
                &w.inos,
                &mut hash,
                &probe,
                &tree,
                &mut self.warnings,
            );
            if let (Some(u), Some(id)) = (unique, self.cfs.proven_deployment(major, minor)) {
                self.k.images.remember_proven(u, id);
            }
        }
    }

    /// The overlay stacked on a composefs mount with this device, as this process sees it.
    pub(super) fn stacked_of(&self, raw: &ProcessRaw, major: u32, minor: u32) -> Option<&Stacked> {
        self.cfs_stacked.of(raw)?.iter().find(|s| {
            (s.major, s.minor) == (major, minor) || (s.cfs.major, s.cfs.minor) == (major, minor)
        })
    }

    /// A file a stacked overlay serves from its composefs layer shows in maps with a path
    /// relative to that layer (`/lib/x.so` for `/usr/lib/x.so`): name it as the process
    /// sees it, when the image's entry there is the mapped inode.
    pub(super) fn stacked_lower_path(
        &self,
        raw: &ProcessRaw,
        m: &FileMapping,
        path: &[u8],
    ) -> Option<Vec<u8>> {
        let s = self.stacked_of(raw, m.major, m.minor)?;
        let root = raw.root.as_deref().unwrap_or(b"/");
        if (s.cfs.major, s.cfs.minor) != (m.major, m.minor) {
            return None;
        }
        // Already a path below the stacked mount: as the process sees it.
        if path_in_root(root, path)
            .and_then(|p| overlay::below(&s.mount_point, p))
            .is_some()
        {
            return None;
        }
        let img = self.cfs.image_of(m.major, m.minor)?;
        let f = img.index.as_ref()?.get(&overlay::join(&s.prefix, path))?;
        if !crate::composefs::image::same_ino(m.inode, f.ino) {
            return None;
        }
        let inner = overlay::join(&s.mount_point, path);
        Some(overlay::join(root_prefix(root), &inner))
    }

    /// Same-file check for mappings on an overlay stacked on composefs or on its composefs
    /// mount (see composefs::stacked); None for every other mapping.
    pub(super) fn stacked_same(
        &self,
        raw: &ProcessRaw,
        m: &FileMapping,
        path: &[u8],
    ) -> Option<bool> {
        let s = self.stacked_of(raw, m.major, m.minor)?;
        let root = raw.root.as_deref().unwrap_or(b"/");
        let rel = overlay::below(&s.mount_point, path_in_root(root, path)?)?;
        let proc_root = &self.cfg.proc_root;
        let pid = raw.pid;
        self.cfs
            .stacked_same(s, rel, (m.major, m.minor, m.inode), &|p| {
                Some(in_proc_root(proc_root, pid, p))
            })
    }

    /// The object of a file mapped through a composefs mount of this process's view: the
    /// image entry at its path, which must carry the inode number maps shows.
    pub(super) fn composefs_object(
        &self,
        raw: &ProcessRaw,
        m: &FileMapping,
        path: &[u8],
    ) -> Option<String> {
        let mount = self
            .cfs_views
            .of(raw)?
            .iter()
            .find(|c| (c.major, c.minor) == (m.major, m.minor))?;
        let root = raw.root.as_deref().unwrap_or(b"/");
        let rel = overlay::below(&mount.mount_point, path_in_root(root, path)?)?;
        self.cfs.object_at(mount, rel, m.inode).map(|(o, _)| o)
    }

    /// A composefs file a process mapped before an overlay whose lower layer is the physical
    /// deployment directory (`ostree admin unlock`: `lowerdir=usr` from that directory) was
    /// mounted over it: the path now names the deployment's hard link of the very object the
    /// image's entry redirects to. The same bytes from the same tree: not a replacement.
    pub(super) fn same_object_now(
        &mut self,
        raw: &ProcessRaw,
        m: &FileMapping,
        path: &[u8],
        now: Option<(u32, u32, u64)>,
    ) -> bool {
        let Some((ma, mi, _)) = now else {
            return false;
        };
        let Some(o) = self.overlay_of(raw, ma, mi) else {
            return false;
        };
        let Some(f) = self.serving(raw, &o, path) else {
            return false;
        };
        if !o.is_deployment_layer(&f.layer) {
            return false;
        }
        let Some(was) = self.composefs_object(raw, m, path) else {
            return false;
        };
        self.k.object_of(f.major, f.minor, f.ino).as_deref() == Some(was.as_str())
    }

    /// A deployment file that is a copy, not its object (checked out from a `bare-user` or
    /// `archive` repo): its path inside the root must be a file of the root deployment's
    /// commit, and then its content checksum (through map_files, once per (dev, ino)) is
    /// what it is looked up by. Never by path alone: a file edited in place checksums to
    /// something else and is attributed (or not) as that.
    pub(super) fn copied_object(
        &mut self,
        raw: &ProcessRaw,
        m: &FileMapping,
        path: &[u8],
        root_dep: Option<&str>,
    ) -> Option<String> {
        let commit = root_dep.and_then(crate::attribute::commit_of_id)?;
        let root = raw.root.as_deref().unwrap_or(b"/");
        let tree_path = path_in_root(root, path)?;
        let hits = self.k.catalog.find_path(tree_path).ok()?;
        if !hits.iter().any(|h| h.commit == commit && !h.is_symlink) {
            return None;
        }
        self.deleted_object(raw, m)
    }
}

/// The ostree content checksum of a mapped file's bytes: through map_files (the very mapped
/// file), else through its path in the process's root when that still opens the very inode
/// maps shows (a non-root scan of its own processes). Read with pread only, never executed.
fn mapped_checksum(
    proc_root: &std::path::Path,
    at: &MappedAt,
    (major, minor, ino): (u32, u32, u64),
) -> Option<String> {
    if let Ok(f) = procfs::open_map_file(proc_root, at.pid, &at.range.name()) {
        if let Ok(sum) = crate::ostree::checksum::checksum_file(&f) {
            return Some(sum);
        }
    }
    let f = std::fs::File::open(in_proc_root(proc_root, at.pid, &at.path)).ok()?;
    let meta = f.metadata().ok()?;
    if procfs::dev_split(meta.dev()) != (major, minor) || meta.ino() != ino {
        return None;
    }
    crate::ostree::checksum::checksum_file(&f).ok()
}

/// The kernel's unique id of the mount `path` is the root of (statx STATX_MNT_ID_UNIQUE,
/// Linux >= 6.8; never reused, unlike mountinfo's ids). None on older kernels.
fn mount_unique_id(path: &std::path::Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    let mut stx: libc::statx = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a valid NUL-terminated path and `stx` a writable statx buffer.
    let rc = unsafe {
        libc::statx(
            libc::AT_FDCWD,
            c.as_ptr(),
            libc::AT_STATX_DONT_SYNC,
            libc::STATX_MNT_ID_UNIQUE,
            &mut stx,
        )
    };
    (rc == 0 && stx.stx_mask & libc::STATX_MNT_ID_UNIQUE != 0).then_some(stx.stx_mnt_id)
}
