//! Live patches as the kernel lists them in sysfs (Documentation/ABI/testing/
//! sysfs-kernel-livepatch):
//!
//! ```text
//! /sys/kernel/livepatch/<patch>/enabled      1 when the patch is enabled
//! /sys/kernel/livepatch/<patch>/transition   1 while tasks are still being switched
//! /sys/kernel/livepatch/<patch>/<object>/    vmlinux or a module name the patch changes
//!                                  patched   1 when that object is patched (since 5.x)
//! ```
//! `force` (write-only) and `replace` are files, not objects.
use std::fs;
use std::path::Path;

use crate::error::{Error, ParseError};

/// A live patch loaded into the running kernel (`/sys/kernel/livepatch/NAME`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Livepatch {
    /// The patch module's name.
    pub name: String,
    /// The patch is applied (`enabled` reads 1).
    pub enabled: bool,
    /// Some tasks still run unpatched code (`transition` reads 1).
    pub transition: bool,
    /// Patched objects (`vmlinux`, module names), sorted.
    pub objects: Vec<String>,
}

/// A sysfs boolean: `0` or `1`, with the kernel's trailing newline.
pub fn parse_flag(bytes: &[u8]) -> Result<bool, ParseError> {
    match bytes.strip_suffix(b"\n").unwrap_or(bytes) {
        b"1" => Ok(true),
        b"0" => Ok(false),
        other => Err(ParseError(format!(
            "expected 0 or 1, found {:?}",
            String::from_utf8_lossy(&other[..other.len().min(32)])
        ))),
    }
}

/// Every patch under `SYS_ROOT/kernel/livepatch`. No directory means no live patching in
/// this kernel (or none loaded): an empty list. A patch whose files cannot be read or
/// parsed is left out and named in the returned errors.
pub fn read_livepatches(sys_root: &Path) -> (Vec<Livepatch>, Vec<Error>) {
    let dir = sys_root.join("kernel/livepatch");
    let mut patches = Vec::new();
    let mut errors = Vec::new();
    let rd = match fs::read_dir(&dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return (patches, errors),
        Err(e) => return (patches, vec![Error::from_io(&dir, e)]),
    };
    for dent in rd.flatten() {
        let path = dent.path();
        if !path.is_dir() {
            continue;
        }
        match read_one(&path) {
            Ok(p) => patches.push(p),
            Err(e) => errors.push(e),
        }
    }
    patches.sort_by(|a, b| a.name.cmp(&b.name));
    (patches, errors)
}

fn read_one(dir: &Path) -> Result<Livepatch, Error> {
    let flag = |name: &str| -> Result<bool, Error> {
        let p = dir.join(name);
        let bytes = fs::read(&p).map_err(|e| Error::from_io(&p, e))?;
        parse_flag(&bytes).map_err(|e| Error::corrupt(&p, e.0))
    };
    let enabled = flag("enabled")?;
    let transition = flag("transition")?;
    let mut objects: Vec<String> = fs::read_dir(dir)
        .map_err(|e| Error::from_io(dir, e))?
        .flatten()
        .filter(|d| d.file_type().is_ok_and(|t| t.is_dir()))
        .map(|d| d.file_name().to_string_lossy().into_owned())
        .collect();
    objects.sort();
    Ok(Livepatch {
        name: dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        enabled,
        transition,
        objects,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags() {
        assert_eq!(parse_flag(b"1\n"), Ok(true));
        assert_eq!(parse_flag(b"0\n"), Ok(false));
        assert_eq!(parse_flag(b"0"), Ok(false));
        assert!(parse_flag(b"").is_err());
        assert!(parse_flag(b"yes\n").is_err());
        assert!(parse_flag(b"1\n\n").is_err());
    }
}
