//! Loop devices and the files behind them (`/sys/block/loopN/loop/backing_file`).
//!
//! ostree-prepare-root mounts a deployment's `.ostree.cfs` through a loop device and leaves
//! the EROFS mount detached: the loop device's backing file is the one place the kernel
//! still names the image, also after the file was deleted (a ` (deleted)` suffix).
use std::path::Path;

/// One attached loop device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoopDevice {
    /// The device's name, e.g. `loop3`.
    pub name: String,
    /// The backing file's path as the kernel shows it, without the ` (deleted)` suffix.
    pub backing: Vec<u8>,
    /// The backing file has been unlinked.
    pub deleted: bool,
}

/// Parse one `backing_file` (one line, as the kernel writes it).
pub fn parse_backing_file(bytes: &[u8]) -> Option<(Vec<u8>, bool)> {
    let line = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    if line.is_empty() {
        return None;
    }
    Some(match line.strip_suffix(b" (deleted)") {
        Some(p) => (p.to_vec(), true),
        None => (line.to_vec(), false),
    })
}

/// Every loop device under `sys_root` (normally `/sys`) that has a backing file. A loop
/// device that is not attached has no `loop/` directory; unreadable ones are skipped.
pub fn loop_devices(sys_root: &Path) -> Vec<LoopDevice> {
    let Ok(dir) = std::fs::read_dir(sys_root.join("block")) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in dir.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.starts_with("loop") {
            continue;
        }
        let Ok(raw) = std::fs::read(e.path().join("loop/backing_file")) else {
            continue;
        };
        if let Some((backing, deleted)) = parse_backing_file(&raw) {
            out.push(LoopDevice {
                name,
                backing,
                deleted,
            });
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backing_files() {
        assert_eq!(
            parse_backing_file(b"/s/ostree/deploy/os/deploy/x.0/.ostree.cfs\n"),
            Some((
                b"/s/ostree/deploy/os/deploy/x.0/.ostree.cfs".to_vec(),
                false
            ))
        );
        assert_eq!(
            parse_backing_file(b"/a/.ostree.cfs (deleted)\n"),
            Some((b"/a/.ostree.cfs".to_vec(), true))
        );
        assert_eq!(parse_backing_file(b"\n"), None);
    }
}
