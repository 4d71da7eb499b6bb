//! Containers: which container a process runs in, from which image, and which layer of
//! that image each mapped file comes from (see docs/containers.md).
//!
//! The evidence, in the order it is weighed: the root mount of the process's own mount
//! namespace (an overlay whose upper directory is `GRAPHROOT/overlay/LAYER/diff` names the
//! store and the container's own layer; its lower directories name the image's layers),
//! the process's cgroup (the engine and the container ID, `engine.rs`), and the store's
//! records (`records.rs`): the container, its image, what the image's name resolves to
//! now, the layers' diff digests. A file's layer is found by looking up its path in each
//! layer directory from the top down and matching the mapped inode (`layers.rs`); its
//! package comes from the image's own package database as of that layer, read through
//! the layers below it with `packages`' one parser per format.
//!
//! Engines whose records are not containers/storage's (docker, containerd, nspawn, LXC)
//! are named from the cgroup alone: the container is identified, its layers are not, and
//! the scan says so rather than guess.
pub mod config;
pub mod database;
pub mod engine;
pub mod layers;
pub mod mount;
pub mod records;
pub mod store;

use std::collections::HashSet;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::proc::mountinfo::Mount;
use crate::report::{ContainerImage, ContainerReport, LayerRef};
use engine::CgroupHint;
use mount::LayerDir;
use store::{Store, StoreCache};

/// The default rootful graph root of containers/storage.
pub const DEFAULT_GRAPHROOT: &str = "var/lib/containers/storage";

/// The default rootful run root of containers/storage.
pub const DEFAULT_RUNROOT: &str = "run/containers/storage";

/// A chain of parent layers longer than this is a loop in damaged records.
const MAX_LAYERS: usize = 512;

/// What a process shows of the container it may be in.
pub struct Evidence<'a> {
    /// The engine and container ID its cgroup names.
    pub hint: Option<CgroupHint>,
    /// The mount at its root, as its own mountinfo lists it.
    pub root_mount: Option<&'a Mount>,
    /// The user owning the process (a rootless store is that user's).
    pub owner_uid: Option<u32>,
    /// The graph root the container's conmon names (`-b GRAPHROOT/overlay-containers/ID/
    /// userdata`): the store of a container whose mount names none (fuse-overlayfs).
    pub conmon_root: Option<PathBuf>,
    /// The run root the container's conmon names (its `-p RUNROOT/overlay-containers/ID/
    /// userdata/pidfile`): where a transient store keeps its volatile containers.
    pub conmon_run_root: Option<PathBuf>,
    /// The host's root, where `etc/containers/storage.conf` and `etc/passwd` are read.
    pub host_root: &'a Path,
}

/// One layer of a container's stack, with the directory it is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackLayer {
    /// `GRAPHROOT/overlay/LAYER/diff`.
    pub dir: PathBuf,
    /// The layer as the document names it.
    pub layer: LayerRef,
    /// The container's own writable layer.
    pub own: bool,
}

/// A container identified for a process.
#[derive(Debug, Clone)]
pub struct Identified {
    /// The document's `container` (the unit is filled by the scan).
    pub report: ContainerReport,
    /// The layers, top-most (the container's own) first; empty when they could not be
    /// resolved.
    pub layers: Vec<StackLayer>,
    /// The root overlay's device: mapped files on it are the layers' files.
    pub device: Option<(u32, u32)>,
    /// `layers` are exactly the directories the kernel mounted (a native overlay whose
    /// mount lists its upper and every lower directory, each a store's layer): what is
    /// seen through the container's root comes from them alone, bar what is mounted over
    /// it (the configuration pass's `config::overlay_etc`).
    pub layers_as_mounted: bool,
    /// The layer directories (top-most first) of the image the container's image name
    /// resolves to now, whose package database holds the versions a container created
    /// again from that name would run; None when the name resolves to nothing, the
    /// container was created from an image ID, or that image's layer chain is incomplete.
    pub now_layers: Option<Vec<PathBuf>>,
    /// What could not be resolved, for warnings.
    pub problems: Vec<String>,
}

/// A candidate store: its graph root, and the run root where a transient store keeps its
/// volatile containers, when one is known.
type Candidate = (PathBuf, Option<PathBuf>);

/// The stores that may hold the container's records, main candidates first: the graph
/// roots its mount names, the one its conmon names, the configured (or default) rootful
/// one, the owning user's rootless ones (its own `~/.config/containers/storage.conf`'s
/// `graphroot`, the rootful configuration's `rootless_storage_path`, the default); and the
/// additional image stores configured (the user's own too).
fn candidate_roots(
    ev: &Evidence,
    mount: Option<&mount::ContainerMount>,
    cache: &StoreCache,
) -> (Vec<Candidate>, Vec<PathBuf>) {
    let conf = cache.conf(ev.host_root);
    let mut roots: Vec<Candidate> = Vec::new();
    let push = |p: Candidate, v: &mut Vec<Candidate>| {
        if !v.iter().any(|(g, _)| *g == p.0) {
            v.push(p);
        }
    };
    for g in mount.map(|m| m.graphroots()).unwrap_or_default() {
        push(
            (
                PathBuf::from(std::ffi::OsStr::from_bytes(&g)),
                ev.conmon_run_root.clone(),
            ),
            &mut roots,
        );
    }
    if let Some(r) = &ev.conmon_root {
        push((r.clone(), ev.conmon_run_root.clone()), &mut roots);
    }
    let rooted = |p: &str| ev.host_root.join(p.trim_start_matches('/'));
    push(
        (
            rooted(conf.graphroot.as_deref().unwrap_or(DEFAULT_GRAPHROOT)),
            Some(rooted(conf.runroot.as_deref().unwrap_or(DEFAULT_RUNROOT))),
        ),
        &mut roots,
    );
    let mut extra = Vec::new();
    if let Some(uid) = ev.owner_uid.filter(|u| *u != 0) {
        let passwd = cache.passwd(ev.host_root);
        if let Some((user, home)) = config::passwd_entry(&passwd, uid) {
            let expand = |t: &str| {
                rooted(&String::from_utf8_lossy(&config::expand_rootless(
                    t, &home, uid, &user,
                )))
            };
            // The user's own storage.conf replaces the system's for that user's podman.
            let own = cache.conf_at(&expand("$HOME/.config/containers/storage.conf"));
            let run = Some(expand(
                own.runroot
                    .as_deref()
                    .unwrap_or(&format!("/run/user/{uid}/containers")),
            ));
            for template in [
                own.graphroot.as_deref(),
                own.rootless_storage_path.as_deref(),
                conf.rootless_storage_path.as_deref(),
                Some("$HOME/.local/share/containers/storage"),
            ]
            .into_iter()
            .flatten()
            {
                push((expand(template), run.clone()), &mut roots);
            }
            for a in &own.additional_image_stores {
                let p = expand(a);
                if !extra.contains(&p) {
                    extra.push(p);
                }
            }
        }
    }
    for a in &conf.additional_image_stores {
        let p = rooted(a);
        if !extra.contains(&p) {
            extra.push(p);
        }
    }
    (roots, extra)
}

/// Resolve a layer directory named in the mount to (store root, layer ID).
fn resolve_dir(d: &LayerDir, main: &Path, cache: &StoreCache) -> Option<(PathBuf, String)> {
    match d {
        LayerDir::Layer { graphroot, id } => Some((
            PathBuf::from(std::ffi::OsStr::from_bytes(graphroot)),
            id.clone(),
        )),
        LayerDir::RelativeLayer { id } => Some((main.to_path_buf(), id.clone())),
        LayerDir::Link { graphroot, short } => {
            let root = graphroot
                .as_ref()
                .map(|g| PathBuf::from(std::ffi::OsStr::from_bytes(g)))
                .unwrap_or_else(|| main.to_path_buf());
            let id = cache.link_layer(&root.join("overlay/l").join(short))?;
            Some((root, id))
        }
        LayerDir::Other(_) => None,
    }
}

/// The layer IDs from `top` down through each layer's parent, each with the store whose
/// records hold it; stops at a layer no store knows (said in `problems`).
fn chain<'s>(
    top: &str,
    stores: &'s [Arc<Store>],
    problems: &mut Vec<String>,
) -> Vec<(&'s Store, String)> {
    let mut out: Vec<(&Store, String)> = Vec::new();
    let mut seen = HashSet::new();
    let mut next = Some(top.to_string());
    while let Some(id) = next.take() {
        if !seen.insert(id.clone()) || out.len() >= MAX_LAYERS {
            problems.push(format!(
                "layer {id}: its parents loop in the store's records"
            ));
            break;
        }
        let Some((store, rec)) = stores
            .iter()
            .find_map(|s| s.layer(&id).map(|l| (s.as_ref(), l)))
        else {
            problems.push(format!(
                "layer {id}: in no store's layers.json ({})",
                stores
                    .iter()
                    .map(|s| s.root.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            break;
        };
        next = rec.parent.clone();
        out.push((store, id));
    }
    out
}

/// Whether the image a name now resolves to still holds each layer: the IDs of its chain.
fn image_layers(image_top: Option<&str>, stores: &[Arc<Store>]) -> Option<HashSet<String>> {
    let top = image_top?;
    let mut ignored = Vec::new();
    Some(
        chain(top, stores, &mut ignored)
            .into_iter()
            .map(|(_, id)| id)
            .collect(),
    )
}

/// Identify the container a process runs in, from its evidence and the stores; None when
/// nothing says it is in one.
pub fn identify(ev: &Evidence, cache: &StoreCache) -> Option<Identified> {
    let root_mount = ev.root_mount;
    let mount = root_mount
        .filter(|m| m.fstype == "overlay" || m.fstype == "fuse.fuse-overlayfs")
        .map(|m| mount::container_mount(&m.super_options));
    let device = root_mount.map(|m| (m.major, m.minor));
    // The kernel's own overlay (not fuse-overlayfs), mounting the whole filesystem.
    let native_overlay = root_mount.is_some_and(|m| m.fstype == "overlay" && m.root == b"/");
    let upper_id = match mount.as_ref().and_then(|m| m.upper.as_ref()) {
        Some(LayerDir::Layer { id, .. }) | Some(LayerDir::RelativeLayer { id }) => Some(id.clone()),
        _ => None,
    };
    let mut problems = Vec::new();
    // Only engines of containers/storage keep records here.
    let storage_engine = ev
        .hint
        .as_ref()
        .is_none_or(|h| h.engine == "podman" || h.engine == "cri-o");
    let (roots, extra) = if storage_engine {
        candidate_roots(ev, mount.as_ref(), cache)
    } else {
        (Vec::new(), Vec::new())
    };
    let mut found: Option<(Arc<Store>, records::ContainerRecord)> = None;
    for (root, run) in &roots {
        let Some(store) = cache.store_with_run(root, run.as_deref()) else {
            continue;
        };
        problems.extend(store.problems.iter().cloned());
        let rec = match (&ev.hint, &upper_id) {
            (Some(h), _) => store.container(&h.id),
            (None, Some(layer)) => store.container_with_layer(layer),
            (None, None) => None,
        };
        if let Some(rec) = rec {
            found = Some((store.clone(), rec.clone()));
            break;
        }
    }
    let Some((main, rec)) = found else {
        let hint = ev.hint.as_ref()?;
        problems.push(if storage_engine {
            format!(
                "{} container {}: in no store's containers.json or volatile-containers.json ({}); started or removed during the scan, or kept in a store livetree does not know (its layers are not resolved)",
                hint.engine,
                hint.id,
                roots
                    .iter()
                    .map(|(r, _)| r.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        } else {
            format!(
                "{} container {}: identified by its cgroup only; livetree does not read {}'s records, so its image and layers are not resolved",
                hint.engine, hint.id, hint.engine
            )
        });
        return Some(Identified {
            report: ContainerReport {
                engine: hint.engine.to_string(),
                id: hint.id.clone(),
                name: None,
                image: None,
                image_outdated: None,
                storage_root: None,
                unit: None,
            },
            layers: Vec::new(),
            device,
            layers_as_mounted: false,
            now_layers: None,
            problems,
        });
    };
    // The stores images are looked up in, as the engine does: the container's own first,
    // then its additional image stores (configured, or named by the mount's lower layers).
    let mut stores = vec![main.clone()];
    let mount_roots: Vec<PathBuf> = mount
        .as_ref()
        .map(|m| m.graphroots())
        .unwrap_or_default()
        .iter()
        .map(|g| PathBuf::from(std::ffi::OsStr::from_bytes(g)))
        .collect();
    for r in extra.iter().chain(&mount_roots) {
        if stores.iter().any(|s| &s.root == r) {
            continue;
        }
        if let Some(s) = cache.store(r) {
            problems.extend(s.problems.iter().cloned());
            stores.push(s);
        }
    }
    if let Some(u) = upper_id.as_ref().filter(|u| **u != rec.layer) {
        problems.push(format!(
            "container {}: its records name layer {} but its root overlay's upper layer is {u}",
            rec.id, rec.layer
        ));
    }
    let image_rec = (!rec.image.is_empty())
        .then(|| stores.iter().find_map(|s| s.image(&rec.image)))
        .flatten();
    if !rec.image.is_empty() && image_rec.is_none() {
        problems.push(format!(
            "container {}: image {} is in no store's images.json",
            rec.id, rec.image
        ));
    }
    let now = rec
        .image_name
        .as_deref()
        .and_then(|n| stores.iter().find_map(|s| s.image_named(n)));
    let image_outdated = rec
        .image_name
        .as_ref()
        .map(|_| now.is_none_or(|n| n.id != rec.image));
    let current = now.and_then(|n| image_layers(n.layer.as_deref(), &stores));
    let now_layers = now.and_then(|n| n.layer.as_deref()).and_then(|top| {
        let mut broken = Vec::new();
        let dirs: Vec<PathBuf> = chain(top, &stores, &mut broken)
            .into_iter()
            .map(|(s, id)| s.layer_dir(&id))
            .collect();
        broken.is_empty().then_some(dirs)
    });
    // The stack: as the kernel mounted it when the mount lists its lower layers (the
    // records must agree), else as the records chain it.
    let records_chain = chain(&rec.layer, &stores, &mut problems);
    let mut dirs: Vec<(PathBuf, String)> = records_chain
        .iter()
        .map(|(s, id)| (s.layer_dir(id), id.clone()))
        .collect();
    let mut layers_as_mounted = false;
    if let Some(m) = mount.as_ref().filter(|m| !m.lowers.is_empty()) {
        let mounted: Option<Vec<(PathBuf, String)>> = m
            .upper
            .iter()
            .chain(&m.lowers)
            .map(|d| {
                resolve_dir(d, &main.root, cache)
                    .map(|(root, id)| (root.join("overlay").join(&id).join("diff"), id))
            })
            .collect();
        match mounted {
            Some(mounted) if mounted.iter().map(|x| &x.1).ne(dirs.iter().map(|x| &x.1)) => {
                problems.push(format!(
                    "container {}: its root overlay's layers differ from the store's records; the mounted ones are used",
                    rec.id
                ));
                layers_as_mounted = m.upper.is_some() && native_overlay;
                dirs = mounted;
            }
            Some(_) => layers_as_mounted = m.upper.is_some() && native_overlay,
            None => problems.push(format!(
                "container {}: a lower layer of its root overlay is not a layer of a containers/storage store",
                rec.id
            )),
        }
    }
    let layers = dirs
        .into_iter()
        .map(|(dir, id)| {
            let own = id == rec.layer;
            let diff_digest = stores
                .iter()
                .find_map(|s| s.layer(&id))
                .and_then(|l| l.diff_digest.clone());
            let in_current_image = if own {
                None
            } else {
                current.as_ref().map(|c| c.contains(&id))
            };
            StackLayer {
                dir,
                layer: LayerRef {
                    id,
                    diff_digest,
                    in_current_image,
                },
                own,
            }
        })
        .collect();
    let engine = match &ev.hint {
        Some(h) => h.engine,
        None if rec.in_pod => "cri-o",
        None => "podman",
    };
    Some(Identified {
        report: ContainerReport {
            engine: engine.to_string(),
            id: rec.id.clone(),
            name: rec.names.first().cloned(),
            image: (!rec.image.is_empty()).then(|| ContainerImage {
                id: Some(rec.image.clone()),
                digest: image_rec.and_then(|i| i.digest.clone()),
                name: rec.image_name.clone(),
                name_now_resolves_to: now.map(|n| n.id.clone()),
            }),
            image_outdated,
            storage_root: Some(main.root.clone()),
            unit: None,
        },
        layers,
        device,
        layers_as_mounted,
        now_layers,
        problems,
    })
}

/// The layers from index `i` down, as directories (the tree a layer's packages are read from).
pub fn dirs_from(layers: &[StackLayer], i: usize) -> Vec<PathBuf> {
    layers[i..].iter().map(|l| l.dir.clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn captured_store(root: &str) -> Store {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../fixtures/captured/containers");
        let read = |n: &str| std::fs::read(dir.join(n)).unwrap();
        Store::from_records(
            PathBuf::from(root),
            records::parse_containers(&read("containers.json")).unwrap(),
            records::parse_images(&read("images.json")).unwrap(),
            records::parse_layers(&read("layers.json")).unwrap(),
        )
    }

    #[test]
    fn chains_and_current_image() {
        let s = Arc::new(captured_store("/g"));
        let stores = vec![s.clone()];
        let web = s.containers.iter().find(|c| c.names == ["web"]).unwrap();
        let mut problems = Vec::new();
        let ids: Vec<String> = chain(&web.layer, &stores, &mut problems)
            .into_iter()
            .map(|(_, id)| id[..12].to_string())
            .collect();
        assert_eq!(
            ids,
            [
                "e3b558d1073b",
                "b5d231d543b7",
                "24b4045e4da7",
                "41f25070c971"
            ]
        );
        assert!(problems.is_empty());
        // The name now resolves to the rebuilt image, which shares only the base layer.
        let now = s.image_named(web.image_name.as_deref().unwrap()).unwrap();
        assert!(now.id.starts_with("675cd2ad06cf"));
        let current = image_layers(now.layer.as_deref(), &stores).unwrap();
        assert!(current.iter().any(|l| l.starts_with("41f25070c971")));
        assert!(!current.iter().any(|l| l.starts_with("b5d231d543b7")));
        // A loop in damaged records ends with a problem, not a hang.
        let mut looped = captured_store("/g");
        looped.layers.get_mut(&web.layer).unwrap().parent = Some(web.layer.clone());
        let mut problems = Vec::new();
        assert_eq!(
            chain(&web.layer, &[Arc::new(looped)], &mut problems).len(),
            1
        );
        assert!(problems[0].contains("loop"));
    }

    #[test]
    fn a_users_own_storage_conf_names_its_store() {
        let d = std::env::temp_dir().join(format!("livetree-userconf-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(d.join("etc/containers")).unwrap();
        std::fs::create_dir_all(d.join("home/al/.config/containers")).unwrap();
        std::fs::write(
            d.join("etc/passwd"),
            b"root:x:0:0::/root:/bin/sh\nal:x:1000:1000::/home/al:/bin/sh\n",
        )
        .unwrap();
        std::fs::write(
            d.join("etc/containers/storage.conf"),
            b"[storage]\ngraphroot = \"/srv/g\"\nrunroot = \"/run/g\"\nrootless_storage_path = \"/srv/users/$USER\"\n",
        )
        .unwrap();
        std::fs::write(
            d.join("home/al/.config/containers/storage.conf"),
            b"[storage]\ngraphroot = \"$HOME/big/storage\"\nrunroot = \"/run/user/$UID/mine\"\n[storage.options]\nadditionalimagestores = [\"$HOME/ro\"]\n",
        )
        .unwrap();
        let cache = StoreCache::default();
        let ev = |uid| Evidence {
            hint: None,
            root_mount: None,
            owner_uid: Some(uid),
            conmon_root: Some(PathBuf::from("/c/g")),
            conmon_run_root: Some(PathBuf::from("/c/run")),
            host_root: &d,
        };
        let (roots, extra) = candidate_roots(&ev(1000), None, &cache);
        let user_run = Some(d.join("run/user/1000/mine"));
        assert_eq!(
            roots,
            [
                (PathBuf::from("/c/g"), Some(PathBuf::from("/c/run"))),
                (d.join("srv/g"), Some(d.join("run/g"))),
                (d.join("home/al/big/storage"), user_run.clone()),
                (d.join("srv/users/al"), user_run.clone()),
                (d.join("home/al/.local/share/containers/storage"), user_run),
            ]
        );
        assert_eq!(extra, [d.join("home/al/ro")]);
        // Root's processes: the rootful store only (and what conmon names).
        let (roots, extra) = candidate_roots(&ev(0), None, &cache);
        assert_eq!(roots.len(), 2);
        assert!(extra.is_empty());
        std::fs::remove_dir_all(&d).unwrap();
    }
}
