//! Which package installed each file of a tree, and at which version.
//!
//! A tree (the host root, or an OSTree commit) carries its package manager's database;
//! `read_table` finds it, parses it and turns it into one `PackageTable`: path → package,
//! with paths in their usr-merged spelling so that `/lib/x86_64-linux-gnu/libc.so.6` (what
//! dpkg lists) and `/usr/lib/x86_64-linux-gnu/libc.so.6` (what an OSTree commit and the
//! kernel show) are one path. The catalog keeps each commit's table (`catalog/packages.rs`)
//! so that a file of a pruned tree still names its package and version.
pub mod dpkg;
pub mod rpm;
pub mod tree;
pub mod upstream;

use crate::fast_hash::{FastMap, FastSet};
use std::borrow::Cow;
use std::sync::Arc;

pub use tree::{CommitTree, RootTree, TreeReader};

/// The package manager whose database names a file's package.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Manager {
    /// Debian's dpkg (`/var/lib/dpkg/status` and `info/*.list`).
    Dpkg,
    /// rpm (its `rpmdb.sqlite`).
    Rpm,
}

/// A manager crosses to JavaScript as its contract name (`"dpkg"`, `"rpm"`). Written by hand:
/// napi's `string_enum` registers a module export at load time, whose napi calls then have to
/// link into every binary of the core (its tests and examples too), not only the addon.
#[cfg(feature = "napi")]
impl napi::bindgen_prelude::ToNapiValue for Manager {
    unsafe fn to_napi_value(
        env: napi::sys::napi_env,
        val: Self,
    ) -> napi::Result<napi::sys::napi_value> {
        // SAFETY: forwarded as is; `env` is the caller's valid environment.
        unsafe { <&str as napi::bindgen_prelude::ToNapiValue>::to_napi_value(env, val.as_str()) }
    }
}

#[cfg(feature = "napi")]
impl napi::bindgen_prelude::TypeName for Manager {
    fn type_name() -> &'static str {
        "String"
    }

    fn value_type() -> napi::ValueType {
        napi::ValueType::String
    }
}

impl Manager {
    /// The name the contract's `origin.package.manager` uses.
    pub fn as_str(&self) -> &'static str {
        match self {
            Manager::Dpkg => "dpkg",
            Manager::Rpm => "rpm",
        }
    }

    /// The manager called `s` in the contract and the catalog, if any.
    pub fn from_name(s: &str) -> Option<Manager> {
        match s {
            "dpkg" => Some(Manager::Dpkg),
            "rpm" => Some(Manager::Rpm),
            _ => None,
        }
    }
}

/// A package as the contract's `origin.package` names it. `version` is written the way
/// the package manager writes it: dpkg `[epoch:]upstream-revision`, rpm
/// `[epoch:]version-release`.
/// Serialized as the contract's `origin.package`, fields in its order.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "napi", napi_derive::napi(object, object_from_js = false))]
pub struct PackageInfo {
    /// The binary package name.
    pub name: String,
    /// The version as the package manager writes it.
    pub version: String,
    /// The architecture (`amd64`, `x86_64`, `noarch`), when the database gives one.
    pub arch: Option<String>,
    /// Which package manager installed it.
    #[cfg_attr(feature = "napi", napi(ts_type = "'dpkg' | 'rpm'"))]
    pub manager: Manager,
    /// The source package name (dpkg `Source:`, rpm `SOURCERPM` name), when it differs or is known.
    pub source: Option<String>,
    /// The source package's version, when it differs from `version`.
    pub source_version: Option<String>,
}

/// Where Debian-derived OSTree builders keep the dpkg database inside `/usr`, since `/var`
/// is not part of a commit. `usr/share/dpkg/database` is the convention of Endless OS's
/// deb-ostree-builder (dbnicholson/deb-ostree-builder: "Move dpkg database to /usr so it's
/// accessible after the OS /var is mounted", with `/var/lib/dpkg` a symlink to it), which
/// apertis and elementary's ostree builders copy; `usr/lib/dpkg` is what bootc-style
/// Debian images use (their checks read `/usr/lib/dpkg/status`); `usr/lib/sysimage/dpkg`
/// follows rpm's `usr/lib/sysimage/rpm`. `var/lib/dpkg` is a host's own database.
pub const DPKG_DIRS: &[&str] = &[
    "usr/share/dpkg/database",
    "usr/lib/dpkg",
    "usr/lib/sysimage/dpkg",
    "var/lib/dpkg",
];

/// rpm's database directories: `usr/lib/sysimage/rpm` since rpm 4.16 (and what
/// rpm-ostree commits carry), `usr/share/rpm` in older rpm-ostree commits, `var/lib/rpm`
/// on a host.
pub const RPM_DIRS: &[&str] = &["usr/lib/sysimage/rpm", "usr/share/rpm", "var/lib/rpm"];

/// The top-level directories that a merged-/usr system makes symlinks into `/usr`.
const MERGED: &[&[u8]] = &[b"/bin", b"/sbin", b"/lib", b"/lib32", b"/lib64", b"/libx32"];

/// A path in its merged-/usr spelling: `/lib/x` → `/usr/lib/x`. Debian (12 and later)
/// and every OSTree system are merged, and the two spellings then name one file; on an
/// unmerged tree no package ships both, so folding them never confuses two files.
pub fn canonical_path(path: &[u8]) -> Cow<'_, [u8]> {
    for top in MERGED {
        if path.starts_with(top) && path.get(top.len()) == Some(&b'/') {
            let mut p = b"/usr".to_vec();
            p.extend_from_slice(path);
            return Cow::Owned(p);
        }
    }
    Cow::Borrowed(path)
}

/// A tree's path → package table.
#[derive(Debug, Default, Clone)]
pub struct PackageTable {
    /// Every package of the tree; `paths` holds indexes into this list. Shared: every
    /// mapped file a package installed names it (`report::Origin::package`), and a scan
    /// has tens of thousands of them.
    pub packages: Vec<Arc<PackageInfo>>,
    /// Canonical path → index into `packages`.
    pub paths: FastMap<Vec<u8>, u32>,
    /// Where the database was found (for messages), when there is one.
    pub source: Option<String>,
    /// What was wrong with the database (unreadable entries, a missing list file), for the report.
    pub warnings: Vec<String>,
}

impl PackageTable {
    /// The package that installed `path` (in either merged-/usr spelling), if any.
    pub fn lookup(&self, path: &[u8]) -> Option<&Arc<PackageInfo>> {
        let i = *self.paths.get(canonical_path(path).as_ref())?;
        self.packages.get(i as usize)
    }

    /// Every installed package called `name` (rpm can hold several versions, e.g. kernels).
    pub fn by_name<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a PackageInfo> + 'a {
        self.packages
            .iter()
            .map(|p| &**p)
            .filter(move |p| p.name == name)
    }

    fn add(&mut self, info: PackageInfo, paths: Vec<Vec<u8>>) {
        let i = self.packages.len() as u32;
        self.packages.push(Arc::new(info));
        for p in paths {
            // The first owner wins: dpkg moves a path to the package that took it over.
            self.paths.entry(p).or_insert(i);
        }
    }
}

/// Read the package database of a tree, whichever manager it has. A tree without one
/// gives an empty table (not a warning: a minimal image may carry none); a damaged one
/// gives what could be read and warnings naming the file.
pub fn read_table(tree: &dyn TreeReader) -> PackageTable {
    read_table_for(tree, None)
}

/// What the package database of a directory tree (the host's root) is made of, as the
/// kernel describes the files: every database file and the dpkg `info` directory that
/// exists, with its device, inode, size, modification and change times. dpkg and rpm
/// replace or rewrite these files whenever a package comes or goes (dpkg renames a new
/// `status` and new `info/*.list` files into place), so an equal fingerprint means the
/// table read from it would be the same: a kept scanner reads the database again only
/// when it differs (`scan/knowledge.rs`).
pub fn database_fingerprint(root: &std::path::Path) -> Vec<u8> {
    // The root too: one catalog may serve scans of several roots (tests do), and two
    // roots' databases are two databases.
    let mut out = root.as_os_str().as_encoded_bytes().to_vec();
    out.push(0);
    let dpkg = DPKG_DIRS
        .iter()
        .flat_map(|d| ["status", "diversions", "info"].map(|f| format!("{d}/{f}")));
    let rpm = RPM_DIRS.iter().flat_map(|d| {
        [
            "rpmdb.sqlite",
            "rpmdb.sqlite-wal",
            "Packages",
            "Packages.db",
        ]
        .map(|f| format!("{d}/{f}"))
    });
    for rel in dpkg.chain(rpm) {
        if let Some(stamp) = crate::stamp::of_path(&root.join(&rel)) {
            out.extend_from_slice(rel.as_bytes());
            for v in stamp {
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
    }
    out
}

/// `read_table`, keeping only the paths in `wanted` (canonical spellings) when given: a
/// scan of the host needs the owners of the few thousand paths processes map, not a map
/// of every path of every package.
pub fn read_table_for(tree: &dyn TreeReader, wanted: Option<&FastSet<Vec<u8>>>) -> PackageTable {
    for dir in DPKG_DIRS {
        let status = format!("{dir}/status");
        match tree.read(&status) {
            Ok(Some(bytes)) => return dpkg_table(tree, dir, &bytes, wanted),
            Ok(None) => {}
            Err(e) => {
                return PackageTable {
                    warnings: vec![e.to_string()],
                    ..PackageTable::default()
                }
            }
        }
    }
    for dir in RPM_DIRS {
        let db = format!("{dir}/rpmdb.sqlite");
        if tree.exists(&db) {
            return rpm::rpm_table(tree, &db, wanted);
        }
    }
    for dir in RPM_DIRS {
        for old in ["Packages", "Packages.db"] {
            let db = format!("{dir}/{old}");
            if tree.exists(&db) {
                return PackageTable {
                    warnings: vec![format!(
                        "{}/{db}: a Berkeley DB or ndb rpm database; only the sqlite backend (rpmdb.sqlite) is read, so files of this tree name no package",
                        tree.describe()
                    )],
                    ..PackageTable::default()
                };
            }
        }
    }
    PackageTable::default()
}

/// Read one dpkg database directory of `tree` and build its table with the one
/// implementation there is (`dpkg::table`): this only fetches the bytes.
fn dpkg_table(
    tree: &dyn TreeReader,
    dir: &str,
    status: &[u8],
    wanted: Option<&FastSet<Vec<u8>>>,
) -> PackageTable {
    let location = format!("{}/{dir}", tree.describe());
    let diversions = tree.read(&format!("{dir}/diversions")).ok().flatten();
    let info = format!("{dir}/info");
    let (names, listing) = match tree.list(&info) {
        Ok(n) => (n, None),
        Err(e) => (Vec::new(), Some(e.to_string())),
    };
    let mut read_list = |name: &[u8]| {
        let path = format!("{info}/{}", String::from_utf8_lossy(name));
        tree.read(&path).map_err(|e| e.to_string())
    };
    let mut table = dpkg::table(
        &location,
        status,
        diversions.as_deref(),
        names,
        &mut read_list,
        wanted,
    );
    table.warnings.extend(listing);
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merged_usr() {
        assert_eq!(
            canonical_path(b"/lib/x/libc.so.6").as_ref(),
            b"/usr/lib/x/libc.so.6"
        );
        assert_eq!(
            canonical_path(b"/lib64/ld.so").as_ref(),
            b"/usr/lib64/ld.so"
        );
        assert_eq!(canonical_path(b"/bin/sh").as_ref(), b"/usr/bin/sh");
        assert_eq!(canonical_path(b"/library/x").as_ref(), b"/library/x");
        assert_eq!(canonical_path(b"/usr/lib/x").as_ref(), b"/usr/lib/x");
        assert_eq!(canonical_path(b"/lib").as_ref(), b"/lib");
    }
}
