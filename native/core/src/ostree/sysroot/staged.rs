//! The staged deployment: ostree's `/run/ostree/staged-deployment` record (a GVariant
//! dictionary), parsed from bytes and turned into a `Deployment`.
use std::fs;
use std::path::Path;

use super::{deploy_dir, new_deployment, parse_deploy_name, warn, Deployment, Warning};
use crate::error::{Error, ParseError, Result};

/// The staged deployment as recorded in `/run/ostree/staged-deployment`: a GVariant
/// `a{sv}` whose `target` is an `a{sv}` with `osname`, `bootcsum` and `name`
/// (`CHECKSUM.SERIAL`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Staged {
    /// The stateroot to deploy into.
    pub osname: String,
    /// The commit that is staged.
    pub checksum: String,
    /// The serial its directory will have.
    pub serial: u32,
    /// The checksum of its kernel and initramfs.
    pub bootcsum: String,
}

/// Decode `RUN/ostree/staged-deployment` (an `a{sv}` whose `target` names the deployment); None
/// when it stages nothing.
pub fn parse_staged(bytes: &[u8]) -> std::result::Result<Option<Staged>, ParseError> {
    let Some(target) = vardict_lookup(bytes, "target")? else {
        // ostree accepts a staged file without a target and stages nothing.
        return Ok(None);
    };
    let target = variant_of_type(target, "a{sv}")?;
    let get = |key: &str| -> std::result::Result<String, ParseError> {
        let v = vardict_lookup(target, key)?
            .ok_or_else(|| ParseError(format!("staged target lacks {key}")))?;
        gv_string(variant_of_type(v, "s")?)
    };
    let name = get("name")?;
    let (checksum, serial) = parse_deploy_name(&name)?;
    Ok(Some(Staged {
        osname: get("osname")?,
        checksum,
        serial,
        bootcsum: get("bootcsum")?,
    }))
}

/// The deployment `RUN/ostree/staged-deployment` stages, if there is one and its directory
/// exists. A file that does not parse or cannot be read is a warning.
pub(super) fn read_staged(
    sysroot: &Path,
    run_dir: &Path,
    warnings: &mut Vec<Warning>,
) -> Option<Deployment> {
    let staged_path = run_dir.join("ostree/staged-deployment");
    match fs::read(&staged_path) {
        Ok(bytes) => match parse_staged(&bytes) {
            Ok(Some(s)) => match staged_deployment(sysroot, &s) {
                Ok(d) => return Some(d),
                Err(e) => warn(warnings, "staged-missing", e.to_string()),
            },
            Ok(None) => {}
            Err(e) => warn(
                warnings,
                "staged-corrupt",
                format!("{}: {}", staged_path.display(), e),
            ),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => warn(
            warnings,
            "staged-unreadable",
            Error::from_io(&staged_path, e).to_string(),
        ),
    }
    None
}

fn staged_deployment(sysroot: &Path, s: &Staged) -> Result<Deployment> {
    let path = deploy_dir(sysroot, &s.osname, &s.checksum, s.serial);
    let meta = fs::metadata(&path).map_err(|e| Error::from_io(&path, e))?;
    let mut d = new_deployment(
        sysroot,
        &s.osname,
        s.checksum.clone(),
        s.serial,
        Some(s.bootcsum.clone()),
        None,
        &meta,
    );
    d.staged = true;
    Ok(d)
}

fn offset_size(container_len: usize) -> usize {
    match container_len {
        0 => 0,
        1..=0xff => 1,
        0x100..=0xffff => 2,
        0x1_0000..=0xffff_ffff => 4,
        _ => 8,
    }
}

fn read_offset(bytes: &[u8], at: usize, size: usize) -> std::result::Result<usize, ParseError> {
    let b = bytes
        .get(at..at + size)
        .ok_or_else(|| ParseError("framing offset out of range".into()))?;
    let mut v: u64 = 0;
    for (i, byte) in b.iter().enumerate() {
        v |= u64::from(*byte) << (8 * i);
    }
    usize::try_from(v).map_err(|_| ParseError("framing offset too large".into()))
}

fn align8(n: usize) -> usize {
    (n + 7) & !7
}

/// Find `key` in a serialized `a{sv}`; returns the serialized variant (`v`) value.
fn vardict_lookup<'a>(
    bytes: &'a [u8],
    key: &str,
) -> std::result::Result<Option<&'a [u8]>, ParseError> {
    if bytes.is_empty() {
        return Ok(None);
    }
    let osz = offset_size(bytes.len());
    let last = read_offset(bytes, bytes.len() - osz, osz)?;
    if last > bytes.len() - osz {
        return Err(ParseError("bad array framing".into()));
    }
    let table = bytes.len() - last;
    if !table.is_multiple_of(osz) {
        return Err(ParseError("bad array framing".into()));
    }
    let n = table / osz;
    let mut start = 0;
    for i in 0..n {
        let end = read_offset(bytes, last + i * osz, osz)?;
        if start > end || end > last {
            return Err(ParseError("bad array element bounds".into()));
        }
        let entry = &bytes[start..end];
        // {sv}: key string, framing offset of the key's end at the entry's tail.
        let esz = offset_size(entry.len());
        if entry.len() < esz {
            return Err(ParseError("dict entry too short".into()));
        }
        let key_end = read_offset(entry, entry.len() - esz, esz)?;
        let val_start = align8(key_end);
        if key_end == 0 || val_start > entry.len() - esz {
            return Err(ParseError("bad dict entry".into()));
        }
        if &entry[..key_end - 1] == key.as_bytes() && entry[key_end - 1] == 0 {
            return Ok(Some(&entry[val_start..entry.len() - esz]));
        }
        start = align8(end);
    }
    Ok(None)
}

/// Unwrap a variant (`data NUL type`) whose type must be `ty`.
fn variant_of_type<'a>(v: &'a [u8], ty: &str) -> std::result::Result<&'a [u8], ParseError> {
    let nul = v
        .iter()
        .rposition(|b| *b == 0)
        .ok_or_else(|| ParseError("variant without type".into()))?;
    if &v[nul + 1..] != ty.as_bytes() {
        return Err(ParseError(format!(
            "variant type '{}', expected '{ty}'",
            String::from_utf8_lossy(&v[nul + 1..])
        )));
    }
    Ok(&v[..nul])
}

fn gv_string(b: &[u8]) -> std::result::Result<String, ParseError> {
    let s = b
        .strip_suffix(&[0])
        .ok_or_else(|| ParseError("string not NUL-terminated".into()))?;
    String::from_utf8(s.to_vec()).map_err(|_| ParseError("string not UTF-8".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staged_record_written_by_ostree() {
        // Written by `ostree admin deploy --stage` in fixtures/sysroot.sh's fake boot.
        let bytes = include_bytes!("../../../../../fixtures/captured/sysroot/staged-deployment");
        let s = parse_staged(bytes).unwrap().unwrap();
        assert_eq!(s.osname, "demo");
        assert_eq!(
            s.checksum,
            "54c2bcdf6549290579f5a68837199383edcf7b48fb0676d2f279a39f7b456bb4"
        );
        assert_eq!(s.serial, 1);
        assert!(s.bootcsum.starts_with("bbd43f0e"));
        // Every truncation is an error or no record, never a panic.
        for n in 0..bytes.len() {
            let _ = parse_staged(&bytes[..n]);
        }
    }

    #[test]
    fn staged_garbage_is_an_error_not_a_panic() {
        for bytes in [
            &b"\xff"[..],
            b"\x00\x00\x00",
            b"target\x00\x00\x00\x00\x00\x00\x00\x01\x09",
            b"\x07\x07\x07\x07\x07\x07\x07",
        ] {
            let _ = parse_staged(bytes);
        }
        assert_eq!(parse_staged(b"").unwrap(), None);
    }
}
