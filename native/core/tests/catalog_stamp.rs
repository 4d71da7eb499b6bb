//! `Catalog::open` skips `PRAGMA quick_check` when the file is exactly as livetree left it
//! after a verified session (its stamp in `<catalog>.verified` matches), and runs it for a
//! file anyone else changed. One test: the quick_check counter is per process.
mod catalog_support;

use std::io::{Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use catalog_support::{commit, TempDir};
use livetree_core::catalog::{file_stamp, quick_checks_run, Catalog};
use livetree_core::Error;

const COMMITS: u32 = 12;
const FILES: usize = 4000;

fn stamp_file(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".verified");
    PathBuf::from(s)
}

fn populated(path: &Path) {
    let mut catalog = Catalog::open(path).unwrap();
    for n in 0..COMMITS {
        catalog.record_commit(&commit(n, FILES)).unwrap();
    }
}

/// Open and close read-write; how many quick_checks that ran.
fn checks_of_open(path: &Path) -> Result<u64, Error> {
    let before = quick_checks_run();
    let catalog = Catalog::open(path)?;
    drop(catalog);
    Ok(quick_checks_run() - before)
}

fn middle_leaf_page(path: &Path, table: &str) -> (u64, u64) {
    let conn = rusqlite::Connection::open(path).unwrap();
    let page_size: u64 = conn
        .query_row("PRAGMA page_size", [], |r| r.get::<_, i64>(0))
        .unwrap() as u64;
    let pages: Vec<i64> = conn
        .prepare("SELECT pageno FROM dbstat WHERE name = ?1 AND pagetype = 'leaf' ORDER BY path")
        .unwrap()
        .query_map([table], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    assert!(pages.len() >= 3);
    (pages[pages.len() / 2] as u64, page_size)
}

/// Overwrite bytes in the middle of the file, then give it back its mtime (`touch -r`).
fn damage_keeping_mtime(path: &Path, offset: u64, len: usize) {
    let mtime = std::fs::metadata(path).unwrap().modified().unwrap();
    let mut file = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    file.seek(SeekFrom::Start(offset)).unwrap();
    file.write_all(&vec![0xA5; len]).unwrap();
    file.set_modified(mtime).unwrap();
    drop(file);
    assert_eq!(std::fs::metadata(path).unwrap().modified().unwrap(), mtime);
}

fn assert_damaged_error(err: &Error, path: &Path) {
    match err {
        Error::Catalog { path: p, reason } => {
            assert_eq!(p, path);
            assert!(reason.contains("damaged"), "{reason}");
            assert!(reason.contains("livetree catalog rebuild"), "{reason}");
        }
        other => panic!("expected Error::Catalog, got {other:?}"),
    }
}

#[test]
fn quick_check_runs_only_when_the_file_is_not_as_livetree_left_it() {
    let dir = TempDir::new("stamp");
    let path = dir.catalog();

    // A new catalog: no stamp, so the check runs; the clean close records one.
    let before = quick_checks_run();
    populated(&path);
    assert_eq!(quick_checks_run() - before, 1);
    let stamp = std::fs::read_to_string(stamp_file(&path)).unwrap();
    let meta = std::fs::metadata(&path).unwrap();
    assert!(
        stamp.contains(&format!("ino={} size={} ", meta.ino(), meta.size())),
        "{stamp}"
    );

    // (a) Opened again, as livetree left it: no check, read-write or read-only; each
    // read-write close records the stamp again.
    assert_eq!(checks_of_open(&path).unwrap(), 0);
    assert_eq!(checks_of_open(&path).unwrap(), 0);
    let before = quick_checks_run();
    let ro = Catalog::open_read_only(&path).unwrap();
    assert_eq!(ro.list_commits().unwrap().len(), COMMITS as usize);
    drop(ro);
    assert_eq!(quick_checks_run() - before, 0);

    // While a read-write catalog is open its stamp is gone: a crash leaves none behind.
    let open = Catalog::open(&path).unwrap();
    assert!(!stamp_file(&path).exists());
    drop(open);
    assert!(stamp_file(&path).exists());

    // (c) Another writer changes the file: the check runs (once), then the stamp is back.
    let other = rusqlite::Connection::open(&path).unwrap();
    other
        .execute(
            "UPDATE commits SET subject = 'other writer' WHERE rowid = 1",
            [],
        )
        .unwrap();
    drop(other);
    assert_eq!(checks_of_open(&path).unwrap(), 1);
    assert_eq!(checks_of_open(&path).unwrap(), 0);

    // A -wal beside the file (a writer still open, or a crash) means the check runs.
    let holder = rusqlite::Connection::open(&path).unwrap();
    let n: i64 = holder
        .query_row("SELECT count(*) FROM commits", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, i64::from(COMMITS));
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    assert!(Path::new(&wal).exists());
    assert_eq!(checks_of_open(&path).unwrap(), 1);
    // That close left the -wal to the other connection, so it recorded no stamp: the next
    // open checks again, and the one after is as livetree left it.
    drop(holder);
    assert_eq!(checks_of_open(&path).unwrap(), 1);
    assert_eq!(checks_of_open(&path).unwrap(), 0);

    // (b) Damage in the middle, with the mtime restored (`touch -r`): the kernel still moved
    // the ctime, which nobody can set back, so the stamp no longer matches, the check runs
    // and the file is refused as damaged.
    // A reader that only reads leaves the file, and so its stamp, as they were.
    let (page, page_size) = middle_leaf_page(&path, "commit_files");
    assert_eq!(checks_of_open(&path).unwrap(), 0);
    assert!(stamp_file(&path).exists());
    damage_keeping_mtime(&path, (page - 1) * page_size, page_size as usize);
    let before = quick_checks_run();
    let err = Catalog::open(&path)
        .err()
        .expect("a damaged catalog is refused");
    assert_eq!(quick_checks_run() - before, 1);
    assert_damaged_error(&err, &path);
    assert!(!stamp_file(&path).exists());

    // Damage that leaves every part of the stamp as it was (below the file system, e.g. a
    // failing disk) is not seen at open: forge that case by writing back the stamp of the
    // damaged file. SQLite still reports the damaged page when a read reaches it, and that
    // is the same clear damaged-catalog error; such a session records no stamp, so the
    // next open runs the check and refuses the file.
    let forged = file_stamp(&path).expect("the damaged file's stamp");
    std::fs::write(stamp_file(&path), forged).unwrap();
    let before = quick_checks_run();
    let catalog = Catalog::open(&path).expect("the forged stamp skips the check");
    assert_eq!(quick_checks_run() - before, 0);
    let mut errors = 0;
    for n in 0..COMMITS {
        if let Err(e) = catalog.commit_files(&commit(n, FILES).checksum) {
            assert_damaged_error(&e, &path);
            errors += 1;
        }
    }
    assert!(errors > 0, "no read reached the damaged page");
    drop(catalog);
    assert!(!stamp_file(&path).exists());
    let before = quick_checks_run();
    let err = Catalog::open(&path).err().expect("refused again");
    assert_eq!(quick_checks_run() - before, 1);
    assert_damaged_error(&err, &path);
}
