//! Each commit's path → package table, recorded once when a scan first sees the commit,
//! so that a file of a tree that was undeployed and pruned still names the package and
//! version that installed it. Paths are stored in their merged-/usr spelling
//! (`packages::canonical_path`), as the tables are built.
use rusqlite::{params, OptionalExtension};
use std::sync::Arc;

use super::encode::{json_strings, now, strings_of_json};
use super::Catalog;
use crate::error::Result;
use crate::packages::{canonical_path, Manager, PackageInfo, PackageTable};

/// Schema 1 -> 2. `packages` holds each distinct package (successive commits share most of
/// them); optional fields are '' rather than NULL so that UNIQUE sees equal rows as equal.
/// `commit_packages` is the per-commit path table, its paths stored once in
/// `package_paths` (successive commits list the same 100k paths); `commit_package_list` answers "which
/// version of X does this commit hold" without reading every path; `package_scans` says a
/// commit's table was read (even an empty one), so it is read once, and keeps what was
/// wrong with the database then (a JSON array of messages), so every later scan of a
/// deployment of that commit still says its packages are partial.
pub(super) const MIGRATION: &str = "
    CREATE TABLE packages (
        id              INTEGER PRIMARY KEY,
        manager         TEXT NOT NULL CHECK (manager IN ('dpkg', 'rpm')),
        name            TEXT NOT NULL,
        version         TEXT NOT NULL,
        arch            TEXT NOT NULL,
        source          TEXT NOT NULL,
        source_version  TEXT NOT NULL,
        UNIQUE (manager, name, version, arch, source, source_version)
    );
    CREATE TABLE package_paths (
        id          INTEGER PRIMARY KEY,
        path        BLOB NOT NULL UNIQUE
    );
    CREATE TABLE commit_packages (
        commit_id   INTEGER NOT NULL REFERENCES commits (id) ON DELETE CASCADE,
        path_id     INTEGER NOT NULL REFERENCES package_paths (id),
        package_id  INTEGER NOT NULL REFERENCES packages (id),
        PRIMARY KEY (commit_id, path_id)
    ) WITHOUT ROWID;
    CREATE TABLE commit_package_list (
        commit_id   INTEGER NOT NULL REFERENCES commits (id) ON DELETE CASCADE,
        package_id  INTEGER NOT NULL REFERENCES packages (id),
        PRIMARY KEY (commit_id, package_id)
    ) WITHOUT ROWID;
    CREATE TABLE package_scans (
        commit_id   INTEGER PRIMARY KEY REFERENCES commits (id) ON DELETE CASCADE,
        n_paths     INTEGER NOT NULL,
        source      TEXT,
        warnings    TEXT NOT NULL CHECK (json_valid(warnings)),
        scanned_at  INTEGER NOT NULL
    );
";

fn opt(s: &Option<String>) -> &str {
    s.as_deref().unwrap_or("")
}

fn some(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

pub(super) fn package_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<PackageInfo> {
    let manager: String = row.get(0)?;
    Ok(PackageInfo {
        manager: Manager::from_name(&manager).unwrap_or(Manager::Dpkg),
        name: row.get(1)?,
        version: row.get(2)?,
        arch: some(row.get(3)?),
        source: some(row.get(4)?),
        source_version: some(row.get(5)?),
    })
}

/// The statements `package_id` runs: find a package row, add one.
pub(super) fn package_statements(
    conn: &rusqlite::Connection,
) -> rusqlite::Result<(rusqlite::CachedStatement<'_>, rusqlite::CachedStatement<'_>)> {
    let find = conn.prepare_cached(
        "SELECT id FROM packages WHERE manager = ?1 AND name = ?2 AND version = ?3 \
         AND arch = ?4 AND source = ?5 AND source_version = ?6",
    )?;
    let add = conn.prepare_cached(
        "INSERT INTO packages (manager, name, version, arch, source, source_version) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    Ok((find, add))
}

/// The id of package `p` in `packages`, adding it when it is not there yet (each distinct
/// package is stored once, whether a commit's table or a host file names it).
pub(super) fn package_id(
    conn: &rusqlite::Connection,
    find: &mut rusqlite::Statement<'_>,
    add: &mut rusqlite::Statement<'_>,
    p: &PackageInfo,
) -> rusqlite::Result<i64> {
    let key = params![
        p.manager.as_str(),
        p.name,
        p.version,
        opt(&p.arch),
        opt(&p.source),
        opt(&p.source_version)
    ];
    match find.query_row(key, |row| row.get::<_, i64>(0)).optional()? {
        Some(id) => Ok(id),
        None => {
            add.execute(key)?;
            Ok(conn.last_insert_rowid())
        }
    }
}

/// The ids of `packages` in the catalog's `packages`, in their order, adding those not
/// there yet (a commit's table, the host's database and an image layer stack's alike).
pub(super) fn package_ids(
    conn: &rusqlite::Connection,
    packages: &[Arc<PackageInfo>],
) -> rusqlite::Result<Vec<i64>> {
    let (mut find, mut add) = package_statements(conn)?;
    packages
        .iter()
        .map(|p| package_id(conn, &mut find, &mut add, p))
        .collect()
}

/// A recorded database's table without its paths: its `source`, its `warnings` (a JSON
/// array), and the packages `list` selects with `args` (PACKAGE_COLUMNS and the package's
/// id, in the table's order); with each id's index in that list (the first of equal
/// packages, as a read's index names it), for `owners_into`.
pub(super) fn recorded_table(
    conn: &rusqlite::Connection,
    source: Option<String>,
    warnings: &str,
    list: &str,
    args: impl rusqlite::Params,
) -> rusqlite::Result<(PackageTable, std::collections::HashMap<i64, u32>)> {
    let mut table = PackageTable {
        source,
        warnings: strings_of_json(conn, warnings)?,
        ..PackageTable::default()
    };
    let mut index = std::collections::HashMap::new();
    let mut list = conn.prepare_cached(list)?;
    let rows = list.query_map(args, |r| Ok((package_from_row(r)?, r.get::<_, i64>(6)?)))?;
    for row in rows {
        let (p, id) = row?;
        index.entry(id).or_insert(table.packages.len() as u32);
        table.packages.push(Arc::new(p));
    }
    Ok((table, index))
}

/// The owners a record of a database answers for `wanted` (`owner_of`: Some(None) for a path
/// the record says no package lists, None for a path never asked of it), put in
/// `table.paths` by `index` (the record's package ids to the table's list). False when a path
/// was never asked, or names a package outside the record's list: read the database then.
pub(super) fn owners_into(
    table: &mut PackageTable,
    index: &std::collections::HashMap<i64, u32>,
    wanted: &crate::fast_hash::FastSet<Vec<u8>>,
    mut owner_of: impl FnMut(&[u8]) -> rusqlite::Result<Option<Option<i64>>>,
) -> rusqlite::Result<bool> {
    for path in wanted {
        match owner_of(path)? {
            None => return Ok(false),
            Some(None) => {}
            Some(Some(id)) => match index.get(&id) {
                Some(&i) => {
                    table.paths.insert(path.clone(), i);
                }
                // An owner outside the list: not what the catalog writes.
                None => return Ok(false),
            },
        }
    }
    Ok(true)
}

pub(super) const PACKAGE_COLUMNS: &str =
    "p.manager, p.name, p.version, p.arch, p.source, p.source_version";

impl Catalog {
    /// Whether this commit's package table was recorded (it may be empty).
    pub fn has_packages(&self, checksum: &str) -> Result<bool> {
        self.conn
            .prepare_cached(
                "SELECT 1 FROM package_scans s JOIN commits c ON c.id = s.commit_id \
                 WHERE c.checksum = ?1",
            )
            .and_then(|mut stmt| stmt.exists([checksum]))
            .map_err(|e| self.err(e))
    }

    /// Record a recorded commit's package table in one transaction. A commit that is not
    /// recorded, or whose table already is, is left alone.
    pub fn record_packages(&mut self, checksum: &str, table: &PackageTable) -> Result<()> {
        let (tx, path) = self.write_transaction()?;
        let err = |e| super::db_error(&path, e);
        let commit_id: Option<i64> = tx
            .query_row(
                "SELECT c.id FROM commits c WHERE c.checksum = ?1 \
                 AND NOT EXISTS (SELECT 1 FROM package_scans s WHERE s.commit_id = c.id)",
                [checksum],
                |row| row.get(0),
            )
            .optional()
            .map_err(err)?;
        let Some(commit_id) = commit_id else {
            return Ok(());
        };
        {
            let ids = package_ids(&tx, &table.packages).map_err(err)?;
            let mut list = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO commit_package_list (commit_id, package_id) VALUES (?1, ?2)",
                )
                .map_err(err)?;
            for id in &ids {
                list.execute(params![commit_id, id]).map_err(err)?;
            }
            let mut find_path = tx
                .prepare_cached("SELECT id FROM package_paths WHERE path = ?1")
                .map_err(err)?;
            let mut add_path = tx
                .prepare_cached("INSERT INTO package_paths (path) VALUES (?1)")
                .map_err(err)?;
            let mut row = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO commit_packages (commit_id, path_id, package_id) \
                     VALUES (?1, ?2, ?3)",
                )
                .map_err(err)?;
            for (p, i) in &table.paths {
                let Some(id) = ids.get(*i as usize) else {
                    continue;
                };
                let path_id = match find_path
                    .query_row([p], |r| r.get::<_, i64>(0))
                    .optional()
                    .map_err(err)?
                {
                    Some(id) => id,
                    None => {
                        add_path.execute([p]).map_err(err)?;
                        tx.last_insert_rowid()
                    }
                };
                row.execute(params![commit_id, path_id, id]).map_err(err)?;
            }
            tx.execute(
                "INSERT INTO package_scans (commit_id, n_paths, source, warnings, scanned_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    commit_id,
                    table.paths.len() as i64,
                    table.source,
                    json_strings(&table.warnings),
                    now()
                ],
            )
            .map_err(err)?;
        }
        tx.commit().map_err(err)
    }

    /// What was wrong with this commit's package database when its table was recorded.
    pub fn package_warnings(&self, checksum: &str) -> Result<Vec<String>> {
        let text: Option<String> = self
            .conn
            .prepare_cached(
                "SELECT s.warnings FROM package_scans s JOIN commits c ON c.id = s.commit_id \
                 WHERE c.checksum = ?1",
            )
            .and_then(|mut stmt| stmt.query_row([checksum], |r| r.get(0)).optional())
            .map_err(|e| self.err(e))?;
        let Some(text) = text else {
            return Ok(Vec::new());
        };
        strings_of_json(&self.conn, &text).map_err(|e| self.err(e))
    }

    /// The package that installed `path` (any spelling) in this commit.
    pub fn package_at(&self, checksum: &str, path: &[u8]) -> Result<Option<PackageInfo>> {
        let path = canonical_path(path);
        self.conn
            .prepare_cached(&format!(
                "SELECT {PACKAGE_COLUMNS} FROM package_paths pp \
                 JOIN commit_packages cp ON cp.path_id = pp.id \
                 JOIN commits c ON c.id = cp.commit_id \
                 JOIN packages p ON p.id = cp.package_id \
                 WHERE c.checksum = ?1 AND pp.path = ?2"
            ))
            .and_then(|mut stmt| {
                stmt.query_row(params![checksum, path.as_ref()], package_from_row)
                    .optional()
            })
            .map_err(|e| self.err(e))
    }

    /// Every package of this commit named `name` (several architectures may be installed).
    pub fn commit_package(&self, checksum: &str, name: &str) -> Result<Vec<PackageInfo>> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {PACKAGE_COLUMNS} FROM commit_package_list cl \
                 JOIN commits c ON c.id = cl.commit_id \
                 JOIN packages p ON p.id = cl.package_id \
                 WHERE c.checksum = ?1 AND p.name = ?2 ORDER BY p.arch"
            ))
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![checksum, name], package_from_row)
            .and_then(|rows| rows.collect());
        rows.map_err(|e| self.err(e))
    }
}
