//! The layers of a container's root overlay, from its mount options (mountinfo's super
//! options). containers/storage's overlay driver mounts `lowerdir=` of short links
//! `GRAPHROOT/overlay/l/SHORT` (each a symbolic link to `../LAYER/diff`), or — when the
//! options would not fit in a page — the same links relative to `GRAPHROOT/overlay`
//! (`l/SHORT`, and the upper as `LAYER/diff`), and `upperdir=GRAPHROOT/overlay/LAYER/diff`.
//! The layer directory's name is the engine's layer ID, not a digest. Bytes in, references
//! out; resolving a short link is the store reader's (`store.rs`).
use crate::proc::mountinfo::parse_overlay_options;

/// One layer directory of the mount, as named there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LayerDir {
    /// `GRAPHROOT/overlay/LAYER/diff`.
    Layer {
        /// The store's graph root.
        graphroot: Vec<u8>,
        /// The layer's ID.
        id: String,
    },
    /// `LAYER/diff`, relative to the overlay directory of a store not named.
    RelativeLayer {
        /// The layer's ID.
        id: String,
    },
    /// A short link, `GRAPHROOT/overlay/l/SHORT` (graph root known) or `l/SHORT`.
    Link {
        /// The store's graph root, when the path is absolute.
        graphroot: Option<Vec<u8>>,
        /// The link's name.
        short: String,
    },
    /// Any other directory: not a containers/storage layer.
    Other(Vec<u8>),
}

/// The layers of a container root overlay: its upper directory and the lower ones,
/// top-most first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerMount {
    /// The writable layer (the container's own).
    pub upper: Option<LayerDir>,
    /// The image's layers, top-most first; empty when the mount lists none (fuse-overlayfs).
    pub lowers: Vec<LayerDir>,
}

impl ContainerMount {
    /// The graph roots the mount names outright (the upper's and absolute lowers').
    pub fn graphroots(&self) -> Vec<Vec<u8>> {
        let mut out: Vec<Vec<u8>> = Vec::new();
        for d in self.upper.iter().chain(&self.lowers) {
            let g = match d {
                LayerDir::Layer { graphroot, .. } => Some(graphroot),
                LayerDir::Link { graphroot, .. } => graphroot.as_ref(),
                _ => None,
            };
            if let Some(g) = g.filter(|g| !out.contains(g)) {
                out.push(g.clone());
            }
        }
        out
    }
}

/// Whether `s` is a containers/storage layer ID (64 hex digits).
pub fn is_layer_id(s: &[u8]) -> bool {
    s.len() == 64 && s.iter().all(u8::is_ascii_hexdigit)
}

/// What an overlay layer directory path names.
pub fn layer_dir(path: &[u8]) -> LayerDir {
    let trimmed = trim_slashes(path);
    let parts: Vec<&[u8]> = trimmed.split(|b| *b == b'/').collect();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let n = parts.len();
    let absolute = path.starts_with(b"/");
    // …/overlay/LAYER/diff
    if n >= 2 && parts[n - 1] == b"diff" && is_layer_id(parts[n - 2]) {
        if absolute && n >= 3 && parts[n - 3] == b"overlay" {
            let graphroot = graphroot_of(&parts[..n - 3]);
            return LayerDir::Layer {
                graphroot,
                id: text(parts[n - 2]),
            };
        }
        if !absolute && n == 2 {
            return LayerDir::RelativeLayer {
                id: text(parts[n - 2]),
            };
        }
    }
    // …/overlay/l/SHORT
    if n >= 2 && parts[n - 2] == b"l" && is_short(parts[n - 1]) {
        if absolute && n >= 3 && parts[n - 3] == b"overlay" {
            return LayerDir::Link {
                graphroot: Some(graphroot_of(&parts[..n - 3])),
                short: text(parts[n - 1]),
            };
        }
        if !absolute && n == 2 {
            return LayerDir::Link {
                graphroot: None,
                short: text(parts[n - 1]),
            };
        }
    }
    LayerDir::Other(path.to_vec())
}

/// The short link names containers/storage makes: 26 characters of base32 (A-Z, 2-7).
fn is_short(s: &[u8]) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.iter()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

fn graphroot_of(parts: &[&[u8]]) -> Vec<u8> {
    let mut g = Vec::new();
    for p in parts {
        g.push(b'/');
        g.extend_from_slice(p);
    }
    if g.is_empty() {
        g.push(b'/');
    }
    g
}

fn trim_slashes(p: &[u8]) -> &[u8] {
    let start = p.iter().position(|b| *b != b'/').unwrap_or(p.len());
    let end = p.iter().rposition(|b| *b != b'/').map_or(start, |e| e + 1);
    &p[start..end.max(start)]
}

/// The layers of a container root overlay mount from its super options.
pub fn container_mount(super_options: &[u8]) -> ContainerMount {
    let o = parse_overlay_options(super_options);
    ContainerMount {
        upper: o.upperdir.as_deref().map(layer_dir),
        lowers: o.lowerdirs.iter().map(|l| layer_dir(l)).collect(),
    }
}

/// The layer a short link's target (`../LAYER/diff`) names.
pub fn link_target_layer(target: &[u8]) -> Option<String> {
    let rest = target.strip_prefix(b"../")?;
    let id = rest.strip_suffix(b"/diff")?;
    is_layer_id(id).then(|| String::from_utf8_lossy(id).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const L: &str = "e3b558d1073b6ce00ed1df36c1170875c4e94c930928d4fbe0bd3136c9f69937";

    #[test]
    fn captured_mount() {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../fixtures/captured/containers/mountinfo-web.txt");
        let mounts = crate::proc::mountinfo::parse_mountinfo(&std::fs::read(p).unwrap()).unwrap();
        let root = mounts.iter().find(|m| m.mount_point == b"/").unwrap();
        assert_eq!(root.fstype, "overlay");
        let c = container_mount(&root.super_options);
        assert_eq!(
            c.upper,
            Some(LayerDir::Layer {
                graphroot: b"/tmp/ctx/root".to_vec(),
                id: L.into()
            })
        );
        assert_eq!(c.lowers.len(), 3);
        assert_eq!(
            c.lowers[0],
            LayerDir::Link {
                graphroot: Some(b"/tmp/ctx/root".to_vec()),
                short: "G5SWMXT5DP65KGLPMT5BT347YG".into()
            }
        );
        assert_eq!(c.graphroots(), vec![b"/tmp/ctx/root".to_vec()]);
    }

    #[test]
    fn relative_and_other() {
        let c = container_mount(
            format!("rw,lowerdir=l/AB2:l/CD3,upperdir={L}/diff,workdir={L}/work").as_bytes(),
        );
        assert_eq!(c.upper, Some(LayerDir::RelativeLayer { id: L.into() }));
        assert_eq!(
            c.lowers[1],
            LayerDir::Link {
                graphroot: None,
                short: "CD3".into()
            }
        );
        assert!(c.graphroots().is_empty());
        assert_eq!(layer_dir(b"/srv/x"), LayerDir::Other(b"/srv/x".to_vec()));
        assert_eq!(
            layer_dir(format!("/overlay/{L}/diff/").as_bytes()),
            LayerDir::Layer {
                graphroot: b"/".to_vec(),
                id: L.into()
            }
        );
        assert_eq!(
            layer_dir(format!("/o/{L}/diff").as_bytes()),
            LayerDir::Other(format!("/o/{L}/diff").into_bytes())
        );
        assert_eq!(
            layer_dir(b"/g/overlay/l/lower"),
            LayerDir::Other(b"/g/overlay/l/lower".to_vec())
        );
        assert_eq!(layer_dir(b""), LayerDir::Other(Vec::new()));
        // fuse-overlayfs: no lowerdir listed at all.
        assert_eq!(container_mount(b"rw,user_id=0").lowers, Vec::new());
        assert_eq!(
            link_target_layer(format!("../{L}/diff").as_bytes()),
            Some(L.into())
        );
        assert_eq!(link_target_layer(b"../../etc/diff"), None);
    }
}
