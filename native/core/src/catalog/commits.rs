//! Commits and their files: recording what a scan saw, and finding a file by content or path.
use rusqlite::{params, OptionalExtension, Row};

use super::encode::{checksum_bytes, hex, is_checksum, now};
use super::{catalog_error, Catalog};
use crate::error::Result;
pub use crate::ostree::object::{CatalogFile, ObjectHit};

/// A commit as a scan read it from the repo, with its whole tree.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CommitRecord {
    /// The commit's checksum, the key every other table refers to.
    pub checksum: String,
    /// The commit's `version` metadata, when it has one.
    pub version: Option<String>,
    /// The one-line subject given at `ostree commit -s`, when there is one.
    pub subject: Option<String>,
    /// The commit's own timestamp (seconds since the epoch), not when we saw it.
    pub timestamp: u64,
    /// The parent commit, when the commit has one.
    pub parent: Option<String>,
    /// The stateroot and refspec it was deployed from, when the scan knows them.
    pub osname: Option<String>,
    /// The refspec the deployment came from, when the scan knows it.
    pub refspec: Option<String>,
    /// Every file of the commit's tree, recorded once so that a pruned commit still explains
    /// its files.
    pub files: Vec<CatalogFile>,
}

/// What a tree path held in one commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathHit {
    /// The commit whose tree held the path.
    pub commit: String,
    /// That commit's `version` metadata, when it has one.
    pub version: Option<String>,
    /// The content object the path held in that commit.
    pub object: String,
    /// The commit's own timestamp (seconds since the epoch), to prefer the newest.
    pub timestamp: u64,
    /// The path was a symlink in that commit.
    pub is_symlink: bool,
}

/// A recorded commit's metadata. `first_seen`/`last_seen` are our scan times (epoch seconds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitInfo {
    /// The commit's checksum.
    pub checksum: String,
    /// The commit's `version` metadata, when it has one.
    pub version: Option<String>,
    /// The commit's one-line subject, when there is one.
    pub subject: Option<String>,
    /// The commit's own timestamp (seconds since the epoch).
    pub timestamp: u64,
    /// The parent commit, when the commit has one.
    pub parent: Option<String>,
    /// The stateroot it was deployed to, when a scan knew it.
    pub osname: Option<String>,
    /// The refspec it was deployed from, when a scan knew it.
    pub refspec: Option<String>,
    /// How many files its recorded tree holds.
    pub n_files: u64,
    /// When a scan first recorded it (epoch seconds).
    pub first_seen: i64,
    /// When a scan last saw it deployed (epoch seconds).
    pub last_seen: i64,
}

const COMMIT_COLUMNS: &str = "checksum, version, subject, timestamp, parent, osname, refspec, \
                              n_files, first_seen, last_seen";

fn commit_info_from_row(row: &Row<'_>) -> rusqlite::Result<CommitInfo> {
    Ok(CommitInfo {
        checksum: row.get(0)?,
        version: row.get(1)?,
        subject: row.get(2)?,
        timestamp: row.get::<_, i64>(3)?.max(0) as u64,
        parent: row.get(4)?,
        osname: row.get(5)?,
        refspec: row.get(6)?,
        n_files: row.get::<_, i64>(7)?.max(0) as u64,
        first_seen: row.get(8)?,
        last_seen: row.get(9)?,
    })
}

impl Catalog {
    /// Whether the commit is already recorded (with all its files: a commit only ever
    /// appears together with its files).
    pub fn has_commit(&self, checksum: &str) -> Result<bool> {
        self.conn
            .prepare_cached("SELECT 1 FROM commits WHERE checksum = ?1")
            .and_then(|mut stmt| stmt.exists([checksum]))
            .map_err(|e| self.err(e))
    }

    /// Record a commit and all its files in one transaction: after a crash at any point the
    /// commit is either there with every file or not there at all. A commit that is already
    /// recorded is only touched (its `last_seen` moves, unknown osname/refspec are filled in).
    pub fn record_commit(&mut self, commit: &CommitRecord) -> Result<()> {
        if !is_checksum(&commit.checksum) {
            return Err(catalog_error(
                &self.path,
                format!("not a commit checksum: {:?}", commit.checksum),
            ));
        }
        // The cheap path for every scan after the first: the file list is not even looked at.
        if self.has_commit(&commit.checksum)? {
            self.refresh_commit(commit)?;
            return Ok(());
        }
        let objects = self.validate(commit)?;
        let (tx, path) = self.write_transaction()?;
        let err = |e| super::db_error(&path, e);
        // Another scan may have recorded it while we waited for the lock.
        let exists = tx
            .prepare_cached("SELECT 1 FROM commits WHERE checksum = ?1")
            .and_then(|mut stmt| stmt.exists([&commit.checksum]))
            .map_err(err)?;
        if exists {
            drop(tx);
            return self.refresh_commit(commit);
        }
        let seen = now();
        insert_commit(&tx, commit, &objects, seen, seen).map_err(err)?;
        tx.commit().map_err(err)
    }

    /// Check every checksum before the transaction, so bad input never half-writes anything.
    fn validate(&self, commit: &CommitRecord) -> Result<Vec<[u8; 32]>> {
        if i64::try_from(commit.timestamp).is_err() {
            return Err(catalog_error(
                &self.path,
                format!("commit {}: timestamp out of range", commit.checksum),
            ));
        }
        if let Some(parent) = &commit.parent {
            if !is_checksum(parent) {
                return Err(catalog_error(
                    &self.path,
                    format!(
                        "commit {}: parent is not a checksum: {parent:?}",
                        commit.checksum
                    ),
                ));
            }
        }
        commit
            .files
            .iter()
            .map(|file| {
                checksum_bytes(&file.object).ok_or_else(|| {
                    catalog_error(
                        &self.path,
                        format!(
                            "commit {}: file {}: not an object checksum: {:?}",
                            commit.checksum,
                            String::from_utf8_lossy(&file.path),
                            file.object
                        ),
                    )
                })
            })
            .collect()
    }

    fn refresh_commit(&self, commit: &CommitRecord) -> Result<()> {
        self.conn
            .execute(
                "UPDATE commits SET last_seen = ?2, osname = coalesce(osname, ?3), \
                 refspec = coalesce(refspec, ?4) WHERE checksum = ?1",
                params![commit.checksum, now(), commit.osname, commit.refspec],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// Note that a scan saw this commit again. Returns whether the commit is recorded.
    pub fn touch_commit(&self, checksum: &str) -> Result<bool> {
        self.conn
            .execute(
                "UPDATE commits SET last_seen = ?2 WHERE checksum = ?1",
                params![checksum, now()],
            )
            .map(|n| n > 0)
            .map_err(|e| self.err(e))
    }

    /// Every recorded (commit, path) whose file has this content checksum, newest commit
    /// first (by commit timestamp, then by when we last saw it).
    pub fn find_object(&self, object: &str) -> Result<Vec<ObjectHit>> {
        let key = checksum_bytes(object).ok_or_else(|| {
            catalog_error(&self.path, format!("not an object checksum: {object:?}"))
        })?;
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT c.checksum, c.version, c.timestamp, f.path, f.is_symlink \
                 FROM files f \
                 JOIN commit_files cf ON cf.file_id = f.id \
                 JOIN commits c ON c.id = cf.commit_id \
                 WHERE f.object = ?1 \
                 ORDER BY c.timestamp DESC, c.last_seen DESC, c.checksum, f.path",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([&key[..]], |row| {
                Ok(ObjectHit {
                    commit: row.get(0)?,
                    version: row.get(1)?,
                    timestamp: row.get::<_, i64>(2)?.max(0) as u64,
                    path: row.get(3)?,
                    is_symlink: row.get(4)?,
                })
            })
            .and_then(|rows| rows.collect());
        rows.map_err(|e| self.err(e))
    }

    /// What this tree path held in every recorded commit, newest commit first.
    pub fn find_path(&self, path: &[u8]) -> Result<Vec<PathHit>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT c.checksum, c.version, c.timestamp, f.object, f.is_symlink \
                 FROM files f \
                 JOIN commit_files cf ON cf.file_id = f.id \
                 JOIN commits c ON c.id = cf.commit_id \
                 WHERE f.path = ?1 \
                 ORDER BY c.timestamp DESC, c.last_seen DESC, c.checksum",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([path], |row| {
                Ok(PathHit {
                    commit: row.get(0)?,
                    version: row.get(1)?,
                    timestamp: row.get::<_, i64>(2)?.max(0) as u64,
                    object: hex(&row.get::<_, Vec<u8>>(3)?),
                    is_symlink: row.get(4)?,
                })
            })
            .and_then(|rows| rows.collect());
        rows.map_err(|e| self.err(e))
    }

    /// A recorded commit's metadata, or `None` if it was never recorded.
    pub fn commit_info(&self, checksum: &str) -> Result<Option<CommitInfo>> {
        self.conn
            .prepare_cached(&format!(
                "SELECT {COMMIT_COLUMNS} FROM commits WHERE checksum = ?1"
            ))
            .and_then(|mut stmt| stmt.query_row([checksum], commit_info_from_row).optional())
            .map_err(|e| self.err(e))
    }

    /// Every recorded commit, newest first.
    pub fn list_commits(&self) -> Result<Vec<CommitInfo>> {
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT {COMMIT_COLUMNS} FROM commits \
                 ORDER BY timestamp DESC, last_seen DESC, checksum"
            ))
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], commit_info_from_row)
            .and_then(|rows| rows.collect());
        rows.map_err(|e| self.err(e))
    }

    /// A recorded commit's files sorted by path, or `None` if the commit was never recorded.
    pub fn commit_files(&self, checksum: &str) -> Result<Option<Vec<CatalogFile>>> {
        let id: Option<i64> = self
            .conn
            .query_row(
                "SELECT id FROM commits WHERE checksum = ?1",
                [checksum],
                |row| row.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))?;
        let Some(id) = id else {
            return Ok(None);
        };
        read_commit_files(&self.conn, id)
            .map(Some)
            .map_err(|e| self.err(e))
    }
}

/// Insert a commit that is not yet recorded, with all its files, inside the caller's
/// transaction. `objects` are the files' object checksums as bytes, in the same order.
pub(super) fn insert_commit(
    tx: &rusqlite::Transaction<'_>,
    commit: &CommitRecord,
    objects: &[[u8; 32]],
    first_seen: i64,
    last_seen: i64,
) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO commits (checksum, version, subject, timestamp, parent, osname, \
         refspec, n_files, first_seen, last_seen) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, ?8, ?9)",
        params![
            commit.checksum,
            commit.version,
            commit.subject,
            commit.timestamp as i64,
            commit.parent,
            commit.osname,
            commit.refspec,
            first_seen,
            last_seen
        ],
    )?;
    let commit_id = tx.last_insert_rowid();
    let mut find = tx.prepare_cached(
        "SELECT id FROM files WHERE path = ?1 AND object = ?2 AND is_symlink = ?3",
    )?;
    let mut add =
        tx.prepare_cached("INSERT INTO files (path, object, is_symlink) VALUES (?1, ?2, ?3)")?;
    let mut link = tx.prepare_cached(
        "INSERT OR IGNORE INTO commit_files (commit_id, file_id) VALUES (?1, ?2)",
    )?;
    let mut linked: i64 = 0;
    for (file, object) in commit.files.iter().zip(objects) {
        let key = params![file.path, &object[..], file.is_symlink];
        let file_id = match find.query_row(key, |row| row.get::<_, i64>(0)).optional()? {
            Some(id) => id,
            None => {
                add.execute(key)?;
                tx.last_insert_rowid()
            }
        };
        // A file listed twice counts once.
        linked += link.execute(params![commit_id, file_id])? as i64;
    }
    tx.execute(
        "UPDATE commits SET n_files = ?1 WHERE id = ?2",
        params![linked, commit_id],
    )?;
    Ok(())
}

/// The files of the commit with row id `commit_id`; also used to salvage a damaged catalog.
pub(super) fn read_commit_files(
    conn: &rusqlite::Connection,
    commit_id: i64,
) -> rusqlite::Result<Vec<CatalogFile>> {
    let mut stmt = conn.prepare_cached(
        "SELECT f.path, f.object, f.is_symlink FROM commit_files cf \
         JOIN files f ON f.id = cf.file_id WHERE cf.commit_id = ?1 ORDER BY f.path, f.object",
    )?;
    let rows = stmt.query_map([commit_id], |row| {
        Ok(CatalogFile {
            path: row.get(0)?,
            object: hex(&row.get::<_, Vec<u8>>(1)?),
            is_symlink: row.get(2)?,
        })
    })?;
    rows.collect()
}
