//! The records of a containers/storage store (podman, CRI-O, buildah): bytes in, records
//! out. A store's graph root holds one JSON array per kind, each rewritten whole (by
//! rename) whenever the engine changes it:
//!
//! - `overlay-containers/containers.json`: `id`, `names`, `image` (the image ID), `layer`
//!   (the container's own writable layer) and `metadata`, itself a JSON text in a string
//!   holding `image-name` (the reference the container was created with);
//! - `overlay-images/images.json`: `id`, `digest` (the manifest's), `names` (the names
//!   that resolve to it now), `names-history` (every name it ever had, newest first),
//!   `layer` (its top layer);
//! - `overlay-layers/layers.json`: `id`, `parent`, `diff-digest` (the uncompressed diff's
//!   digest, OCI `rootfs.diff_ids`; none for a container's own layer).
//!
//! Unknown fields are ignored, a missing optional field is None; a record without its
//! `id` (or a container without `image`/`layer`) makes the whole file unreadable, since a
//! partial store would give wrong answers ("the name resolves to nothing").
use serde::Deserialize;

use crate::error::ParseError;

/// One container of `containers.json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerRecord {
    /// The container ID (64 hex digits).
    pub id: String,
    /// Its names (podman: one, the `--name`).
    pub names: Vec<String>,
    /// The image ID it was created from; empty for a container made from no image.
    pub image: String,
    /// Its own writable layer's ID (the overlay's upper directory is `overlay/LAYER/diff`).
    pub layer: String,
    /// `metadata.image-name`: the reference it was created with, as the engine recorded it.
    pub image_name: Option<String>,
    /// `metadata` holds CRI-O's `pod-name`: a Kubernetes pod's container.
    pub in_pod: bool,
}

/// One image of `images.json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRecord {
    /// The image ID (the config digest's hex).
    pub id: String,
    /// The manifest digest, `sha256:HEX`.
    pub digest: Option<String>,
    /// The names that resolve to this image now.
    pub names: Vec<String>,
    /// Every name it had, newest first (a tag moved away stays here).
    pub names_history: Vec<String>,
    /// Its top layer's ID; None for an image with no layers.
    pub layer: Option<String>,
}

/// One layer of `layers.json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerRecord {
    /// The layer ID (the directory name under `overlay/`; not a digest).
    pub id: String,
    /// The layer below it, None for a base layer.
    pub parent: Option<String>,
    /// The uncompressed diff's digest, `sha256:HEX`; None for a container's writable layer.
    pub diff_digest: Option<String>,
}

#[derive(Deserialize)]
struct RawContainer {
    id: String,
    #[serde(default)]
    names: Option<Vec<String>>,
    image: String,
    layer: String,
    #[serde(default)]
    metadata: Option<String>,
}

#[derive(Deserialize)]
struct RawMetadata {
    #[serde(rename = "image-name", default)]
    image_name: Option<String>,
    #[serde(rename = "pod-name", default)]
    pod_name: Option<String>,
}

#[derive(Deserialize)]
struct RawImage {
    id: String,
    #[serde(default)]
    digest: Option<String>,
    #[serde(default)]
    names: Option<Vec<String>>,
    #[serde(rename = "names-history", default)]
    names_history: Option<Vec<String>>,
    #[serde(default)]
    layer: Option<String>,
}

#[derive(Deserialize)]
struct RawLayer {
    id: String,
    #[serde(default)]
    parent: Option<String>,
    #[serde(rename = "diff-digest", default)]
    diff_digest: Option<String>,
}

/// An empty string is no value (the engine writes `"parent": ""` nowhere, but a hand-edited
/// or foreign store might).
fn some(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.is_empty())
}

fn parse<T: for<'de> Deserialize<'de>>(bytes: &[u8], what: &str) -> Result<Vec<T>, ParseError> {
    // A store with nothing in it may be an empty file (never written yet).
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Vec::new());
    }
    serde_json::from_slice(bytes).map_err(|e| ParseError(format!("{what}: {e}")))
}

/// Parse `overlay-containers/containers.json`. Metadata that is not JSON names no image.
pub fn parse_containers(bytes: &[u8]) -> Result<Vec<ContainerRecord>, ParseError> {
    let raw: Vec<RawContainer> = parse(bytes, "containers.json")?;
    Ok(raw
        .into_iter()
        .map(|c| {
            let meta = c
                .metadata
                .as_deref()
                .and_then(|m| serde_json::from_str::<RawMetadata>(m).ok());
            let (image_name, in_pod) = match meta {
                Some(m) => (some(m.image_name), m.pod_name.is_some()),
                None => (None, false),
            };
            ContainerRecord {
                id: c.id,
                names: c.names.unwrap_or_default(),
                image: c.image,
                layer: c.layer,
                image_name,
                in_pod,
            }
        })
        .collect())
}

/// Parse `overlay-images/images.json`.
pub fn parse_images(bytes: &[u8]) -> Result<Vec<ImageRecord>, ParseError> {
    let raw: Vec<RawImage> = parse(bytes, "images.json")?;
    Ok(raw
        .into_iter()
        .map(|i| ImageRecord {
            id: i.id,
            digest: some(i.digest),
            names: i.names.unwrap_or_default(),
            names_history: i.names_history.unwrap_or_default(),
            layer: some(i.layer),
        })
        .collect())
}

/// Parse `overlay-layers/layers.json`.
pub fn parse_layers(bytes: &[u8]) -> Result<Vec<LayerRecord>, ParseError> {
    let raw: Vec<RawLayer> = parse(bytes, "layers.json")?;
    Ok(raw
        .into_iter()
        .map(|l| LayerRecord {
            id: l.id,
            parent: some(l.parent),
            diff_digest: some(l.diff_digest),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn captured(name: &str) -> Vec<u8> {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../fixtures/captured/containers")
            .join(name);
        std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }

    #[test]
    fn captured_containers() {
        let c = parse_containers(&captured("containers.json")).unwrap();
        assert_eq!(c.len(), 2);
        let web = c.iter().find(|c| c.names == ["web"]).unwrap();
        assert_eq!(
            web.id,
            "dacdfaa72c4553e002958f34cd9a6ae10109d0bdd2c4fc4575cfc6b6437e88c3"
        );
        assert_eq!(
            web.image,
            "46f2025a07ab6980ebeefb0481805f5f5f179ab919da1cf2437fc81fe05e8be3"
        );
        assert_eq!(
            web.layer,
            "e3b558d1073b6ce00ed1df36c1170875c4e94c930928d4fbe0bd3136c9f69937"
        );
        assert_eq!(web.image_name.as_deref(), Some("localhost/web:latest"));
        assert!(!web.in_pod);
    }

    #[test]
    fn captured_images_and_layers() {
        let i = parse_images(&captured("images.json")).unwrap();
        assert_eq!(i.len(), 7);
        // The tag moved: the old image keeps the name only in its history.
        let old = i.iter().find(|i| i.id.starts_with("46f2025a07ab")).unwrap();
        assert!(old.names.is_empty());
        assert_eq!(old.names_history, ["localhost/web:latest"]);
        assert_eq!(
            old.digest.as_deref(),
            Some("sha256:ac506eed39996d7c50abfa46c304184ab059b34c0f12be28aa27ccd5a072559f")
        );
        let new = i
            .iter()
            .find(|i| i.names == ["localhost/web:latest"])
            .unwrap();
        assert!(new.id.starts_with("675cd2ad06cf"));
        let l = parse_layers(&captured("layers.json")).unwrap();
        assert_eq!(l.len(), 7);
        let base = l.iter().find(|l| l.id.starts_with("41f25070c971")).unwrap();
        assert_eq!(base.parent, None);
        let own = l.iter().find(|l| l.id.starts_with("e3b558d1073b")).unwrap();
        assert_eq!(own.diff_digest, None);
        assert!(own.parent.as_deref().unwrap().starts_with("b5d231d543b7"));
    }

    #[test]
    fn damaged_and_odd_input() {
        assert_eq!(parse_containers(b"").unwrap(), Vec::new());
        assert_eq!(parse_images(b" \n").unwrap(), Vec::new());
        assert!(parse_layers(b"[{\"id\":").is_err());
        assert!(parse_layers(b"{}").is_err());
        // A record without its id is damage, not a record to skip.
        assert!(parse_images(b"[{\"names\":[\"x\"]}]").is_err());
        // Metadata that is not JSON: the container is there, its image name unknown.
        let c = parse_containers(
            br#"[{"id":"a","image":"b","layer":"c","metadata":"{not json","names":null}]"#,
        )
        .unwrap();
        assert_eq!(c[0].image_name, None);
        assert!(c[0].names.is_empty());
        let pod = parse_containers(
            br#"[{"id":"a","image":"b","layer":"c","metadata":"{\"pod-name\":\"p\",\"image-name\":\"\"}"}]"#,
        )
        .unwrap();
        assert!(pod[0].in_pod);
        assert_eq!(pod[0].image_name, None);
        assert!(parse_containers(&[0xff, 0xfe]).is_err());
    }
}
