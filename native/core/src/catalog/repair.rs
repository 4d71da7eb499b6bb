//! `livetree catalog check` and `livetree catalog rebuild`: inspecting a catalog without
//! changing it, and replacing a damaged one while keeping the damaged file and salvaging
//! every row that can still be read.
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

use super::commits::{insert_commit, read_commit_files, CommitRecord};
use super::encode::{checksum_bytes, now, utc_stamp};
use super::schema::{user_version, SCHEMA_VERSION};
use super::{db_error, Catalog};
use crate::error::{Error, Result};

/// What `check` found. `ok` is true exactly when `problems` is empty. A count is `None`
/// when it could not be read. Counts are `i64`, SQLite's own integer (and a JavaScript
/// number, where napi would make a `u64` a BigInt).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "napi", napi_derive::napi(object, object_from_js = false))]
pub struct CheckReport {
    /// The catalog file checked.
    pub path: PathBuf,
    /// Nothing is wrong: `problems` is empty.
    pub ok: bool,
    /// Each problem found, in words a user can read.
    pub problems: Vec<String>,
    /// The schema version the file claims, when readable.
    pub schema_version: Option<i64>,
    /// How many commits are recorded, when countable.
    pub commits: Option<i64>,
    /// How many commit files are recorded, when countable.
    pub files: Option<i64>,
    /// How many deployments are recorded, when countable.
    pub deployments: Option<i64>,
    /// How many restarts are recorded, when countable.
    pub restarts: Option<i64>,
    /// How many restarts never finished, when countable.
    pub restarts_in_progress: Option<i64>,
    /// The timeline's scans, intervals and prunings (schema 6 on), when readable.
    pub timeline: Option<super::TimelineCounts>,
}

/// What `rebuild` did. Every row of the old file that was not copied is accounted for in
/// `lost`, in words a user can read.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "napi", napi_derive::napi(object, object_from_js = false))]
pub struct RebuildReport {
    /// The catalog file rebuilt.
    pub path: PathBuf,
    /// Where the old file now is (`None` if there was no old file). Its `-wal` and `-shm`
    /// companions, if any, were moved along under the matching names.
    pub moved_to: Option<PathBuf>,
    /// How many commits were copied to the new file.
    pub commits_salvaged: i64,
    /// How many deployments were copied to the new file.
    pub deployments_salvaged: i64,
    /// How many restarts were copied to the new file.
    pub restarts_salvaged: i64,
    /// How many host files (with the package each had) were copied to the new file.
    pub host_files_salvaged: i64,
    /// How many commits' package tables were copied to the new file.
    pub package_tables_salvaged: i64,
    /// How many composefs images' entries were copied to the new file.
    pub composefs_images_salvaged: i64,
    /// What could not be copied, in words a user can read.
    pub lost: Vec<String>,
}

/// Open an existing catalog file without ever writing to it.
fn open_read_only(path: &Path) -> Result<Connection> {
    super::read_only_connection(path)
}

pub(super) fn check(path: &Path) -> Result<CheckReport> {
    let conn = open_read_only(path)?;
    let mut problems = Vec::new();
    let damaged = |problems: &mut Vec<String>, what: &str, e: rusqlite::Error| {
        problems.push(format!("{what}: {e}"));
    };
    match conn
        .prepare("PRAGMA integrity_check(100)")
        .and_then(|mut stmt| {
            stmt.query_map([], |row| row.get::<_, String>(0))
                .and_then(|rows| rows.collect::<rusqlite::Result<Vec<String>>>())
        }) {
        Ok(lines) if lines.len() == 1 && lines[0] == "ok" => {}
        Ok(lines) => problems.extend(lines.into_iter().map(|l| format!("integrity_check: {l}"))),
        Err(e) => damaged(&mut problems, "integrity_check", e),
    }
    let schema_version = match user_version(&conn) {
        Ok(v) => {
            if v > SCHEMA_VERSION {
                problems.push(format!(
                    "schema version {v} is newer than this livetree's ({SCHEMA_VERSION})"
                ));
            } else if v < SCHEMA_VERSION {
                problems.push(format!(
                    "schema version {v} is older than {SCHEMA_VERSION}; opening the catalog \
                     will migrate it"
                ));
            }
            Some(v)
        }
        Err(e) => {
            damaged(&mut problems, "schema version", e);
            None
        }
    };
    let mut count = |sql: &str, what: &str| -> Option<i64> {
        match conn.query_row(sql, [], |row| row.get::<_, i64>(0)) {
            Ok(n) => Some(n.max(0)),
            Err(e) => {
                damaged(&mut problems, what, e);
                None
            }
        }
    };
    let commits = count("SELECT count(*) FROM commits", "counting commits");
    let files = count("SELECT count(*) FROM files", "counting files");
    let deployments = count("SELECT count(*) FROM deployments", "counting deployments");
    let restarts = count("SELECT count(*) FROM restarts", "counting restarts");
    let restarts_in_progress = count(
        "SELECT count(*) FROM restarts WHERE state = 'in-progress'",
        "counting restarts in progress",
    );
    let timeline = match schema_version {
        Some(v) if v >= 6 => match super::timeline_retention::counts(&conn) {
            Ok(t) => Some(t),
            Err(e) => {
                damaged(&mut problems, "reading the timeline", e);
                None
            }
        },
        _ => None,
    };
    Ok(CheckReport {
        path: path.to_path_buf(),
        ok: problems.is_empty(),
        problems,
        schema_version,
        commits,
        files,
        deployments,
        restarts,
        restarts_in_progress,
        timeline,
    })
}

/// `path` with `suffix` appended to its file name (`catalog.sqlite` + `-wal`).
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name: OsString = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// A name next to `path` that nothing uses yet: `<name>.corrupt-<UTC stamp>[.N]`.
fn aside_name(path: &Path) -> PathBuf {
    let base = with_suffix(path, &format!(".corrupt-{}", utc_stamp(now())));
    let mut candidate = base.clone();
    let mut n = 1;
    while candidate.symlink_metadata().is_ok()
        || with_suffix(&candidate, "-wal").symlink_metadata().is_ok()
    {
        candidate = with_suffix(&base, &format!(".{n}"));
        n += 1;
    }
    candidate
}

fn rename(from: &Path, to: &Path) -> Result<()> {
    std::fs::rename(from, to).map_err(|e| Error::Io {
        path: from.to_path_buf(),
        source: std::io::Error::new(
            e.kind(),
            format!("cannot move it aside to {}: {e}", to.display()),
        ),
    })
}

pub(super) fn rebuild(path: &Path) -> Result<RebuildReport> {
    let exists = match std::fs::symlink_metadata(path) {
        Ok(_) => true,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(e) => return Err(Error::from_io(path, e)),
    };
    let mut report = RebuildReport {
        path: path.to_path_buf(),
        moved_to: None,
        commits_salvaged: 0,
        deployments_salvaged: 0,
        restarts_salvaged: 0,
        host_files_salvaged: 0,
        package_tables_salvaged: 0,
        composefs_images_salvaged: 0,
        lost: Vec::new(),
    };
    if !exists {
        Catalog::open(path)?;
        return Ok(report);
    }
    // The WAL may hold committed transactions not yet copied into the main file, so it
    // moves along; the name `<aside>-wal` is where SQLite looks for it when we salvage.
    let aside = aside_name(path);
    rename(path, &aside)?;
    for suffix in ["-wal", "-shm"] {
        let companion = with_suffix(path, suffix);
        if companion.symlink_metadata().is_ok() {
            rename(&companion, &with_suffix(&aside, suffix))?;
        }
    }
    report.moved_to = Some(aside.clone());
    let mut fresh = Catalog::open(path)?;
    match open_read_only(&aside).and_then(|old| {
        // The first read tells whether the file is a database at all.
        user_version(&old)
            .map_err(|e| db_error(&aside, e))
            .map(|_| old)
    }) {
        Ok(old) => salvage(old, &aside, &mut fresh, &mut report),
        Err(e) => report.lost.push(format!(
            "nothing could be read from the old file, so all it held is lost: {e}"
        )),
    }
    Ok(report)
}

/// The rowids of `table` that can be read. Rows on a damaged page cannot; the scan then skips
/// ahead to the first rowid that can be reached again, and says what it skipped.
fn readable_rowids(conn: &Connection, table: &str, lost: &mut Vec<String>) -> Vec<i64> {
    let mut out = Vec::new();
    let max: Option<i64> = conn
        .query_row(&format!("SELECT max(rowid) FROM {table}"), [], |row| {
            row.get(0)
        })
        .ok()
        .flatten();
    let probe = |start: i64| -> bool {
        conn.query_row(
            &format!("SELECT rowid FROM {table} WHERE rowid >= ?1 ORDER BY rowid LIMIT 1"),
            [start],
            |row| row.get::<_, i64>(0),
        )
        .optional()
        .map(|row| row.is_some())
        .unwrap_or(false)
    };
    let mut cursor = i64::MIN;
    loop {
        let before = out.len();
        let scan = conn
            .prepare(&format!(
                "SELECT rowid FROM {table} WHERE rowid >= ?1 ORDER BY rowid"
            ))
            .and_then(|mut stmt| {
                let mut rows = stmt.query([cursor])?;
                while let Some(row) = rows.next()? {
                    out.push(row.get::<_, i64>(0)?);
                }
                Ok(())
            });
        let Err(e) = scan else { break };
        let failed_after = if out.len() > before {
            out[out.len() - 1]
        } else {
            cursor
        };
        // Find a start beyond the damage: double the gap until a seek works, then narrow it
        // down so that no readable row right after the damage is skipped.
        let Some(max) = max else {
            lost.push(format!(
                "{table}: rows after rowid {failed_after} could not be read: {e}"
            ));
            break;
        };
        let mut bad = failed_after;
        let mut good = None;
        let mut step: i64 = 1;
        while let Some(start) = failed_after.checked_add(step) {
            if start > max {
                break;
            }
            if probe(start) {
                good = Some(start);
                break;
            }
            bad = start;
            step = step.saturating_mul(2);
        }
        let Some(mut good) = good else {
            lost.push(format!(
                "{table}: rows after rowid {failed_after} could not be read: {e}"
            ));
            break;
        };
        while good - bad > 1 {
            let mid = bad + (good - bad) / 2;
            if probe(mid) {
                good = mid;
            } else {
                bad = mid;
            }
        }
        lost.push(format!(
            "{table}: rows with rowid between {failed_after} and {good} (exclusive) could not \
             be read: {e}"
        ));
        cursor = good;
    }
    out
}

fn salvage(old: Connection, aside: &Path, fresh: &mut Catalog, report: &mut RebuildReport) {
    let mut lost = Vec::new();
    report.restarts_salvaged = copy_rows(&old, fresh, "restarts", &mut lost);
    report.deployments_salvaged = copy_rows(&old, fresh, "deployments", &mut lost);
    report.commits_salvaged = copy_commits(&old, fresh, &mut lost);
    // The timeline is history, not knowledge a scan needs: it starts again, and says so.
    if let Ok(n) = old.query_row("SELECT count(*) FROM timeline_scans", [], |r| {
        r.get::<_, i64>(0)
    }) {
        if n > 0 {
            lost.push(format!(
                "the timeline ({n} scans and their intervals) is not salvaged; it starts again with the next scan"
            ));
        }
    }
    // The records after the commits they belong to, read through the catalog's own readers.
    let old = Catalog {
        conn: old,
        path: aside.to_path_buf(),
        read_only: true,
        host_files_seen: Default::default(),
        stamp_on_close: None,
    };
    let records = super::salvage_records::salvage_records(&old, fresh, &mut lost);
    report.host_files_salvaged = records.host_files;
    report.package_tables_salvaged = records.package_tables;
    report.composefs_images_salvaged = records.composefs_images;
    report.lost.extend(lost);
}

/// Copy every readable row of a small table as it is (ids included), one row at a time so
/// one bad row costs only itself.
fn copy_rows(old: &Connection, fresh: &Catalog, table: &str, lost: &mut Vec<String>) -> i64 {
    let mut copied = 0;
    for rowid in readable_rowids(old, table, lost) {
        let row = old
            .prepare_cached(&format!("SELECT * FROM {table} WHERE rowid = ?1"))
            .and_then(|mut stmt| {
                let names: Vec<String> =
                    stmt.column_names().iter().map(|s| s.to_string()).collect();
                let values = stmt.query_row([rowid], |row| {
                    (0..names.len())
                        .map(|i| row.get::<_, Value>(i))
                        .collect::<rusqlite::Result<Vec<Value>>>()
                })?;
                Ok((names, values))
            });
        let result = row.and_then(|(names, values)| {
            let placeholders: Vec<String> = (1..=names.len()).map(|i| format!("?{i}")).collect();
            fresh.conn.execute(
                &format!(
                    "INSERT INTO {table} ({}) VALUES ({})",
                    names.join(", "),
                    placeholders.join(", ")
                ),
                rusqlite::params_from_iter(values),
            )
        });
        match result {
            Ok(_) => copied += 1,
            Err(e) => lost.push(format!("{table}: row {rowid} could not be copied: {e}")),
        }
    }
    copied
}

/// Copy every commit whose files can all be read; a commit is copied whole or not at all,
/// as when it was recorded. A lost commit is recorded again by the next scan that sees it.
fn copy_commits(old: &Connection, fresh: &mut Catalog, lost: &mut Vec<String>) -> i64 {
    let mut copied = 0;
    for rowid in readable_rowids(old, "commits", lost) {
        let read = old.query_row(
            "SELECT checksum, version, subject, timestamp, parent, osname, refspec, \
                 n_files, first_seen, last_seen FROM commits WHERE rowid = ?1",
            [rowid],
            |row| {
                Ok((
                    CommitRecord {
                        checksum: row.get(0)?,
                        version: row.get(1)?,
                        subject: row.get(2)?,
                        timestamp: row.get::<_, i64>(3)?.max(0) as u64,
                        parent: row.get(4)?,
                        osname: row.get(5)?,
                        refspec: row.get(6)?,
                        files: Vec::new(),
                    },
                    row.get::<_, i64>(7)?,
                    row.get::<_, i64>(8)?,
                    row.get::<_, i64>(9)?,
                ))
            },
        );
        let (mut commit, n_files, first_seen, last_seen) = match read {
            Ok(read) => read,
            Err(e) => {
                lost.push(format!("commits: row {rowid} could not be read: {e}"));
                continue;
            }
        };
        commit.files = match read_commit_files(old, rowid) {
            Ok(files) => files,
            Err(e) => {
                lost.push(format!(
                    "commit {}: its files could not be read ({e}); it is left out and will be \
                     recorded again when a scan sees it",
                    commit.checksum
                ));
                continue;
            }
        };
        if commit.files.len() as i64 != n_files {
            lost.push(format!(
                "commit {}: only {} of its {n_files} files could be read; it is left out and \
                 will be recorded again when a scan sees it",
                commit.checksum,
                commit.files.len()
            ));
            continue;
        }
        let objects: Option<Vec<[u8; 32]>> = commit
            .files
            .iter()
            .map(|f| checksum_bytes(&f.object))
            .collect();
        let Some(objects) = objects else {
            lost.push(format!(
                "commit {}: a file's object checksum is damaged; it is left out",
                commit.checksum
            ));
            continue;
        };
        let result = fresh
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .and_then(|tx| {
                insert_commit(&tx, &commit, &objects, first_seen, last_seen)?;
                tx.commit()
            });
        match result {
            Ok(()) => copied += 1,
            Err(e) => lost.push(format!(
                "commit {}: could not be copied: {e}",
                commit.checksum
            )),
        }
    }
    copied
}
