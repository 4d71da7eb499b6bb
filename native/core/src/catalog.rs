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
mod deployments;
mod encode;
mod packages;
mod repair;
mod restarts;
mod schema;

use std::path::{Path, PathBuf};

use rusqlite::Connection;

use crate::error::{Error, Result};

pub use commits::{CatalogFile, CommitInfo, CommitRecord, ObjectHit, PathHit};
pub use deployments::{DeploymentInfo, DeploymentRecord};
pub use repair::{CheckReport, RebuildReport};
pub use restarts::{RestartEnd, RestartRecord, RestartStart, RestartState};
pub use schema::SCHEMA_VERSION;

/// What the user should do when the catalog file is damaged; appended to such errors.
const DAMAGED_HINT: &str = "run `livetree catalog check` to inspect it, then \
    `livetree catalog rebuild` to move it aside and salvage what can be read";

/// An open catalog. One SQLite connection; other processes may hold their own at the same time.
pub struct Catalog {
    conn: Connection,
    path: PathBuf,
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
        schema::configure(&conn, path)?;
        schema::quick_check(&conn, path)?;
        schema::migrate(&conn, path)?;
        Ok(Catalog {
            conn,
            path: path.to_path_buf(),
        })
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
}

/// Turn a SQLite error into `Error::Catalog` with the path; damage gets the user hint.
pub(crate) fn db_error(path: &Path, e: rusqlite::Error) -> Error {
    let reason = if is_damage(&e) {
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
