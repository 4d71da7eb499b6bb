//! What `catalog rebuild` copies besides commits, deployments and restarts: the records no
//! scan can make again once what they describe is gone — host files with the package they
//! had (the file was since replaced by an upgrade), each commit's package table (the commit
//! may be pruned), composefs images' entries (the image may be deleted while a mount still
//! serves it). Each is read through the old file's own record readers and written through
//! the new catalog's writers, as a scan would write it; what cannot be read is said in the
//! report's `lost`, never skipped in silence. A table an older schema did not have yet is
//! simply not there: nothing of it is lost.
use std::collections::HashMap;
use std::sync::Arc;

use rusqlite::{params, Connection};

use super::encode::strings_of_json;
use super::packages::{package_from_row, PACKAGE_COLUMNS};
use super::{Catalog, HostFileRecord};
use crate::packages::PackageTable;

/// Counts of what was copied, for the rebuild report.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Salvaged {
    pub host_files: i64,
    pub package_tables: i64,
    pub composefs_images: i64,
}

fn has_table(conn: &Connection, name: &str) -> bool {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1)",
        [name],
        |r| r.get(0),
    )
    .unwrap_or(false)
}

/// Copy what `old` (the file moved aside, opened read-only) holds of the three record kinds.
pub(super) fn salvage_records(
    old: &Catalog,
    fresh: &mut Catalog,
    lost: &mut Vec<String>,
) -> Salvaged {
    Salvaged {
        host_files: host_files(old, fresh, lost),
        package_tables: package_tables(old, fresh, lost),
        composefs_images: composefs_images(old, fresh, lost),
    }
}

fn host_files(old: &Catalog, fresh: &mut Catalog, lost: &mut Vec<String>) -> i64 {
    if !has_table(&old.conn, "host_files") {
        return 0;
    }
    let mut records = Vec::new();
    let read = old
        .conn
        .prepare(&format!(
            "SELECT {PACKAGE_COLUMNS}, h.major, h.minor, h.ino, h.path, h.size, h.mtime_ns \
             FROM host_files h JOIN packages p ON p.id = h.package_id"
        ))
        .and_then(|mut stmt| {
            let mut rows = stmt.query([])?;
            while let Some(r) = rows.next()? {
                records.push(HostFileRecord {
                    package: package_from_row(r)?,
                    major: r.get(6)?,
                    minor: r.get(7)?,
                    ino: r.get::<_, i64>(8)? as u64,
                    path: r.get(9)?,
                    size: r.get::<_, i64>(10)? as u64,
                    mtime_ns: r.get(11)?,
                });
            }
            Ok(())
        });
    if let Err(e) = read {
        lost.push(format!(
            "host_files: only {} record(s) could be read ({e}); the versions of the others' replaced files are lost",
            records.len()
        ));
    }
    match fresh.record_host_files(&records) {
        Ok(()) => records.len() as i64,
        Err(e) => {
            lost.push(format!("host_files: could not be copied: {e}"));
            0
        }
    }
}

/// A commit's row id, checksum, and its package table's source and warnings (JSON).
type PackageScan = (i64, String, Option<String>, String);

fn package_tables(old: &Catalog, fresh: &mut Catalog, lost: &mut Vec<String>) -> i64 {
    if !has_table(&old.conn, "package_scans") {
        return 0;
    }
    let scans: rusqlite::Result<Vec<PackageScan>> = old
        .conn
        .prepare(
            "SELECT c.id, c.checksum, s.source, s.warnings FROM package_scans s \
             JOIN commits c ON c.id = s.commit_id",
        )
        .and_then(|mut stmt| {
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
                .collect()
        });
    let scans = match scans {
        Ok(s) => s,
        Err(e) => {
            lost.push(format!("package tables: could not be read ({e}); they are read again from commits still in the repo"));
            return 0;
        }
    };
    let mut copied = 0;
    for (id, checksum, source, warnings) in scans {
        // Only for commits the rebuild copied: a table belongs to its commit.
        if !fresh.has_commit(&checksum).unwrap_or(false) {
            continue;
        }
        match package_table(&old.conn, id, source, &warnings)
            .map_err(|e| e.to_string())
            .and_then(|t| fresh.record_packages(&checksum, &t).map_err(|e| e.to_string()))
        {
            Ok(()) => copied += 1,
            Err(e) => lost.push(format!(
                "commit {checksum}: its package table could not be copied ({e}); it is read again if the commit is still in the repo"
            )),
        }
    }
    copied
}

fn package_table(
    conn: &Connection,
    commit_id: i64,
    source: Option<String>,
    warnings: &str,
) -> rusqlite::Result<PackageTable> {
    let mut table = PackageTable {
        source,
        warnings: strings_of_json(conn, warnings)?,
        ..PackageTable::default()
    };
    let mut index: HashMap<i64, u32> = HashMap::new();
    let mut list = conn.prepare(&format!(
        "SELECT {PACKAGE_COLUMNS}, p.id FROM commit_package_list l \
         JOIN packages p ON p.id = l.package_id WHERE l.commit_id = ?1 ORDER BY p.id"
    ))?;
    let mut rows = list.query(params![commit_id])?;
    while let Some(r) = rows.next()? {
        index.insert(r.get(6)?, table.packages.len() as u32);
        table.packages.push(Arc::new(package_from_row(r)?));
    }
    let mut paths = conn.prepare(
        "SELECT pp.path, cp.package_id FROM commit_packages cp \
         JOIN package_paths pp ON pp.id = cp.path_id WHERE cp.commit_id = ?1",
    )?;
    let mut rows = paths.query(params![commit_id])?;
    while let Some(r) = rows.next()? {
        let path: Vec<u8> = r.get(0)?;
        let id: i64 = r.get(1)?;
        if let Some(&i) = index.get(&id) {
            table.paths.insert(path, i);
        }
    }
    Ok(table)
}

fn composefs_images(old: &Catalog, fresh: &mut Catalog, lost: &mut Vec<String>) -> i64 {
    if !has_table(&old.conn, "composefs_images") {
        return 0;
    }
    let images = match old.composefs_images() {
        Ok(i) => i,
        Err(e) => {
            lost.push(format!("composefs images: could not be read ({e})"));
            return 0;
        }
    };
    let mut copied = 0;
    for info in images {
        match old
            .composefs_entries(&info.deployment_id)
            .and_then(|index| fresh.record_composefs_image(&info, &index))
        {
            Ok(()) => copied += 1,
            Err(e) => lost.push(format!(
                "composefs image of {}: its entries could not be copied ({e})",
                info.deployment_id
            )),
        }
    }
    copied
}
