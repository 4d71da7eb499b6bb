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
//!
//! With rpm (`rpmdb.sqlite`, no dpkg database), as `rpm -Va --configfiles` decides its `5`
//! (digest) column and its `missing` lines: each file an installed package's header flags
//! `%config` (RPMFILE_CONFIG), less those rpm does not verify — FILESTATES not installed or
//! netshared; `%ghost` files (neither contents nor presence); `%config(missingok)` files
//! (not reported missing); a replaced file (only its presence); a wrong-color file or
//! `%verify(not md5)` (not its contents); one recorded as no regular file (not its
//! contents). The file's digest, by the header's FILEDIGESTALGO (MD5 when absent), against
//! FILEDIGESTS. Order: the database's (`hnum`, as rpm -Va goes), then the header's.
use std::io::Read;
use std::path::Path;

use md5::{Digest, Md5};
use serde::Serialize;

use crate::error::{Error, Result, Warning};
use crate::ostree::checksum::to_hex;
use crate::packages::rpm::{self, RpmFile, RpmHeader};
use crate::packages::{dpkg, PackageInfo, RootTree, TreeReader, DPKG_DIRS, RPM_DIRS};
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
            match hash_in_root::<Md5>(root, &path) {
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

/// The drift of one root's rpm `%config` files; None when the root has no `rpmdb.sqlite`.
/// A database that cannot be read is an error; a header that cannot be parsed is a
/// warning naming it (its files are not checked).
pub fn rpm_drift(root: &Path) -> Result<Option<(Vec<ConffileDrift>, Vec<Warning>)>> {
    let tree = RootTree {
        root: root.to_path_buf(),
    };
    let Some(db) = RPM_DIRS
        .iter()
        .map(|d| format!("{d}/rpmdb.sqlite"))
        .find(|db| tree.exists(db))
    else {
        return Ok(None);
    };
    let db_path = root.join(&db);
    let headers = rpm::headers(&tree, &db).map_err(|e| Error::corrupt(&db_path, e))?;
    let mut out = Vec::new();
    let mut warnings = Vec::new();
    for h in headers {
        match h {
            Ok(h) => check_rpm_package(root, &h, &mut out, &mut warnings),
            Err(e) => warnings.push(Warning::new(
                "config-package-db",
                format!(
                    "{}: {e}: unreadable, its %config files were not checked",
                    db_path.display()
                ),
                None,
            )),
        }
    }
    Ok(Some((out, warnings)))
}

/// `rpm -V`'s verdict on one package's `%config` files (the module's rules).
fn check_rpm_package(
    root: &Path,
    h: &RpmHeader,
    out: &mut Vec<ConffileDrift>,
    warnings: &mut Vec<Warning>,
) {
    let unchecked = |f: &RpmFile, why: String| {
        Warning::new(
            "config-diff-unchecked",
            format!(
                "{} of package {}: not checked: {why}",
                crate::as_text::text(&f.path),
                h.info.name
            ),
            None,
        )
    };
    for f in &h.config_files {
        // RPMFILE_STATE_NOTINSTALLED (2), RPMFILE_STATE_NETSHARED (3): rpm skips them.
        if matches!(f.state, Some(2 | 3)) {
            continue;
        }
        let ghost = f.flags & rpm::RPMFILE_GHOST != 0;
        let report_missing = f.flags & (rpm::RPMFILE_GHOST | rpm::RPMFILE_MISSINGOK) == 0;
        // Replaced (1) and wrong color (4): presence only; so for %verify(not md5), a
        // ghost, and a file recorded as no regular file.
        let contents = !ghost
            && !matches!(f.state, Some(1 | 4))
            && f.verify.is_none_or(|v| v & rpm::RPMVERIFY_FILEDIGEST != 0)
            && f.regular() != Some(false);
        let drift = |d| ConffileDrift {
            path: f.path.clone(),
            drift: d,
            package: h.info.clone(),
        };
        if !contents {
            if report_missing {
                match present_in_root(root, &f.path) {
                    Ok(false) => out.push(drift(Drift::Missing)),
                    Ok(true) => {}
                    Err(e) => warnings.push(unchecked(f, e.to_string())),
                }
            }
            continue;
        }
        let recorded = match &f.digest {
            Some(d) if !d.is_empty() && d.iter().all(u8::is_ascii_hexdigit) => d,
            Some(_) | None => {
                warnings.push(unchecked(f, "rpm recorded no digest of it".into()));
                continue;
            }
        };
        let sum = match h.digest_algo {
            1 => hash_in_root::<Md5>(root, &f.path),
            2 => hash_in_root::<sha1::Sha1>(root, &f.path),
            8 => hash_in_root::<sha2::Sha256>(root, &f.path),
            9 => hash_in_root::<sha2::Sha384>(root, &f.path),
            10 => hash_in_root::<sha2::Sha512>(root, &f.path),
            11 => hash_in_root::<sha2::Sha224>(root, &f.path),
            other => {
                warnings.push(unchecked(
                    f,
                    format!(
                        "rpm recorded its digest with algorithm {other} ({}), which livetree does not compute",
                        algo_name(other)
                    ),
                ));
                continue;
            }
        };
        match sum {
            Ok(Some(sum)) => {
                if !sum.as_bytes().eq_ignore_ascii_case(recorded) {
                    out.push(drift(Drift::Modified));
                }
            }
            // Nothing to open: missing, unless a symlink that leads nowhere is there (rpm
            // -V, which lstats, reports that in other columns, never `missing`).
            Ok(None) => match present_in_root(root, &f.path) {
                Ok(false) if report_missing => out.push(drift(Drift::Missing)),
                Ok(false) => {}
                Ok(true) => warnings.push(unchecked(
                    f,
                    "a symlink that leads to nothing is in its place".into(),
                )),
                Err(e) => warnings.push(unchecked(f, e.to_string())),
            },
            Err(err) => warnings.push(unchecked(f, err.to_string())),
        }
    }
}

/// Whether anything (a symlink too, not followed) is at `path` inside `root`, as `lstat`
/// says; the directories leading to it resolve inside the root.
fn present_in_root(root: &Path, path: &[u8]) -> Result<bool> {
    let rel = path.strip_prefix(b"/").unwrap_or(path);
    let (parent, name) = match rel.iter().rposition(|b| *b == b'/') {
        Some(i) => (&rel[..i], &rel[i + 1..]),
        None => (&b""[..], rel),
    };
    if name.is_empty() || name == b"." || name == b".." {
        return Ok(matches!(open_in_root(root, path)?, Opened::File(_)));
    }
    let dir = match open_in_root(root, parent)? {
        Opened::File(d) => d,
        Opened::Absent => return Ok(false),
    };
    let Ok(c_name) = std::ffi::CString::new(name) else {
        return Ok(false);
    };
    // SAFETY: all-zero is a valid `stat` (plain integers).
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: fstatat writes only `st`; the name is NUL-terminated and the descriptor open
    // for the call.
    let r = unsafe {
        libc::fstatat(
            std::os::fd::AsRawFd::as_raw_fd(&dir),
            c_name.as_ptr(),
            &mut st,
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    if r == 0 {
        return Ok(true);
    }
    let e = std::io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::ENOENT | libc::ENOTDIR) => Ok(false),
        _ => Err(Error::from_io(
            &root.join(crate::as_text::text(rel).as_ref()),
            e,
        )),
    }
}

/// rpm's name of a `PGPHASHALGO_*` (rpmpgp.h).
fn algo_name(algo: u32) -> &'static str {
    match algo {
        3 => "RIPEMD160",
        5 => "MD2",
        6 => "TIGER192",
        7 => "HAVAL-5-160",
        _ => "unknown",
    }
}

/// The digest (`D`) in hex of the regular file at `path` inside `root`; None when nothing
/// is there.
fn hash_in_root<D: Digest>(root: &Path, path: &[u8]) -> Result<Option<String>> {
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
    let mut h = D::new();
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

    #[test]
    fn rpm_modified_missing_and_a_corrupt_header() {
        let root = std::env::temp_dir().join(format!("livetree-rpmdrift-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        fs::create_dir_all(root.join("var/lib/rpm")).unwrap();
        fs::create_dir_all(root.join("etc/rpmcfg")).unwrap();
        // The captured header (livetree-rpmcfg: /etc/rpmcfg/a.conf and b.conf, SHA256) and a
        // header cut short, in an rpmdb.sqlite laid out as rpm's.
        let db = rusqlite::Connection::open(root.join("var/lib/rpm/rpmdb.sqlite")).unwrap();
        db.execute_batch(
            "CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL)",
        )
        .unwrap();
        let good: &[u8] =
            include_bytes!("../../../../fixtures/captured/packages/rpm-header-config.bin");
        db.execute("INSERT INTO Packages (hnum, blob) VALUES (1, ?1)", [good])
            .unwrap();
        db.execute(
            "INSERT INTO Packages (hnum, blob) VALUES (2, ?1)",
            [&good[..40]],
        )
        .unwrap();
        drop(db);
        fs::write(root.join("etc/rpmcfg/a.conf"), b"a shipped\n").unwrap();
        fs::write(root.join("etc/rpmcfg/b.conf"), b"b shipped\n").unwrap();
        let (drift, warnings) = rpm_drift(&root).unwrap().unwrap();
        assert_eq!(drift, vec![]);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert_eq!(warnings[0].code, "config-package-db");
        assert!(warnings[0].message.contains("header 2: "), "{warnings:?}");

        fs::write(root.join("etc/rpmcfg/a.conf"), b"a edited\n").unwrap();
        fs::remove_file(root.join("etc/rpmcfg/b.conf")).unwrap();
        let (drift, _) = rpm_drift(&root).unwrap().unwrap();
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
                (
                    "/etc/rpmcfg/a.conf".into(),
                    Drift::Modified,
                    "livetree-rpmcfg".into()
                ),
                (
                    "/etc/rpmcfg/b.conf".into(),
                    Drift::Missing,
                    "livetree-rpmcfg".into()
                ),
            ]
        );
        // A symlink that leads nowhere where a file was: rpm lstats it, so not missing;
        // not checked, said.
        std::os::unix::fs::symlink("/nowhere", root.join("etc/rpmcfg/b.conf")).unwrap();
        let (drift, warnings) = rpm_drift(&root).unwrap().unwrap();
        assert_eq!(drift.len(), 1, "{drift:?}");
        assert!(warnings.iter().any(|w| w.code == "config-diff-unchecked"
            && w.message.contains("/etc/rpmcfg/b.conf of package livetree-rpmcfg: not checked: a symlink that leads to nothing")), "{warnings:?}");
        fs::remove_file(root.join("etc/rpmcfg/b.conf")).unwrap();
        // A directory where the file was: not checked, said, never clean.
        fs::create_dir(root.join("etc/rpmcfg/b.conf")).unwrap();
        let (_, warnings) = rpm_drift(&root).unwrap().unwrap();
        assert!(warnings.iter().any(|w| w.code == "config-diff-unchecked"
            && w.message
                .contains("/etc/rpmcfg/b.conf of package livetree-rpmcfg")));
        // A database that is not one: an error naming it.
        fs::write(root.join("var/lib/rpm/rpmdb.sqlite"), b"not sqlite").unwrap();
        let e = rpm_drift(&root).unwrap_err();
        assert_eq!(e.code(), "ECORRUPT");
        assert!(e.to_string().contains("var/lib/rpm/rpmdb.sqlite"), "{e}");
        fs::remove_dir_all(&root).unwrap();
        assert!(rpm_drift(&root).unwrap().is_none());
    }
}
