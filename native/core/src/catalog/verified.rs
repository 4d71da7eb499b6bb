//! The stamp that lets `Catalog::open` skip `PRAGMA quick_check` (which reads the whole file)
//! when the file is exactly as livetree left it after its own verified session.
//!
//! After a catalog that was verified when opened (quick_check passed, or its stamp matched)
//! is closed with no damage reported meanwhile and no `-wal` left behind, the file's
//! (dev, ino, size, mtime ns, ctime ns) is written to `<catalog>.verified`, beside it. An
//! open whose file has that same stamp and no `-wal` skips the check; any other writer, a
//! copy, a restore or a write that changed the file changes the stamp (the kernel sets ctime
//! on every write and cannot be told to set it back), so the check runs. A read-write open
//! removes the stamp before writing, so a crash before the next stamp leaves none.
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// How many times `PRAGMA quick_check` ran in this process (for tests and diagnostics).
static QUICK_CHECKS: AtomicU64 = AtomicU64::new(0);
/// How many SQLite errors saying the file is damaged this process saw, on any catalog: a
/// session that saw one records no stamp.
static DAMAGE_SEEN: AtomicU64 = AtomicU64::new(0);

pub(super) fn count_quick_check() {
    QUICK_CHECKS.fetch_add(1, Ordering::Relaxed);
}

/// How many times `PRAGMA quick_check` ran in this process.
pub fn quick_checks_run() -> u64 {
    QUICK_CHECKS.load(Ordering::Relaxed)
}

pub(super) fn count_damage() {
    DAMAGE_SEEN.fetch_add(1, Ordering::Relaxed);
}

pub(super) fn damage_seen() -> u64 {
    DAMAGE_SEEN.load(Ordering::Relaxed)
}

fn stamp_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".verified");
    PathBuf::from(s)
}

fn wal_exists(path: &Path) -> bool {
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    std::fs::symlink_metadata(wal).is_ok()
}

/// The file's stamp now (what a clean close records, and what an open compares), or None
/// when it cannot be read or a `-wal` sits beside it (the database is then more than the
/// file).
pub fn current(path: &Path) -> Option<String> {
    if wal_exists(path) {
        return None;
    }
    let m = std::fs::metadata(path).ok()?;
    let stamp = format!(
        "livetree-catalog-stamp 1 dev={} ino={} size={} mtime={}.{:09} ctime={}.{:09}\n",
        m.dev(),
        m.ino(),
        m.size(),
        m.mtime(),
        m.mtime_nsec(),
        m.ctime(),
        m.ctime_nsec()
    );
    // A stat after the wal check: a -wal created in between would be missed otherwise.
    if wal_exists(path) {
        return None;
    }
    Some(stamp)
}

/// Whether the file at `path` is exactly as livetree left it after a verified session.
pub(super) fn matches(path: &Path) -> bool {
    let Ok(recorded) = std::fs::read_to_string(stamp_path(path)) else {
        return false;
    };
    current(path).is_some_and(|now| now == recorded)
}

/// Remove the stamp before this session writes (best effort: a stamp that cannot be removed
/// no longer matches once the file is written).
pub(super) fn forget(path: &Path) {
    let _ = std::fs::remove_file(stamp_path(path));
}

/// Record the stamp of the file livetree just closed after a verified session; best effort.
pub(super) fn record(path: &Path) {
    let Some(stamp) = current(path) else {
        forget(path);
        return;
    };
    let target = stamp_path(path);
    let mut tmp = target.as_os_str().to_owned();
    tmp.push(format!(".tmp-{}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    if std::fs::write(&tmp, stamp).is_err() || std::fs::rename(&tmp, &target).is_err() {
        let _ = std::fs::remove_file(&tmp);
        forget(path);
    }
}
