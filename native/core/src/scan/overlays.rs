//! Dynamic overlays on a deployment: which layer serves a mapped file, and the overlay's
//! part of the report.
use std::os::unix::ffi::OsStrExt;

use super::{in_proc_root, Scan};
use crate::ostree::checksum::checksum_path;
use crate::overlay::{self, LayerFile, OverlayMount};
use crate::proc::maps::FileMapping;
use crate::proc::procfs::{path_in_root, ProcessRaw};
use crate::report::{Origin, OverlayFileReport, OverlayReport};

impl Scan<'_> {
    /// The dynamic overlay (lower layer a deployment's) with this device, as this
    /// process sees it.
    pub(super) fn overlay_of(
        &self,
        raw: &ProcessRaw,
        major: u32,
        minor: u32,
    ) -> Option<OverlayMount> {
        self.ns_overlays
            .of(raw)?
            .iter()
            .find(|o| (o.major, o.minor) == (major, minor) && o.lower_deployment.is_some())
            .cloned()
    }

    /// The real file serving `path` (as maps shows it) through overlay `o`.
    pub(super) fn serving(
        &self,
        raw: &ProcessRaw,
        o: &OverlayMount,
        path: &[u8],
    ) -> Option<LayerFile> {
        let root = raw.root.clone().unwrap_or_else(|| b"/".to_vec());
        let inner = path_in_root(&root, path)?;
        let rel = o.below(inner)?;
        let proc_root = &self.cfg.proc_root;
        if let Some(s) = self.stacked_of(raw, o.major, o.minor) {
            let pid = raw.pid;
            return self
                .cfs
                .stacked_serving(s, rel, &|p| Some(in_proc_root(proc_root, pid, p)));
        }
        overlay::serving_file(o, rel, &|p| Some(in_proc_root(proc_root, raw.pid, p)))
    }

    /// A process that mapped a deployment file before an overlay was mounted over it
    /// sees its path now on the overlay's device; when the overlay still serves that very
    /// file from the lower layer, nothing replaced it.
    pub(super) fn same_through_overlay(
        &self,
        raw: &ProcessRaw,
        path: &[u8],
        now: Option<(u32, u32, u64)>,
        m: &FileMapping,
    ) -> bool {
        let Some((ma, mi, _)) = now else { return false };
        let Some(o) = self.overlay_of(raw, ma, mi) else {
            return false;
        };
        self.serving(raw, &o, path)
            .is_some_and(|f| (f.major, f.minor, f.ino) == (m.major, m.minor, m.inode))
    }

    /// Origin of a file mapped through a dynamic overlay: a deployment-layer file is a
    /// repo object and is attributed as any other; a file of the upper (or another lower)
    /// layer is checksummed and looked up by content at its tree path.
    pub(super) fn overlay_file_origin(
        &mut self,
        raw: &ProcessRaw,
        m: &FileMapping,
        o: &OverlayMount,
        path: &[u8],
        gone: bool,
        root_dep: Option<&str>,
    ) -> Origin {
        let key = (m.major, m.minor, m.inode, root_dep.map(str::to_string));
        if let Some(hit) = self.origins.get(&key) {
            return hit.clone();
        }
        let root = raw.root.clone().unwrap_or_else(|| b"/".to_vec());
        let tree_path = path_in_root(&root, path)
            .and_then(|p| o.below(p))
            .map(|rel| o.tree_path(rel));
        let serving = if gone {
            None
        } else {
            self.serving(raw, o, path)
                .filter(|f| f.ino == m.inode || !o.is_deployment_layer(&f.layer))
        };
        let object = match &serving {
            Some(f) if o.is_deployment_layer(&f.layer) => {
                let real = FileMapping {
                    major: f.major,
                    minor: f.minor,
                    inode: f.ino,
                    ..m.clone()
                };
                let origin = self.origin(raw, &real, path, false, root_dep);
                self.origins.insert(key, origin.clone());
                return origin;
            }
            Some(f) => match checksum_path(&f.path) {
                Ok(c) => Some(c),
                Err(e) => {
                    self.warn_once("checksum-failed", e.to_string(), Some(raw.pid));
                    None
                }
            },
            // Deleted from the overlay while mapped: only map_files can still read it.
            None => self.deleted_object(raw, m),
        };
        let origin = match (object, tree_path) {
            (Some(obj), Some(tp)) => {
                // A deleted file may have been the deployment's own (the lower file):
                // then it is attributed as that, not as an overlay file.
                let own = root_dep.and_then(crate::attribute::commit_of_id);
                let hits = self.k.object_hits(&obj).unwrap_or_default();
                let is_lower = serving.is_none()
                    && hits
                        .iter()
                        .any(|h| Some(h.commit.as_str()) == own && h.path == tp);
                let r = if is_lower {
                    self.k.origin_of(&obj, path, Some(&tp), root_dep, false)
                } else {
                    self.k.overlay_origin(&obj, &tp)
                };
                r.unwrap_or_else(|e| {
                    self.warn_once("catalog-read", e.to_string(), None);
                    Origin::untracked()
                })
            }
            (obj, _) => Origin {
                object: obj,
                ..Origin::untracked()
            },
        };
        self.origins.insert(key, origin.clone());
        origin
    }

    /// One overlay for the report: each regular file of its upper directory with its
    /// object checksum and the commits holding that object at that tree path.
    pub(super) fn overlay_report(&mut self, o: &OverlayMount) -> OverlayReport {
        // Reached when the overlay was found: relative to the mounter's directory (ostree's
        // unlock) or through the process's root (a mount made inside another root).
        let upper = o.upper_path.clone();
        let mut files = Vec::new();
        let mut source_commits: Vec<String> = Vec::new();
        if let Some(upper) = upper {
            for (rel, full) in overlay::upper_files(&upper) {
                let tree_path = o.tree_path(&rel);
                let object = match checksum_path(&full) {
                    Ok(c) => Some(c),
                    Err(e) => {
                        self.warn_once("checksum-failed", e.to_string(), None);
                        None
                    }
                };
                let commits = match &object {
                    Some(obj) => match self.k.object_hits(obj) {
                        Ok(hits) => overlay::commits_at(&hits, &tree_path),
                        Err(e) => {
                            self.warn_once("catalog-read", e.to_string(), None);
                            Vec::new()
                        }
                    },
                    None => Vec::new(),
                };
                for c in &commits {
                    if !source_commits.contains(c) {
                        source_commits.push(c.clone());
                    }
                }
                files.push(OverlayFileReport {
                    path: tree_path,
                    object,
                    commits,
                });
            }
        }
        OverlayReport {
            mount_point: o.mount_point.clone(),
            major: o.major,
            minor: o.minor,
            lower_deployment: o.lower_deployment.clone(),
            // A relative upper (ostree's `.usr-ovl-upper`) means nothing to a reader:
            // say where it is.
            upper_dir: match (&o.upperdir, &o.upper_path) {
                (Some(u), Some(p)) if !u.starts_with(b"/") => {
                    Some(p.as_os_str().as_bytes().to_vec())
                }
                (u, _) => u.clone(),
            },
            source_commits,
            files,
        }
    }
}
