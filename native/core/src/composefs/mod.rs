//! composefs roots (Fedora CoreOS ≥ 41, bootc): `/` is an overlayfs whose lower layer is
//! the deployment's EROFS image (`.ostree.cfs`, loop-mounted and detached) and whose
//! data-only lower layer is the repo's `objects/`. /proc/PID/maps shows the overlay's device
//! and the image's inode numbers, so a file is tied to its object through the image: the
//! entry at the file's path must carry the very inode number maps shows, and its redirect
//! names the object.
//!
//! Which image a mount serves is never taken from its lowerdir string (the EROFS mount is
//! detached; the string names a path that is gone). The candidates are the deployments'
//! images (and, from the catalog, the images of deployments since pruned) that a loop
//! device is backed by; their root inode must be the mount's; and where two images give the
//! same inode numbers, files whose objects differ between them are compared, through the
//! mount, with the objects themselves.
pub mod cache;
pub mod erofs;
pub mod image;
pub mod loops;
pub mod stacked;
pub mod verity;

use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::Warning;
use crate::gvariant::MetaValue;
use crate::mountinfo::{parse_overlay_options, Mount};
use crate::repo::Repo;
use crate::sysroot::SysrootStatus;
use image::{same_ino, ComposefsImageInfo, ImageIndex, ImageStore};
use loops::LoopDevice;

/// The image file ostree writes into each deployment directory.
pub const IMAGE_NAME: &str = ".ostree.cfs";
/// The commit metadata key holding the image's expected fs-verity digest.
pub const DIGEST_KEY: &str = "ostree.composefs.digest.v0";

/// A deployment's image as the scan knows it.
#[derive(Debug, Clone)]
pub struct KnownImage {
    /// The deployment (OSNAME/CHECKSUM.SERIAL) whose image it is.
    pub deployment_id: String,
    /// The commit the deployment was checked out from.
    pub commit: String,
    /// Where the image is (or was).
    pub image: PathBuf,
    /// The deployment is in the sysroot now (else only the catalog remembers it).
    pub deployed: bool,
    /// The fs-verity digest the commit metadata expects, hex, when the commit was made for
    /// composefs.
    pub digest: Option<String>,
    /// Its entries; None when not needed (no loop device holds it while others hold
    /// images) or when it could not be read.
    pub index: Option<Arc<ImageIndex>>,
    /// It could not be read (warned): it may be mounted, and nothing rules it out.
    pub unreadable: bool,
}

/// A composefs overlay as one process sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CfsMount {
    /// Relative to the process's root.
    pub mount_point: Vec<u8>,
    /// The overlay's device major number, which mapped files on it show.
    pub major: u32,
    /// The overlay's device minor number.
    pub minor: u32,
}

/// What the scan knows about composefs: the images and which mount serves which.
#[derive(Default)]
pub struct Composefs {
    /// Every image the scan knows: those of current deployments, then those only the catalog
    /// remembers.
    pub images: Vec<KnownImage>,
    loops: Vec<LoopDevice>,
    objects: Option<(u64, u64)>,
    objects_dir: PathBuf,
    /// Identified mounts by device: the index into `images`, None when none fits.
    by_device: HashMap<(u32, u32), Option<usize>>,
    /// A loop device holds an ostree image that could not be read: no mount may then be
    /// identified by elimination, since that image could be the one it serves.
    unknown_attached: bool,
}

/// (dev, ino) of a path as the scanner sees it.
pub type HostStat = dyn Fn(&[u8]) -> Option<(u64, u64)>;

/// How a probe inside the process's root answers: (ino, size) of a path, and whether
/// its bytes equal a file's (None when unreadable).
pub trait Probe {
    /// (ino, size) of a path inside the process's root, None when it is missing or unreadable.
    fn stat(&self, path: &[u8]) -> Option<(u64, u64)>;
    /// Whether the file at `path` inside the process's root has the same bytes as `other`.
    fn same_bytes(&self, path: &[u8], other: &Path) -> Option<bool>;
}

impl Composefs {
    /// Read each deployment's image, record new ones in the catalog (with their entries,
    /// which outlive a prune), and list the loop devices. Damage is a warning naming the
    /// image; other deployments are unaffected.
    pub fn load(
        status: &SysrootStatus,
        repo: Option<&Repo>,
        catalog: &mut impl ImageStore,
        images: &mut cache::ImageCache,
        sys_root: &Path,
        dev_root: &Path,
        warnings: &mut Vec<Warning>,
    ) -> Composefs {
        let mut cfs = Composefs {
            loops: loops::loop_devices(sys_root),
            ..Composefs::default()
        };
        if let Some(repo) = repo {
            cfs.objects_dir = repo.path().join("objects");
            cfs.objects = std::fs::metadata(&cfs.objects_dir)
                .ok()
                .map(|m| (m.dev(), m.ino()));
        }
        let deploy_root = status.path.join("ostree/deploy");
        let loop_mode = cfs
            .loops
            .iter()
            .any(|l| is_sysroot_image(&deploy_root, &l.backing));
        for d in &status.deployments {
            let path = d.path.join(IMAGE_NAME);
            let id = d.id();
            let digest = repo.and_then(|r| commit_digest(r, &d.checksum));
            if !path.exists() {
                // A commit made for composefs whose image is missing: reported, image null.
                if digest.is_some() {
                    cfs.images.push(KnownImage {
                        deployment_id: id,
                        commit: d.checksum.clone(),
                        image: path,
                        deployed: true,
                        digest,
                        index: None,
                        unreadable: false,
                    });
                }
                continue;
            }
            // With loop devices in use, an image no loop device holds is not mounted: its
            // entries are read only to be recorded (once) and are not kept in memory.
            let attached = cfs
                .loops
                .iter()
                .any(|l| l.backing == path.as_os_str().as_bytes());
            let keep = !loop_mode || attached;
            let record = !catalog.has_composefs_image(&id).unwrap_or(true);
            let (index, unreadable) = if keep || record || digest.is_some() {
                let walk = keep || record;
                let read = |w: &mut Vec<Warning>| {
                    read_checked(&path, &d.checksum, digest.as_deref(), walk, w)
                        .map(|i| i.map(Arc::new))
                        .map_err(|e| e.to_string())
                };
                match images.get(&path, &d.checksum, digest.as_deref(), walk, warnings, read) {
                    Ok(Some(i)) => (Some(i), false),
                    Ok(None) => (None, false),
                    Err(e) => {
                        warnings.push(Warning::new(
                            "composefs-image-unreadable",
                            format!("{e}; processes running from it cannot be attributed"),
                            None,
                        ));
                        (None, true)
                    }
                }
            } else {
                (None, false)
            };
            if let (Some(i), true) = (&index, record) {
                let info = ComposefsImageInfo {
                    deployment_id: id.clone(),
                    commit: d.checksum.clone(),
                    image: path.clone(),
                    root_ino: i.root_ino,
                };
                if let Err(e) = catalog.record_composefs_image(&info, i) {
                    warnings.push(Warning::new("catalog-write", e.to_string(), None));
                }
            }
            cfs.images.push(KnownImage {
                deployment_id: id,
                commit: d.checksum.clone(),
                image: path,
                deployed: true,
                digest,
                index: index.filter(|_| keep),
                unreadable,
            });
        }
        // Images of deployments since undeployed: only those a loop device still holds can
        // be mounted, so only those are loaded.
        let recorded = catalog.composefs_images().unwrap_or_default();
        for r in recorded {
            if cfs
                .images
                .iter()
                .any(|i| i.deployment_id == r.deployment_id)
            {
                continue;
            }
            let image = r.image.as_os_str().as_bytes();
            if !cfs.loops.iter().any(|l| l.backing == image) {
                continue;
            }
            let index = catalog.composefs_entries(&r.deployment_id).ok();
            cfs.images.push(KnownImage {
                deployment_id: r.deployment_id,
                commit: r.commit,
                image: r.image,
                deployed: false,
                digest: None,
                index: index.filter(|i| !i.files.is_empty()).map(Arc::new),
                unreadable: false,
            });
        }
        cfs.load_unknown_loops(&deploy_root, dev_root, warnings);
        images.sweep();
        cfs
    }

    /// Images a loop device holds that neither the sysroot nor the catalog knows (a
    /// deployment deployed and pruned between two scans): read from the loop device itself,
    /// which still serves the bytes of a deleted backing file. Named by the deployment
    /// directory in the backing file's path. One that cannot be read blocks identification
    /// by elimination (see `unknown_attached`).
    fn load_unknown_loops(&mut self, deploy: &Path, dev_root: &Path, warnings: &mut Vec<Warning>) {
        let unknown: Vec<LoopDevice> = self
            .loops
            .iter()
            // Images of this sysroot only: another sysroot's cannot serve a mount whose
            // data-only layer is this repo's objects.
            .filter(|l| is_sysroot_image(deploy, &l.backing))
            .filter(|l| {
                !self
                    .images
                    .iter()
                    .any(|i| i.image.as_os_str().as_bytes() == l.backing.as_slice())
            })
            .cloned()
            .collect();
        for l in unknown {
            let dir = &l.backing[..l.backing.len() - IMAGE_NAME.len() - 1];
            let id = crate::attribute::deployment_id_from_path(dir);
            let index = ImageIndex::read(&dev_root.join(&l.name));
            match (id, index) {
                (Some((os, commit, serial)), Ok(index)) => self.images.push(KnownImage {
                    deployment_id: format!("{os}/{commit}.{serial}"),
                    commit,
                    image: PathBuf::from(std::ffi::OsStr::from_bytes(&l.backing)),
                    deployed: false,
                    digest: None,
                    index: Some(Arc::new(index)),
                    unreadable: false,
                }),
                (_, Err(e)) => {
                    self.unknown_attached = true;
                    warnings.push(Warning::new(
                        "composefs-image-unreadable",
                        format!(
                            "{} (loop device {} backed by {}): {e}; composefs mounts are identified only where this image is ruled out",
                            dev_root.join(&l.name).display(),
                            l.name,
                            String::from_utf8_lossy(&l.backing)
                        ),
                        None,
                    ));
                }
                (None, Ok(_)) => self.unknown_attached = true,
            }
        }
    }

    /// Whether a loop device is backed by this image (present, or deleted since).
    fn attached(&self, img: &KnownImage) -> bool {
        let p = img.image.as_os_str().as_bytes();
        self.loops.iter().any(|l| l.backing == p)
    }

    /// The composefs mounts of one mount table, each identified (once per device) as the
    /// mount of one known image where the evidence allows. `host_stat` stats a path as the
    /// scanner sees it; `probe` looks inside the process's root.
    pub fn find_mounts(
        &mut self,
        mounts: &[Mount],
        host_stat: &HostStat,
        probe: &dyn Probe,
        warnings: &mut Vec<Warning>,
    ) -> Vec<CfsMount> {
        let mut out = Vec::new();
        for m in mounts.iter().filter(|m| m.fstype == "overlay") {
            let opts = parse_overlay_options(&m.super_options);
            if !opts.datadirs.iter().any(|d| self.is_objects(d, host_stat)) {
                continue;
            }
            let key = (m.major, m.minor);
            if !self.by_device.contains_key(&key) {
                let found = self.identify(&m.mount_point, probe);
                if found.is_none() {
                    warnings.push(Warning::new(
                        "composefs-unidentified",
                        format!(
                            "composefs mount {}:{} on {}: no deployment image fits it; its processes are not attributed",
                            m.major,
                            m.minor,
                            String::from_utf8_lossy(&m.mount_point)
                        ),
                        None,
                    ));
                }
                self.by_device.insert(key, found);
            }
            out.push(CfsMount {
                mount_point: m.mount_point.clone(),
                major: m.major,
                minor: m.minor,
            });
        }
        out
    }

    /// A data-only layer is the repo's objects directory: the same directory by (dev, ino);
    /// a path the scanner cannot stat (another mount namespace) counts when it ends like
    /// one, since the image's redirects are checked to be object paths anyway.
    fn is_objects(&self, dir: &[u8], host_stat: &HostStat) -> bool {
        match (host_stat(dir), self.objects) {
            (Some(a), Some(b)) => a == b,
            (Some(_), None) => false,
            (None, _) => dir
                .strip_suffix(b"/")
                .unwrap_or(dir)
                .ends_with(b"/ostree/repo/objects"),
        }
    }

    fn identify(&self, mount_point: &[u8], probe: &dyn Probe) -> Option<usize> {
        let with_index: Vec<usize> = (0..self.images.len())
            .filter(|&i| self.images[i].index.is_some())
            .collect();
        let attached: Vec<usize> = with_index
            .iter()
            .copied()
            .filter(|&i| self.attached(&self.images[i]))
            .collect();
        // An image that could not be read may be the one mounted here: where it could be
        // (a loop device holds it, or no loop device says which images are mounted), no
        // answer is proof.
        let blind = self
            .images
            .iter()
            .any(|i| i.unreadable && (self.attached(i) || attached.is_empty()));
        if blind {
            return None;
        }
        let mut cands = if attached.is_empty() {
            with_index
        } else {
            attached
        };
        let root = probe.stat(mount_point);
        cands.retain(|&i| {
            let idx = self.images[i].index.as_ref().map(|x| x.root_ino);
            matches!((root, idx), (Some((ino, _)), Some(r)) if same_ino(ino, r))
        });
        // Two images may number their inodes alike: compare files whose objects differ.
        let mut probes = 0;
        while cands.len() > 1 && probes < 32 {
            let Some((path, objs)) = self.distinguishing(&cands, probes) else {
                break;
            };
            probes += 1;
            let full = crate::overlay::join(mount_point, &path);
            let seen = probe.stat(&full);
            cands.retain(|&i| {
                let f = self.images[i].index.as_ref().and_then(|x| x.get(&path));
                match (f, seen) {
                    (None, None) => true,
                    (None, Some(_)) | (Some(_), None) => false,
                    (Some(f), Some((ino, size))) => same_ino(ino, f.ino) && size == f.size,
                }
            });
            if cands.len() > 1 {
                cands.retain(|&i| match objs.get(&i).cloned().flatten() {
                    Some(obj) => {
                        let object =
                            self.objects_dir
                                .join(format!("{}/{}.file", &obj[..2], &obj[2..]));
                        probe.same_bytes(&full, &object).unwrap_or(true)
                    }
                    None => true,
                });
            }
            if cands.is_empty() {
                // The probe contradicted every candidate: none fits.
                break;
            }
        }
        // While an image of this sysroot that could not be read is mounted somewhere, no
        // answer here is proof: the mount may be that one.
        if self.unknown_attached {
            return None;
        }
        (cands.len() == 1).then(|| cands[0])
    }

    /// The `skip`-th path (in sorted order) of the candidates' regular files whose object
    /// is not the same in all of them, with each candidate's object there.
    #[allow(clippy::type_complexity)]
    fn distinguishing(
        &self,
        cands: &[usize],
        skip: usize,
    ) -> Option<(Vec<u8>, HashMap<usize, Option<String>>)> {
        let first = self.images[cands[0]].index.as_ref()?;
        let mut paths: Vec<&Vec<u8>> = first
            .files
            .iter()
            .filter(|(_, f)| !f.is_dir)
            .filter(|(p, f)| {
                cands[1..].iter().any(|&j| {
                    self.images[j]
                        .index
                        .as_ref()
                        .and_then(|x| x.get(p))
                        .map(|g| &g.object)
                        != Some(&f.object)
                })
            })
            .map(|(p, _)| p)
            .collect();
        paths.sort();
        let path = (*paths.get(skip)?).clone();
        let objs = cands
            .iter()
            .map(|&i| {
                let o = self.images[i]
                    .index
                    .as_ref()
                    .and_then(|x| x.get(&path))
                    .and_then(|f| f.object.clone());
                (i, o)
            })
            .collect();
        Some((path, objs))
    }

    /// The image a composefs mount device serves, once identified.
    pub fn image_of(&self, major: u32, minor: u32) -> Option<&KnownImage> {
        let i = (*self.by_device.get(&(major, minor))?)?;
        self.images.get(i)
    }

    /// The deployment whose image is mounted as this process root: the root's device is an
    /// identified composefs mount and its inode the image's root.
    pub fn root_deployment(&self, root: (u64, u64)) -> Option<String> {
        let (ma, mi) = crate::procfs::dev_split(root.0);
        let img = self.image_of(ma, mi)?;
        let idx = img.index.as_ref()?;
        same_ino(root.1, idx.root_ino).then(|| img.deployment_id.clone())
    }

    /// The object of a file a process maps through composefs mount `m`: the entry at its
    /// path (relative to the mount) must have the inode number maps shows.
    pub fn object_at(&self, m: &CfsMount, rel: &[u8], ino: u64) -> Option<(String, String)> {
        let img = self.image_of(m.major, m.minor)?;
        let f = img.index.as_ref()?.get(rel)?;
        if !same_ino(ino, f.ino) {
            return None;
        }
        Some((f.object.clone()?, img.deployment_id.clone()))
    }

    /// Deployment ids whose image was found mounted.
    pub fn mounted(&self, deployment_id: &str) -> bool {
        self.by_device
            .values()
            .flatten()
            .any(|&i| self.images[i].deployment_id == deployment_id)
    }

    /// The image of a deployment, if the scan knows it.
    pub fn image_for(&self, deployment_id: &str) -> Option<&KnownImage> {
        self.images
            .iter()
            .find(|i| i.deployment_id == deployment_id)
    }
}

/// A `.ostree.cfs` inside this sysroot's `ostree/deploy`.
fn is_sysroot_image(deploy_root: &Path, backing: &[u8]) -> bool {
    backing.ends_with(format!("/{IMAGE_NAME}").as_bytes())
        && crate::procfs::below(deploy_root.as_os_str().as_bytes(), backing).is_some()
}

/// Read an image, check it against the commit's digest (a warning when they differ) and,
/// when `walk`, index it.
fn read_checked(
    path: &Path,
    commit: &str,
    digest: Option<&str>,
    walk: bool,
    warnings: &mut Vec<Warning>,
) -> crate::Result<Option<ImageIndex>> {
    let bytes = image::read_image_bytes(path)?;
    if let Some(want) = digest {
        let have = verity::fsverity_digest(&bytes);
        if have != want {
            warnings.push(Warning::new(
                "composefs-digest-mismatch",
                format!(
                    "{}: fs-verity digest {have}, but commit {commit} expects {want} ({DIGEST_KEY}); ostree would refuse to mount it",
                    path.display()
                ),
                None,
            ));
        }
    }
    if !walk {
        return Ok(None);
    }
    let index = ImageIndex::from_bytes(&bytes).map_err(|e| crate::Error::corrupt(path, e.0))?;
    warn_redirects(path, &index, warnings);
    Ok(Some(index))
}

fn warn_redirects(path: &Path, index: &ImageIndex, warnings: &mut Vec<Warning>) {
    if let Some((p, r)) = index.bad_redirects.first() {
        warnings.push(Warning::new(
            "composefs-bad-redirect",
            format!(
                "{}: {} file(s) redirect outside the objects directory (first: {} -> {}); ignored",
                path.display(),
                index.bad_redirects.len(),
                String::from_utf8_lossy(p),
                String::from_utf8_lossy(r)
            ),
            None,
        ));
    }
}

/// `ostree.composefs.digest.v0` of a commit, as hex.
fn commit_digest(repo: &Repo, commit: &str) -> Option<String> {
    let info = repo.read_commit(commit).ok()?;
    info.metadata
        .iter()
        .find_map(|(k, v)| match (k.as_str(), v) {
            (DIGEST_KEY, MetaValue::Bytes(b)) => {
                Some(b.iter().map(|x| format!("{x:02x}")).collect())
            }
            _ => None,
        })
}

/// A probe through `/proc/PID/root`, resolving inside the process's root.
pub struct ProcProbe<'a> {
    /// Where `/proc` is read from.
    pub proc_root: &'a Path,
    /// The process whose root paths resolve in.
    pub pid: u32,
}

impl ProcProbe<'_> {
    fn full(&self, path: &[u8]) -> PathBuf {
        let mut p = self.proc_root.join(self.pid.to_string()).join("root");
        p.push(std::ffi::OsStr::from_bytes(
            path.strip_prefix(b"/").unwrap_or(path),
        ));
        p
    }
}

impl Probe for ProcProbe<'_> {
    fn stat(&self, path: &[u8]) -> Option<(u64, u64)> {
        // No symlinks are followed here: every probed path is one of the image's own.
        std::fs::symlink_metadata(self.full(path))
            .ok()
            .map(|m| (m.ino(), m.size()))
    }

    fn same_bytes(&self, path: &[u8], other: &Path) -> Option<bool> {
        let a = open_regular(&self.full(path))?;
        let b = open_regular(other)?;
        Some(same_stream(a, b))
    }
}

/// A regular file opened for reading: never through a final symlink, never blocking on a
/// FIFO that stands where a file was expected.
fn open_regular(path: &Path) -> Option<File> {
    use std::os::unix::fs::OpenOptionsExt;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .ok()?;
    f.metadata().ok()?.is_file().then_some(f)
}

fn same_stream(mut a: File, mut b: File) -> bool {
    let mut ba = vec![0u8; 64 * 1024];
    let mut bb = vec![0u8; 64 * 1024];
    loop {
        let na = match read_full(&mut a, &mut ba) {
            Some(n) => n,
            None => return false,
        };
        let nb = match read_full(&mut b, &mut bb) {
            Some(n) => n,
            None => return false,
        };
        if na != nb || ba[..na] != bb[..nb] {
            return false;
        }
        if na == 0 {
            return true;
        }
    }
}

fn read_full(f: &mut File, buf: &mut [u8]) -> Option<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(_) => return None,
        }
    }
    Some(n)
}

#[cfg(test)]
mod tests {
    use super::image::ImageFile;
    use super::*;
    use std::cell::RefCell;

    fn image(id: &str, lib_object: char) -> KnownImage {
        let mut index = ImageIndex {
            root_ino: 37,
            ..ImageIndex::default()
        };
        let file = |ino, object: Option<String>| ImageFile {
            ino,
            size: 10,
            is_dir: false,
            object,
        };
        index.files.insert(
            b"/".to_vec(),
            ImageFile {
                is_dir: true,
                ..file(37, None)
            },
        );
        index
            .files
            .insert(b"/usr/lib/a.so".to_vec(), file(50, Some("a".repeat(64))));
        index.files.insert(
            b"/usr/lib/b.so".to_vec(),
            file(51, Some(lib_object.to_string().repeat(64))),
        );
        KnownImage {
            deployment_id: id.into(),
            commit: id.into(),
            image: format!("/s/{id}/.ostree.cfs").into(),
            deployed: true,
            digest: None,
            index: Some(Arc::new(index)),
            unreadable: false,
        }
    }

    /// Answers as a mount of the image whose b.so object is `serves` would.
    struct Fake {
        serves: char,
        asked: RefCell<Vec<PathBuf>>,
    }

    impl Probe for Fake {
        fn stat(&self, path: &[u8]) -> Option<(u64, u64)> {
            match path {
                b"/" => Some((37, 0)),
                b"/usr/lib/a.so" => Some((50, 10)),
                b"/usr/lib/b.so" => Some((51 | (1 << 63), 10)),
                _ => None,
            }
        }
        fn same_bytes(&self, _path: &[u8], other: &Path) -> Option<bool> {
            self.asked.borrow_mut().push(other.to_path_buf());
            let name = other.file_name()?.to_string_lossy().into_owned();
            Some(name.starts_with(self.serves))
        }
    }

    #[test]
    fn images_with_the_same_inode_numbers_are_told_apart_by_content() {
        let cfs = Composefs {
            images: vec![image("one", 'b'), image("two", 'c')],
            objects_dir: "/s/ostree/repo/objects".into(),
            ..Composefs::default()
        };
        for (serves, want) in [('b', 0), ('c', 1)] {
            let probe = Fake {
                serves,
                asked: RefCell::new(Vec::new()),
            };
            assert_eq!(cfs.identify(b"/", &probe), Some(want));
            // Only the file whose objects differ was read, against the repo's objects.
            let asked = probe.asked.borrow();
            assert!(!asked.is_empty());
            assert!(asked.iter().all(|p| p.starts_with("/s/ostree/repo/objects")
                && p.to_string_lossy().ends_with(".file")));
        }
        // Content matching neither: no image fits, rather than a guess.
        let probe = Fake {
            serves: 'x',
            asked: RefCell::new(Vec::new()),
        };
        assert_eq!(cfs.identify(b"/", &probe), None);
        // Another root inode: not this image.
        let one = Composefs {
            images: vec![image("one", 'b')],
            ..Composefs::default()
        };
        struct Elsewhere;
        impl Probe for Elsewhere {
            fn stat(&self, _: &[u8]) -> Option<(u64, u64)> {
                Some((99, 0))
            }
            fn same_bytes(&self, _: &[u8], _: &Path) -> Option<bool> {
                Some(true)
            }
        }
        assert_eq!(one.identify(b"/", &Elsewhere), None);

        // An unreadable image on a loop device could be what a mount serves: no answer, not
        // the one readable image by elimination.
        let mut unreadable = image("two", 'c');
        unreadable.index = None;
        unreadable.unreadable = true;
        let loop_of = |i: &KnownImage| LoopDevice {
            name: "loop7".into(),
            backing: i.image.as_os_str().as_bytes().to_vec(),
            deleted: false,
        };
        let blind = Composefs {
            loops: vec![loop_of(&unreadable)],
            images: vec![image("one", 'b'), unreadable],
            ..Composefs::default()
        };
        let probe = Fake {
            serves: 'b',
            asked: RefCell::new(Vec::new()),
        };
        assert_eq!(blind.identify(b"/", &probe), None);
    }
}
