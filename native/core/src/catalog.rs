//! The persistent catalog: the only thing livetree writes.
//!
//! Every scan records the OSTree commits it sees (with the full list of their files), the
//! deployments it sees (with the (dev, ino) of their root directory) and the history of the
//! restarts it drives. Later, when a process maps a file whose deployment was undeployed and
//! pruned, the file's ostree content checksum finds here the commit, version and path it came
//! from, and a process whose root is a deleted deployment directory is recognised by that
//! directory's (dev, ino).
//!
//! The catalog is one SQLite file (default `/var/lib/livetree/catalog.sqlite`; the caller
//! passes the path). It runs in WAL mode with a busy timeout so that two scans at once are
//! safe, and every multi-row write is a single transaction so a `kill -9` leaves either all of
//! it or none of it. A damaged file is never deleted or recreated silently: `open` refuses it
//! with `Error::Catalog` and tells the user to run `livetree catalog check` or
//! `livetree catalog rebuild`; `rebuild` moves it aside and salvages what it can.
mod commits;
mod composefs;
mod deployments;
mod encode;
mod host_database;
mod host_files;
mod layer_databases;
mod packages;
mod repair;
mod restarts;
mod salvage_records;
mod schema;
mod timeline;
mod timeline_document;
mod timeline_query;
mod timeline_retention;
mod timeline_sources;
mod verified;

use std::path::{Path, PathBuf};

use rusqlite::{Connection, DatabaseName, OpenFlags};

use crate::error::{Error, Result};

pub use commits::{CatalogFile, CommitInfo, CommitRecord, ObjectHit, PathHit};
pub use composefs::ComposefsImageInfo;
pub use deployments::{DeploymentInfo, DeploymentRecord};
pub use host_files::{HostFileKey, HostFileRecord};
pub use repair::{CheckReport, RebuildReport};
pub use restarts::{RestartEnd, RestartRecord, RestartStart, RestartState};
pub use schema::SCHEMA_VERSION;
pub use timeline::{
    TimelineCounts, TimelineOrigin, TimelineProcessSeen, TimelinePruned, TimelineRecorded,
    TimelineScan,
};
pub use timeline_document::{iso_time, timeline_json};
pub use timeline_query::{TimelineAnswer, TimelineFilter, TimelineGap, TimelineRow, GAP_SECONDS};
pub use verified::{current as file_stamp, quick_checks_run};

/// What the user should do when the catalog file is damaged; appended to such errors.
const DAMAGED_HINT: &str = "run `livetree catalog check` to inspect it, then \
    `livetree catalog rebuild` to move it aside and salvage what can be read";

/// An open catalog. One SQLite connection; other processes may hold their own at the same time.
pub struct Catalog {
    conn: Connection,
    path: PathBuf,
    read_only: bool,
    /// Host files this connection recorded or found recorded (`host_files.rs`), so a
    /// scanner that keeps the catalog checks each file once, not at every scan.
    host_files_seen: std::collections::HashMap<HostFileKey, crate::packages::PackageInfo>,
    /// For a file opened read-write and verified (quick_check passed, or the file was as
    /// livetree left it): the process's damage count at open. When it has not moved by the
    /// close, the closed file's stamp is recorded (`verified.rs`).
    stamp_on_close: Option<u64>,
}

impl Drop for Catalog {
    fn drop(&mut self) {
        let Some(damage_at_open) = self.stamp_on_close else {
            return;
        };
        // Close first: the last connection's close checkpoints the WAL into the file and
        // removes it, and the stamp is of the file after that.
        let Ok(memory) = Connection::open_in_memory() else {
            return;
        };
        let conn = std::mem::replace(&mut self.conn, memory);
        if conn.close().is_ok() && verified::damage_seen() == damage_at_open {
            verified::record(&self.path);
        } else {
            verified::forget(&self.path);
        }
    }
}

impl Catalog {
    /// Open the catalog at `path`, creating its parent directory and schema if missing and
    /// migrating an older schema. A file that is not a SQLite database, fails
    /// `PRAGMA quick_check`, or was written by a newer livetree gives `Error::Catalog`.
    pub fn open(path: &Path) -> Result<Catalog> {
        if let Some(parent) = path.parent() {
            if !parent.as_os_str().is_empty() {
                std::fs::create_dir_all(parent).map_err(|e| Error::from_io(parent, e))?;
            }
        }
        let conn = Connection::open(path).map_err(|e| db_error(path, e))?;
        // SQLite quietly opens a file it may not write read-only; say so before any write
        // (switching to WAL, migrating) fails halfway with "attempt to write a readonly
        // database", so that callers can fall back to `open_read_only`.
        if path != Path::new(MEMORY) && conn.is_readonly(DatabaseName::Main).unwrap_or(true) {
            return Err(Error::PermissionDenied(path.to_path_buf()));
        }
        let memory = path == Path::new(MEMORY);
        let damage_at_open = verified::damage_seen();
        let as_left = !memory && verified::matches(path);
        if !memory {
            verified::forget(path);
        }
        schema::configure(&conn, path)?;
        if !as_left {
            schema::quick_check(&conn, path)?;
        }
        schema::migrate(&conn, path)?;
        Ok(Catalog {
            conn,
            path: path.to_path_buf(),
            read_only: false,
            host_files_seen: Default::default(),
            stamp_on_close: (!memory).then_some(damage_at_open),
        })
    }

    /// Open an existing catalog file to record a scan's timeline right after that scan, in
    /// the same process, opened it (with `quick_check` and migrations): like `open`, minus
    /// the `quick_check` the scan just ran (on a large catalog it is most of the cost of
    /// recording). A missing file is `Error::NotFound`: nothing is created here.
    pub fn open_after_scan(path: &Path) -> Result<Catalog> {
        std::fs::metadata(path).map_err(|e| Error::from_io(path, e))?;
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| db_error(path, e))?;
        if conn.is_readonly(DatabaseName::Main).unwrap_or(true) {
            return Err(Error::PermissionDenied(path.to_path_buf()));
        }
        let damage_at_open = verified::damage_seen();
        verified::forget(path);
        schema::configure(&conn, path)?;
        schema::migrate(&conn, path)?;
        Ok(Catalog {
            conn,
            path: path.to_path_buf(),
            read_only: false,
            host_files_seen: Default::default(),
            stamp_on_close: Some(damage_at_open),
        })
    }

    /// A catalog that lives in memory for one scan: lookups find nothing older than the
    /// scan, and nothing outlives it. Used when no catalog file can be opened.
    pub fn memory() -> Result<Catalog> {
        Catalog::open(Path::new(MEMORY))
    }

    /// Open an existing catalog file without ever writing to it or next to it when that is
    /// not allowed (an ordinary user, a read-only `/var`): for lookups and `history`.
    /// Writes through it fail; `is_read_only` tells callers not to try. A missing file is
    /// `Error::NotFound`, a damaged one `Error::Catalog`, one with another schema version
    /// `Error::Catalog` (a read-only catalog cannot be migrated).
    pub fn open_read_only(path: &Path) -> Result<Catalog> {
        let conn = read_only_connection(path)?;
        if !verified::matches(path) {
            schema::quick_check(&conn, path)?;
        }
        let version = schema::user_version(&conn).map_err(|e| db_error(path, e))?;
        if version != SCHEMA_VERSION {
            return Err(catalog_error(
                path,
                format!(
                    "the catalog has schema version {version} and this livetree reads version \
                     {SCHEMA_VERSION}; it cannot be migrated read-only (run a scan as a user \
                     who may write it)"
                ),
            ));
        }
        Ok(Catalog {
            conn,
            path: path.to_path_buf(),
            read_only: true,
            host_files_seen: Default::default(),
            stamp_on_close: None,
        })
    }

    /// Whether this catalog was opened read-only (nothing a scan sees gets recorded).
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    /// What says whether another connection changed the catalog since the last call:
    /// `PRAGMA data_version` (bumped by other connections' commits, never by this one's)
    /// and the schema version. None when the file can no longer be read.
    pub fn change_stamp(&self) -> Option<(i64, i64)> {
        let data: i64 = self
            .conn
            .query_row("PRAGMA data_version", [], |row| row.get(0))
            .ok()?;
        Some((data, schema::user_version(&self.conn).ok()?))
    }

    /// The file this catalog lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Check the catalog file at `path` without changing it: `PRAGMA integrity_check`, the
    /// schema version and row counts. A damaged file gives a report with `ok == false`, not an
    /// error; a missing file gives `Error::NotFound`.
    pub fn check(path: &Path) -> Result<CheckReport> {
        repair::check(path)
    }

    /// Move the file at `path` aside (to `<name>.corrupt-<UTC timestamp>`, never deleting it),
    /// create a fresh catalog there and copy into it everything that can still be read from
    /// the old one. What could not be read is listed in the report.
    pub fn rebuild(path: &Path) -> Result<RebuildReport> {
        repair::rebuild(path)
    }

    fn err(&self, e: rusqlite::Error) -> Error {
        db_error(&self.path, e)
    }

    /// A write transaction holding the write lock from its start, and the catalog's path
    /// for the errors of what runs in it. IMMEDIATE: a deferred transaction that reads and
    /// then writes can fail with SQLITE_BUSY at once, without waiting, when another writer
    /// committed in between.
    fn write_transaction(&mut self) -> Result<(rusqlite::Transaction<'_>, PathBuf)> {
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| db_error(&path, e))?;
        Ok((tx, path))
    }
}

const MEMORY: &str = ":memory:";

/// A read-only connection to an existing catalog file that creates nothing beside it. A reader
/// of a WAL database needs its `-wal` and `-shm` files and creates them when they are missing
/// (they stay behind), or fails where it may not. When there is no `-wal` (every write is in
/// the file itself: the last writer closed cleanly) the file is opened `immutable`: no locks,
/// no companion files, nothing missed. When there is one, the normal read-only open uses it;
/// only if that fails (an ordinary user who may not open the `-shm`) is the file opened
/// `immutable` anyway, which may miss the last writes not yet checkpointed but never writes.
pub(crate) fn read_only_connection(path: &Path) -> Result<Connection> {
    std::fs::File::open(path).map_err(|e| Error::from_io(path, e))?;
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let probe = |conn: Connection| -> rusqlite::Result<Connection> {
        // Reject malformed cells as corruption instead of reading past them.
        conn.execute_batch("PRAGMA cell_size_check = ON")?;
        schema::user_version(&conn)?;
        Ok(conn)
    };
    let immutable = || {
        let uri = format!("file:{}?immutable=1", uri_escape(path));
        Connection::open_with_flags(uri, flags | OpenFlags::SQLITE_OPEN_URI)
    };
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    let has_wal = std::fs::metadata(&wal)
        .map(|m| m.len() > 0)
        .unwrap_or(false);
    let first = if has_wal {
        Connection::open_with_flags(path, flags)
    } else {
        immutable()
    };
    match first.and_then(probe) {
        Ok(conn) => Ok(conn),
        // Damage is for the caller's integrity check to describe, not a reason to retry.
        Err(e) if is_damage(&e) => {
            let conn = immutable().map_err(|e| db_error(path, e))?;
            let _ = conn.execute_batch("PRAGMA cell_size_check = ON");
            Ok(conn)
        }
        Err(_) => immutable().and_then(probe).map_err(|e| db_error(path, e)),
    }
}

/// Percent-encode what a SQLite URI path may not hold literally.
fn uri_escape(path: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let mut out = String::new();
    for &b in path.as_os_str().as_bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Turn a SQLite error into `Error::Catalog` with the path; damage gets the user hint.
pub(crate) fn db_error(path: &Path, e: rusqlite::Error) -> Error {
    let reason = if is_damage(&e) {
        verified::count_damage();
        format!("the catalog file is damaged ({e}); {DAMAGED_HINT}")
    } else {
        e.to_string()
    };
    Error::Catalog {
        path: path.to_path_buf(),
        reason,
    }
}

/// Whether SQLite says the file itself is broken (as opposed to busy, full, or misused).
pub(crate) fn is_damage(e: &rusqlite::Error) -> bool {
    use rusqlite::ffi::ErrorCode;
    matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::DatabaseCorrupt) | Some(ErrorCode::NotADatabase)
    )
}

pub(crate) fn catalog_error(path: &Path, reason: impl Into<String>) -> Error {
    Error::Catalog {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}
