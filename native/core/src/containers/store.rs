//! A containers/storage store as read from its graph root, and the stores, configuration
//! and image package tables a kept scanner holds between scans.
//!
//! Reading is read-only and takes no lock: the engine rewrites each records file whole and
//! renames it into place, so a read sees one version or the other. A file whose stamp
//! (`stamp.rs`) moved while it was read was being replaced: what was read is used, and the
//! store says so (a warning, not an error). A kept store reads a file again only when its
//! stamp changed.
use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::config::{parse_storage_conf, StorageConf};
use super::records::{
    parse_containers, parse_images, parse_layers, ContainerRecord, ImageRecord, LayerRecord,
};
use crate::fast_hash::FastSet;
use crate::packages::PackageTable;
use crate::stamp::FileStamp;

/// Records files are JSON arrays of a few hundred bytes per entry; past this, not one.
const MAX_RECORDS: u64 = 256 << 20;

/// The records files, relative to the graph root, and which records each holds.
pub const RECORD_FILES: [(&str, Kind); 4] = [
    ("overlay-containers/containers.json", Kind::Containers),
    // Containers newer podman marks volatile (`--rm`, so Quadlet's): beside
    // containers.json, or in the run root for a transient store (`TRANSIENT_RUN_FILE`).
    (
        "overlay-containers/volatile-containers.json",
        Kind::Containers,
    ),
    ("overlay-images/images.json", Kind::Images),
    ("overlay-layers/layers.json", Kind::Layers),
];

/// A transient store's volatile containers, relative to its run root (`--transient-store`,
/// `transient_store = true`).
pub const TRANSIENT_RUN_FILE: &str = "overlay-containers/volatile-containers.json";

/// Which records a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Containers.
    Containers,
    /// Images.
    Images,
    /// Layers.
    Layers,
}

/// One store: its graph root and its records.
#[derive(Debug, Clone, Default)]
pub struct Store {
    /// The graph root (`/var/lib/containers/storage`, a rootless user's, a test's `--root`).
    pub root: PathBuf,
    /// The run root whose volatile containers were read too (a transient store's), if any.
    pub run_root: Option<PathBuf>,
    /// `containers.json` and the volatile containers; empty for an additional (read-only)
    /// image store.
    pub containers: Vec<ContainerRecord>,
    /// `images.json`.
    pub images: Vec<ImageRecord>,
    /// `layers.json`, by layer ID.
    pub layers: HashMap<String, LayerRecord>,
    /// What could not be read, or was being rewritten while read, naming the file.
    pub problems: Vec<String>,
    stamps: Vec<Option<FileStamp>>,
}

impl Store {
    /// A store made of records already parsed (for tests and captured stores).
    pub fn from_records(
        root: PathBuf,
        containers: Vec<ContainerRecord>,
        images: Vec<ImageRecord>,
        layers: Vec<LayerRecord>,
    ) -> Store {
        Store {
            root,
            containers,
            images,
            layers: layers.into_iter().map(|l| (l.id.clone(), l)).collect(),
            ..Store::default()
        }
    }

    /// The container with this ID.
    pub fn container(&self, id: &str) -> Option<&ContainerRecord> {
        self.containers.iter().find(|c| c.id == id)
    }

    /// The container whose own writable layer is `layer`.
    pub fn container_with_layer(&self, layer: &str) -> Option<&ContainerRecord> {
        self.containers.iter().find(|c| c.layer == layer)
    }

    /// The image with this ID.
    pub fn image(&self, id: &str) -> Option<&ImageRecord> {
        self.images.iter().find(|i| i.id == id)
    }

    /// The image `name` resolves to in this store now: the one that lists it in `names`
    /// (containers/storage moves a name from one image to the next; it is never on two).
    pub fn image_named(&self, name: &str) -> Option<&ImageRecord> {
        self.images
            .iter()
            .find(|i| i.names.iter().any(|n| n == name))
    }

    /// The layer with this ID.
    pub fn layer(&self, id: &str) -> Option<&LayerRecord> {
        self.layers.get(id)
    }

    /// A layer's directory in this store (`GRAPHROOT/overlay/LAYER/diff`).
    pub fn layer_dir(&self, id: &str) -> PathBuf {
        self.root.join("overlay").join(id).join("diff")
    }
}

/// The records files of the store at `root` (with `run`'s volatile containers), each with
/// the records it holds.
fn record_paths(root: &Path, run: Option<&Path>) -> Vec<(PathBuf, Kind)> {
    let mut out: Vec<(PathBuf, Kind)> = RECORD_FILES
        .iter()
        .map(|(f, k)| (root.join(f), *k))
        .collect();
    if let Some(run) = run {
        out.push((run.join(TRANSIENT_RUN_FILE), Kind::Containers));
    }
    out
}

fn read_limited(path: &Path) -> std::io::Result<Vec<u8>> {
    let f = std::fs::File::open(path)?;
    // Room for the whole file (its size a hint only): two reads, not one per doubling.
    let size = f.metadata().map(|m| m.len()).unwrap_or(0);
    let mut bytes = Vec::with_capacity(size.min(MAX_RECORDS) as usize);
    f.take(MAX_RECORDS).read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Read the store at `root` (and the volatile containers in `run`), keeping from `old` the
/// records of each kind whose files' stamps did not move, and how many files were read.
/// None when `root` holds no store at all (none of its records files is there).
fn read_store(root: &Path, run: Option<&Path>, old: Option<&Store>) -> Option<(Store, u64)> {
    let mut read = 0;
    let paths = record_paths(root, run);
    let before: Vec<Option<FileStamp>> = paths
        .iter()
        .map(|(p, _)| crate::stamp::of_path(p))
        .collect();
    if before[..RECORD_FILES.len()].iter().all(Option::is_none) {
        return None;
    }
    let mut store = Store {
        root: root.to_path_buf(),
        run_root: run.map(Path::to_path_buf),
        stamps: before.clone(),
        ..Store::default()
    };
    for kind in [Kind::Containers, Kind::Images, Kind::Layers] {
        let files: Vec<usize> = (0..paths.len()).filter(|i| paths[*i].1 == kind).collect();
        let unchanged = old.filter(|o| {
            o.stamps.len() == before.len()
                && files.iter().all(|i| o.stamps[*i] == before[*i])
                && files.iter().any(|i| before[*i].is_some())
        });
        if let Some(old) = unchanged {
            match kind {
                Kind::Containers => store.containers = old.containers.clone(),
                Kind::Images => store.images = old.images.clone(),
                Kind::Layers => store.layers = old.layers.clone(),
            }
            continue;
        }
        for i in files {
            let path = &paths[i].0;
            if before[i].is_none() {
                // An image store has no containers.json; a store never written has none
                // yet; volatile containers are there only while there are some.
                continue;
            }
            read += 1;
            let bytes = match read_limited(path) {
                Ok(b) => b,
                Err(e) => {
                    store
                        .problems
                        .push(crate::Error::from_io(path, e).to_string());
                    continue;
                }
            };
            if crate::stamp::of_path(path) != before[i] {
                store.problems.push(format!(
                    "{}: rewritten by the engine while it was read (a container or image came or went during the scan); what was read is used",
                    path.display()
                ));
                store.stamps[i] = None;
            }
            let parsed = match kind {
                Kind::Containers => parse_containers(&bytes).map(|c| store.containers.extend(c)),
                Kind::Images => parse_images(&bytes).map(|im| store.images = im),
                Kind::Layers => parse_layers(&bytes)
                    .map(|l| store.layers = l.into_iter().map(|l| (l.id.clone(), l)).collect()),
            };
            if let Err(e) = parsed {
                store
                    .problems
                    .push(crate::Error::corrupt(path, e.0).to_string());
                store.stamps[i] = None;
            }
        }
    }
    Some((store, read))
}

/// A store as kept: its graph root and the run root its volatile containers were read from.
type StoreKey = (PathBuf, Option<PathBuf>);

/// What was read from a file, with the file's stamp then.
type Kept<T> = (Option<FileStamp>, T);

/// What a kept scanner keeps of container stores between scans. Interior mutability: the
/// scan holds what it knows read-only.
#[derive(Default)]
pub struct StoreCache {
    stores: RefCell<HashMap<StoreKey, Option<Arc<Store>>>>,
    /// Stores looked at by this scan (each is stat'ed once per scan).
    checked: RefCell<HashSet<StoreKey>>,
    conf: RefCell<HashMap<PathBuf, Kept<StorageConf>>>,
    passwd: RefCell<HashMap<PathBuf, Kept<Arc<Vec<u8>>>>>,
    /// Configuration files (storage.conf, passwd) stat'ed by this scan: each is looked at
    /// once per scan, not once per container.
    files_checked: RefCell<HashSet<PathBuf>>,
    /// The layers the short links of an overlay's `lowerdir` (`GRAPHROOT/overlay/l/SHORT`)
    /// point to, read once per scan: every container of an image names the same links.
    links: RefCell<HashMap<PathBuf, Option<String>>>,
    /// Package tables of image layer stacks and of other roots, by database fingerprint.
    tables: RefCell<HashMap<Vec<u8>, Arc<PackageTable>>>,
    tables_used: RefCell<FastSet<Vec<u8>>>,
    /// For a table kept for the owners of some paths only: those paths.
    table_paths: RefCell<HashMap<Vec<u8>, FastSet<Vec<u8>>>>,
    /// What single image layers hold at the database paths read this scan: shared by the
    /// package tables of every stack they are in.
    layer_files: super::layers::LayerFiles,
    /// Records files read (not kept), for the scanner's counters and tests.
    reads: Cell<u64>,
    /// Package tables read (not kept).
    table_reads: Cell<u64>,
    /// Tables of image layer stacks read from their databases, not yet recorded in the
    /// catalog (`take_unrecorded`).
    unrecorded: RefCell<Vec<Unrecorded>>,
}

/// A table read from an image layer stack's database: its catalog key (`table_recorded`),
/// the table, and the paths it was read for.
pub type Unrecorded = (Vec<u8>, PackageTable, FastSet<Vec<u8>>);

/// The catalog's record of a layer stack's table, asked by its stamp and wanted paths.
pub type Recorded<'a> = &'a mut dyn FnMut(&[u8], &FastSet<Vec<u8>>) -> Option<PackageTable>;

impl StoreCache {
    /// A new scan begins: every store is checked again once; stores and tables the last
    /// scan did not use are forgotten, so a long-lived scanner keeps no more than it needs.
    pub fn begin_scan(&self) {
        let checked = std::mem::take(&mut *self.checked.borrow_mut());
        self.stores
            .borrow_mut()
            .retain(|root, _| checked.contains(root));
        self.unrecorded.borrow_mut().clear();
        let used = std::mem::take(&mut *self.tables_used.borrow_mut());
        self.tables.borrow_mut().retain(|k, _| used.contains(k));
        self.table_paths
            .borrow_mut()
            .retain(|k, _| used.contains(k));
        self.files_checked.borrow_mut().clear();
        self.links.borrow_mut().clear();
        self.layer_files.clear();
    }

    /// The layer the short link `link` (`GRAPHROOT/overlay/l/SHORT`) points to, read once
    /// per scan; None when it is no link to a layer's `diff`.
    pub fn link_layer(&self, link: &Path) -> Option<String> {
        if let Some(hit) = self.links.borrow().get(link) {
            return hit.clone();
        }
        let layer = std::fs::read_link(link)
            .ok()
            .and_then(|t| super::mount::link_target_layer(t.as_os_str().as_encoded_bytes()));
        self.links
            .borrow_mut()
            .insert(link.to_path_buf(), layer.clone());
        layer
    }

    /// Whether `path` was already stat'ed by this scan (and from now on, it was).
    fn checked_this_scan(&self, path: &Path) -> bool {
        !self.files_checked.borrow_mut().insert(path.to_path_buf())
    }

    /// The store at `root`, read or kept; None when there is none there.
    pub fn store(&self, root: &Path) -> Option<Arc<Store>> {
        self.store_with_run(root, None)
    }

    /// The store at `root` with the volatile containers of run root `run` (a transient
    /// store keeps them there), read or kept; None when there is none at `root`.
    pub fn store_with_run(&self, root: &Path, run: Option<&Path>) -> Option<Arc<Store>> {
        let key: StoreKey = (root.to_path_buf(), run.map(Path::to_path_buf));
        if self.checked.borrow().contains(&key) {
            return self.stores.borrow().get(&key).cloned().flatten();
        }
        self.checked.borrow_mut().insert(key.clone());
        let old = self.stores.borrow().get(&key).cloned().flatten();
        let now: Vec<Option<FileStamp>> = record_paths(root, run)
            .iter()
            .map(|(p, _)| crate::stamp::of_path(p))
            .collect();
        let store = match old {
            Some(o) if o.stamps == now && o.problems.is_empty() => Some(o),
            o => read_store(root, run, o.as_deref()).map(|(s, n)| {
                self.reads.set(self.reads.get() + n);
                Arc::new(s)
            }),
        };
        self.stores.borrow_mut().insert(key, store.clone());
        store
    }

    /// `storage.conf` under `host_root` (`etc/containers/storage.conf`), kept by stamp.
    pub fn conf(&self, host_root: &Path) -> StorageConf {
        self.conf_at(&host_root.join("etc/containers/storage.conf"))
    }

    /// The storage.conf at `path` (a user's own), kept by stamp; empty when there is none.
    pub fn conf_at(&self, path: &Path) -> StorageConf {
        self.kept_file(&self.conf, path.to_path_buf(), |b| {
            b.map(|b| parse_storage_conf(&b)).unwrap_or_default()
        })
    }

    /// `etc/passwd` under `host_root`, kept by stamp.
    pub fn passwd(&self, host_root: &Path) -> Arc<Vec<u8>> {
        self.kept_file(&self.passwd, host_root.join("etc/passwd"), |b| {
            Arc::new(b.unwrap_or_default())
        })
    }

    /// What `make` makes of the file at `path` (its bytes, None when unreadable), kept in
    /// `kept` by the file's stamp; stat'ed once per scan, not once per container.
    fn kept_file<T: Clone>(
        &self,
        kept: &RefCell<HashMap<PathBuf, Kept<T>>>,
        path: PathBuf,
        make: impl FnOnce(Option<Vec<u8>>) -> T,
    ) -> T {
        let checked = self.checked_this_scan(&path);
        let stamp = (!checked).then(|| crate::stamp::of_path(&path));
        if let Some((s, v)) = kept.borrow().get(&path) {
            if checked || stamp.as_ref() == Some(s) {
                return v.clone();
            }
        }
        let stamp = stamp.unwrap_or_else(|| crate::stamp::of_path(&path));
        let v = make(read_limited(&path).ok());
        kept.borrow_mut().insert(path, (stamp, v.clone()));
        v
    }

    /// The package table of a layer stack (top-most first), kept while the database files
    /// of every layer in it are unchanged (`packages::database_fingerprint` of each).
    /// `wanted`: the owners of these paths (canonical spellings, as
    /// `packages::read_table_for`) are asked for, every package is listed; an empty set asks
    /// for the packages by name only (`by_name`: no path of any file list is kept); None,
    /// every path's owner. A table kept for some paths serves any of them; asked for one
    /// more, it is read again for all of them together (a kept scanner's processes come and
    /// go, and a path's owner does not depend on which other paths are kept).
    pub fn table(
        &self,
        layers: &[PathBuf],
        name: &str,
        wanted: Option<&FastSet<Vec<u8>>>,
    ) -> Arc<PackageTable> {
        self.table_recorded(layers, name, wanted, None)
    }

    /// `table`, first asking `recorded` (the catalog's record of an image layer stack,
    /// `Catalog::layer_database`: by the stack's stamp, every layer's
    /// `packages::database_fingerprint` top-most first, the `name` that its source and
    /// warnings name it by and whether paths are asked at all, and by the paths wanted)
    /// before reading
    /// the database; a table it read is noted for `take_unrecorded`. None: read as `table`.
    pub fn table_recorded(
        &self,
        layers: &[PathBuf],
        name: &str,
        wanted: Option<&FastSet<Vec<u8>>>,
        mut recorded: Option<Recorded<'_>>,
    ) -> Arc<PackageTable> {
        let mut key = vec![match wanted {
            None => 0,
            Some(w) if w.is_empty() => 1,
            Some(_) => 2,
        }];
        for l in layers {
            key.extend(crate::packages::database_fingerprint(l));
            key.push(0xff);
        }
        // The catalog's key: whether paths or the package list alone are asked, the stamps,
        // and the name its source and warnings are said by.
        let mut stamp = key.clone();
        stamp.extend_from_slice(name.as_bytes());
        let mut read = |wanted: Option<&FastSet<Vec<u8>>>| {
            if let (Some(ask), Some(w)) = (recorded.as_mut(), wanted) {
                if let Some(t) = ask(&stamp, w) {
                    return (t, false);
                }
            }
            let tree =
                super::layers::LayerTree::sharing(layers, name.to_string(), &self.layer_files);
            let t = crate::packages::read_table_for(&tree, wanted);
            if let Some(w) = wanted.filter(|_| recorded.is_some()) {
                self.unrecorded
                    .borrow_mut()
                    .push((stamp.clone(), t.clone(), w.clone()));
            }
            (t, true)
        };
        let Some(w) = wanted.filter(|w| !w.is_empty()) else {
            return self.kept_table_read(key, || read(wanted));
        };
        let mut paths = self.table_paths.borrow_mut();
        let kept = paths.entry(key.clone()).or_default();
        if !w.is_subset(kept) {
            kept.extend(w.iter().cloned());
            self.tables.borrow_mut().remove(&key);
        }
        let all = kept.clone();
        drop(paths);
        self.kept_table_read(key, || read(Some(&all)))
    }

    /// The tables `table_recorded` read from the databases since the last call, with the
    /// stamp and the paths each was read for: what the catalog should record.
    pub fn take_unrecorded(&self) -> Vec<Unrecorded> {
        std::mem::take(&mut *self.unrecorded.borrow_mut())
    }

    /// A package table kept by `key` (the fingerprint of the database files it is read
    /// from): `read` runs only when no scan kept one for that key.
    pub fn kept_table(
        &self,
        key: Vec<u8>,
        read: impl FnOnce() -> PackageTable,
    ) -> Arc<PackageTable> {
        self.kept_table_read(key, || (read(), true))
    }

    /// `kept_table` with a `read` that says whether it read the database (or took a
    /// record of it): only a read counts in `reads`.
    fn kept_table_read(
        &self,
        key: Vec<u8>,
        read: impl FnOnce() -> (PackageTable, bool),
    ) -> Arc<PackageTable> {
        self.tables_used.borrow_mut().insert(key.clone());
        if let Some(t) = self.tables.borrow().get(&key) {
            return t.clone();
        }
        let (table, was_read) = read();
        let table = Arc::new(table);
        if was_read {
            self.table_reads.set(self.table_reads.get() + 1);
        }
        self.tables.borrow_mut().insert(key, table.clone());
        table
    }

    /// Records files and package tables read so far (not kept from an earlier scan).
    pub fn reads(&self) -> (u64, u64) {
        (self.reads.get(), self.table_reads.get())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_until_a_file_changes() {
        let d = std::env::temp_dir().join(format!("livetree-store-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        for (f, _) in RECORD_FILES {
            std::fs::create_dir_all(d.join(f).parent().unwrap()).unwrap();
        }
        std::fs::write(d.join(RECORD_FILES[2].0), b"[]").unwrap();
        std::fs::write(d.join(RECORD_FILES[3].0), br#"[{"id":"l1"}]"#).unwrap();
        let cache = StoreCache::default();
        assert!(cache.store(&d.join("nothing")).is_none());
        let s = cache.store(&d).unwrap();
        assert!(s.containers.is_empty());
        assert!(s.layer("l1").is_some());
        assert_eq!(cache.reads().0, 2);
        cache.begin_scan();
        let again = cache.store(&d).unwrap();
        assert!(Arc::ptr_eq(&s, &again));
        assert_eq!(cache.reads().0, 2);
        // A new containers.json (renamed into place, as the engine does) is read; the
        // unchanged files are kept.
        std::fs::write(d.join("new"), br#"[{"id":"c","image":"i","layer":"l2"}]"#).unwrap();
        std::fs::rename(d.join("new"), d.join(RECORD_FILES[0].0)).unwrap();
        cache.begin_scan();
        let third = cache.store(&d).unwrap();
        assert_eq!(third.container_with_layer("l2").unwrap().id, "c");
        assert_eq!(cache.reads().0, 3);
        // Damage is a problem named with its path, not an error.
        std::fs::write(d.join("new"), b"[{").unwrap();
        std::fs::rename(d.join("new"), d.join(RECORD_FILES[2].0)).unwrap();
        cache.begin_scan();
        let damaged = cache.store(&d).unwrap();
        assert!(
            damaged.problems[0].contains("images.json: corrupt"),
            "{:?}",
            damaged.problems
        );
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn names_only_tables_and_per_scan_files() {
        let d = std::env::temp_dir().join(format!("livetree-names-only-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        let (top, base) = (d.join("top"), d.join("base"));
        std::fs::create_dir_all(base.join("var/lib/dpkg/info")).unwrap();
        std::fs::create_dir_all(&top).unwrap();
        std::fs::write(
            base.join("var/lib/dpkg/status"),
            b"Package: libx\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1.0-1\n",
        )
        .unwrap();
        std::fs::write(
            base.join("var/lib/dpkg/info/libx:amd64.list"),
            b"/usr\n/usr/lib/libx.so.1\n",
        )
        .unwrap();
        let cache = StoreCache::default();
        let layers = [top.clone(), base.clone()];
        let whole = cache.table(&layers, "image", None);
        let none = FastSet::default();
        let names = cache.table(&layers, "image", Some(&none));
        // The same packages and warnings; no path owner in the names-only table.
        assert_eq!(whole.packages, names.packages);
        assert_eq!(whole.warnings, names.warnings);
        assert_eq!(names.by_name("libx").count(), 1);
        assert_eq!(whole.lookup(b"/usr/lib/libx.so.1").unwrap().name, "libx");
        assert!(names.lookup(b"/usr/lib/libx.so.1").is_none());
        // Kept apart: asking for the whole table again does not get the names-only one.
        assert_eq!(cache.reads().1, 2);
        assert!(Arc::ptr_eq(&cache.table(&layers, "image", None), &whole));
        assert!(cache
            .table(&layers, "image", None)
            .lookup(b"/usr/lib/libx.so.1")
            .is_some());
        // The owners of the wanted paths only, every package listed; kept apart from both.
        let wanted: FastSet<Vec<u8>> = [b"/usr/lib/libx.so.1".to_vec()].into_iter().collect();
        let some = cache.table(&layers, "image", Some(&wanted));
        assert_eq!(cache.reads().1, 3);
        assert_eq!(some.packages, whole.packages);
        assert_eq!(some.lookup(b"/usr/lib/libx.so.1").unwrap().name, "libx");
        assert!(some.lookup(b"/usr").is_none());
        assert!(whole.lookup(b"/usr").is_some());
        assert!(Arc::ptr_eq(
            &cache.table(&layers, "image", Some(&wanted)),
            &some
        ));
        // One more path: read again for both; then either alone is served by that table.
        let other: FastSet<Vec<u8>> = [b"/usr".to_vec()].into_iter().collect();
        let both = cache.table(&layers, "image", Some(&other));
        assert_eq!(cache.reads().1, 4);
        assert_eq!(both.lookup(b"/usr").unwrap().name, "libx");
        assert_eq!(both.lookup(b"/usr/lib/libx.so.1").unwrap().name, "libx");
        assert!(Arc::ptr_eq(
            &cache.table(&layers, "image", Some(&wanted)),
            &both
        ));
        assert!(Arc::ptr_eq(
            &cache.table(&layers, "image", Some(&other)),
            &both
        ));
        assert_eq!(cache.reads().1, 4);
        // A short link is read once per scan, and again in the next scan (re-pointed since).
        let l = d.join("overlay/l");
        std::fs::create_dir_all(&l).unwrap();
        let a = "a".repeat(64);
        let b = "b".repeat(64);
        std::os::unix::fs::symlink(format!("../{a}/diff"), l.join("SHORT")).unwrap();
        assert_eq!(cache.link_layer(&l.join("SHORT")), Some(a.clone()));
        std::fs::remove_file(l.join("SHORT")).unwrap();
        std::os::unix::fs::symlink(format!("../{b}/diff"), l.join("SHORT")).unwrap();
        assert_eq!(cache.link_layer(&l.join("SHORT")), Some(a));
        assert_eq!(cache.link_layer(&l.join("NONE")), None);
        // storage.conf is stat'ed once per scan: a new one is seen by the next scan.
        std::fs::create_dir_all(d.join("etc/containers")).unwrap();
        std::fs::write(
            d.join("etc/containers/storage.conf"),
            b"[storage]\ngraphroot = \"/g1\"\n",
        )
        .unwrap();
        assert_eq!(cache.conf(&d).graphroot.as_deref(), Some("/g1"));
        std::fs::write(d.join("new"), b"[storage]\ngraphroot = \"/g2\"\n").unwrap();
        std::fs::rename(d.join("new"), d.join("etc/containers/storage.conf")).unwrap();
        assert_eq!(cache.conf(&d).graphroot.as_deref(), Some("/g1"));
        cache.begin_scan();
        assert_eq!(cache.link_layer(&l.join("SHORT")), Some(b));
        assert_eq!(cache.conf(&d).graphroot.as_deref(), Some("/g2"));
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn volatile_and_transient_containers() {
        let d = std::env::temp_dir().join(format!("livetree-volatile-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        let (g, run) = (d.join("graph"), d.join("run"));
        for (f, _) in RECORD_FILES {
            std::fs::create_dir_all(g.join(f).parent().unwrap()).unwrap();
        }
        std::fs::create_dir_all(run.join(TRANSIENT_RUN_FILE).parent().unwrap()).unwrap();
        let c = |id: &str| format!(r#"[{{"id":"{id}","image":"i","layer":"l-{id}"}}]"#);
        std::fs::write(g.join(RECORD_FILES[0].0), c("kept")).unwrap();
        std::fs::write(g.join(RECORD_FILES[1].0), c("rm")).unwrap();
        std::fs::write(run.join(TRANSIENT_RUN_FILE), c("transient")).unwrap();
        let cache = StoreCache::default();
        // `--rm` containers beside containers.json are the store's containers too.
        let s = cache.store(&g).unwrap();
        let ids = |s: &Store| {
            s.containers
                .iter()
                .map(|c| c.id.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(&s), ["kept", "rm"]);
        // A transient store's are in its run root, read when the run root is known.
        let t = cache.store_with_run(&g, Some(&run)).unwrap();
        assert_eq!(ids(&t), ["kept", "rm", "transient"]);
        assert_eq!(t.run_root.as_deref(), Some(run.as_path()));
        // The volatile file gone (its last container removed): so are its containers.
        std::fs::remove_file(g.join(RECORD_FILES[1].0)).unwrap();
        cache.begin_scan();
        assert_eq!(
            ids(&cache.store_with_run(&g, Some(&run)).unwrap()),
            ["kept", "transient"]
        );
        // Volatile containers in a run root make no store where the graph root has none.
        assert!(cache.store_with_run(&d.join("empty"), Some(&run)).is_none());
        std::fs::remove_dir_all(&d).unwrap();
    }
}
