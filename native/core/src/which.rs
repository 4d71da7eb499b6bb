//! `livetree which DEV:INO|PATH`: which commits hold an object, and at which paths.
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::ostree::checksum::checksum_path;
use crate::packages::{canonical_path, PackageInfo};
use crate::proc::procfs::dev_split;
use crate::progress::Progress;
use crate::report::Warning;
use crate::scan::knowledge::Knowledge;
use crate::{Error, Result};

/// What `livetree which` looks up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Query {
    /// A (major, minor, inode) triple, as /proc/PID/maps shows it.
    Inode(u32, u32, u64),
    /// A path: a file on disk (hashed, or found in the repo's inode index), else a path
    /// inside trees (`/usr/lib/libc.so.6`) looked up in the catalog.
    Path(Vec<u8>),
}

/// One commit whose tree holds the object.
#[derive(Debug, Clone)]
#[cfg_attr(feature = "napi", napi_derive::napi(object, object_from_js = false))]
pub struct WhichHit {
    /// The commit's checksum.
    pub commit: String,
    /// The commit's `version` metadata, when it has one.
    pub version: Option<String>,
    /// Where the object sits in that commit's tree, as text (a byte that is not UTF-8
    /// shows as U+FFFD): this is a report for people.
    pub tree_path: String,
    /// The content object's checksum.
    #[cfg_attr(feature = "napi", napi(js_name = "objectChecksum"))]
    pub object: String,
    /// Current deployments of that commit.
    pub deployments: Vec<String>,
}

/// What `livetree which` found for one query.
#[derive(Debug, Clone)]
#[cfg_attr(feature = "napi", napi_derive::napi(object, object_from_js = false))]
pub struct WhichReport {
    /// The content object the query resolved to, when it resolved to one.
    #[cfg_attr(feature = "napi", napi(js_name = "objectChecksum"))]
    pub object: Option<String>,
    /// Every known commit holding that object.
    pub hits: Vec<WhichHit>,
    /// For a path on disk: the package that installed that path, as the host's package
    /// database (dpkg or rpm, the one a scan reads for host files) says; none when no
    /// package owns it. This names the path's owner, as `dpkg -S` and `rpm -qf` do.
    pub package: Option<PackageInfo>,
    /// What could not be read or resolved.
    pub warnings: Vec<Warning>,
}

/// Find which known commits hold the file a query names: through the repo's inode index or a
/// checksum of the file, else by tree path in the catalog; and for a file on disk, which
/// package of the host's database installed that path. A path that is no file here and
/// that no known commit holds is an error (`NotFound`, naming it): there is nothing to
/// say "in no known commit" about.
pub fn which(
    sysroot: &Path,
    run_dir: &Path,
    host_root: &Path,
    catalog: Option<&Path>,
    query: &Query,
) -> Result<WhichReport> {
    let mut warnings = Vec::new();
    let k = Knowledge::load(
        sysroot,
        run_dir,
        host_root,
        catalog,
        Progress::off(),
        &mut warnings,
    )?;
    let deployments_of = |commit: &str| -> Vec<String> {
        k.deployments
            .iter()
            .filter(|d| d.commit == commit)
            .map(|d| d.id.clone())
            .collect()
    };
    let object = match query {
        Query::Inode(maj, min, ino) => k.object_of(*maj, *min, *ino),
        Query::Path(p) => {
            let path = Path::new(OsStr::from_bytes(p));
            match std::fs::symlink_metadata(path) {
                Ok(md) => {
                    let (maj, min) = dev_split(md.dev());
                    match k.object_of(maj, min, md.ino()) {
                        Some(o) => Some(o),
                        None if md.is_file() || md.file_type().is_symlink() => {
                            Some(checksum_path(path)?)
                        }
                        None => None,
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(e) => return Err(Error::from_io(path, e)),
            }
        }
    };
    let mut package = None;
    let mut hits = Vec::new();
    if let (Query::Path(p), Some(_)) = (query, &object) {
        package = host_package(&k, host_root, p);
        // What was wrong with the database, as a scan says it.
        if let Some(t) = k.host_packages_read() {
            warnings.extend(
                t.warnings
                    .iter()
                    .map(|w| Warning::new("package-db", w.clone(), None)),
            );
        }
    }
    if let Some(obj) = &object {
        for h in k.catalog.find_object(obj)? {
            hits.push(WhichHit {
                deployments: deployments_of(&h.commit),
                commit: h.commit,
                version: h.version,
                tree_path: String::from_utf8_lossy(&h.path).into_owned(),
                object: obj.clone(),
            });
        }
    } else if let Query::Path(p) = query {
        // Not a file here: a path inside trees, answered from the catalog.
        for h in k.catalog.find_path(p)? {
            hits.push(WhichHit {
                deployments: deployments_of(&h.commit),
                commit: h.commit,
                version: h.version,
                tree_path: String::from_utf8_lossy(p).into_owned(),
                object: h.object,
            });
        }
    }
    if let (Query::Path(p), None, true) = (query, &object, hits.is_empty()) {
        let path = Path::new(OsStr::from_bytes(p));
        if std::fs::symlink_metadata(path).is_err() {
            return Err(Error::NotFound(path.to_path_buf()));
        }
    }
    Ok(WhichReport {
        object,
        hits,
        package,
        warnings,
    })
}

/// The package of the host's database that installed `path` (made absolute against the
/// working directory, as the file was found), if any.
fn host_package(k: &Knowledge, host_root: &Path, path: &[u8]) -> Option<PackageInfo> {
    let absolute = std::path::absolute(Path::new(OsStr::from_bytes(path))).ok()?;
    // Below the host root (`/` on a real host), in the database's spelling.
    let inside = absolute.strip_prefix(host_root).ok()?;
    let mut rooted = b"/".to_vec();
    rooted.extend_from_slice(inside.as_os_str().as_bytes());
    let wanted: crate::fast_hash::FastSet<Vec<u8>> =
        std::iter::once(canonical_path(&rooted).into_owned()).collect();
    k.host_packages(&wanted)
        .lookup(&rooted)
        .map(|p| PackageInfo::clone(p))
}
