//! Configuration drift on a plain host (no OSTree): the conffiles of installed packages
//! whose contents differ from what dpkg recorded when it installed them, or that are
//! gone — what `debsums -ce` reports, read without running it.
//!
//! As `debsums -ce` decides: packages whose `Status:` state is `installed` or
//! `half-configured`; each `Conffiles:` line with a hex md5sum (not `newconffile`), less
//! those marked `remove-on-upgrade` (`obsolete` ones are checked, as debsums does
//! without `--ignore-obsolete`); a path another package diverted is checked where the
//! diversion put it; the path resolves inside the root (absolute symlinks stay in it).
//! The file's md5 against the recorded one: different → modified; nothing there →
//! missing; not a regular file → not checked (a warning, as debsums warns).
//! Order: by package name, then as dpkg lists the package's conffiles.
use std::io::Read;
use std::path::Path;

use md5::{Digest, Md5};
use serde::Serialize;

use crate::error::{Error, Result, Warning};
use crate::ostree::checksum::to_hex;
use crate::packages::{dpkg, PackageInfo, RootTree, TreeReader, DPKG_DIRS};
use crate::proc::procfs::{open_in_root, Opened};

/// What is wrong with one conffile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Drift {
    /// Its contents differ from dpkg's record (`debsums -ce` lists it).
    Modified,
    /// Nothing is at its path (`debsums: missing file`).
    Missing,
}

/// One conffile that drifted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConffileDrift {
    /// The path checked, inside the root (after a diversion).
    pub path: Vec<u8>,
    /// What is wrong.
    pub drift: Drift,
    /// The package whose conffile it is.
    pub package: PackageInfo,
}

/// The drift of one root's dpkg conffiles; None when the root has no dpkg database.
pub fn dpkg_drift(root: &Path) -> Result<Option<(Vec<ConffileDrift>, Vec<Warning>)>> {
    let tree = RootTree {
        root: root.to_path_buf(),
    };
    let mut found = None;
    for dir in DPKG_DIRS {
        if let Some(bytes) = tree.read(&format!("{dir}/status"))? {
            found = Some((*dir, bytes));
            break;
        }
    }
    let Some((dir, status)) = found else {
        return Ok(None);
    };
    let mut warnings = Vec::new();
    let parsed = dpkg::parse_status(&status);
    for w in parsed.warnings {
        warnings.push(Warning::new("config-package-db", w, None));
    }
    let diversions = match tree.read(&format!("{dir}/diversions"))? {
        Some(bytes) => {
            let (d, w) = dpkg::parse_diversions(&bytes);
            if let Some(w) = w {
                warnings.push(Warning::new("config-package-db", w, None));
            }
            d
        }
        None => Vec::new(),
    };
    let mut entries: Vec<&dpkg::StatusEntry> = parsed
        .entries
        .iter()
        .filter(|e| e.state == "installed" || e.state == "half-configured")
        .collect();
    // debsums goes through the packages by name (binary:Package, name:arch for a
    // Multi-Arch: same package).
    entries.sort_by_key(|e| label(e));
    let mut out = Vec::new();
    for e in entries {
        for c in &e.recorded {
            if c.remove_on_upgrade || c.md5.is_empty() || !c.md5.iter().all(u8::is_ascii_hexdigit) {
                continue;
            }
            let path = diversions
                .iter()
                .find(|d| d.from == c.path && d.by.as_deref() != Some(e.info.name.as_str()))
                .map_or(c.path.clone(), |d| d.to.clone());
            match md5_in_root(root, &path) {
                Ok(Some(sum)) => {
                    if !sum.as_bytes().eq_ignore_ascii_case(&c.md5) {
                        out.push(ConffileDrift {
                            path,
                            drift: Drift::Modified,
                            package: e.info.clone(),
                        });
                    }
                }
                Ok(None) => out.push(ConffileDrift {
                    path,
                    drift: Drift::Missing,
                    package: e.info.clone(),
                }),
                Err(err) => warnings.push(Warning::new(
                    "config-diff-unchecked",
                    format!(
                        "{} of package {}: not checked: {err}",
                        crate::as_text::text(&path),
                        e.info.name
                    ),
                    None,
                )),
            }
        }
    }
    Ok(Some((out, warnings)))
}

/// `name` or `name:arch` as dpkg-query's `binary:Package` names a package.
fn label(e: &dpkg::StatusEntry) -> String {
    match (&e.info.arch, e.multi_arch_same) {
        (Some(a), true) => format!("{}:{a}", e.info.name),
        _ => e.info.name.clone(),
    }
}

/// The md5 of the regular file at `path` inside `root`; None when nothing is there.
fn md5_in_root(root: &Path, path: &[u8]) -> Result<Option<String>> {
    let display =
        || root.join(crate::as_text::text(path.strip_prefix(b"/").unwrap_or(path)).as_ref());
    let mut f = match open_in_root(root, path)? {
        Opened::File(f) => f,
        Opened::Absent => return Ok(None),
    };
    let m = f.metadata().map_err(|e| Error::from_io(&display(), e))?;
    if !m.is_file() {
        return Err(Error::corrupt(&display(), "not a regular file"));
    }
    let mut h = Md5::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match f.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => h.update(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::from_io(&display(), e)),
        }
    }
    Ok(Some(to_hex(&h.finalize())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn modified_missing_and_skipped() {
        let root = std::env::temp_dir().join(format!("livetree-drift-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        fs::create_dir_all(root.join("var/lib/dpkg")).unwrap();
        fs::create_dir_all(root.join("etc/b")).unwrap();
        // md5("a\n") = 60b725f10c9c85c70d97880dfe8191b3
        fs::write(root.join("etc/a.conf"), b"a\n").unwrap();
        fs::write(root.join("etc/b/b.conf"), b"edited\n").unwrap();
        fs::write(root.join("etc/moved"), b"a\n").unwrap();
        fs::write(
            root.join("var/lib/dpkg/status"),
            b"Package: zed\nStatus: install ok installed\nVersion: 1\nArchitecture: all\nConffiles:\n /etc/b/b.conf 60b725f10c9c85c70d97880dfe8191b3\n /etc/gone 60b725f10c9c85c70d97880dfe8191b3\n /etc/old 60b725f10c9c85c70d97880dfe8191b3 remove-on-upgrade\n\n\
Package: alpha\nStatus: install ok installed\nVersion: 1\nArchitecture: all\nConffiles:\n /etc/a.conf 60b725f10c9c85c70d97880dfe8191b3\n /etc/new newconffile\n /etc/div 0000\n\n\
Package: cfgonly\nStatus: deinstall ok config-files\nVersion: 1\nConffiles:\n /etc/nothere 60b725f10c9c85c70d97880dfe8191b3\n\n",
        )
        .unwrap();
        fs::write(
            root.join("var/lib/dpkg/diversions"),
            b"/etc/div\n/etc/moved\nother\n",
        )
        .unwrap();
        let (drift, warnings) = dpkg_drift(&root).unwrap().unwrap();
        let got: Vec<(String, Drift, String)> = drift
            .iter()
            .map(|d| {
                (
                    String::from_utf8_lossy(&d.path).into_owned(),
                    d.drift,
                    d.package.name.clone(),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("/etc/moved".into(), Drift::Modified, "alpha".into()),
                ("/etc/b/b.conf".into(), Drift::Modified, "zed".into()),
                ("/etc/gone".into(), Drift::Missing, "zed".into()),
            ]
        );
        assert!(warnings.is_empty(), "{warnings:?}");
        fs::remove_dir_all(&root).unwrap();
        assert!(dpkg_drift(&root).is_err() || dpkg_drift(&root).unwrap().is_none());
    }
}
