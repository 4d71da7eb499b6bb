//! The scan's composefs hooks: files on composefs mounts, overlays stacked on them, and
//! deployment files that are copies of their objects (see docs/composefs.md). Kept apart
//! from the scan driver so the rules of each stay readable.

use super::{in_proc_root, root_prefix, Scan};
use crate::composefs::stacked::Stacked;
use crate::maps::FileMapping;
use crate::overlay;
use crate::procfs::{path_in_root, ProcessRaw};

impl Scan<'_> {
    /// The overlay stacked on a composefs mount with this device, as this process sees it.
    pub(super) fn stacked_of(&self, raw: &ProcessRaw, major: u32, minor: u32) -> Option<&Stacked> {
        let view = (
            raw.mnt_ns.unwrap_or(0),
            raw.root.clone().unwrap_or_else(|| b"/".to_vec()),
        );
        self.cfs_stacked.get(&view)?.iter().find(|s| {
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
        let root = raw.root.clone().unwrap_or_else(|| b"/".to_vec());
        let s = self.stacked_of(raw, m.major, m.minor)?;
        if (s.cfs.major, s.cfs.minor) != (m.major, m.minor) {
            return None;
        }
        // Already a path below the stacked mount: as the process sees it.
        if path_in_root(&root, path)
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
        Some(overlay::join(root_prefix(&root), &inner))
    }

    /// Same-file check for mappings on an overlay stacked on composefs or on its composefs
    /// mount (see composefs::stacked); None for every other mapping.
    pub(super) fn stacked_same(
        &self,
        raw: &ProcessRaw,
        m: &FileMapping,
        path: &[u8],
    ) -> Option<bool> {
        let root = raw.root.clone().unwrap_or_else(|| b"/".to_vec());
        let s = self.stacked_of(raw, m.major, m.minor)?;
        let rel = overlay::below(&s.mount_point, path_in_root(&root, path)?)?;
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
        let view = (
            raw.mnt_ns.unwrap_or(0),
            raw.root.clone().unwrap_or_else(|| b"/".to_vec()),
        );
        let mount = self
            .cfs_views
            .get(&view)?
            .iter()
            .find(|c| (c.major, c.minor) == (m.major, m.minor))?;
        let root = raw.root.as_deref().unwrap_or(b"/");
        let rel = overlay::below(&mount.mount_point, path_in_root(root, path)?)?;
        self.cfs.object_at(mount, rel, m.inode).map(|(o, _)| o)
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
