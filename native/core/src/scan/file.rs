//! One mapped file: what its path names now, where it came from (commit, object, tree
//! path), and whether a current deployment holds the very same object.
use crate::fast_hash::FastMap;
use std::os::unix::fs::MetadataExt;

use super::{live_root, Scan};
use crate::ostree::checksum::{checksum_bare_user_file, checksum_file};
use crate::proc::maps::FileMapping;
use crate::proc::procfs::{self, path_in_root, ProcessRaw};
use crate::report::{FileReport, Origin};
use crate::Error;

impl Scan<'_> {
    /// For a deployment process's file whose path or bytes are gone: the current
    /// deployment that holds the very same object at the same tree path, once per (dev,
    /// ino, root deployment). A foreign or host process has no deployment to compare with.
    pub(super) fn identical_in(
        &mut self,
        f: &FileReport,
        root_dep: Option<&str>,
    ) -> Option<String> {
        use crate::report::StaleReason::{Deleted, RemovedDeployment, Unlinked};
        if root_dep.is_none()
            || !matches!(
                f.stale_reason,
                Some(Deleted) | Some(RemovedDeployment) | Some(Unlinked)
            )
        {
            return None;
        }
        let (Some(object), Some(tree_path)) = (&f.origin.object, &f.origin.tree_path) else {
            return None;
        };
        let key = (f.major, f.minor, f.ino, root_dep.map(str::to_string));
        if let Some(hit) = self.identical.get(&key) {
            return hit.clone();
        }
        let found = self.k.identical_in(object, tree_path, root_dep);
        self.identical.insert(key, found.clone());
        found
    }

    pub(super) fn file(
        &mut self,
        raw: &ProcessRaw,
        m: &FileMapping,
        root_dep: Option<&str>,
    ) -> FileReport {
        let pid = raw.pid;
        let mut path = m.path.clone();
        // Three facts, kept apart: the mapped name was unlinked (`path_gone`), no link at
        // all is left so the bytes live only in memory (`deleted`, link count 0), and for
        // the checksum below, whether the repo index can no longer find the inode (`gone`).
        let mut deleted = false;
        let mut path_gone = false;
        let mut gone = false;
        // maps escapes a newline as \012 but leaves a backslash alone, so a name holding the
        // four characters "\012" reads as a newline too. map_files gives the exact bytes.
        let ambiguous = m.path.contains(&b'\n');
        if ambiguous && !m.deleted_suffix {
            match self.map_file_info(pid, m) {
                Ok(info) => path = info.exact_path,
                Err(_) => {
                    // Without map_files: the kernel's own text, if it names this very file.
                    let text = crate::proc::escape::escape_octal(&m.path, b"\n");
                    let here = Some((m.major, m.minor, m.inode));
                    if self.resolve(raw, &path) != here && self.resolve(raw, &text) == here {
                        path = text;
                    }
                }
            }
        }
        if m.deleted_suffix {
            // The suffix alone proves nothing (a file may be named "x (deleted)"); the
            // mapped file itself, through map_files, says whether its name was unlinked.
            match self.map_file_info(pid, m) {
                Ok(info) => {
                    path_gone = info.deleted;
                    deleted = info.deleted && info.nlink == 0;
                    gone = info.nlink == 0;
                    path = info.exact_path;
                }
                Err(Error::PermissionDenied(p)) => {
                    self.warn_once(
                        "map-files-unreadable",
                        format!("{}: permission denied; deleted files are judged by the kernel's \" (deleted)\" suffix alone and cannot be traced by checksum (run as root)", p.display()),
                        Some(pid),
                    );
                    // Without map_files, the name with its suffix still resolving to
                    // this very inode means the suffix is part of the name.
                    let mut literal = m.path.clone();
                    literal.extend_from_slice(b" (deleted)");
                    deleted = self.resolve(raw, &literal) != Some((m.major, m.minor, m.inode));
                    path_gone = deleted;
                    gone = deleted;
                    if !deleted {
                        path = literal;
                    }
                }
                Err(_) => {
                    deleted = true;
                    path_gone = true;
                }
            }
        }
        if !path_gone {
            if let Some(p) = self.stacked_lower_path(raw, m, &path) {
                path = p;
            }
        }
        // The path names another file now: replaced on disk. Also when the mapped file
        // was unlinked: dpkg, rpm and most installers upgrade by renaming the new file over
        // the old one, which unlinks the old one (deleted) and leaves its path naming the
        // new one (superseded). Only a path that names nothing at all is merely deleted.
        let superseded = match self.stacked_same(raw, m, &path) {
            Some(same) => !same,
            None => {
                let now = self.resolve(raw, &path);
                now.is_some()
                    && now != Some((m.major, m.minor, m.inode))
                    && !self.same_through_overlay(raw, &path, now, m)
                    && !self.same_object_now(raw, m, &path, now)
            }
        };
        let overlay = self.overlay_of(raw, m.major, m.minor);
        let mut origin = match (self.container_origin(raw, m, &path), overlay) {
            (Some(layer), _) => layer,
            (None, Some(o)) => self.overlay_file_origin(raw, m, &o, &path, gone, root_dep),
            (None, None) => self.origin(raw, m, &path, gone, root_dep),
        };
        let own = origin.package.take();
        origin.package = own.or_else(|| self.package(&origin));
        FileReport {
            path,
            major: m.major,
            minor: m.minor,
            ino: m.inode,
            deleted,
            path_gone,
            superseded,
            origin,
            stale_reason: None,
            identical_in: None,
        }
    }

    /// What `path` names now, inside the process's own root and mount namespace.
    fn resolve(&mut self, raw: &ProcessRaw, path: &[u8]) -> Option<(u32, u32, u64)> {
        if let Some(hit) = self.resolves.of(raw).and_then(|paths| paths.get(path)) {
            return *hit;
        }
        let root = raw.root.as_deref().unwrap_or(b"/");
        let inner = path_in_root(root, path).unwrap_or(path);
        if self.view_roots.of(raw).is_none() {
            self.root_opens += 1;
            if let Ok(opened) = procfs::ProcessRoot::open(&self.cfg.proc_root, raw.pid) {
                self.view_roots.insert(super::view_of(raw), opened);
            }
        }
        // A root that could not be opened (the process exited) names nothing; the view's
        // next process opens it again.
        let now = self
            .view_roots
            .of(raw)
            .and_then(|r| r.metadata(inner).ok().flatten())
            .map(|m| {
                let (ma, mi) = procfs::dev_split(m.dev());
                (ma, mi, m.ino())
            });
        self.resolves
            .of_or_insert_with(raw, FastMap::default)
            .insert(path.to_vec(), now);
        now
    }

    pub(super) fn origin(
        &mut self,
        raw: &ProcessRaw,
        m: &FileMapping,
        path: &[u8],
        gone: bool,
        root_dep: Option<&str>,
    ) -> Origin {
        let key = (m.major, m.minor, m.inode, root_dep.map(str::to_string));
        if let Some(o) = self.origins.get(&key) {
            return o.clone();
        }
        // The inode itself being a repo object is identity; so is a composefs image's
        // redirect, or a copy's tree path confirmed by its checksum. A checksum of a deleted
        // file's bytes is only equality (see Knowledge::origin_of).
        let (object, by_inode) = match self.k.object_of(m.major, m.minor, m.inode) {
            Some(o) => (Some(o), true),
            None if gone => (self.deleted_object(raw, m), false),
            None => {
                let found = self
                    .composefs_object(raw, m, path)
                    .or_else(|| self.copied_object(raw, m, path, root_dep));
                let by_path = found.is_some();
                (found, by_path)
            }
        };
        let root = live_root(raw);
        let inner = path_in_root(root, path);
        let origin = match object {
            Some(obj) => match self.k.origin_of(&obj, path, inner, root_dep, by_inode) {
                Ok(o) => o,
                Err(e) => {
                    self.warn_once("catalog-read", e.to_string(), None);
                    Origin::untracked()
                }
            },
            None => Origin::untracked(),
        };
        self.origins.insert(key, origin.clone());
        origin
    }

    /// The ostree checksum of a mapped file whose every name is gone, computed from its
    /// bytes through map_files. Never executed, never loaded: read with pread only.
    pub(super) fn deleted_object(&mut self, raw: &ProcessRaw, m: &FileMapping) -> Option<String> {
        let key = (m.major, m.minor, m.inode);
        if let Some(c) = self.deleted_objects.get(&key) {
            return c.clone();
        }
        let sum =
            procfs::open_map_file(&self.cfg.proc_root, raw.pid, &m.range.name()).and_then(|f| {
                if self.k.bare_user() {
                    checksum_bare_user_file(&f)
                } else {
                    checksum_file(&f)
                }
            });
        let sum = match sum {
            Ok(s) => Some(s),
            Err(Error::NotFound(_)) => None,
            Err(e) => {
                self.warn_once(
                    "checksum-failed",
                    format!("PID {}: {}", raw.pid, e),
                    Some(raw.pid),
                );
                None
            }
        };
        self.deleted_objects.insert(key, sum.clone());
        sum
    }
}
