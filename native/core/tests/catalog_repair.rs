//! Damaged catalog files: `open` refuses them with a message that names the file and the
//! way out, and `rebuild` keeps the damaged file aside and salvages what can be read.
mod catalog_support;

use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use catalog_support::{commit, sorted_files, TempDir};
use livetree_core::catalog::{Catalog, DeploymentRecord, HostFileRecord, RestartEnd, RestartStart};
use livetree_core::composefs::image::{ComposefsImageInfo, ImageIndex};
use livetree_core::packages::{Manager, PackageInfo, PackageTable};
use livetree_core::Error;

const COMMITS: u32 = 12;
const FILES: usize = 4000;

/// A catalog with commits, a deployment and restart history, closed cleanly (so the WAL is
/// checkpointed into the main file and removed).
fn populated(path: &Path) {
    let mut catalog = Catalog::open(path).unwrap();
    for n in 0..COMMITS {
        catalog.record_commit(&commit(n, FILES)).unwrap();
    }
    catalog
        .record_deployment(&DeploymentRecord {
            id: "testos/abc.0".into(),
            osname: "testos".into(),
            commit: commit(3, 0).checksum,
            dir_dev: 64769,
            dir_ino: 131,
            path: PathBuf::from("/sysroot/ostree/deploy/testos/deploy/abc.0"),
        })
        .unwrap();
    let done = catalog
        .begin_restart(&RestartStart {
            unit: "a.service".into(),
            old_pids: vec![10],
            stale_files_json: "[]".into(),
        })
        .unwrap();
    catalog
        .finish_restart(
            done,
            &RestartEnd {
                job_result: "done".into(),
                new_pids: vec![11],
                verdict: "verified".into(),
                details_json: "{}".into(),
            },
        )
        .unwrap();
    catalog
        .begin_restart(&RestartStart {
            unit: "b.service".into(),
            old_pids: vec![20, 21],
            stale_files_json: "[\"x\"]".into(),
        })
        .unwrap();
    drop(catalog);
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    assert!(
        !Path::new(&wal).exists(),
        "the WAL should be gone after a clean close"
    );
}

/// A leaf page of `table`'s b-tree that is neither its first nor its last page, and its size.
fn middle_leaf_page(path: &Path, table: &str) -> (u64, u64) {
    let conn = rusqlite::Connection::open(path).unwrap();
    let page_size: u64 = conn
        .query_row("PRAGMA page_size", [], |r| r.get::<_, i64>(0))
        .unwrap() as u64;
    let mut stmt = conn
        .prepare("SELECT pageno FROM dbstat WHERE name = ?1 AND pagetype = 'leaf' ORDER BY path")
        .unwrap();
    let pages: Vec<i64> = stmt
        .query_map([table], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    assert!(
        pages.len() >= 3,
        "{table} has only {} leaf pages",
        pages.len()
    );
    (pages[pages.len() / 2] as u64, page_size)
}

fn overwrite(path: &Path, offset: u64, len: usize) {
    let mut file = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    file.seek(SeekFrom::Start(offset)).unwrap();
    // Not a valid b-tree page header: 0xA5 is no page type.
    file.write_all(&vec![0xA5; len]).unwrap();
}

fn assert_refused_with_hint(path: &Path) {
    let err = Catalog::open(path)
        .err()
        .expect("a damaged catalog is refused");
    match &err {
        Error::Catalog { path: p, reason } => {
            assert_eq!(p, path);
            assert!(reason.contains("livetree catalog rebuild"), "{reason}");
            assert!(reason.contains("livetree catalog check"), "{reason}");
        }
        other => panic!("expected Error::Catalog, got {other:?}"),
    }
    assert!(err.to_string().contains(&path.display().to_string()));
}

#[test]
fn a_damaged_page_is_refused_and_rebuild_salvages_the_rest() {
    let dir = TempDir::new("damaged");
    let path = dir.catalog();
    populated(&path);
    // Damage one page of the table that links commits to their files: some commit loses
    // part of its file list.
    let (page, page_size) = middle_leaf_page(&path, "commit_files");
    overwrite(&path, (page - 1) * page_size, page_size as usize);
    let damaged_bytes = std::fs::read(&path).unwrap();

    assert_refused_with_hint(&path);
    // Refusing it changed nothing.
    assert_eq!(std::fs::read(&path).unwrap(), damaged_bytes);
    let report = Catalog::check(&path).unwrap();
    assert!(!report.ok);
    assert!(!report.problems.is_empty());
    assert_eq!(std::fs::read(&path).unwrap(), damaged_bytes);

    let rebuilt = Catalog::rebuild(&path).unwrap();
    eprintln!("rebuild report: {rebuilt:#?}");
    let aside = rebuilt.moved_to.clone().expect("moved aside");
    let aside_name = aside.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        aside_name.starts_with("catalog.sqlite.corrupt-"),
        "{aside_name}"
    );
    assert_eq!(aside.parent(), path.parent());
    assert_eq!(
        std::fs::read(&aside).unwrap(),
        damaged_bytes,
        "the damaged file is kept as it was"
    );

    // Everything in small tables survives; each commit is either salvaged whole or reported.
    assert_eq!(rebuilt.restarts_salvaged, 2);
    assert_eq!(rebuilt.deployments_salvaged, 1);
    let catalog = Catalog::open(&path).unwrap();
    let mut salvaged = 0;
    for n in 0..COMMITS {
        let record = commit(n, FILES);
        match catalog.commit_files(&record.checksum).unwrap() {
            Some(files) => {
                assert_eq!(files, sorted_files(&record), "commit {n}");
                salvaged += 1;
            }
            None => assert!(
                rebuilt.lost.iter().any(|l| l.contains(&record.checksum)),
                "commit {n} lost without a word: {:?}",
                rebuilt.lost
            ),
        }
    }
    assert_eq!(salvaged, rebuilt.commits_salvaged);
    assert!(
        salvaged < i64::from(COMMITS),
        "the damage should cost a commit"
    );
    assert!(salvaged > 0, "undamaged commits should survive");
    assert!(!rebuilt.lost.is_empty());

    let restarts = catalog.list_restarts().unwrap();
    assert_eq!(restarts.len(), 2);
    assert_eq!(restarts[0].unit, "b.service");
    assert_eq!(restarts[0].old_pids, [20, 21]);
    assert_eq!(restarts[1].verdict.as_deref(), Some("verified"));
    let deployment = catalog.find_deployment_by_dir(64769, 131).unwrap().unwrap();
    assert_eq!(deployment.id, "testos/abc.0");
    // New restarts do not reuse salvaged ids.
    let next = catalog
        .begin_restart(&RestartStart {
            unit: "c.service".into(),
            old_pids: vec![],
            stale_files_json: "[]".into(),
        })
        .unwrap();
    assert!(restarts.iter().all(|r| r.id < next));
    drop(catalog);
    assert!(Catalog::check(&path).unwrap().ok);
}

#[test]
fn a_garbage_file_is_refused_and_rebuild_keeps_it_aside() {
    let dir = TempDir::new("garbage");
    let path = dir.catalog();
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let garbage: Vec<u8> = (0..20_000u32).map(|i| (i * 7919 % 251) as u8).collect();
    std::fs::write(&path, &garbage).unwrap();

    assert_refused_with_hint(&path);
    assert_eq!(std::fs::read(&path).unwrap(), garbage);
    let report = Catalog::check(&path).unwrap();
    assert!(!report.ok);
    assert_eq!(report.commits, None);

    let rebuilt = Catalog::rebuild(&path).unwrap();
    let aside = rebuilt.moved_to.clone().unwrap();
    assert_eq!(std::fs::read(&aside).unwrap(), garbage);
    assert_eq!(rebuilt.commits_salvaged, 0);
    assert_eq!(rebuilt.restarts_salvaged, 0);
    assert!(
        rebuilt
            .lost
            .iter()
            .any(|l| l.contains("nothing could be read")),
        "{:?}",
        rebuilt.lost
    );
    let catalog = Catalog::open(&path).unwrap();
    assert!(catalog.list_commits().unwrap().is_empty());
    drop(catalog);

    // A second rebuild of a healthy catalog does not overwrite the first file kept aside.
    let second = Catalog::rebuild(&path).unwrap();
    let second_aside = second.moved_to.unwrap();
    assert_ne!(second_aside, aside);
    assert_eq!(std::fs::read(&aside).unwrap(), garbage);
    assert!(second.lost.is_empty(), "{:?}", second.lost);
}

/// The records no scan can make again: a host file with the package it had, a commit's
/// package table, a composefs image's entries (from a real image, captured).
fn add_records(path: &Path) -> (HostFileRecord, ImageIndex) {
    use std::io::Read;
    let mut catalog = Catalog::open(path).unwrap();
    let pkg = |name: &str, version: &str| PackageInfo {
        manager: Manager::Dpkg,
        name: name.into(),
        version: version.into(),
        arch: Some("amd64".into()),
        source: None,
        source_version: None,
    };
    let host = HostFileRecord {
        major: 254,
        minor: 1,
        ino: 4242,
        path: b"/usr/lib/x86_64-linux-gnu/libssl.so.3".to_vec(),
        size: 700_000,
        mtime_ns: 1_700_000_000_000_000_000,
        package: pkg("libssl3", "3.0.11-1~deb12u2"),
    };
    catalog
        .record_host_files(std::slice::from_ref(&host))
        .unwrap();
    let table = PackageTable {
        packages: vec![
            std::sync::Arc::new(pkg("libc6", "2.36-9")),
            std::sync::Arc::new(pkg("bash", "5.2.15-2")),
        ],
        paths: [
            (b"/usr/lib/x86_64-linux-gnu/libc.so.6".to_vec(), 0),
            (b"/usr/bin/bash".to_vec(), 1),
        ]
        .into_iter()
        .collect(),
        source: Some("commit x/usr/share/dpkg/database".into()),
        warnings: vec!["one \"damaged\" entry".into()],
    };
    catalog
        .record_packages(&commit(3, 0).checksum, &table)
        .unwrap();
    let gz = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/captured/composefs/small.cfs.gz"
    ))
    .unwrap();
    let mut bytes = Vec::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_end(&mut bytes)
        .unwrap();
    let index = ImageIndex::from_bytes(&bytes).unwrap();
    let info = ComposefsImageInfo {
        deployment_id: "testos/abc.0".into(),
        commit: commit(3, 0).checksum,
        image: PathBuf::from("/sysroot/ostree/deploy/testos/deploy/abc.0.ostree.cfs"),
        root_ino: index.root_ino,
    };
    catalog.record_composefs_image(&info, &index).unwrap();
    (host, index)
}

#[test]
fn rebuild_of_a_healthy_catalog_loses_nothing() {
    let dir = TempDir::new("healthy-rebuild");
    let path = dir.catalog();
    populated(&path);
    let (host, index) = add_records(&path);
    let rebuilt = Catalog::rebuild(&path).unwrap();
    assert!(rebuilt.lost.is_empty(), "{:?}", rebuilt.lost);
    assert_eq!(rebuilt.commits_salvaged, i64::from(COMMITS));
    assert_eq!(
        (
            rebuilt.host_files_salvaged,
            rebuilt.package_tables_salvaged,
            rebuilt.composefs_images_salvaged
        ),
        (1, 1, 1)
    );
    let catalog = Catalog::open(&path).unwrap();
    assert_eq!(
        catalog
            .host_file_package(host.major, host.minor, host.ino, &host.path)
            .unwrap(),
        Some(host.package.clone())
    );
    let c3 = commit(3, 0).checksum;
    assert_eq!(
        catalog
            .package_at(&c3, b"/lib/x86_64-linux-gnu/libc.so.6")
            .unwrap()
            .map(|p| p.version),
        Some("2.36-9".to_string())
    );
    assert_eq!(
        catalog.package_warnings(&c3).unwrap(),
        ["one \"damaged\" entry"]
    );
    let entries = catalog.composefs_entries("testos/abc.0").unwrap();
    assert_eq!(entries.files.len(), index.files.len());
    assert_eq!(
        entries.get(b"/usr/bin/x").map(|f| f.ino),
        index.get(b"/usr/bin/x").map(|f| f.ino)
    );
    for n in 0..COMMITS {
        let record = commit(n, FILES);
        let info = catalog.commit_info(&record.checksum).unwrap().unwrap();
        assert_eq!(info.version, record.version);
        assert_eq!(
            catalog.commit_files(&record.checksum).unwrap().unwrap(),
            sorted_files(&record)
        );
    }
    assert_eq!(catalog.list_restarts().unwrap().len(), 2);
}

#[test]
fn rebuild_salvages_transactions_still_in_the_wal() {
    let dir = TempDir::new("wal-rebuild");
    let path = dir.catalog();
    // Keep a connection open so the WAL is not checkpointed away, then rebuild while the
    // last transactions live only in the WAL (as after a crash).
    let catalog = Catalog::open(&path).unwrap();
    let id = catalog
        .begin_restart(&RestartStart {
            unit: "wal.service".into(),
            old_pids: vec![1],
            stale_files_json: "[]".into(),
        })
        .unwrap();
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    assert!(std::fs::metadata(&wal).unwrap().len() > 0);
    std::mem::forget(catalog); // like a crash: no clean close, no checkpoint
    let rebuilt = Catalog::rebuild(&path).unwrap();
    assert_eq!(rebuilt.restarts_salvaged, 1, "{:?}", rebuilt.lost);
    let catalog = Catalog::open(&path).unwrap();
    assert_eq!(catalog.restart(id).unwrap().unwrap().unit, "wal.service");
}

#[test]
fn rebuild_skips_a_damaged_page_of_commits_and_reads_on_after_it() {
    let dir = TempDir::new("damaged-commits");
    let path = dir.catalog();
    let total = 300u32;
    {
        let mut catalog = Catalog::open(&path).unwrap();
        for n in 0..total {
            catalog.record_commit(&commit(n, 2)).unwrap();
        }
    }
    let (page, page_size) = middle_leaf_page(&path, "commits");
    overwrite(&path, (page - 1) * page_size, page_size as usize);
    assert_refused_with_hint(&path);

    let rebuilt = Catalog::rebuild(&path).unwrap();
    eprintln!("rebuild report: {rebuilt:#?}");
    assert!(rebuilt.commits_salvaged > 0);
    assert!(rebuilt.commits_salvaged < i64::from(total));
    assert!(
        rebuilt
            .lost
            .iter()
            .any(|l| l.starts_with("commits: rows with rowid between")),
        "{:?}",
        rebuilt.lost
    );
    let catalog = Catalog::open(&path).unwrap();
    // The first and the last commits sit on other pages than the damaged middle one.
    for n in [0, total - 1] {
        let record = commit(n, 2);
        assert_eq!(
            catalog.commit_files(&record.checksum).unwrap(),
            Some(sorted_files(&record)),
            "commit {n}"
        );
    }
    assert_eq!(
        catalog.list_commits().unwrap().len() as i64,
        rebuilt.commits_salvaged
    );
}
