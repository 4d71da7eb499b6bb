//! Host-root files whose package a scan named while they were current, so that a later
//! scan still names the version of a file that an upgrade (`apt upgrade`, `dnf upgrade`)
//! has since replaced or deleted: the host's database then describes the new file only.
//!
//! A file is identified by (major, minor, inode, path below the host root). A process that
//! maps a replaced file pins its inode, so the inode number cannot be reused while the
//! process runs: the same identity seen deleted or superseded later is the very file that
//! was recorded. Size and mtime are kept to notice an inode number reused for another file
//! at the same path (a later current sighting with other values replaces the record).
use rusqlite::{params, OptionalExtension, TransactionBehavior};

use super::encode::now;
use super::packages::{package_from_row, package_id, package_statements, PACKAGE_COLUMNS};
use super::Catalog;
use crate::error::Result;
use crate::packages::PackageInfo;

/// Schema 3 -> 4.
pub(super) const MIGRATION: &str = "
    CREATE TABLE host_files (
        major       INTEGER NOT NULL,
        minor       INTEGER NOT NULL,
        ino         INTEGER NOT NULL,
        path        BLOB NOT NULL,
        size        INTEGER NOT NULL,
        mtime_ns    INTEGER NOT NULL,
        package_id  INTEGER NOT NULL REFERENCES packages (id),
        first_seen  INTEGER NOT NULL,
        PRIMARY KEY (major, minor, ino, path)
    ) WITHOUT ROWID;
";

/// (major, minor, inode, path below the host root): a host file's identity.
pub type HostFileKey = (u32, u32, u64, Vec<u8>);

/// A current host-root file and the package the host's database named for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostFileRecord {
    /// The file's device major number.
    pub major: u32,
    /// The file's device minor number.
    pub minor: u32,
    /// The file's inode number.
    pub ino: u64,
    /// The path below the host root, as processes in it see it (`/usr/lib/…`).
    pub path: Vec<u8>,
    /// Its size in bytes when recorded.
    pub size: u64,
    /// Its modification time (nanoseconds since the epoch) when recorded.
    pub mtime_ns: i64,
    /// The package the host's database named for it then.
    pub package: PackageInfo,
}

impl Catalog {
    /// Whether this connection already recorded (or found recorded) the host file `key`
    /// with `package`: the scan then neither stats it nor asks SQLite again.
    pub fn host_file_known(&self, key: &HostFileKey, package: &PackageInfo) -> bool {
        self.host_files_seen.get(key) == Some(package)
    }

    /// Record host files in one transaction; a file already recorded with the same size,
    /// mtime and package is left alone (nothing is written when nothing changed).
    pub fn record_host_files(&mut self, files: &[HostFileRecord]) -> Result<()> {
        if files.is_empty() {
            return Ok(());
        }
        let path = self.path.clone();
        let err = |e| super::db_error(&path, e);
        let mut seen_now = Vec::with_capacity(files.len());
        // Deferred: a scan that finds every file already recorded only reads.
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Deferred)
            .map_err(err)?;
        {
            let mut seen = tx
                .prepare_cached(&format!(
                    "SELECT {PACKAGE_COLUMNS}, h.size, h.mtime_ns FROM host_files h \
                     JOIN packages p ON p.id = h.package_id \
                     WHERE h.major = ?1 AND h.minor = ?2 AND h.ino = ?3 AND h.path = ?4"
                ))
                .map_err(err)?;
            let mut put = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO host_files \
                     (major, minor, ino, path, size, mtime_ns, package_id, first_seen) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                )
                .map_err(err)?;
            let (mut find, mut add) = package_statements(&tx).map_err(err)?;
            for f in files {
                let key = params![f.major, f.minor, f.ino as i64, f.path];
                let old = seen
                    .query_row(key, |r| {
                        let pkg = package_from_row(r)?;
                        Ok((r.get::<_, i64>(6)?, r.get::<_, i64>(7)?, pkg))
                    })
                    .optional()
                    .map_err(err)?;
                if old.as_ref().is_some_and(|(size, mtime, pkg)| {
                    *size == f.size as i64 && *mtime == f.mtime_ns && *pkg == f.package
                }) {
                    seen_now.push(f);
                    continue;
                }
                let id = package_id(&tx, &mut find, &mut add, &f.package).map_err(err)?;
                put.execute(params![
                    f.major,
                    f.minor,
                    f.ino as i64,
                    f.path,
                    f.size as i64,
                    f.mtime_ns,
                    id,
                    now()
                ])
                .map_err(err)?;
                seen_now.push(f);
            }
        }
        tx.commit().map_err(err)?;
        for f in seen_now {
            let key = (f.major, f.minor, f.ino, f.path.clone());
            self.host_files_seen.insert(key, f.package.clone());
        }
        Ok(())
    }

    /// The package recorded for the host file (major, minor, inode, path), if a scan saw it.
    pub fn host_file_package(
        &self,
        major: u32,
        minor: u32,
        ino: u64,
        path: &[u8],
    ) -> Result<Option<PackageInfo>> {
        self.conn
            .prepare_cached(&format!(
                "SELECT {PACKAGE_COLUMNS} FROM host_files h \
                 JOIN packages p ON p.id = h.package_id \
                 WHERE h.major = ?1 AND h.minor = ?2 AND h.ino = ?3 AND h.path = ?4"
            ))
            .and_then(|mut stmt| {
                stmt.query_row(params![major, minor, ino as i64, path], package_from_row)
                    .optional()
            })
            .map_err(|e| self.err(e))
    }
}
