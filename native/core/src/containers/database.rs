//! Which containers see one package database: the identity of the database a container's
//! processes see through their root, from its layers, so that the configuration checks
//! (`config::conffiles`) read one image's database once rather than once per container.
//!
//! Through `/proc/PID/root` each container's files carry its own overlay's device, so the
//! stamps of two containers' database files never match even when both see the very same
//! layer files. What a container sees at a database path is the top-most layer holding it;
//! when its own writable layer holds nothing under `usr` or `var` and nothing is mounted
//! on or below `/usr` or `/var` in its mount table, every database path it sees comes from
//! its image layers, and two containers on the same image layers (same directories, same
//! database file stamps in each) see the same database. Otherwise there is no shared
//! identity (None) and the database is told apart as any other root's.
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use super::StackLayer;
use crate::proc::mountinfo::Mount;

/// The top-level directories every database path lies below (`packages::DPKG_DIRS` and
/// `packages::RPM_DIRS`).
const DATABASE_TOPS: [&str; 2] = ["usr", "var"];

/// The identity of the database a container with these layers (top-most first) and this
/// mount table sees, or None when its own layer or a mount may change what it sees.
/// `fingerprint` is `packages::database_fingerprint` (the scan keeps each layer's for the
/// scan: image layers are shared by many containers).
pub fn database_key(
    layers: &[StackLayer],
    mounts: &[Mount],
    fingerprint: &mut dyn FnMut(&Path) -> Vec<u8>,
) -> Option<Vec<u8>> {
    // No mount table read: what is mounted over the database is not known.
    if layers.is_empty() || mounts.is_empty() {
        return None;
    }
    // A mount point `/usr` or `/var`, or below one: `/usr/...`, `/var/...`.
    let covered = mounts.iter().any(|m| {
        DATABASE_TOPS.iter().any(|top| {
            let p = &m.mount_point;
            p.first() == Some(&b'/')
                && p[1..].starts_with(top.as_bytes())
                && matches!(p.get(1 + top.len()), None | Some(b'/'))
        })
    });
    if covered {
        return None;
    }
    let mut key = Vec::new();
    for l in layers {
        if l.own {
            for top in DATABASE_TOPS {
                match std::fs::symlink_metadata(l.dir.join(top)) {
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    // There, or not known to be absent: the container's own.
                    _ => return None,
                }
            }
            continue;
        }
        key.extend_from_slice(l.dir.as_os_str().as_bytes());
        key.push(0);
        key.extend(fingerprint(&l.dir));
        key.push(0xff);
    }
    Some(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::LayerRef;

    fn key(layers: &[StackLayer], mounts: &[Mount]) -> Option<Vec<u8>> {
        database_key(layers, mounts, &mut |d| {
            crate::packages::database_fingerprint(d)
        })
    }

    fn layer(dir: &std::path::Path, own: bool) -> StackLayer {
        StackLayer {
            dir: dir.to_path_buf(),
            layer: LayerRef {
                id: "l".into(),
                diff_digest: None,
                in_current_image: None,
            },
            own,
        }
    }

    fn mount(at: &str) -> Mount {
        Mount {
            mount_point: at.as_bytes().to_vec(),
            ..crate::proc::mountinfo::parse_mountinfo(b"36 35 98:0 / / rw - ext3 /dev/root rw\n")
                .unwrap()
                .remove(0)
        }
    }

    #[test]
    fn shared_unless_own_layer_or_mount_differs() {
        let d = std::env::temp_dir().join(format!("livetree-dbkey-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        let (image, own_a, own_b) = (d.join("image"), d.join("a"), d.join("b"));
        std::fs::create_dir_all(image.join("var/lib/dpkg")).unwrap();
        std::fs::write(image.join("var/lib/dpkg/status"), b"Package: x\n").unwrap();
        std::fs::create_dir_all(own_a.join("etc")).unwrap();
        std::fs::create_dir_all(&own_b).unwrap();
        let root = [mount("/"), mount("/etc/hosts")];
        let a = key(&[layer(&own_a, true), layer(&image, false)], &root).unwrap();
        let b = key(&[layer(&own_b, true), layer(&image, false)], &root).unwrap();
        assert_eq!(a, b);
        assert!(a.windows(6).any(|w| w == b"status"));
        // The image's database replaced: another key.
        std::fs::write(d.join("new"), b"Package: y\n").unwrap();
        std::fs::rename(d.join("new"), image.join("var/lib/dpkg/status")).unwrap();
        let c = key(&[layer(&own_b, true), layer(&image, false)], &root).unwrap();
        assert_ne!(a, c);
        // Its own layer holds something under var (an upgrade inside it): its own.
        std::fs::create_dir_all(own_b.join("var")).unwrap();
        assert_eq!(
            key(&[layer(&own_b, true), layer(&image, false)], &root),
            None
        );
        // A volume on /var/lib (or on /usr): its own.
        let vol = [mount("/"), mount("/var/lib")];
        assert_eq!(
            key(&[layer(&own_a, true), layer(&image, false)], &vol),
            None
        );
        assert!(key(
            &[layer(&own_a, true), layer(&image, false)],
            &[mount("/variant")]
        )
        .is_some());
        assert_eq!(key(&[], &root), None);
        assert_eq!(key(&[layer(&own_a, true), layer(&image, false)], &[]), None);
        std::fs::remove_dir_all(&d).unwrap();
    }
}
