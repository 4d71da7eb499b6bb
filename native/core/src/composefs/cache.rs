//! Images read by earlier scans of a kept knowledge (the exporter's scanner), so that a
//! scrape does not read, checksum (fs-verity digest) and walk every deployment's EROFS
//! image again while the files are unchanged. An image is a few megabytes; a host keeps two
//! or three. An entry holds while the image file's stamp (device, inode, size, mtime and
//! ctime to the nanosecond) is the same and the question is (the same commit and expected
//! digest; a walk wanted only if the entry walked); the warnings its read gave are said
//! again by every scan that uses it. ostree writes an image once, into a new deployment
//! directory, and never rewrites it in place.
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::image::ImageIndex;
use crate::error::Warning;

/// What a read of an image gave: its index (when walked), or why it could not be read.
pub type ImageRead = Result<Option<Arc<ImageIndex>>, String>;

/// See the module's comment.
#[derive(Default)]
pub struct ImageCache {
    entries: HashMap<PathBuf, Entry>,
    /// Entries the catalog kept of pruned deployments' images, by deployment id: recorded
    /// once and never rewritten, so they hold as long as a scan asks for them.
    stored: HashMap<String, (Arc<ImageIndex>, bool)>,
    /// Content checksums of files mapped from composefs mounts, by (the mount's unique id,
    /// inode): a mount serves one image for its whole life and the kernel never reuses a
    /// unique mount id, so what one scan proved holds for the next (the exporter's scrapes).
    sums: HashMap<(u64, u64), (String, bool)>,
    /// The deployment whose image a mount was proven to serve, by the mount's unique id: a
    /// later scan of a few processes (a restart's verification) that maps too little to
    /// prove it again still knows it, for the same reason as `sums`.
    proven: HashMap<u64, (String, bool)>,
    reads: u64,
}

struct Entry {
    stamp: crate::stamp::FileStamp,
    commit: String,
    digest: Option<String>,
    walked: bool,
    result: ImageRead,
    warnings: Vec<Warning>,
    used: bool,
}

impl ImageCache {
    /// The image at `path` as `read` gives it (`read` pushes its warnings), from the cache
    /// when the entry for `path` still holds for this question.
    pub fn get(
        &mut self,
        path: &Path,
        commit: &str,
        digest: Option<&str>,
        walk: bool,
        warnings: &mut Vec<Warning>,
        read: impl FnOnce(&mut Vec<Warning>) -> ImageRead,
    ) -> ImageRead {
        let now = crate::stamp::of_path(path);
        if let (Some(now), Some(e)) = (now, self.entries.get_mut(path)) {
            if e.stamp == now
                && e.commit == commit
                && e.digest.as_deref() == digest
                && (e.walked || !walk)
            {
                e.used = true;
                warnings.extend(e.warnings.iter().cloned());
                return e.result.clone();
            }
        }
        self.reads += 1;
        let mut said = Vec::new();
        let result = read(&mut said);
        warnings.extend(said.iter().cloned());
        if let Some(stamp) = now {
            self.entries.insert(
                path.to_path_buf(),
                Entry {
                    stamp,
                    commit: commit.to_string(),
                    digest: digest.map(str::to_string),
                    walked: walk,
                    result: result.clone(),
                    warnings: said,
                    used: true,
                },
            );
        }
        result
    }

    /// The catalog's entries of a pruned deployment's image, read through `load` once.
    pub fn stored(
        &mut self,
        deployment_id: &str,
        load: impl FnOnce() -> crate::Result<ImageIndex>,
    ) -> crate::Result<Arc<ImageIndex>> {
        if let Some((index, used)) = self.stored.get_mut(deployment_id) {
            *used = true;
            return Ok(index.clone());
        }
        let index = Arc::new(load()?);
        self.stored
            .insert(deployment_id.to_string(), (index.clone(), true));
        Ok(index)
    }

    /// The checksum of inode `ino` on the mount with unique id `mount`, computed by `sum`
    /// unless an earlier scan did (only answers are kept: a file unreadable now may be read
    /// by the next scan). Returns the checksum and whether it was computed now.
    pub fn mapped_sum(
        &mut self,
        mount: u64,
        ino: u64,
        sum: impl FnOnce() -> Option<String>,
    ) -> (Option<String>, bool) {
        if let Some((s, used)) = self.sums.get_mut(&(mount, ino)) {
            *used = true;
            return (Some(s.clone()), false);
        }
        let s = sum();
        if let Some(s) = &s {
            self.sums.insert((mount, ino), (s.clone(), true));
        }
        (s, true)
    }

    /// The deployment an earlier scan proved the mount with unique id `mount` serves.
    pub fn proven(&mut self, mount: u64) -> Option<String> {
        let (id, used) = self.proven.get_mut(&mount)?;
        *used = true;
        Some(id.clone())
    }

    /// Keep what a scan proved the mount with unique id `mount` serves.
    pub fn remember_proven(&mut self, mount: u64, deployment_id: &str) {
        self.proven.insert(mount, (deployment_id.to_string(), true));
    }

    /// Forget the images no scan asked for since the last call (undeployed, pruned), so the
    /// cache holds no more than the sysroot does; mark the rest unused for the next round.
    /// Catalog entries are swept by the same rule, one round later than they were asked.
    pub fn sweep(&mut self) {
        self.entries.retain(|_, e| std::mem::take(&mut e.used));
        self.stored.retain(|_, (_, used)| std::mem::take(used));
        self.sums.retain(|_, (_, used)| std::mem::take(used));
        self.proven.retain(|_, (_, used)| std::mem::take(used));
    }

    /// How many images were read (not answered from the cache), for the scanner's counters.
    pub fn reads(&self) -> u64 {
        self.reads
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(tag: &str) -> PathBuf {
        let d =
            std::env::temp_dir().join(format!("livetree-imgcache-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn a_proven_mount_is_kept_while_scans_ask_for_it() {
        let mut cache = ImageCache::default();
        assert_eq!(cache.proven(7), None);
        cache.remember_proven(7, "debian/abc.0");
        cache.sweep();
        assert_eq!(cache.proven(7).as_deref(), Some("debian/abc.0"));
        cache.sweep();
        // A round in which no scan asked: forgotten (the mount is gone or unused).
        cache.sweep();
        assert_eq!(cache.proven(7), None);
    }

    #[test]
    fn an_unchanged_image_is_read_once_and_its_warnings_said_every_time() {
        let dir = scratch("once");
        let path = dir.join(".ostree.cfs");
        std::fs::write(&path, b"image one").unwrap();
        let mut cache = ImageCache::default();
        let read = |w: &mut Vec<Warning>| -> ImageRead {
            w.push(Warning::new("composefs-digest-mismatch", "x", None));
            Err("bad".into())
        };
        for round in 0..3 {
            let mut warnings = Vec::new();
            let r = cache.get(&path, "c", Some("d"), true, &mut warnings, read);
            assert_eq!(r, Err("bad".to_string()));
            assert_eq!(
                warnings.len(),
                1,
                "round {round}: the warning is said again"
            );
            cache.sweep();
        }
        assert_eq!(cache.reads(), 1);
        // Another question (another expected digest, or a walk the entry did not do): read.
        let mut w = Vec::new();
        let _ = cache.get(&path, "c", Some("e"), true, &mut w, |_| Ok(None));
        assert_eq!(cache.reads(), 2);
        let _ = cache.get(&path, "c", Some("e"), false, &mut w, |_| {
            panic!("walked covers unwalked")
        });
        let _ = cache.get(&path, "c", None, false, &mut w, |_| Ok(None));
        assert_eq!(cache.reads(), 3);
        // The file replaced (a new inode, as a rename does) or rewritten: read again.
        std::fs::write(dir.join("new"), b"image two, longer").unwrap();
        std::fs::rename(dir.join("new"), &path).unwrap();
        let _ = cache.get(&path, "c", None, false, &mut w, |_| Ok(None));
        assert_eq!(cache.reads(), 4);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn images_no_scan_asks_for_are_forgotten() {
        let dir = scratch("sweep");
        let (a, b) = (dir.join("a.cfs"), dir.join("b.cfs"));
        std::fs::write(&a, b"a").unwrap();
        std::fs::write(&b, b"b").unwrap();
        let mut cache = ImageCache::default();
        let mut w = Vec::new();
        let _ = cache.get(&a, "c", None, false, &mut w, |_| Ok(None));
        let _ = cache.get(&b, "c", None, false, &mut w, |_| Ok(None));
        cache.sweep();
        // Only `a` is asked for in the next scan: `b` (undeployed) goes.
        let _ = cache.get(&a, "c", None, false, &mut w, |_| panic!("kept"));
        cache.sweep();
        assert_eq!(cache.entries.len(), 1);
        let _ = cache.get(&b, "c", None, false, &mut w, |_| Ok(None));
        assert_eq!(cache.reads(), 3);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
