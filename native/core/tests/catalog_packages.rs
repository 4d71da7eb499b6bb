//! Each commit's path → package table in the catalog: recorded once, found by either
//! spelling of a merged-/usr path, kept (with the damage seen then) across reopen.
mod catalog_support;

use std::collections::HashMap;

use catalog_support::{commit, TempDir};
use livetree_core::catalog::Catalog;
use livetree_core::packages::{Manager, PackageInfo, PackageTable};

fn info(name: &str, version: &str, arch: Option<&str>) -> PackageInfo {
    PackageInfo {
        manager: Manager::Dpkg,
        name: name.into(),
        version: version.into(),
        arch: arch.map(str::to_string),
        source: Some("src".into()),
        source_version: None,
    }
}

#[test]
fn tables_round_trip_once_per_commit() {
    let dir = TempDir::new("pkgs");
    let c1 = commit(1, 3);
    let c2 = commit(2, 3);
    {
        let mut cat = Catalog::open(&dir.catalog()).unwrap();
        cat.record_commit(&c1).unwrap();
        cat.record_commit(&c2).unwrap();
        assert!(!cat.has_packages(&c1.checksum).unwrap());
        let table = PackageTable {
            packages: vec![
                info("libc6", "2.36-1", Some("amd64")),
                info("libc6", "2.36-1", Some("i386")),
            ],
            paths: HashMap::from([
                (b"/usr/lib/x86_64-linux-gnu/libc.so.6".to_vec(), 0),
                (b"/usr/lib/i386-linux-gnu/libc.so.6".to_vec(), 1),
            ]),
            source: Some("commit x/usr/share/dpkg/database".into()),
            warnings: vec!["a \"quoted\" path\\with\nnewline".into()],
        };
        cat.record_packages(&c1.checksum, &table).unwrap();
        // Once: a second table for the same commit is ignored.
        cat.record_packages(&c1.checksum, &PackageTable::default())
            .unwrap();
        // A commit whose tree has no database is recorded as read, with nothing in it.
        cat.record_packages(&c2.checksum, &PackageTable::default())
            .unwrap();
        // A commit the catalog does not know is left alone.
        cat.record_packages(&"f".repeat(64), &table).unwrap();
        assert!(!cat.has_packages(&"f".repeat(64)).unwrap());
    }
    let cat = Catalog::open(&dir.catalog()).unwrap();
    assert!(cat.has_packages(&c1.checksum).unwrap() && cat.has_packages(&c2.checksum).unwrap());
    let got = cat
        .package_at(&c1.checksum, b"/lib/x86_64-linux-gnu/libc.so.6")
        .unwrap();
    assert_eq!(got, Some(info("libc6", "2.36-1", Some("amd64"))));
    assert_eq!(
        cat.package_at(&c2.checksum, b"/usr/lib/x86_64-linux-gnu/libc.so.6")
            .unwrap(),
        None
    );
    let both = cat.commit_package(&c1.checksum, "libc6").unwrap();
    assert_eq!(both.len(), 2);
    assert_eq!(cat.commit_package(&c2.checksum, "libc6").unwrap(), vec![]);
    assert_eq!(
        cat.package_warnings(&c1.checksum).unwrap(),
        vec!["a \"quoted\" path\\with\nnewline".to_string()]
    );
    assert!(cat.package_warnings(&c2.checksum).unwrap().is_empty());
}

#[test]
fn a_version_1_catalog_is_migrated_and_keeps_its_commits() {
    let dir = TempDir::new("pkgs-migrate");
    let c1 = commit(7, 2);
    {
        let mut cat = Catalog::open(&dir.catalog()).unwrap();
        cat.record_commit(&c1).unwrap();
    }
    // Make it what livetree wrote at schema 1, before composefs images (2) and package
    // tables (3) existed: opening it runs both migrations.
    {
        let conn = rusqlite::Connection::open(dir.catalog()).unwrap();
        conn.execute_batch(
            "DROP TABLE package_scans; DROP TABLE commit_package_list; \
             DROP TABLE commit_packages; DROP TABLE package_paths; DROP TABLE packages; \
             DROP TABLE composefs_entries; DROP TABLE composefs_images; \
             PRAGMA user_version = 1;",
        )
        .unwrap();
    }
    let mut cat = Catalog::open(&dir.catalog()).unwrap();
    assert!(cat.has_commit(&c1.checksum).unwrap());
    assert!(!cat.has_packages(&c1.checksum).unwrap());
    let table = PackageTable {
        packages: vec![info("bash", "5.2", None)],
        paths: HashMap::from([(b"/usr/bin/bash".to_vec(), 0)]),
        ..PackageTable::default()
    };
    cat.record_packages(&c1.checksum, &table).unwrap();
    assert_eq!(
        cat.package_at(&c1.checksum, b"/bin/bash")
            .unwrap()
            .map(|p| p.name),
        Some("bash".into())
    );
}
