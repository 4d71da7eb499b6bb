//! Dynamic overlays: overlayfs mounts whose lower layer is (a directory of) a deployment.
//!
//! A live update (`ostree admin unlock`, `rpm-ostree apply-live`, or a hand-made hotfix)
//! mounts an overlay on a deployment's `/usr`: files written to the upper directory shadow
//! the deployment's own. In /proc/PID/maps a file read through the overlay carries the
//! overlay's device with the inode number of the real file below, so the scan has to ask
//! the layers which one serves a path: the upper directory first, then the lower layers
//! top-most first, as overlayfs itself looks them up.
//!
//! Layer paths are the ones the mounter passed (the super options show them as given).
//! They are looked up in the scanner's own mount namespace first and then inside the
//! process's root; a relative path (ostree's unlock mounts `lowerdir=usr` after a chdir)
//! cannot be resolved that way, so its deployment is found through the mount point, and the
//! other relative layers (`upperdir=.usr-ovl-upper`) are relative to the same directory.
//! A lower layer that is the mount point itself (`lowerdir=/usr` on `/usr`, a hotfix made
//! from inside a booted system) names what the mount now covers: the deployment's own
//! directory there, when the mount sits on the deployment.
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use crate::ostree::object::ObjectHit;
use crate::proc::mountinfo::{parse_overlay_options, Mount};
use crate::proc::procfs::dev_split;

/// (major, minor, inode) of a resolved path.
pub type DevIno = (u32, u32, u64);

/// A deployment as overlay detection needs it: its id, directory path and (dev, ino).
#[derive(Debug, Clone)]
pub struct DeploymentDir {
    /// The deployment's id (OSNAME/CHECKSUM.SERIAL).
    pub id: String,
    /// The deployment directory's path.
    pub path: Vec<u8>,
    /// The device major number of the deployment directory.
    pub major: u32,
    /// The device minor number of the deployment directory.
    pub minor: u32,
    /// The inode number of the deployment directory, which a lowerdir that is the deployment's
    /// has too.
    pub ino: u64,
}

/// One overlay mount as one process sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverlayMount {
    /// Relative to the root of the process whose mountinfo listed it.
    pub mount_point: Vec<u8>,
    /// The overlay's device major number, which its files' maps entries show.
    pub major: u32,
    /// The overlay's device minor number.
    pub minor: u32,
    /// Top-most first.
    pub lowerdirs: Vec<Vec<u8>>,
    /// The upper directory as mountinfo gives it (relative to the mounter's view), if any.
    pub upperdir: Option<Vec<u8>>,
    /// The work directory as mountinfo gives it, if any.
    pub workdir: Option<Vec<u8>>,
    /// The deployment the lower layer belongs to, when one does.
    pub lower_deployment: Option<String>,
    /// Which of `lowerdirs` is the deployment's tree.
    pub deployment_layer: Option<usize>,
    /// Where that layer sits inside the deployment (`/usr`; empty for the whole tree):
    /// the prefix that turns a path below the mount point into a tree path.
    pub tree_prefix: Vec<u8>,
    /// The deployment layer as the scanner reaches it (deployment path + prefix), which
    /// works even when the lowerdir was given relative to the mounter's directory.
    pub deployment_lower: Option<Vec<u8>>,
    /// The directory relative layer paths are relative to, as the scanner reaches it
    /// (the deployment directory for ostree's `lowerdir=usr` mounted from inside it).
    pub relative_base: Option<Vec<u8>>,
    /// The upper layer as the scanner reaches it: through its own view, the process's
    /// root, or `relative_base`; None when it cannot be reached (see `reach_upper`).
    pub upper_path: Option<PathBuf>,
}

/// Which layer serves a path, and the real file there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layer {
    /// The upper (writable) layer: a file changed or added over the deployment.
    Upper,
    /// Index into `lowerdirs`.
    Lower(usize),
}

/// The real file behind a path of an overlay: which layer holds it and its device and inode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerFile {
    /// Which layer serves the path.
    pub layer: Layer,
    /// The file's path in the scanner's view (or through /proc/PID/root).
    pub path: PathBuf,
    /// The device major number of the real file.
    pub major: u32,
    /// The device minor number of the real file.
    pub minor: u32,
    /// The inode number of the real file.
    pub ino: u64,
}

impl OverlayMount {
    /// Whether the file in `layer` is the deployment's own (and so a repo object).
    pub fn is_deployment_layer(&self, layer: &Layer) -> bool {
        matches!(layer, Layer::Lower(i) if Some(*i) == self.deployment_layer)
    }

    /// A path the process sees (relative to its root) made relative to the mount point:
    /// `/usr/lib/x.so` under `/usr` is `/lib/x.so`.
    pub fn below<'a>(&self, path: &'a [u8]) -> Option<&'a [u8]> {
        below(&self.mount_point, path)
    }

    /// The deployment tree path of a path relative to the mount point.
    pub fn tree_path(&self, rel: &[u8]) -> Vec<u8> {
        join(&self.tree_prefix, rel)
    }
}

pub use crate::proc::procfs::below;

/// `prefix` + `rel`, with exactly one slash between them and no trailing `/` for the root.
pub fn join(prefix: &[u8], rel: &[u8]) -> Vec<u8> {
    let prefix = prefix.strip_suffix(b"/").unwrap_or(prefix);
    let rel = rel.strip_prefix(b"/").unwrap_or(rel);
    let mut out = prefix.to_vec();
    if !rel.is_empty() || out.is_empty() {
        out.push(b'/');
    }
    out.extend_from_slice(rel);
    out
}

/// Where `dir` lies inside the deployment at `deployment`: `Some("")` for the deployment
/// itself, `Some("/usr")` for its /usr, None when it lies elsewhere. Compared on whole
/// path components, so `CSUM.1` is not inside `CSUM.10`.
pub fn subpath_in(deployment: &[u8], dir: &[u8]) -> Option<Vec<u8>> {
    let dep = deployment.strip_suffix(b"/").unwrap_or(deployment);
    let dir = dir.strip_suffix(b"/").unwrap_or(dir);
    let rest = dir.strip_prefix(dep)?;
    if rest.is_empty() || rest[0] == b'/' {
        Some(rest.to_vec())
    } else {
        None
    }
}

/// The suffix of an absolute `path` below its deepest ancestor for which `is_target`
/// holds (the path itself included): with `/a/b/c` and `/a` the target, `/b/c`.
/// `is_target` gets each ancestor, longest first. Pure, so the walk is unit-tested with
/// a closure standing in for stat.
pub fn suffix_below_matching(
    path: &[u8],
    is_target: &mut dyn FnMut(&[u8]) -> bool,
) -> Option<Vec<u8>> {
    if !path.starts_with(b"/") {
        return None;
    }
    let mut cut = path.strip_suffix(b"/").unwrap_or(path).len();
    loop {
        let ancestor: &[u8] = if cut == 0 { b"/" } else { &path[..cut] };
        if is_target(ancestor) {
            return Some(
                path[cut..]
                    .strip_suffix(b"/")
                    .unwrap_or(&path[cut..])
                    .to_vec(),
            );
        }
        if cut == 0 {
            return None;
        }
        cut = path[..cut].iter().rposition(|b| *b == b'/').unwrap_or(0);
    }
}

/// The nearest ancestor of `path` (itself included) that is a deployment directory, by
/// (dev, ino), with the rest of the path below it.
fn deployment_ancestor<'d>(
    path: &[u8],
    deployments: &'d [DeploymentDir],
    stat: &mut dyn FnMut(&[u8]) -> Option<DevIno>,
) -> Option<(&'d DeploymentDir, Vec<u8>)> {
    // No deployment to find: no ancestor is worth a stat (a host without OSTree, where each
    // container's overlay would otherwise cost a lookup of every ancestor of every layer,
    // through its process's root).
    if deployments.is_empty() {
        return None;
    }
    let mut found = None;
    let sub = suffix_below_matching(path, &mut |anc| {
        let Some((ma, mi, ino)) = stat(anc) else {
            return false;
        };
        found = deployments
            .iter()
            .find(|d| (d.major, d.minor, d.ino) == (ma, mi, ino));
        found.is_some()
    })?;
    Some((found?, sub))
}

/// The overlay mounts of one mount table, each with the deployment its lower layer
/// belongs to (None when no lower layer is a deployment's: a container's overlay).
/// `stat` resolves a path as the process that owns the mount table sees it, `host_stat`
/// as the scanner sees it.
///
/// Walking up to an ancestor that is a deployment directory is not enough on its own: on
/// a booted system `/` is the deployment, so every path has it as an ancestor. The
/// lowerdir must also be the very directory at the same place in the deployment as the
/// scanner sees it (for a relative lowerdir, at least a directory there).
pub fn find_overlays(
    mounts: &[Mount],
    deployments: &[DeploymentDir],
    stat: &mut dyn FnMut(&[u8]) -> Option<DevIno>,
    host_stat: &dyn Fn(&[u8]) -> Option<DevIno>,
) -> Vec<OverlayMount> {
    let mut out = Vec::new();
    for m in mounts.iter().filter(|m| m.fstype == "overlay") {
        let opts = parse_overlay_options(&m.super_options);
        let mut o = OverlayMount {
            mount_point: m.mount_point.clone(),
            major: m.major,
            minor: m.minor,
            lowerdirs: opts.lowerdirs,
            upperdir: opts.upperdir,
            workdir: opts.workdir,
            lower_deployment: None,
            deployment_layer: None,
            tree_prefix: Vec::new(),
            deployment_lower: None,
            relative_base: None,
            upper_path: None,
        };
        'layers: for (i, dir) in o.lowerdirs.iter().enumerate() {
            // By path: the lowerdir as given names a deployment directory or one below it.
            for d in deployments {
                if let Some(sub) = subpath_in(&d.path, dir) {
                    (o.lower_deployment, o.deployment_layer, o.tree_prefix) =
                        (Some(d.id.clone()), Some(i), sub);
                    break 'layers;
                }
            }
            // By identity: an ancestor of the lowerdir is a deployment directory (bind
            // mounts, symlinked sysroot paths, a process in another root).
            if let Some((d, sub)) = deployment_ancestor(dir, deployments, stat) {
                let same = stat(dir).is_some() && stat(dir) == host_stat(&join(&d.path, &sub));
                // `lowerdir=/usr` on `/usr`: the path now resolves to the overlay itself;
                // what it names is the directory below the mount, on the mount it sits on.
                // A chrooted process's table leaves out the mount its root is on: a parent
                // not listed is that one.
                let covered = is_mount_point(dir, m)
                    && parent_device(mounts, m).or_else(|| stat(b"/").map(|(ma, mi, _)| (ma, mi)))
                        == Some((d.major, d.minor))
                    && host_stat(&join(&d.path, &sub)).is_some();
                if same || covered {
                    (o.lower_deployment, o.deployment_layer, o.tree_prefix) =
                        (Some(d.id.clone()), Some(i), sub);
                    break 'layers;
                }
            }
        }
        if o.lower_deployment.is_none() {
            // A relative lowerdir (ostree's `lowerdir=usr`) says nothing by itself; when it
            // ends like the mount point and an ancestor of the mount point is a
            // deployment, that deployment's directory is what was overlaid.
            if let Some(i) = o.lowerdirs.iter().position(|l| !l.starts_with(b"/")) {
                let rel = o.lowerdirs[i].clone();
                if let Some((d, sub)) = deployment_ancestor(&o.mount_point, deployments, stat) {
                    let want = join(b"", &rel);
                    let exists = host_stat(&join(&d.path, &sub)).is_some();
                    if exists && !sub.is_empty() && sub.ends_with(&want) {
                        let base = &sub[..sub.len() - want.len()];
                        o.relative_base = Some(join(&d.path, base));
                        (o.lower_deployment, o.deployment_layer, o.tree_prefix) =
                            (Some(d.id.clone()), Some(i), sub);
                    }
                }
            }
        }
        if let Some(d) = deployments
            .iter()
            .find(|d| Some(&d.id) == o.lower_deployment.as_ref())
        {
            o.deployment_lower = Some(join(&d.path, &o.tree_prefix));
        }
        out.push(o);
    }
    out
}

/// Whether `path` is the mount point of `m` (the overlay covers the very directory).
fn is_mount_point(path: &[u8], m: &Mount) -> bool {
    let trim = |p: &[u8]| -> Vec<u8> {
        let t = p.strip_suffix(b"/").unwrap_or(p);
        if t.is_empty() {
            b"/".to_vec()
        } else {
            t.to_vec()
        }
    };
    path.starts_with(b"/") && trim(path) == trim(&m.mount_point)
}

/// The device of the mount `m` sits on, from the same table.
fn parent_device(mounts: &[Mount], m: &Mount) -> Option<(u32, u32)> {
    mounts
        .iter()
        .find(|p| p.mount_id == m.parent_id)
        .map(|p| (p.major, p.minor))
}

/// The upper layer of `o` as the scanner can open it. A relative path is relative to the
/// mounter's directory (`relative_base`). An absolute one is as the mounter saw it: tried in
/// the scanner's own view first (a hotfix mounted from the host), then through the
/// process's root (`in_root`; a system booted in a container, audited from the host).
pub fn reach_upper(
    o: &OverlayMount,
    in_root: &dyn Fn(&[u8]) -> Option<PathBuf>,
) -> Option<PathBuf> {
    let upper = o.upperdir.as_deref()?;
    let as_path = |b: &[u8]| PathBuf::from(std::ffi::OsStr::from_bytes(b));
    let is_dir = |p: &Path| fs::metadata(p).is_ok_and(|m| m.is_dir());
    if !upper.starts_with(b"/") {
        let base = o.relative_base.as_deref()?;
        return Some(as_path(&join(base, upper))).filter(|p| is_dir(p));
    }
    let own = as_path(upper);
    if is_dir(&own) {
        return Some(own);
    }
    in_root(upper).filter(|p| is_dir(p))
}

/// The real file that serves `rel` (relative to the mount point) in `o`, looked up layer
/// by layer as overlayfs does: upper first, then each lower layer top-most first; the
/// first layer with an entry there wins. A whiteout hides the lower layers: None.
/// `in_root` maps a layer path to one the scanner can open (the process's root), tried
/// when the path does not resolve in the scanner's own view.
pub fn serving_file(
    o: &OverlayMount,
    rel: &[u8],
    in_root: &dyn Fn(&[u8]) -> Option<PathBuf>,
) -> Option<LayerFile> {
    let layers = o.upperdir.iter().map(|u| (Layer::Upper, u)).chain(
        o.lowerdirs
            .iter()
            .enumerate()
            .map(|(i, l)| (Layer::Lower(i), l)),
    );
    let as_path = |b: &[u8]| PathBuf::from(std::ffi::OsStr::from_bytes(b));
    for (layer, dir) in layers {
        let own = join(dir, rel);
        let candidates = match &o.deployment_lower {
            Some(d) if o.is_deployment_layer(&layer) => [Some(as_path(&join(d, rel))), None],
            // The upper layer where the report found it (relative, or in the process's root).
            _ if layer == Layer::Upper && o.upper_path.is_some() => {
                let up = o.upper_path.as_deref().map(|p| p.as_os_str().as_bytes());
                [up.map(|u| as_path(&join(u, rel))), None]
            }
            // A relative layer path is relative to the mounter's directory, when known.
            _ if !dir.starts_with(b"/") => [
                o.relative_base
                    .as_deref()
                    .map(|b| as_path(&join(&join(b, dir), rel))),
                None,
            ],
            _ => [Some(as_path(&own)), in_root(&own)],
        };
        for path in candidates.into_iter().flatten() {
            let Ok(md) = fs::symlink_metadata(&path) else {
                continue;
            };
            if md.file_type().is_char_device() && md.rdev() == 0 {
                return None;
            }
            let (major, minor) = dev_split(md.dev());
            return Some(LayerFile {
                layer,
                path,
                major,
                minor,
                ino: md.ino(),
            });
        }
    }
    None
}

/// The regular files of an upper directory, as (path relative to it, full path), sorted.
/// Whiteouts, directories and symlinks are skipped; unreadable directories too.
pub fn upper_files(upper: &Path) -> Vec<(Vec<u8>, PathBuf)> {
    let mut out = Vec::new();
    let mut stack = vec![(Vec::new(), upper.to_path_buf())];
    while let Some((rel, dir)) = stack.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let Ok(ft) = e.file_type() else { continue };
            let mut r = rel.clone();
            r.push(b'/');
            r.extend_from_slice(e.file_name().as_bytes());
            if ft.is_dir() {
                stack.push((r, e.path()));
            } else if ft.is_file() {
                out.push((r, e.path()));
            }
        }
    }
    out.sort();
    out
}

/// The distinct commits whose tree holds the object exactly at `tree_path`, in the
/// catalog's order (newest first).
pub fn commits_at(hits: &[ObjectHit], tree_path: &[u8]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for h in hits.iter().filter(|h| h.path == tree_path) {
        if !out.contains(&h.commit) {
            out.push(h.commit.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests;
