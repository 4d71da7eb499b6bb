//! The host root's package database as the last scan that read it answered: its stamp
//! (`packages::database_fingerprint`), the owner of every path a scan asked about (none
//! being an answer too), and its package list. A later scan — another `livetree status`
//! from cron, not only a kept scanner — answers from here while the stamp is unchanged and
//! every path it wants was asked before, instead of reading `status` and hundreds of
//! `info/*.list` files again (most of a scan's time outside /proc on a host without
//! OSTree). It is a cache of what the database says now: the stamp of a new database
//! replaces it whole. What a replaced file *had* is `host_files.rs`'s record.

use rusqlite::{params, OptionalExtension};

use super::encode::{json_strings, now};
use super::packages::{owners_into, package_ids, recorded_table, PACKAGE_COLUMNS};
use super::Catalog;
use crate::error::Result;
use crate::fast_hash::FastSet;
use crate::packages::PackageTable;

/// Schema 4 -> 5. One row in `host_database`; `host_owners.package_id` NULL says that no
/// package lists the path.
pub(super) const MIGRATION: &str = "
    CREATE TABLE host_database (
        id          INTEGER PRIMARY KEY CHECK (id = 1),
        fingerprint BLOB NOT NULL,
        source      TEXT,
        warnings    TEXT NOT NULL CHECK (json_valid(warnings)),
        read_at     INTEGER NOT NULL
    );
    CREATE TABLE host_owners (
        path        BLOB PRIMARY KEY,
        package_id  INTEGER REFERENCES packages (id)
    ) WITHOUT ROWID;
    CREATE TABLE host_database_packages (
        package_id  INTEGER PRIMARY KEY REFERENCES packages (id)
    );
";

impl Catalog {
    /// The host's table for `wanted` (canonical paths), when the recorded database has this
    /// `fingerprint` and owners of all of them were recorded; None means: read the database.
    pub fn host_database(
        &self,
        fingerprint: &[u8],
        wanted: &FastSet<Vec<u8>>,
    ) -> Result<Option<PackageTable>> {
        let err = |e| self.err(e);
        let head: Option<(Option<String>, String)> = self
            .conn
            .prepare_cached(
                "SELECT source, warnings FROM host_database WHERE id = 1 AND fingerprint = ?1",
            )
            .and_then(|mut s| {
                s.query_row([fingerprint], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()
            })
            .map_err(err)?;
        let Some((source, warnings)) = head else {
            return Ok(None);
        };
        let list = format!(
            "SELECT {PACKAGE_COLUMNS}, p.id FROM host_database_packages h \
             JOIN packages p ON p.id = h.package_id ORDER BY p.id"
        );
        let (mut table, index) =
            recorded_table(&self.conn, source, &warnings, &list, []).map_err(err)?;
        let mut owner = self
            .conn
            .prepare_cached("SELECT package_id FROM host_owners WHERE path = ?1")
            .map_err(err)?;
        let complete = owners_into(&mut table, &index, wanted, |path| {
            owner.query_row([path], |r| r.get(0)).optional()
        })
        .map_err(err)?;
        Ok(complete.then_some(table))
    }

    /// Record what the host's database (stamp `fingerprint`) said about `wanted`: `table`
    /// was read for them. A different stamp replaces the record whole; the same one adds
    /// the paths not asked about before.
    pub fn record_host_database(
        &mut self,
        fingerprint: &[u8],
        table: &PackageTable,
        wanted: &FastSet<Vec<u8>>,
    ) -> Result<()> {
        let (tx, path) = self.write_transaction()?;
        let err = |e| super::db_error(&path, e);
        {
            let same: bool = tx
                .query_row(
                    "SELECT EXISTS (SELECT 1 FROM host_database WHERE id = 1 AND fingerprint = ?1)",
                    [fingerprint],
                    |r| r.get(0),
                )
                .map_err(err)?;
            let ids = package_ids(&tx, &table.packages).map_err(err)?;
            if same {
                let mut get = tx
                    .prepare_cached(
                        "SELECT package_id FROM host_database_packages ORDER BY package_id",
                    )
                    .map_err(err)?;
                let recorded: Vec<i64> = get
                    .query_map([], |r| r.get(0))
                    .map_err(err)?
                    .collect::<rusqlite::Result<_>>()
                    .map_err(err)?;
                // The same database read twice lists the same packages in the same order.
                if recorded.len() != table.packages.len() {
                    return Err(super::catalog_error(
                        &path,
                        "the host database record does not match its stamp".to_string(),
                    ));
                }
            } else {
                tx.execute_batch("DELETE FROM host_owners; DELETE FROM host_database_packages;")
                    .map_err(err)?;
                let warnings = json_strings(&table.warnings);
                tx.execute(
                    "INSERT OR REPLACE INTO host_database (id, fingerprint, source, warnings, read_at) \
                     VALUES (1, ?1, ?2, ?3, ?4)",
                    params![fingerprint, table.source, warnings, now()],
                )
                .map_err(err)?;
                let mut list = tx
                    .prepare_cached(
                        "INSERT OR IGNORE INTO host_database_packages (package_id) VALUES (?1)",
                    )
                    .map_err(err)?;
                for id in &ids {
                    list.execute([id]).map_err(err)?;
                }
            }
            let mut put = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO host_owners (path, package_id) VALUES (?1, ?2)",
                )
                .map_err(err)?;
            for path in wanted {
                let id = table.paths.get(path).map(|&i| ids[i as usize]);
                put.execute(params![path, id]).map_err(err)?;
            }
        }
        tx.commit().map_err(err)
    }
}
