//! Helpers shared by the catalog tests: temporary directories, generated commits, and
//! re-running the test binary as a child process.
#![allow(dead_code)]
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

use livetree_core::catalog::{CatalogFile, CommitRecord};
use sha2::{Digest, Sha256};

/// A fresh directory under the system temp dir, removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "livetree-catalog-{name}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Where tests put the catalog: one level down, so `open` has to create the directory.
    pub fn catalog(&self) -> PathBuf {
        self.0.join("var/lib/livetree/catalog.sqlite")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn sha(s: &str) -> String {
    Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Commit number `n` with `files` files. Even-numbered files are the same in every commit
/// (as most files are between successive OSTree commits); odd ones are the commit's own.
pub fn commit(n: u32, files: usize) -> CommitRecord {
    CommitRecord {
        checksum: sha(&format!("commit-{n}")),
        version: Some(format!("40.{n}")),
        subject: Some(format!("build {n}")),
        timestamp: 1_700_000_000 + u64::from(n) * 3600,
        parent: (n > 0).then(|| sha(&format!("commit-{}", n - 1))),
        osname: Some("testos".into()),
        refspec: Some("testos:testos/x86_64/stable".into()),
        files: (0..files)
            .map(|i| CatalogFile {
                path: format!("/usr/lib/dir{}/file{i}.so", i % 97).into_bytes(),
                object: if i % 2 == 0 {
                    sha(&format!("shared-{i}"))
                } else {
                    sha(&format!("object-{n}-{i}"))
                },
                is_symlink: i % 10 == 3,
            })
            .collect(),
    }
}

/// The files of a commit in the order the catalog returns them (sorted by path, object).
pub fn sorted_files(commit: &CommitRecord) -> Vec<CatalogFile> {
    let mut files = commit.files.clone();
    files.sort_by(|a, b| (&a.path, &a.object).cmp(&(&b.path, &b.object)));
    files.dedup();
    files
}

/// Re-run this test binary as a child that executes only `entry` (a test that does its work
/// only when `LIVETREE_CATALOG_CHILD` is set), with stdout piped back to us.
pub fn spawn_child(entry: &str, mode: &str, catalog: &Path, extra: &[(&str, String)]) -> Child {
    let exe = std::env::current_exe().expect("current test binary");
    let mut cmd = Command::new(exe);
    cmd.args(["--exact", entry, "--nocapture", "--test-threads=1"])
        .env("LIVETREE_CATALOG_CHILD", mode)
        .env("LIVETREE_CATALOG_PATH", catalog)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    for (k, v) in extra {
        cmd.env(k, v);
    }
    cmd.spawn().expect("spawn child test process")
}

/// The child's mode and catalog path, when this process is such a child.
pub fn child_mode() -> Option<(String, PathBuf)> {
    let mode = std::env::var("LIVETREE_CATALOG_CHILD").ok()?;
    let path = std::env::var_os("LIVETREE_CATALOG_PATH")?;
    Some((mode, PathBuf::from(path)))
}

/// A whole scan at `at` as `status` records it (no minimum interval, a year's retention).
pub fn timeline_scan(
    at: i64,
    processes: Vec<livetree_core::catalog::TimelineProcessSeen>,
) -> livetree_core::catalog::TimelineScan {
    livetree_core::catalog::TimelineScan {
        at,
        source: "status".into(),
        boot_id: Some("boot".into()),
        processes,
        min_interval: 0,
        retention_days: 400,
        max_rows: 1_000_000,
    }
}
