//! composefs roots (Fedora CoreOS ≥ 41, bootc): `/` is an overlayfs whose lower layer is
//! the deployment's EROFS image (`.ostree.cfs`, mounted straight from the file or through a
//! loop device, then detached) and whose data-only lower layer is the repo's `objects/`.
//! /proc/PID/maps shows the overlay's device and the image's inode numbers, so a file is
//! tied to its object through the image: the entry at the file's path must carry the very
//! inode number maps shows, and its redirect names the object.
//!
//! Which image a mount serves is never taken from its lowerdir string (the EROFS mount is
//! detached; the string names a path that is gone), nor from inode numbers (similar trees
//! number their files alike): it is proven by the bytes processes map (`identify.rs`).
pub mod cache;
pub mod erofs;
pub mod identify;
pub mod image;
pub mod loops;
pub mod stacked;
pub mod verity;

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::Warning;
use crate::ostree::gvariant::MetaValue;
use crate::ostree::repo::Repo;
use crate::ostree::sysroot::SysrootStatus;
use crate::proc::mountinfo::{parse_overlay_options, Mount};
use identify::{Identity, MountProbe, Probed, ProofCost};
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
    /// Its entries; None until loaded (`stored_root`) or when it could not be read.
    pub index: Option<Arc<ImageIndex>>,
    /// It could not be read (warned): it may be mounted, and nothing rules it out.
    pub unreadable: bool,
    /// Recorded in the catalog with this root nid; its entries are read from there when a
    /// mount with that root nid is to be identified.
    pub stored_root: Option<u64>,
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
    /// remembers, then those only a loop device holds.
    pub images: Vec<KnownImage>,
    loops: Vec<LoopDevice>,
    objects: Option<(u64, u64)>,
    /// What identification concluded per overlay device.
    by_device: HashMap<(u32, u32), Identity>,
    /// What proving the mounts cost in this scan.
    pub cost: ProofCost,
}

/// (dev, ino) of a path as the scanner sees it.
pub type HostStat = dyn Fn(&[u8]) -> Option<(u64, u64)>;

impl Composefs {
    /// Read each deployment's image, record new ones in the catalog (with their entries,
    /// which outlive a prune), note the images the catalog kept of deployments since pruned,
    /// and read images loop devices hold that neither knows. Damage is a warning naming the
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
            cfs.objects = std::fs::metadata(repo.path().join("objects"))
                .ok()
                .map(|m| (m.dev(), m.ino()));
        }
        let deploy_root = status.path.join("ostree/deploy");
        for d in &status.deployments {
            let path = d.path.join(IMAGE_NAME);
            let id = d.id();
            let digest = repo.and_then(|r| commit_digest(r, &d.checksum));
            let known = |index, unreadable| KnownImage {
                deployment_id: id.clone(),
                commit: d.checksum.clone(),
                image: path.clone(),
                deployed: true,
                digest: digest.clone(),
                index,
                unreadable,
                stored_root: None,
            };
            if !path.exists() {
                // A commit made for composefs whose image is missing: reported, image null.
                if digest.is_some() {
                    cfs.images.push(known(None, false));
                }
                continue;
            }
            let record = !catalog.has_composefs_image(&id).unwrap_or(true);
            let read = |w: &mut Vec<Warning>| {
                read_checked(&path, &d.checksum, digest.as_deref(), true, w)
                    .map(|i| i.map(Arc::new))
                    .map_err(|e| e.to_string())
            };
            let (index, unreadable) =
                match images.get(&path, &d.checksum, digest.as_deref(), true, warnings, read) {
                    Ok(i) => (i, false),
                    Err(e) => {
                        warnings.push(Warning::new(
                            "composefs-image-unreadable",
                            format!("{e}; processes running from it cannot be attributed"),
                            None,
                        ));
                        (None, true)
                    }
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
            cfs.images.push(known(index, unreadable));
        }
        // Images of deployments since undeployed: every one the catalog kept is a candidate
        // (a file-backed mount names no image anywhere); entries are read on demand.
        let recorded = catalog.composefs_images().unwrap_or_default();
        for r in recorded {
            if cfs
                .images
                .iter()
                .any(|i| i.deployment_id == r.deployment_id)
            {
                continue;
            }
            cfs.images.push(KnownImage {
                deployment_id: r.deployment_id,
                commit: r.commit,
                image: r.image,
                deployed: false,
                digest: None,
                index: None,
                unreadable: false,
                stored_root: Some(r.root_ino),
            });
        }
        cfs.load_unknown_loops(&deploy_root, dev_root, warnings);
        images.sweep();
        cfs
    }

    /// Images a loop device holds that neither the sysroot nor the catalog knows (a
    /// deployment deployed and pruned between two scans): read from the loop device itself,
    /// which still serves the bytes of a deleted backing file. Named by the deployment
    /// directory in the backing file's path. One that cannot be read stays a candidate that
    /// nothing rules out: no mount is then identified by elimination.
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
            let deployment_id = match &id {
                Some((os, commit, serial)) => format!("{os}/{commit}.{serial}"),
                None => format!("image on {}", l.name),
            };
            if let Err(e) = &index {
                warnings.push(Warning::new(
                    "composefs-image-unreadable",
                    format!(
                        "{} (loop device {} backed by {}): {e}; a composefs mount is identified only where this image is ruled out",
                        dev_root.join(&l.name).display(),
                        l.name,
                        String::from_utf8_lossy(&l.backing)
                    ),
                    None,
                ));
            }
            self.images.push(KnownImage {
                deployment_id,
                commit: id.map(|(_, c, _)| c).unwrap_or_default(),
                image: PathBuf::from(std::ffi::OsStr::from_bytes(&l.backing)),
                deployed: false,
                digest: None,
                unreadable: index.is_err(),
                index: index.ok().map(Arc::new),
                stored_root: None,
            });
        }
    }

    /// The composefs mounts of one mount table: overlays whose data-only layer is this
    /// sysroot's repo objects. They are identified later (`identify_mount`), once every
    /// process's mapped files are known.
    pub fn find_mounts(&self, mounts: &[Mount], host_stat: &HostStat) -> Vec<CfsMount> {
        mounts
            .iter()
            .filter(|m| m.fstype == "overlay")
            .filter(|m| {
                let opts = parse_overlay_options(&m.super_options);
                opts.datadirs.iter().any(|d| self.is_objects(d, host_stat))
            })
            .map(|m| CfsMount {
                mount_point: m.mount_point.clone(),
                major: m.major,
                minor: m.minor,
            })
            .collect()
    }

    /// Whether this overlay device was identified already (once per device per scan).
    pub fn decided(&self, major: u32, minor: u32) -> bool {
        self.by_device.contains_key(&(major, minor))
    }

    /// Take the mount as serving the image of `deployment_id`, as an earlier scan of the same
    /// mount (its unique id) proved; false when that image is not known now (undeployed and
    /// not kept), and then the mount is identified afresh.
    pub fn adopt(&mut self, m: &CfsMount, deployment_id: &str) -> bool {
        let Some(i) = self
            .images
            .iter()
            .position(|img| img.deployment_id == deployment_id && img.index.is_some())
        else {
            return false;
        };
        self.by_device.insert((m.major, m.minor), Identity::One(i));
        true
    }

    /// The deployment whose image this device was proven to serve, if it was.
    pub fn proven_deployment(&self, major: u32, minor: u32) -> Option<&str> {
        match self.by_device.get(&(major, minor))? {
            Identity::One(i) => Some(self.images[*i].deployment_id.as_str()),
            _ => None,
        }
    }

    /// Load the entries of the catalog's images whose root nid fits a mount's (`root`, when
    /// known): they are candidates for it.
    pub fn load_stored(
        &mut self,
        root: Option<u64>,
        catalog: &impl ImageStore,
        cache: &mut cache::ImageCache,
        warnings: &mut Vec<Warning>,
    ) {
        for img in self.images.iter_mut().filter(|i| i.index.is_none()) {
            let Some(stored) = img.stored_root else {
                continue;
            };
            if root.is_some_and(|r| !same_ino(r, stored)) {
                continue;
            }
            let id = img.deployment_id.clone();
            match cache.stored(&id, || catalog.composefs_entries(&id)) {
                Ok(index) if !index.files.is_empty() => img.index = Some(index),
                Ok(_) => {}
                Err(e) => {
                    img.unreadable = true;
                    warnings.push(Warning::new(
                        "catalog-read",
                        format!("composefs image of {id} kept in the catalog: {e}"),
                        None,
                    ));
                }
            }
            img.stored_root = None;
        }
    }

    /// Identify the image mount `m` serves from the inode numbers processes map from it
    /// (`hash_mapped` checksums one's bytes; each comes with its path in the mount) and from
    /// files read through `probe`; `tree` answers for unreadable images of known commits.
    /// Candidates are the images known (`load_stored` first). Says what it could not prove.
    pub fn identify_mount(
        &mut self,
        m: &CfsMount,
        mapped: &BTreeMap<u64, Vec<u8>>,
        hash_mapped: &mut dyn FnMut(u64) -> Option<String>,
        probe: &dyn MountProbe,
        tree: identify::TreeObjects,
        warnings: &mut Vec<Warning>,
    ) {
        let (identity, cost) = identify::identify(&self.images, mapped, hash_mapped, probe, tree);
        self.cost.mapped_hashed += cost.mapped_hashed;
        self.cost.probed += cost.probed;
        let place = format!(
            "composefs mount {}:{} on {}",
            m.major,
            m.minor,
            String::from_utf8_lossy(&m.mount_point)
        );
        let names = |is: &[usize]| {
            is.iter()
                .map(|&i| self.images[i].deployment_id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let said = match &identity {
            Identity::One(_) => None,
            Identity::None => Some((
                "composefs-unidentified",
                format!(
                    "{place}: no known image fits the files its processes map ({} images known, {} files checksummed); what its processes run is unknown",
                    self.images.len(),
                    cost.mapped_hashed + cost.probed
                ),
            )),
            Identity::Several(is) => Some((
                "composefs-ambiguous",
                format!(
                    "{place}: {} images fit the files its processes map ({}); what its processes run is unknown",
                    is.len(),
                    names(is)
                ),
            )),
            Identity::Unproven(i) => Some((
                "composefs-unproven",
                format!(
                    "{place}: only the image of {} fits, but none of its files could be read to prove it (run as root); what its processes run is unknown",
                    self.images[*i].deployment_id
                ),
            )),
        };
        if let Some((code, message)) = said {
            warnings.push(Warning::new(code, message, None));
        }
        self.by_device.insert((m.major, m.minor), identity);
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

    /// The image a composefs mount device serves, once proven.
    pub fn image_of(&self, major: u32, minor: u32) -> Option<&KnownImage> {
        match self.by_device.get(&(major, minor))? {
            Identity::One(i) => self.images.get(*i),
            _ => None,
        }
    }

    /// The deployment whose image is mounted as this process root: the root's device is an
    /// identified composefs mount and its inode the image's root. `Err(())` when the root is
    /// on a composefs mount whose image could not be proven: what the process runs is
    /// unknown.
    #[allow(clippy::result_unit_err)]
    pub fn root_deployment(&self, root: (u64, u64)) -> Result<Option<String>, ()> {
        let (ma, mi) = crate::proc::procfs::dev_split(root.0);
        match self.by_device.get(&(ma, mi)) {
            None => Ok(None),
            Some(Identity::One(i)) => {
                let img = &self.images[*i];
                let idx = img.index.as_ref().ok_or(())?;
                Ok(same_ino(root.1, idx.root_ino).then(|| img.deployment_id.clone()))
            }
            Some(_) => Err(()),
        }
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

    /// Whether the deployment's image was proven mounted.
    pub fn mounted(&self, deployment_id: &str) -> bool {
        self.by_device.values().any(|id| match id {
            Identity::One(i) => self.images[*i].deployment_id == deployment_id,
            _ => false,
        })
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
        && crate::proc::procfs::below(deploy_root.as_os_str().as_bytes(), backing).is_some()
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
                    "{}: fs-verity digest {have}, but commit {commit} records {want} ({DIGEST_KEY}); the image differs from what the commit was made with (e.g. its objects lack fs-verity). ostree-prepare-root mounts it all the same unless prepare-root.conf sets `[composefs] enabled = signed`, which checks the commit's signature and this digest",
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

/// The mount seen through `/proc/PID/root` of a process whose view holds it.
pub struct ProcProbe<'a> {
    /// Where `/proc` is read from.
    pub proc_root: &'a Path,
    /// The process whose root paths resolve in.
    pub pid: u32,
    /// The mount point, relative to that process's root.
    pub mount_point: &'a [u8],
    /// Mount points (relative to the same root) of other mounts below it: a path under one
    /// of them is not the composefs mount's (an unlocked `/usr`, ostree's `/etc`), so it is
    /// never read as evidence.
    pub covered: Vec<Vec<u8>>,
}

impl ProcProbe<'_> {
    fn full(&self, path: &[u8]) -> PathBuf {
        let mut p = self.proc_root.join(self.pid.to_string()).join("root");
        for part in [self.mount_point, path] {
            p.push(std::ffi::OsStr::from_bytes(
                part.strip_prefix(b"/").unwrap_or(part),
            ));
        }
        p
    }
}

impl MountProbe for ProcProbe<'_> {
    fn root_ino(&self) -> Option<u64> {
        std::fs::symlink_metadata(self.full(b""))
            .ok()
            .map(|m| m.ino())
    }

    fn probe(&self, path: &[u8]) -> Probed {
        let shown = crate::overlay::join(self.mount_point, path);
        if self
            .covered
            .iter()
            .any(|c| crate::proc::procfs::below(c, &shown).is_some())
        {
            return Probed::Unreadable;
        }
        let full = self.full(path);
        // Missing only when the name itself is not there as a regular file: after a prune
        // a metacopy file whose object is gone still has its name but cannot be opened.
        match std::fs::symlink_metadata(&full) {
            Ok(m) if !m.is_file() => return Probed::Missing,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Probed::Missing,
            Err(_) => return Probed::Unreadable,
        }
        match open_regular(&full) {
            Ok(Some(f)) => match crate::ostree::checksum::checksum_file(&f) {
                Ok(sum) => Probed::Sum(sum),
                Err(_) => Probed::Unreadable,
            },
            Ok(None) | Err(_) => Probed::Unreadable,
        }
    }
}

/// A regular file opened for reading: never through a final symlink, never blocking on a
/// FIFO that stands where a file was expected. Ok(None): nothing, or not a regular file.
fn open_regular(path: &Path) -> std::io::Result<Option<File>> {
    use std::os::unix::fs::OpenOptionsExt;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path);
    match f {
        Ok(f) => Ok(f.metadata()?.is_file().then_some(f)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => Ok(None),
        Err(e) => Err(e),
    }
}
