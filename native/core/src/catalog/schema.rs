//! The catalog's schema, its version (`PRAGMA user_version`) and the migrations between versions.
use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, TransactionBehavior};

use super::{catalog_error, db_error, DAMAGED_HINT};
use crate::error::Result;

/// The schema version this livetree writes. `MIGRATIONS[n]` takes a catalog from version `n`
/// to `n + 1`, so an old catalog is brought up to date step by step and never rebuilt.
pub const SCHEMA_VERSION: i64 = 8;

const MIGRATIONS: &[&str] = &[
    // 0 -> 1: the first schema.
    //
    // A commit's files are stored once per distinct (path, object, is_symlink) in `files`,
    // and `commit_files` links commits to them: successive commits share almost all of their
    // files, so this keeps a catalog that has seen many 100k-file commits small.
    // Object checksums are 32-byte blobs (half the size of hex) and indexed, since looking a
    // file up by its content checksum is what the catalog is for.
    // `commits.n_files` lets a salvage tell a complete commit from a partly readable one.
    "
    CREATE TABLE commits (
        id          INTEGER PRIMARY KEY,
        checksum    TEXT NOT NULL UNIQUE CHECK (length(checksum) = 64),
        version     TEXT,
        subject     TEXT,
        timestamp   INTEGER NOT NULL,
        parent      TEXT,
        osname      TEXT,
        refspec     TEXT,
        n_files     INTEGER NOT NULL,
        first_seen  INTEGER NOT NULL,
        last_seen   INTEGER NOT NULL
    );
    CREATE TABLE files (
        id          INTEGER PRIMARY KEY,
        path        BLOB NOT NULL,
        object      BLOB NOT NULL CHECK (length(object) = 32),
        is_symlink  INTEGER NOT NULL CHECK (is_symlink IN (0, 1)),
        UNIQUE (path, object, is_symlink)
    );
    CREATE INDEX files_object ON files (object);
    CREATE TABLE commit_files (
        commit_id   INTEGER NOT NULL REFERENCES commits (id) ON DELETE CASCADE,
        file_id     INTEGER NOT NULL REFERENCES files (id),
        PRIMARY KEY (commit_id, file_id)
    ) WITHOUT ROWID;
    CREATE INDEX commit_files_file ON commit_files (file_id);
    CREATE TABLE deployments (
        id              TEXT PRIMARY KEY,
        osname          TEXT NOT NULL,
        commit_checksum TEXT NOT NULL,
        dir_dev         INTEGER NOT NULL,
        dir_ino         INTEGER NOT NULL,
        path            BLOB NOT NULL,
        first_seen      INTEGER NOT NULL,
        last_seen       INTEGER NOT NULL
    );
    CREATE INDEX deployments_dir ON deployments (dir_dev, dir_ino);
    CREATE TABLE restarts (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        unit        TEXT NOT NULL,
        started_at  INTEGER NOT NULL,
        old_pids    TEXT NOT NULL CHECK (json_valid(old_pids)),
        stale_files TEXT NOT NULL CHECK (json_valid(stale_files)),
        job_result  TEXT,
        new_pids    TEXT CHECK (new_pids IS NULL OR json_valid(new_pids)),
        verdict     TEXT,
        details     TEXT CHECK (details IS NULL OR json_valid(details)),
        finished_at INTEGER,
        state       TEXT NOT NULL CHECK (state IN ('in-progress', 'done'))
    );
    ",
    // 1 -> 2: composefs images. A deployment booted through composefs runs from its EROFS
    // image, which stays mounted (detached) after the deployment is undeployed and pruned;
    // its entries (path, inode number, object) are what still ties such a process's files
    // to their commit, so they are kept from the first scan that sees the deployment.
    "
    CREATE TABLE composefs_images (
        deployment_id   TEXT PRIMARY KEY,
        commit_checksum TEXT NOT NULL,
        image           BLOB NOT NULL,
        root_ino        INTEGER NOT NULL,
        first_seen      INTEGER NOT NULL
    );
    CREATE TABLE composefs_entries (
        deployment_id   TEXT NOT NULL REFERENCES composefs_images (deployment_id) ON DELETE CASCADE,
        path            BLOB NOT NULL,
        ino             INTEGER NOT NULL,
        size            INTEGER NOT NULL,
        is_dir          INTEGER NOT NULL CHECK (is_dir IN (0, 1)),
        object          BLOB CHECK (object IS NULL OR length(object) = 32),
        PRIMARY KEY (deployment_id, path)
    ) WITHOUT ROWID;
    ",
    // 2 -> 3: each commit's path -> package table (catalog/packages.rs).
    super::packages::MIGRATION,
    // 3 -> 4: host-root files with the package they had when a scan saw them current
    // (catalog/host_files.rs), so a file an upgrade replaced still names its version.
    super::host_files::MIGRATION,
    // 4 -> 5: what the host's package database said, under the stamp of its files
    // (catalog/host_database.rs), so a scan need not read it again while it is unchanged.
    super::host_database::MIGRATION,
    // 5 -> 6: the timeline of what ran when (catalog/timeline.rs).
    super::timeline::MIGRATION,
    // 6 -> 7: what image layer stacks' package databases said, under the stamp of their
    // files (catalog/layer_databases.rs), so a fresh scan need not read them again.
    super::layer_databases::MIGRATION,
    // 7 -> 8: each package origin of the timeline with its source package's name and
    // version, backfilled from `packages` where one source is known (catalog/timeline_sources.rs).
    super::timeline_sources::MIGRATION,
];

/// How long a writer waits for another one (another scan, another process) before giving up.
/// Recording a 100k-file commit takes about a second, so this is generous.
const BUSY_TIMEOUT: Duration = Duration::from_secs(60);

/// Per-connection settings. WAL lets readers run beside a writer and makes a commit atomic
/// across a crash; `synchronous = NORMAL` is crash-safe in WAL mode (a power cut may lose the
/// last transaction, never corrupt the file).
pub(super) fn configure(conn: &Connection, path: &Path) -> Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(|e| db_error(path, e))?;
    // Switching to WAL needs a moment of exclusive access; when two processes create the
    // catalog at the same instant one of them may see SQLITE_BUSY here despite the timeout.
    let mut attempts = 0;
    let mode: String = loop {
        match conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0)) {
            Ok(mode) => break mode,
            Err(e) if is_busy(&e) && attempts < 100 => {
                attempts += 1;
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => return Err(db_error(path, e)),
        }
    };
    // An in-memory catalog (the fallback for one scan) has no file to journal: "memory".
    let memory_ok = path == Path::new(":memory:") && mode.eq_ignore_ascii_case("memory");
    if !mode.eq_ignore_ascii_case("wal") && !memory_ok {
        return Err(catalog_error(
            path,
            format!("cannot switch the catalog to WAL mode (it stays in {mode} mode)"),
        ));
    }
    conn.execute_batch("PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;")
        .map_err(|e| db_error(path, e))?;
    Ok(())
}

fn is_busy(e: &rusqlite::Error) -> bool {
    use rusqlite::ffi::ErrorCode;
    matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::DatabaseBusy) | Some(ErrorCode::DatabaseLocked)
    )
}

/// `PRAGMA quick_check`: catches damaged pages and broken b-trees before we write into them.
/// `Catalog::open` skips it when the file is exactly as livetree left it (`verified.rs`).
pub(super) fn quick_check(conn: &Connection, path: &Path) -> Result<()> {
    super::verified::count_quick_check();
    let mut stmt = conn
        .prepare("PRAGMA quick_check(20)")
        .map_err(|e| db_error(path, e))?;
    let problems: Vec<String> = stmt
        .query_map([], |row| row.get::<_, String>(0))
        .and_then(|rows| rows.collect())
        .map_err(|e| db_error(path, e))?;
    if problems.len() == 1 && problems[0] == "ok" {
        return Ok(());
    }
    Err(catalog_error(
        path,
        format!(
            "the catalog file is damaged (quick_check: {}); {DAMAGED_HINT}",
            problems.join("; ")
        ),
    ))
}

pub(super) fn user_version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("PRAGMA user_version", [], |row| row.get(0))
}

/// Bring the schema to `SCHEMA_VERSION`. The check and the migration happen inside one
/// write transaction so that two processes opening a new catalog at once create it once.
pub(super) fn migrate(conn: &Connection, path: &Path) -> Result<()> {
    let err = |e| db_error(path, e);
    if user_version(conn).map_err(err)? == SCHEMA_VERSION {
        return Ok(());
    }
    let tx =
        rusqlite::Transaction::new_unchecked(conn, TransactionBehavior::Immediate).map_err(err)?;
    let version = user_version(&tx).map_err(err)?;
    if version > SCHEMA_VERSION {
        return Err(catalog_error(
            path,
            format!(
                "the catalog has schema version {version}, written by a newer livetree; \
                 this livetree knows up to version {SCHEMA_VERSION}: upgrade livetree, \
                 or point it to another catalog file"
            ),
        ));
    }
    if version < 0 {
        return Err(catalog_error(
            path,
            format!("the catalog has an invalid schema version {version}; {DAMAGED_HINT}"),
        ));
    }
    if version == 0 {
        // A version-0 file with tables in it is some other program's database: refuse it
        // rather than mixing our tables into it.
        let tables: i64 = tx
            .query_row("SELECT count(*) FROM sqlite_schema", [], |row| row.get(0))
            .map_err(err)?;
        if tables > 0 {
            return Err(catalog_error(
                path,
                "this SQLite file is not a livetree catalog (it has tables but no livetree \
                 schema version); point livetree to another catalog file",
            ));
        }
    }
    for (from, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        tx.execute_batch(sql).map_err(|e| {
            catalog_error(
                path,
                format!("migrating the catalog schema from version {from}: {e}"),
            )
        })?;
    }
    tx.execute_batch(&format!("PRAGMA user_version = {SCHEMA_VERSION}"))
        .map_err(err)?;
    tx.commit().map_err(err)?;
    Ok(())
}
