//! composefs images seen by scans: each deployment's image entries, kept so that a process
//! still running from a detached image after its deployment was pruned traces to its commit.
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use rusqlite::params;

use super::encode::{checksum_bytes, hex, now};
use super::Catalog;
pub use crate::composefs::image::ComposefsImageInfo;
use crate::composefs::image::{ImageFile, ImageIndex, ImageStore};
use crate::error::Result;

impl Catalog {
    /// Whether the deployment's image is already recorded, so that it is not read again to be
    /// recorded.
    pub fn has_composefs_image(&self, deployment_id: &str) -> Result<bool> {
        self.conn
            .prepare_cached("SELECT 1 FROM composefs_images WHERE deployment_id = ?1")
            .and_then(|mut s| s.exists(params![deployment_id]))
            .map_err(|e| self.err(e))
    }

    /// Record a deployment's image and all its entries, in one transaction. An image already
    /// recorded for the deployment is kept: a deployment's image never changes.
    pub fn record_composefs_image(
        &mut self,
        info: &ComposefsImageInfo,
        index: &ImageIndex,
    ) -> Result<()> {
        let (tx, path) = self.write_transaction()?;
        let err = |e| super::db_error(&path, e);
        let inserted = tx
            .execute(
                "INSERT OR IGNORE INTO composefs_images (deployment_id, commit_checksum, image, \
                 root_ino, first_seen) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    info.deployment_id,
                    info.commit,
                    info.image.as_os_str().as_bytes(),
                    info.root_ino as i64,
                    now()
                ],
            )
            .map_err(err)?;
        if inserted > 0 {
            let mut stmt = tx
                .prepare(
                    "INSERT INTO composefs_entries (deployment_id, path, ino, size, is_dir, \
                     object) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .map_err(err)?;
            for (p, f) in &index.files {
                let object = f.object.as_deref().and_then(checksum_bytes);
                stmt.execute(params![
                    info.deployment_id,
                    p,
                    f.ino as i64,
                    f.size as i64,
                    f.is_dir as i64,
                    object.as_ref().map(|o| o.as_slice())
                ])
                .map_err(err)?;
            }
        }
        tx.commit().map_err(err)
    }

    /// Every recorded image.
    pub fn composefs_images(&self) -> Result<Vec<ComposefsImageInfo>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT deployment_id, commit_checksum, image, root_ino FROM composefs_images \
                 ORDER BY first_seen DESC, deployment_id",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |row| {
                Ok(ComposefsImageInfo {
                    deployment_id: row.get(0)?,
                    commit: row.get(1)?,
                    image: PathBuf::from(OsStr::from_bytes(&row.get::<_, Vec<u8>>(2)?)),
                    root_ino: row.get::<_, i64>(3)? as u64,
                })
            })
            .and_then(|rows| rows.collect());
        rows.map_err(|e| self.err(e))
    }

    /// The recorded entries of a deployment's image.
    pub fn composefs_entries(&self, deployment_id: &str) -> Result<ImageIndex> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT path, ino, size, is_dir, object FROM composefs_entries \
                 WHERE deployment_id = ?1",
            )
            .map_err(|e| self.err(e))?;
        let mut index = ImageIndex::default();
        let rows = stmt
            .query_map(params![deployment_id], |row| {
                let object: Option<Vec<u8>> = row.get(4)?;
                Ok((
                    row.get::<_, Vec<u8>>(0)?,
                    ImageFile {
                        ino: row.get::<_, i64>(1)? as u64,
                        size: row.get::<_, i64>(2)? as u64,
                        is_dir: row.get::<_, i64>(3)? != 0,
                        object: object.map(|o| hex(&o)),
                    },
                ))
            })
            .map_err(|e| self.err(e))?;
        for r in rows {
            let (p, f) = r.map_err(|e| self.err(e))?;
            if p == b"/" {
                index.root_ino = f.ino;
            }
            index.files.insert(p, f);
        }
        Ok(index)
    }
}

/// The composefs loader reaches the catalog through `ImageStore`, so that `composefs` need
/// not import `catalog` (which imports `composefs::image` for the entries it stores).
impl ImageStore for Catalog {
    fn has_composefs_image(&self, deployment_id: &str) -> Result<bool> {
        Catalog::has_composefs_image(self, deployment_id)
    }

    fn record_composefs_image(
        &mut self,
        info: &ComposefsImageInfo,
        index: &ImageIndex,
    ) -> Result<()> {
        Catalog::record_composefs_image(self, info, index)
    }

    fn composefs_images(&self) -> Result<Vec<ComposefsImageInfo>> {
        Catalog::composefs_images(self)
    }

    fn composefs_entries(&self, deployment_id: &str) -> Result<ImageIndex> {
        Catalog::composefs_entries(self, deployment_id)
    }
}
