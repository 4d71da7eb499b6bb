//! What image layer stacks' package databases said, as the scans that read them answered:
//! per stack, its stamp (the fingerprint of every layer's database files, top-most first:
//! `containers::StoreCache::table`), the owner of every path a scan asked about (none being
//! an answer too), and its package list in the database's order. A later `livetree status`
//! answers from here while the stamp is unchanged and every path it wants was asked
//! before, instead of reading the image's `status` and its `info/*.list` files again
//! (docs/containers.md, "Cost"). Only stacks of image layers are kept: the engine writes
//! an image layer once and never changes it, and a changed database file has another stamp.
use std::collections::{HashMap, HashSet};

use rusqlite::{params, OptionalExtension};

use super::encode::{json_strings, now, strings_of_json};
use super::packages::{package_from_row, package_id, package_statements, PACKAGE_COLUMNS};
use super::Catalog;
use crate::error::Result;
use crate::packages::PackageTable;

/// Schema 6 -> 7. `layer_owners.package_id` NULL says that no package lists the path;
/// `layer_database_packages.position` keeps the database's own order of its packages.
pub(super) const MIGRATION: &str = "
    CREATE TABLE layer_databases (
        id          INTEGER PRIMARY KEY,
        fingerprint BLOB NOT NULL UNIQUE,
        source      TEXT,
        warnings    TEXT NOT NULL CHECK (json_valid(warnings)),
        read_at     INTEGER NOT NULL
    );
    CREATE TABLE layer_database_packages (
        database_id INTEGER NOT NULL REFERENCES layer_databases (id) ON DELETE CASCADE,
        position    INTEGER NOT NULL,
        package_id  INTEGER NOT NULL REFERENCES packages (id),
        PRIMARY KEY (database_id, position)
    ) WITHOUT ROWID;
    CREATE TABLE layer_owners (
        database_id INTEGER NOT NULL REFERENCES layer_databases (id) ON DELETE CASCADE,
        path        BLOB NOT NULL,
        package_id  INTEGER REFERENCES packages (id),
        PRIMARY KEY (database_id, path)
    ) WITHOUT ROWID;
";

/// How many layer stacks' records are kept (the newest read).
const KEPT_STACKS: i64 = 64;

impl Catalog {
    /// The table of the layer stack stamped `fingerprint` for `wanted` (canonical paths; an
    /// empty set asks for its packages only), when it was recorded with owners of all of
    /// them; None means: read the database.
    pub fn layer_database(
        &self,
        fingerprint: &[u8],
        wanted: &HashSet<Vec<u8>>,
    ) -> Result<Option<PackageTable>> {
        let err = |e| self.err(e);
        let head: Option<(i64, Option<String>, String)> = self
            .conn
            .prepare_cached(
                "SELECT id, source, warnings FROM layer_databases WHERE fingerprint = ?1",
            )
            .and_then(|mut s| {
                s.query_row([fingerprint], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                    .optional()
            })
            .map_err(err)?;
        let Some((db, source, warnings)) = head else {
            return Ok(None);
        };
        let mut table = PackageTable {
            source,
            warnings: strings_of_json(&self.conn, &warnings).map_err(err)?,
            ..PackageTable::default()
        };
        let mut index: HashMap<i64, u32> = HashMap::new();
        {
            let mut list = self
                .conn
                .prepare_cached(&format!(
                    "SELECT {PACKAGE_COLUMNS}, p.id FROM layer_database_packages l \
                     JOIN packages p ON p.id = l.package_id \
                     WHERE l.database_id = ?1 ORDER BY l.position"
                ))
                .map_err(err)?;
            let rows = list
                .query_map([db], |r| Ok((package_from_row(r)?, r.get::<_, i64>(6)?)))
                .map_err(err)?;
            for row in rows {
                let (p, id) = row.map_err(err)?;
                // The first of equal packages, as a read's index names it.
                index.entry(id).or_insert(table.packages.len() as u32);
                table.packages.push(p);
            }
        }
        let mut owner = self
            .conn
            .prepare_cached(
                "SELECT package_id FROM layer_owners WHERE database_id = ?1 AND path = ?2",
            )
            .map_err(err)?;
        for path in wanted {
            let found: Option<Option<i64>> = owner
                .query_row(params![db, path], |r| r.get(0))
                .optional()
                .map_err(err)?;
            match found {
                None => return Ok(None),
                Some(None) => {}
                Some(Some(id)) => match index.get(&id) {
                    Some(&i) => {
                        table.paths.insert(path.clone(), i);
                    }
                    // An owner outside the list: not what this module writes. Read again.
                    None => return Ok(None),
                },
            }
        }
        Ok(Some(table))
    }

    /// Record what the layer stack stamped `fingerprint` said about `wanted`: `table` was
    /// read for them. The same stamp recorded before gains the paths not asked about then.
    pub fn record_layer_database(
        &mut self,
        fingerprint: &[u8],
        table: &PackageTable,
        wanted: &HashSet<Vec<u8>>,
    ) -> Result<()> {
        let (tx, path) = self.write_transaction()?;
        let err = |e| super::db_error(&path, e);
        {
            let (mut find, mut add) = package_statements(&tx).map_err(err)?;
            let mut ids = Vec::with_capacity(table.packages.len());
            for p in &table.packages {
                ids.push(package_id(&tx, &mut find, &mut add, p).map_err(err)?);
            }
            let known: Option<i64> = tx
                .query_row(
                    "SELECT id FROM layer_databases WHERE fingerprint = ?1",
                    [fingerprint],
                    |r| r.get(0),
                )
                .optional()
                .map_err(err)?;
            let db = match known {
                Some(db) => {
                    let recorded: Vec<i64> = tx
                        .prepare_cached(
                            "SELECT package_id FROM layer_database_packages \
                             WHERE database_id = ?1 ORDER BY position",
                        )
                        .and_then(|mut s| {
                            s.query_map([db], |r| r.get(0))?
                                .collect::<rusqlite::Result<_>>()
                        })
                        .map_err(err)?;
                    // The same database read twice lists the same packages in the same order.
                    if recorded != ids {
                        return Err(super::catalog_error(
                            &path,
                            "a layer database record does not match its stamp".to_string(),
                        ));
                    }
                    db
                }
                None => {
                    tx.execute(
                        "INSERT INTO layer_databases (fingerprint, source, warnings, read_at) \
                         VALUES (?1, ?2, ?3, ?4)",
                        params![
                            fingerprint,
                            table.source,
                            json_strings(&table.warnings),
                            now()
                        ],
                    )
                    .map_err(err)?;
                    let db = tx.last_insert_rowid();
                    let mut list = tx
                        .prepare_cached(
                            "INSERT INTO layer_database_packages (database_id, position, package_id) \
                             VALUES (?1, ?2, ?3)",
                        )
                        .map_err(err)?;
                    for (i, id) in ids.iter().enumerate() {
                        list.execute(params![db, i as i64, id]).map_err(err)?;
                    }
                    // The stacks seen last are kept; an image long gone is read again if
                    // it ever comes back.
                    tx.execute(
                        "DELETE FROM layer_databases WHERE id NOT IN \
                         (SELECT id FROM layer_databases ORDER BY read_at DESC, id DESC LIMIT ?1)",
                        [KEPT_STACKS],
                    )
                    .map_err(err)?;
                    db
                }
            };
            let mut put = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO layer_owners (database_id, path, package_id) \
                     VALUES (?1, ?2, ?3)",
                )
                .map_err(err)?;
            for p in wanted {
                let id = table.paths.get(p).map(|&i| ids[i as usize]);
                put.execute(params![db, p, id]).map_err(err)?;
            }
        }
        tx.commit().map_err(err)
    }
}
