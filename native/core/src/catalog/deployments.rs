//! Deployments seen by scans, keyed so that a process whose root directory is a deployment
//! that has since been undeployed is still recognised by that directory's (dev, ino).
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use rusqlite::{params, OptionalExtension, Row};

use super::encode::now;
use super::Catalog;
use crate::error::Result;

/// A deployment as a scan saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeploymentRecord {
    /// `OSNAME/CHECKSUM.SERIAL`, the name livetree shows.
    pub id: String,
    /// The stateroot it belongs to.
    pub osname: String,
    /// The commit it was checked out from.
    pub commit: String,
    /// (dev, ino) of the deployment's root directory, as `stat` reports them on the host.
    pub dir_dev: u64,
    /// `st_ino` of the deployment's root directory on the host.
    pub dir_ino: u64,
    /// The deployment directory, e.g. `/sysroot/ostree/deploy/OSNAME/deploy/CHECKSUM.SERIAL`.
    pub path: PathBuf,
}

/// A recorded deployment with when scans first and last saw it (epoch seconds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeploymentInfo {
    /// `OSNAME/CHECKSUM.SERIAL`, the name livetree shows.
    pub id: String,
    /// The stateroot it belonged to.
    pub osname: String,
    /// The commit it was checked out from.
    pub commit: String,
    /// `st_dev` of its root directory, by which a process whose root it is is recognised after
    /// an undeploy.
    pub dir_dev: u64,
    /// `st_ino` of its root directory.
    pub dir_ino: u64,
    /// Its directory when it was seen.
    pub path: PathBuf,
    /// When a scan first saw it.
    pub first_seen: i64,
    /// When a scan last saw it.
    pub last_seen: i64,
}

const DEPLOYMENT_COLUMNS: &str =
    "id, osname, commit_checksum, dir_dev, dir_ino, path, first_seen, last_seen";

fn deployment_from_row(row: &Row<'_>) -> rusqlite::Result<DeploymentInfo> {
    Ok(DeploymentInfo {
        id: row.get(0)?,
        osname: row.get(1)?,
        commit: row.get(2)?,
        // dev_t and ino_t are u64; SQLite integers are i64. The cast is a bit-for-bit round
        // trip, so values above 2^63 survive.
        dir_dev: row.get::<_, i64>(3)? as u64,
        dir_ino: row.get::<_, i64>(4)? as u64,
        path: PathBuf::from(OsStr::from_bytes(&row.get::<_, Vec<u8>>(5)?)),
        first_seen: row.get(6)?,
        last_seen: row.get(7)?,
    })
}

impl Catalog {
    /// Record (or refresh) a deployment. Its directory's (dev, ino) is updated to what this
    /// scan saw: device numbers may change across reboots.
    pub fn record_deployment(&self, deployment: &DeploymentRecord) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO deployments (id, osname, commit_checksum, dir_dev, dir_ino, path, \
                 first_seen, last_seen) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7) \
                 ON CONFLICT (id) DO UPDATE SET osname = excluded.osname, \
                 commit_checksum = excluded.commit_checksum, dir_dev = excluded.dir_dev, \
                 dir_ino = excluded.dir_ino, path = excluded.path, last_seen = excluded.last_seen",
                params![
                    deployment.id,
                    deployment.osname,
                    deployment.commit,
                    deployment.dir_dev as i64,
                    deployment.dir_ino as i64,
                    deployment.path.as_os_str().as_bytes(),
                    now()
                ],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// The deployment whose root directory had this (dev, ino). An inode number can be reused
    /// once a deleted directory is freed, so when several match, the one seen last wins (a
    /// process still rooted in a deleted directory keeps that inode from being reused).
    pub fn find_deployment_by_dir(&self, dev: u64, ino: u64) -> Result<Option<DeploymentInfo>> {
        self.conn
            .prepare_cached(&format!(
                "SELECT {DEPLOYMENT_COLUMNS} FROM deployments WHERE dir_dev = ?1 AND dir_ino = ?2 \
                 ORDER BY last_seen DESC, first_seen DESC LIMIT 1"
            ))
            .and_then(|mut stmt| {
                stmt.query_row(params![dev as i64, ino as i64], deployment_from_row)
                    .optional()
            })
            .map_err(|e| self.err(e))
    }

    /// Every recorded deployment, most recently seen first.
    pub fn list_deployments(&self) -> Result<Vec<DeploymentInfo>> {
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT {DEPLOYMENT_COLUMNS} FROM deployments ORDER BY last_seen DESC, id"
            ))
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], deployment_from_row)
            .and_then(|rows| rows.collect());
        rows.map_err(|e| self.err(e))
    }
}
