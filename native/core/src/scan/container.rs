//! The scan's container hooks: whether a process's root is a container's (once per mount
//! namespace and root), and, for a file on the container's root overlay, the layer that
//! supplies it and the package that installed it there (see docs/containers.md). Kept
//! apart from the scan driver, like the composefs hooks in `cfs.rs`.
use std::collections::HashMap;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::Arc;

use super::{live_root, Scan, View};
use crate::config::overlay_etc::OverlayEtc;
use crate::containers::layers::{self, Probe};
use crate::containers::{self, engine, Evidence, Identified};
use crate::fast_hash::FastMap;
use crate::packages::{PackageInfo, PackageTable};
use crate::proc::cgroup::{systemd_cgroup_path, unit_from_cgroup_path};
use crate::proc::maps::FileMapping;
use crate::proc::procfs::{self, path_in_root, ProcessRaw};
use crate::report::{ContainerReport, Origin, OriginKind, ProcessReport, RootKind, Warning};

/// One container as this scan knows it.
pub(super) struct Ctx {
    facts: Identified,
    report: Arc<ContainerReport>,
    /// The identity of the package database its processes see, when its image layers
    /// alone decide it (`containers::database`): the configuration checks read it once
    /// for every container that shares it.
    database: Option<Vec<u8>>,
    /// What its root's `/etc` is made of, when its layers are the ones the kernel mounted
    /// (`config::overlay_etc`), for processes whose root is the one it was identified by
    /// (this root directory, `/` in its mount table).
    etc: Option<(RootDir, Arc<OverlayEtc>)>,
}

/// A mapped file as a container's origins are kept: device, inode and path.
type OriginKey = (u32, u32, u64, Vec<u8>);

/// A layer stack (top-most first) whose package table is asked for the owners of `paths`
/// (canonical spellings); `name` names it in the table's warnings, which go where the scan
/// first asked of it (`at`, an index into its warnings) as when the table was read then.
struct StackWant {
    dirs: Vec<PathBuf>,
    name: String,
    paths: crate::fast_hash::FastSet<Vec<u8>>,
    at: usize,
    /// Whether the stack is image layers only (not the container's own): its table may be
    /// kept in the catalog (`Scan::stack_table`).
    image: bool,
}

/// A root directory's (dev, ino), as `ProcessRaw::root_dev_ino`.
type RootDir = Option<(u64, u64)>;

/// What the scan learned about containers: per view, per layer path, per mapped file.
#[derive(Default)]
pub(super) struct Containers {
    by_view: FastMap<View, Option<Arc<Ctx>>>,
    /// The container of the process being attributed.
    current: Option<Arc<Ctx>>,
    probes: FastMap<(PathBuf, Vec<u8>), Probe>,
    /// Directories a layer lacks (or hides), by (layer, path): every path below one is
    /// absent there too, without walking to it again (a container's own layer usually
    /// holds no `/usr` at all).
    absent: FastMap<(PathBuf, Vec<u8>), Probe>,
    /// Package tables by layer stack (top-most first) and whether only their package list
    /// was asked for, once per scan: many containers share an image's stacks, and a kept
    /// table's key (the fingerprint of every layer's database files) is itself a few dozen
    /// stats per layer.
    tables: HashMap<(Vec<PathBuf>, bool), Arc<PackageTable>>,
    /// The packages of layer files, named once every process is attributed
    /// (`layer_packages`): per layer stack, the paths asked of it, so that its table keeps
    /// the owners of those paths only (an image's database lists every file of the image).
    wants: Vec<StackWant>,
    want_index: HashMap<Vec<PathBuf>, usize>,
    /// Per mapped file (as `origins`): its stack in `wants` and its path in the container.
    pending: FastMap<OriginKey, (usize, Vec<u8>)>,
    /// Each view's mount table as the scan read it (`Scan::read_view`): a container is
    /// identified from its root mount without reading mountinfo again.
    mounts: FastMap<View, Vec<crate::proc::mountinfo::Mount>>,
    /// Each process read by this scan: its parent and its systemd cgroup path, as read
    /// (`note_family`): a container's keeper is found among them without reading its
    /// `stat` and `cgroup` again.
    family: FastMap<u32, (Option<u32>, Option<String>)>,
    /// Each image layer's `packages::database_fingerprint`, once per scan.
    fingerprints: HashMap<PathBuf, Vec<u8>>,
    origins: FastMap<OriginKey, Origin>,
    /// Problems already said (each once per scan).
    said: std::collections::HashSet<String>,
    /// Processes whose root is foreign (no deployment, container or the host's), or a
    /// container's whose layers are not resolved: their root's identity and path, for that
    /// root's own package database (`roots.rs`).
    pub(super) foreign: HashMap<u32, ForeignRoot>,
}

impl Containers {
    /// A process read by this scan: its parent and systemd cgroup path, for `keeper`.
    pub(super) fn note_family(&mut self, raw: &ProcessRaw) {
        let path = systemd_cgroup_path(&raw.cgroup).map(str::to_string);
        self.family.insert(raw.pid, (raw.ppid, path));
    }

    /// The mount table the scan read for `view`, kept for identifying its container.
    pub(super) fn keep_mounts(&mut self, view: View, mounts: Vec<crate::proc::mountinfo::Mount>) {
        self.mounts.insert(view, mounts);
    }
}

/// A foreign root as `roots.rs` reads it: its (dev, ino) and its path as the scanner sees it.
pub(super) type ForeignRoot = (Option<(u64, u64)>, Vec<u8>);

/// The mount at a process's root in its own mountinfo: mounted on `/` with the root's device.
fn root_mount(
    mounts: &[crate::proc::mountinfo::Mount],
    root_dev: Option<(u32, u32)>,
) -> Option<&crate::proc::mountinfo::Mount> {
    mounts
        .iter()
        .rev()
        .find(|m| m.mount_point == b"/" && Some((m.major, m.minor)) == root_dev)
}

impl Scan<'_> {
    /// For a root that is no deployment and not the host's: the container it is, if
    /// anything says so. Sets the container of the files attributed next.
    pub(super) fn container_root(
        &mut self,
        raw: &ProcessRaw,
        view: &View,
        kind: RootKind,
    ) -> (RootKind, Option<Arc<ContainerReport>>) {
        self.containers.current = None;
        if kind != RootKind::Foreign {
            return (kind, None);
        }
        let ctx = match self.containers.by_view.get(view) {
            Some(hit) => hit.clone(),
            None => {
                let ctx = self.identify_container(raw, view);
                self.containers.by_view.insert(view.clone(), ctx.clone());
                ctx
            }
        };
        match ctx {
            Some(c) => {
                if c.facts.layers.is_empty() {
                    // No layers to trace its files to: its root's own package database
                    // still names what it runs (`roots.rs`).
                    let root = live_root(raw).to_vec();
                    self.containers
                        .foreign
                        .insert(raw.pid, (raw.root_dev_ino, root));
                }
                if let Some(key) = &c.database {
                    self.config
                        .same_database(super::config::root_key(raw), key.clone());
                }
                if let Some((_, etc)) = c.etc.as_ref().filter(|(r, _)| *r == raw.root_dev_ino) {
                    self.config
                        .etc_from_layers(super::config::root_key(raw), etc.clone());
                }
                self.containers.current = Some(c.clone());
                (RootKind::Container, Some(c.report.clone()))
            }
            None => {
                let root = live_root(raw).to_vec();
                self.containers
                    .foreign
                    .insert(raw.pid, (raw.root_dev_ino, root));
                (kind, None)
            }
        }
    }

    fn identify_container(&mut self, raw: &ProcessRaw, view: &View) -> Option<Arc<Ctx>> {
        let cgroup = systemd_cgroup_path(&raw.cgroup);
        let hint = cgroup.and_then(engine::from_cgroup_path);
        // The view's mounts as the scan read them; read again only when that read failed.
        let mounts = match self.containers.mounts.remove(view) {
            Some(m) if !m.is_empty() => m,
            _ => procfs::read_mountinfo(&self.cfg.proc_root, raw.pid).unwrap_or_default(),
        };
        let root_dev = raw.root_dev_ino.map(|(d, _)| procfs::dev_split(d));
        let owner_uid = std::fs::metadata(self.cfg.proc_root.join(raw.pid.to_string()))
            .ok()
            .map(|m| m.uid());
        let keeper = self.keeper(raw, hint.as_ref());
        let conmon = keeper
            .as_ref()
            .and_then(|k| engine::conmon_bundle(&k.cmdline))
            .filter(|(_, id)| hint.as_ref().is_none_or(|h| h.id == *id));
        let ev = Evidence {
            hint,
            root_mount: root_mount(&mounts, root_dev),
            owner_uid,
            conmon_root: conmon.map(|(g, _)| PathBuf::from(std::ffi::OsStr::from_bytes(&g))),
            conmon_run_root: keeper
                .as_ref()
                .and_then(|k| engine::conmon_run_root(&k.cmdline))
                .map(|r| PathBuf::from(std::ffi::OsStr::from_bytes(&r))),
            host_root: &self.cfg.host_root,
        };
        let mut facts = containers::identify(&ev, &self.k.containers)?;
        // The service that runs the container: the process's own, when its cgroup lies in
        // one (a Quadlet unit runs its container in `NAME.service/libpod-payload-ID`), else
        // its keeper's (conmon, which a generated `container-NAME.service` runs). A scope
        // (`libpod-ID.scope`) is no unit to restart.
        facts.report.unit = cgroup
            .and_then(service_of)
            .or_else(|| keeper.and_then(|k| k.unit));
        for p in std::mem::take(&mut facts.problems) {
            if self.containers.said.insert(p.clone()) {
                self.warnings
                    .push(Warning::new("container-unresolved", p, Some(raw.pid)));
            }
        }
        let fingerprints = &mut self.containers.fingerprints;
        let database = containers::database::database_key(&facts.layers, &mounts, &mut |d| {
            fingerprints
                .entry(d.to_path_buf())
                .or_insert_with(|| crate::packages::database_fingerprint(d))
                .clone()
        });
        // The process's root is the overlay's own root (`/`, the whole filesystem mounted
        // there) and its layers are those mounted: its `/etc` is made of them and the mounts.
        let etc = root_mount(&mounts, root_dev)
            .filter(|_| facts.layers_as_mounted && raw.root.as_deref() == Some(b"/"))
            .and_then(|m| {
                let dirs: Vec<PathBuf> = facts.layers.iter().map(|l| l.dir.clone()).collect();
                OverlayEtc::new(&dirs, &mounts, m.mount_id)
            })
            .map(|o| (raw.root_dev_ino, Arc::new(o)));
        Some(Arc::new(Ctx {
            report: Arc::new(facts.report.clone()),
            facts,
            database,
            etc,
        }))
    }

    /// The nearest ancestor of the process outside its container's cgroup (conmon for
    /// podman and CRI-O): its command line and the service its cgroup lies in. Each
    /// ancestor's parent and cgroup as this scan read them (`Containers::family`); read
    /// from /proc only for one the scan did not read.
    fn keeper(&self, raw: &ProcessRaw, hint: Option<&engine::CgroupHint>) -> Option<Keeper> {
        let proc_root = &self.cfg.proc_root;
        let family = &self.containers.family;
        let mut pid = raw.pid;
        let mut parent = raw.ppid;
        for _ in 0..8 {
            pid = match parent {
                Some(p) => p,
                None => {
                    let stat = std::fs::read(proc_root.join(pid.to_string()).join("stat")).ok()?;
                    procfs::stat_ppid(&stat)?
                }
            };
            if pid <= 1 {
                return None;
            }
            let dir = proc_root.join(pid.to_string());
            let read_path = || -> Option<String> {
                let bytes = std::fs::read(dir.join("cgroup")).ok()?;
                let entries = crate::proc::cgroup::parse_systemd_cgroup(&bytes).ok()?;
                systemd_cgroup_path(&entries).map(str::to_string)
            };
            let path = match family.get(&pid) {
                Some((up, Some(path))) => {
                    parent = *up;
                    path.clone()
                }
                _ => {
                    parent = None;
                    read_path()?
                }
            };
            let inside =
                engine::from_cgroup_path(&path).is_some_and(|h| hint.is_some_and(|c| c.id == h.id));
            if inside {
                continue;
            }
            return Some(Keeper {
                cmdline: read_limited(&dir.join("cmdline")),
                unit: service_of(&path),
            });
        }
        None
    }

    /// For a file on the current container's root overlay: the layer that supplies it, its
    /// path in the container and its package from the image's database as of that layer.
    /// None for every other file (not in a container, or on another mount, like a volume).
    pub(super) fn container_origin(
        &mut self,
        raw: &ProcessRaw,
        m: &FileMapping,
        path: &[u8],
    ) -> Option<Origin> {
        let ctx = self.containers.current.clone()?;
        if ctx.facts.device != Some((m.major, m.minor)) {
            return None;
        }
        let key = (m.major, m.minor, m.inode, path.to_vec());
        if let Some(hit) = self.containers.origins.get(&key) {
            return Some(hit.clone());
        }
        let (origin, want) = self.layer_origin(raw, &ctx, m, path);
        if let Some(want) = want {
            self.containers.pending.insert(key.clone(), want);
        }
        self.containers.origins.insert(key, origin.clone());
        Some(origin)
    }

    /// The file's layer origin, its package left to `layer_packages`: with it, which
    /// stack in `Containers::wants` and which path name that package.
    fn layer_origin(
        &mut self,
        raw: &ProcessRaw,
        ctx: &Ctx,
        m: &FileMapping,
        path: &[u8],
    ) -> (Origin, Option<(usize, Vec<u8>)>) {
        let layers = &ctx.facts.layers;
        let Some(rel) = path_in_root(live_root(raw), path) else {
            return (Origin::untracked(), None);
        };
        if layers.is_empty() {
            return (Origin::untracked(), None);
        }
        let (probes, absent) = (&mut self.containers.probes, &mut self.containers.absent);
        let found = layers::layer_of(layers.len(), rel, m.inode, &mut |i, rel| {
            let dir = &layers[i].dir;
            if let Some(hit) = probes.get(&(dir.clone(), rel.to_vec())) {
                return *hit;
            }
            // A directory on the way this layer lacks answers for every path below it.
            let known = layers::dir_prefixes(rel)
                .into_iter()
                .find_map(|d| absent.get(&(dir.clone(), d)).copied());
            let p = match known {
                Some(p) => p,
                None => {
                    let (p, deciding) = layers::probe_deciding(dir, rel);
                    if let Some(d) = deciding {
                        absent.insert((dir.clone(), d), p);
                    }
                    p
                }
            };
            probes.insert((dir.clone(), rel.to_vec()), p);
            p
        });
        let Some(i) = found else {
            let name = ctx.report.name.as_deref().unwrap_or(&ctx.report.id);
            self.warn_once(
                "container-layer-unmatched",
                format!(
                    "container {name}: {} (inode {}) is in none of its layers at that path (an overlay with xino, or a layer changed since); its layer and package are not named",
                    String::from_utf8_lossy(rel),
                    m.inode
                ),
                Some(raw.pid),
            );
            return (Origin::untracked(), None);
        };
        let want = self.want_package(ctx, i, rel);
        let origin = Origin {
            kind: OriginKind::Layer,
            tree_path: Some(rel.to_vec()),
            layer: Some(layers[i].layer.clone()),
            ..Origin::untracked()
        };
        (origin, Some(want))
    }

    /// The package that installed `rel` is the one the image's own database as of layer
    /// `i` names (read through that layer and the ones below it): noted here, asked once
    /// every process is attributed (`layer_packages`), of a table of the paths asked only.
    fn want_package(&mut self, ctx: &Ctx, i: usize, rel: &[u8]) -> (usize, Vec<u8>) {
        let dirs = containers::dirs_from(&ctx.facts.layers, i);
        let c = &mut self.containers;
        let at = self.warnings.len();
        let n = *c.want_index.entry(dirs).or_insert_with_key(|dirs| {
            c.wants.push(StackWant {
                dirs: dirs.clone(),
                name: format!("layer {}", &ctx.facts.layers[i].layer.id),
                paths: Default::default(),
                at,
                image: !ctx.facts.layers[i].own,
            });
            c.wants.len() - 1
        });
        let canonical = crate::packages::canonical_path(rel).into_owned();
        c.wants[n].paths.insert(canonical);
        (n, rel.to_vec())
    }

    /// Name the package of each layer file of a container's process (`want_package`):
    /// each stack's table read once, for the paths asked of it, its warnings placed among
    /// the scan's where the stack was first asked of (as when the table was read there).
    pub(super) fn layer_packages(&mut self, processes: &mut [ProcessReport]) {
        let wants = std::mem::take(&mut self.containers.wants);
        self.containers.want_index.clear();
        let pending = std::mem::take(&mut self.containers.pending);
        if wants.is_empty() {
            return;
        }
        let mut tables = Vec::with_capacity(wants.len());
        let mut added = 0;
        for w in wants {
            let before = self.warnings.len();
            let table = self.stack_table(w.dirs, Some(&w.paths), w.image, || w.name);
            let new: Vec<Warning> = self.warnings.drain(before..).collect();
            let at = w.at + added;
            added += new.len();
            self.warnings.splice(at..at, new);
            tables.push(table);
        }
        for p in processes.iter_mut().filter(|p| p.container.is_some()) {
            for f in p.files.iter_mut() {
                if f.origin.kind != OriginKind::Layer {
                    continue;
                }
                let key = (f.major, f.minor, f.ino, std::mem::take(&mut f.path));
                if let Some((n, rel)) = pending.get(&key) {
                    f.origin.package = tables[*n].lookup(rel).cloned();
                }
                f.path = key.3;
            }
        }
    }

    /// The package table of a layer stack (top-most first), once per scan; its warnings
    /// said once. `name` names the stack in them, when the table is read. `wanted`: the
    /// paths whose owners are asked for, or an empty set for its packages by name only
    /// (`StoreCache::table`); the table read for the paths of a stack this scan serves
    /// the names of its packages too. `image`: the stack is image layers only, which the
    /// engine never changes: a fresh scan takes its table from the catalog's record of it
    /// (`Catalog::layer_database`) while every layer's database files have the stamps it
    /// was recorded under, and a table read here is recorded when the scan ends.
    fn stack_table(
        &mut self,
        dirs: Vec<PathBuf>,
        wanted: Option<&crate::fast_hash::FastSet<Vec<u8>>>,
        image: bool,
        name: impl FnOnce() -> String,
    ) -> Arc<PackageTable> {
        let names_only = wanted.is_some_and(|w| w.is_empty());
        let key = (dirs, names_only);
        if let Some(t) = self.containers.tables.get(&key) {
            return t.clone();
        }
        let whole = (key.0.clone(), false);
        if let Some(t) = self.containers.tables.get(&whole).filter(|_| names_only) {
            return t.clone();
        }
        let (dirs, _) = &key;
        let catalog = &self.k.catalog;
        // A catalog that cannot answer is no reason to fail: the database is read.
        let mut ask = |stamp: &[u8], w: &crate::fast_hash::FastSet<Vec<u8>>| {
            catalog.layer_database(stamp, w).ok().flatten()
        };
        let recorded =
            (image && wanted.is_some()).then_some(&mut ask as containers::store::Recorded<'_>);
        let t = self
            .k
            .containers
            .table_recorded(dirs, &name(), wanted, recorded);
        for w in &t.warnings {
            if self.containers.said.insert(w.clone()) {
                self.warnings
                    .push(Warning::new("package-db", w.clone(), None));
            }
        }
        self.containers.tables.insert(key, t.clone());
        t
    }
}

impl Scan<'_> {
    /// For `livetree packages`: per container whose image name resolves to an image now,
    /// the versions that image's own database holds of the packages its processes map,
    /// each as installed in the tree `container:ID`; and the trees so read.
    pub(super) fn container_installed(
        &mut self,
        processes: &[ProcessReport],
    ) -> (Vec<(String, PackageInfo)>, Vec<String>) {
        let mut names: HashMap<&str, Vec<&str>> = HashMap::new();
        for p in processes {
            let Some(c) = &p.container else { continue };
            let list = names.entry(c.id.as_str()).or_default();
            for f in &p.files {
                if let Some(pkg) = &f.origin.package {
                    list.push(pkg.name.as_str());
                }
            }
        }
        let mut ctxs: Vec<Arc<Ctx>> = self
            .containers
            .by_view
            .values()
            .flatten()
            .cloned()
            .collect();
        ctxs.sort_by(|a, b| a.report.id.cmp(&b.report.id));
        ctxs.dedup_by(|a, b| a.report.id == b.report.id);
        let mut out = Vec::new();
        let mut compared = Vec::new();
        for ctx in ctxs {
            let (Some(dirs), Some(list)) =
                (&ctx.facts.now_layers, names.get_mut(ctx.report.id.as_str()))
            else {
                continue;
            };
            list.sort_unstable();
            list.dedup();
            let image = ctx
                .report
                .image
                .as_ref()
                .and_then(|i| i.name_now_resolves_to.clone())
                .unwrap_or_default();
            // Compared by package name only: no path of its file lists is needed.
            let none = crate::fast_hash::FastSet::default();
            let table =
                self.stack_table(dirs.clone(), Some(&none), true, || format!("image {image}"));
            let tree = format!("container:{}", ctx.report.id);
            for name in list.iter() {
                out.extend(table.by_name(name).map(|p| (tree.clone(), p.clone())));
            }
            // An image with no database (or one that could not be read) compares nothing:
            // its packages are unknown there, not missing.
            if table.source.is_some() && table.warnings.is_empty() {
                compared.push(tree);
            }
        }
        (out, compared)
    }
}

/// A container's keeper process (conmon), as far as livetree needs it.
struct Keeper {
    cmdline: Vec<u8>,
    unit: Option<String>,
}

/// The systemd service a cgroup path lies in (a scope is no unit to restart).
fn service_of(path: &str) -> Option<String> {
    unit_from_cgroup_path(path).filter(|u| u.ends_with(".service"))
}

/// The first 64 KiB of a /proc file (a command line is far shorter), empty when unreadable.
/// A /proc file has no size: room for 4 KiB first, so that a command line (conmon's is
/// about 2 KiB) takes one read and the one finding its end — each read of another
/// process's `cmdline` reads its memory again, and an empty buffer growing from 32 bytes
/// took 8.
fn read_limited(path: &std::path::Path) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::with_capacity(4096);
    if let Ok(f) = std::fs::File::open(path) {
        let _ = f.take(64 << 10).read_to_end(&mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::proc::procfs::stat_ppid;

    #[test]
    fn ppid() {
        assert_eq!(stat_ppid(b"42 (a) b) S 17 42 42 0"), Some(17));
        assert_eq!(stat_ppid(b"42 (a"), None);
    }
}
