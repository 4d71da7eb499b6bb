//! What image layer stacks' package databases said, as the scans that read them answered:
//! per stack, its stamp (the fingerprint of every layer's database files, top-most first:
//! `containers::StoreCache::table`), the owner of every path a scan asked about (none being
//! an answer too), and its package list in the database's order. A later `livetree status`
//! answers from here while the stamp is unchanged and every path it wants was asked
//! before, instead of reading the image's `status` and its `info/*.list` files again
//! (docs/containers.md, "Cost"). Only stacks of image layers are kept: the engine writes
//! an image layer once and never changes it, and a changed database file has another stamp.

use rusqlite::{params, OptionalExtension};

use super::encode::{json_strings, now};
use super::packages::{owners_into, package_ids, recorded_table, PACKAGE_COLUMNS};
use super::Catalog;
use crate::error::Result;
use crate::fast_hash::FastSet;
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
        wanted: &FastSet<Vec<u8>>,
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
        let list = format!(
            "SELECT {PACKAGE_COLUMNS}, p.id FROM layer_database_packages l \
             JOIN packages p ON p.id = l.package_id \
             WHERE l.database_id = ?1 ORDER BY l.position"
        );
        let (mut table, index) =
            recorded_table(&self.conn, source, &warnings, &list, [db]).map_err(err)?;
        let mut owner = self
            .conn
            .prepare_cached(
                "SELECT package_id FROM layer_owners WHERE database_id = ?1 AND path = ?2",
            )
            .map_err(err)?;
        let complete = owners_into(&mut table, &index, wanted, |path| {
            owner.query_row(params![db, path], |r| r.get(0)).optional()
        })
        .map_err(err)?;
        Ok(complete.then_some(table))
    }

    /// Record what the layer stack stamped `fingerprint` said about `wanted`: `table` was
    /// read for them. The same stamp recorded before gains the paths not asked about then.
    pub fn record_layer_database(
        &mut self,
        fingerprint: &[u8],
        table: &PackageTable,
        wanted: &FastSet<Vec<u8>>,
    ) -> Result<()> {
        let (tx, path) = self.write_transaction()?;
        let err = |e| super::db_error(&path, e);
        {
            let ids = package_ids(&tx, &table.packages).map_err(err)?;
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
