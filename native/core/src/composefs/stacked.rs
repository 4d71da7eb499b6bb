//! Dynamic overlays stacked on a composefs root (`ostree admin unlock`, `usroverlay`,
//! apply-live on a composefs host): an overlay on `/usr` whose lower layer is the composefs
//! mount's `/usr`.
//!
//! The layers sit on different filesystems, which changes what the kernel shows: a file
//! served from the lower layer appears in maps with the composefs mount's device, the
//! image's inode number and a path relative to the lower layer's root (overlayfs reads it
//! through a private clone of that mount); `stat` through the overlay gives per-layer
//! pseudo devices. So "is this still the file at that path" is answered from the layers
//! themselves: the upper directory's entry, else the image's entry at that tree path.
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::PathBuf;

use super::image::same_ino;
use super::{CfsMount, Composefs};
use crate::overlay::{self, join, Layer, LayerFile, OverlayMount};
use crate::proc::mountinfo::Mount;

/// One overlay stacked on a composefs mount, as one process sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stacked {
    /// The stacked overlay's device major number, which files mapped through it show.
    pub major: u32,
    /// The stacked overlay's device minor number.
    pub minor: u32,
    /// Its mount point relative to the process's root.
    pub mount_point: Vec<u8>,
    /// The composefs mount its lower layer lies on.
    pub cfs: CfsMount,
    /// Where its lower layer lies in the image (`/usr`).
    pub prefix: Vec<u8>,
    /// Which of its lowerdirs is the composefs tree.
    pub layer: usize,
    /// Its upper directory as mountinfo gives it, if any.
    pub upperdir: Option<Vec<u8>>,
}

/// What the upper directory holds at `rel`: its (dev, ino), or a whiteout/absence.
enum Upper {
    File(u64),
    Whiteout,
    Absent,
}

impl Composefs {
    /// Mark the overlays of one mount table that are mounted on an identified composefs
    /// mount with a lower layer naming the directory they cover: their lower layer is that
    /// deployment's tree (`lower_deployment`, `tree_prefix` set as for hard-link roots).
    /// Both must hold: the overlay's parent mount is the composefs mount, and a lowerdir
    /// ends with the covered path (the layer path itself lives in the mounter's view).
    ///
    /// A relative lowerdir is relative to the mounter's directory, which mountinfo does not
    /// say: `ostree admin unlock` mounts `lowerdir=usr` from the *physical* deployment
    /// directory (its hard-link tree), not from the composefs mount. Which one it is, the
    /// inode numbers of files served from the lower layer tell: the image's nids, or the
    /// physical files' inodes. A physical lower layer makes the overlay an ordinary overlay
    /// on that deployment (`relative_base` the deployment directory), not a stacked one.
    /// `stat_in` gives the inode number of a path inside the process's root (no final
    /// symlink followed), `host_ino` that of a path as the scanner sees it.
    pub fn stack_overlays(
        &self,
        mounts: &[Mount],
        cfs: &[CfsMount],
        found: &mut [OverlayMount],
        stat_in: &dyn Fn(&[u8]) -> Option<u64>,
        host_ino: &dyn Fn(&[u8]) -> Option<u64>,
    ) -> Vec<Stacked> {
        let mut out = Vec::new();
        for o in found.iter_mut().filter(|o| o.lower_deployment.is_none()) {
            let Some(m) = mounts.iter().find(|m| {
                (m.major, m.minor) == (o.major, o.minor) && m.mount_point == o.mount_point
            }) else {
                continue;
            };
            for c in cfs {
                let Some(img) = self.image_of(c.major, c.minor) else {
                    continue;
                };
                let parent_is_cfs = mounts
                    .iter()
                    .any(|p| p.mount_id == m.parent_id && (p.major, p.minor) == (c.major, c.minor));
                let Some(prefix) = overlay::below(&c.mount_point, &o.mount_point) else {
                    continue;
                };
                if !parent_is_cfs || prefix == b"/" {
                    continue;
                }
                let want = &prefix[1..];
                let layer = o.lowerdirs.iter().position(|l| {
                    let l = l.strip_suffix(b"/").unwrap_or(l);
                    l == want || l.ends_with(prefix)
                });
                let Some(layer) = layer else { continue };
                let dir = img
                    .image
                    .parent()
                    .map(|d| d.as_os_str().as_bytes().to_vec());
                let relative = !o.lowerdirs[layer].starts_with(b"/");
                if let (true, Some(dir), Some(index)) = (relative, dir, img.index.as_ref()) {
                    if physical_lower(index, prefix, &o.mount_point, &dir, stat_in, host_ino) {
                        o.lower_deployment = Some(img.deployment_id.clone());
                        o.deployment_layer = Some(layer);
                        o.tree_prefix = prefix.to_vec();
                        o.relative_base = Some(dir.clone());
                        o.deployment_lower = Some(join(&dir, prefix));
                        break;
                    }
                }
                o.lower_deployment = Some(img.deployment_id.clone());
                o.deployment_layer = Some(layer);
                o.tree_prefix = prefix.to_vec();
                out.push(Stacked {
                    major: o.major,
                    minor: o.minor,
                    mount_point: o.mount_point.clone(),
                    cfs: c.clone(),
                    prefix: prefix.to_vec(),
                    layer,
                    upperdir: o.upperdir.clone(),
                });
                break;
            }
        }
        out
    }

    fn upper_at(
        s: &Stacked,
        rel: &[u8],
        in_root: &dyn Fn(&[u8]) -> Option<PathBuf>,
    ) -> (Upper, Option<PathBuf>) {
        let Some(upper) = s.upperdir.as_deref().filter(|u| u.starts_with(b"/")) else {
            return (Upper::Absent, None);
        };
        let own = join(upper, rel);
        let as_path = PathBuf::from(std::ffi::OsStr::from_bytes(&own));
        for p in [Some(as_path), in_root(&own)].into_iter().flatten() {
            if let Ok(md) = std::fs::symlink_metadata(&p) {
                if md.file_type().is_char_device() && md.rdev() == 0 {
                    return (Upper::Whiteout, Some(p));
                }
                return (Upper::File(md.ino()), Some(p));
            }
        }
        (Upper::Absent, None)
    }

    /// The real file serving `rel` (relative to the stacked overlay's mount point): the
    /// upper directory's, else the image's entry (with the composefs mount's device).
    pub fn stacked_serving(
        &self,
        s: &Stacked,
        rel: &[u8],
        in_root: &dyn Fn(&[u8]) -> Option<PathBuf>,
    ) -> Option<LayerFile> {
        match Self::upper_at(s, rel, in_root) {
            (Upper::File(ino), Some(path)) => {
                return Some(LayerFile {
                    layer: Layer::Upper,
                    path,
                    major: s.major,
                    minor: s.minor,
                    ino,
                })
            }
            (Upper::Whiteout, _) => return None,
            _ => {}
        }
        let img = self.image_of(s.cfs.major, s.cfs.minor)?;
        let f = img.index.as_ref()?.get(&join(&s.prefix, rel))?;
        Some(LayerFile {
            layer: Layer::Lower(s.layer),
            path: PathBuf::new(),
            major: s.cfs.major,
            minor: s.cfs.minor,
            ino: f.ino,
        })
    }

    /// Whether the file a process maps (`major:minor`, `ino`) is still what `rel` below the
    /// stacked overlay serves. None when the mapping is on neither of its devices.
    pub fn stacked_same(
        &self,
        s: &Stacked,
        rel: &[u8],
        mapped: (u32, u32, u64),
        in_root: &dyn Fn(&[u8]) -> Option<PathBuf>,
    ) -> Option<bool> {
        let (ma, mi, ino) = mapped;
        let on_upper = (ma, mi) == (s.major, s.minor);
        let on_cfs = (ma, mi) == (s.cfs.major, s.cfs.minor);
        if !on_upper && !on_cfs {
            return None;
        }
        let now = self.stacked_serving(s, rel, in_root)?;
        Some(match now.layer {
            Layer::Upper => on_upper && now.ino == ino,
            Layer::Lower(_) => on_cfs && same_ino(ino, now.ino),
        })
    }
}

/// Whether the lower layer of an overlay on `mount_point` (covering `prefix` of the image)
/// is the physical deployment directory `dir` rather than the composefs tree: the first of
/// a few image files below `prefix` whose inode through the overlay is either the image's
/// nid or the physical file's decides. None decisive: not physical.
fn physical_lower(
    index: &super::image::ImageIndex,
    prefix: &[u8],
    mount_point: &[u8],
    dir: &[u8],
    stat_in: &dyn Fn(&[u8]) -> Option<u64>,
    host_ino: &dyn Fn(&[u8]) -> Option<u64>,
) -> bool {
    let mut files: Vec<(&Vec<u8>, u64)> = index
        .files
        .iter()
        .filter(|(_, f)| !f.is_dir && f.object.is_some())
        .filter_map(|(p, f)| Some((p, f.ino)).filter(|_| overlay::below(prefix, p).is_some()))
        .collect();
    files.sort();
    for (path, nid) in files.into_iter().take(16) {
        let Some(rel) = overlay::below(prefix, path) else {
            continue;
        };
        let Some(shown) = stat_in(&join(mount_point, rel)) else {
            continue;
        };
        if same_ino(shown, nid) {
            return false;
        }
        if host_ino(&join(dir, path)).is_some_and(|i| same_ino(shown, i)) {
            return true;
        }
    }
    false
}
