//! Each commit's path → package table in the catalog: recorded once, found by either
//! spelling of a merged-/usr path, kept (with the damage seen then) across reopen; and
//! host-root files with the package they had when a scan saw them current.
mod catalog_support;

use livetree_core::fast_hash::{FastMap, FastSet};

use catalog_support::{commit, TempDir};
use livetree_core::catalog::{Catalog, HostFileRecord, SCHEMA_VERSION};
use livetree_core::packages::{Manager, PackageInfo, PackageTable};

/// `info`, shared as a table holds its packages.
fn shared(name: &str, version: &str, arch: Option<&str>) -> std::sync::Arc<PackageInfo> {
    std::sync::Arc::new(info(name, version, arch))
}

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
                shared("libc6", "2.36-1", Some("amd64")),
                shared("libc6", "2.36-1", Some("i386")),
            ],
            paths: FastMap::from_iter([
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
    // Make it what livetree wrote before composefs images and package tables existed
    // (version 1): opening it takes it through both migrations.
    {
        let conn = rusqlite::Connection::open(dir.catalog()).unwrap();
        conn.execute_batch(
            "DROP TABLE layer_owners; DROP TABLE layer_database_packages; DROP TABLE layer_databases; \
             DROP TABLE host_database_packages; DROP TABLE host_owners; DROP TABLE host_database; \
             DROP TABLE host_files; DROP TABLE timeline_uses; DROP TABLE timeline_processes; \
             DROP TABLE timeline_origins; DROP TABLE timeline_scans; DROP TABLE timeline_pruned; \
             DROP TABLE package_scans; DROP TABLE commit_package_list; \
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
        packages: vec![shared("bash", "5.2", None)],
        paths: FastMap::from_iter([(b"/usr/bin/bash".to_vec(), 0)]),
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

fn host_file(ino: u64, size: u64, package: PackageInfo) -> HostFileRecord {
    HostFileRecord {
        major: 8,
        minor: 1,
        ino,
        path: b"/usr/lib/x86_64-linux-gnu/libssl.so.3".to_vec(),
        size,
        mtime_ns: 1_700_000_000_000_000_123,
        package,
    }
}

#[test]
fn host_files_are_found_by_device_inode_and_path_only() {
    let dir = TempDir::new("pkgs-host");
    let old = info("libssl3", "3.0.11-1", Some("amd64"));
    {
        let mut cat = Catalog::open(&dir.catalog()).unwrap();
        cat.record_host_files(&[host_file(42, 1000, old.clone())])
            .unwrap();
        // Seen again by a later scan: nothing changes.
        cat.record_host_files(&[host_file(42, 1000, old.clone())])
            .unwrap();
    }
    let mut cat = Catalog::open(&dir.catalog()).unwrap();
    let path = b"/usr/lib/x86_64-linux-gnu/libssl.so.3";
    // A new connection has checked nothing yet: the scan asks SQLite once.
    let key = (8, 1, 42, path.to_vec());
    assert!(!cat.host_file_known(&key, &old));
    cat.record_host_files(&[host_file(42, 1000, old.clone())])
        .unwrap();
    assert!(cat.host_file_known(&key, &old));
    assert_eq!(cat.host_file_package(8, 1, 42, path).unwrap(), Some(old));
    // Another inode, device or path is another file: nothing recorded, nothing guessed.
    assert_eq!(cat.host_file_package(8, 1, 43, path).unwrap(), None);
    assert_eq!(cat.host_file_package(8, 2, 42, path).unwrap(), None);
    assert_eq!(
        cat.host_file_package(8, 1, 42, b"/usr/lib/x86_64-linux-gnu/libssl.so.3.new")
            .unwrap(),
        None
    );
    // The inode number reused for another file at that path, seen current: it replaces
    // the record, so a later deleted sighting names the new file's package.
    let new = info("libssl3", "3.0.15-1", Some("amd64"));
    cat.record_host_files(&[host_file(42, 2000, new.clone())])
        .unwrap();
    assert_eq!(cat.host_file_package(8, 1, 42, path).unwrap(), Some(new));
}

#[test]
fn a_version_3_catalog_is_migrated_and_records_host_files() {
    let dir = TempDir::new("pkgs-migrate3");
    let c1 = commit(9, 2);
    let bash = PackageTable {
        packages: vec![shared("bash", "5.2", None)],
        paths: FastMap::from_iter([(b"/usr/bin/bash".to_vec(), 0)]),
        ..PackageTable::default()
    };
    {
        let mut cat = Catalog::open(&dir.catalog()).unwrap();
        cat.record_commit(&c1).unwrap();
        cat.record_packages(&c1.checksum, &bash).unwrap();
    }
    // What livetree wrote before host files were recorded (version 3).
    {
        let conn = rusqlite::Connection::open(dir.catalog()).unwrap();
        conn.execute_batch(
            "DROP TABLE layer_owners; DROP TABLE layer_database_packages; DROP TABLE layer_databases; \
             DROP TABLE host_database_packages; DROP TABLE host_owners; DROP TABLE host_database; \
             DROP TABLE host_files; DROP TABLE timeline_uses; DROP TABLE timeline_processes; \
             DROP TABLE timeline_origins; DROP TABLE timeline_scans; DROP TABLE timeline_pruned; \
             PRAGMA user_version = 3;",
        )
        .unwrap();
    }
    let mut cat = Catalog::open(&dir.catalog()).unwrap();
    {
        let conn = rusqlite::Connection::open(dir.catalog()).unwrap();
        let v: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, SCHEMA_VERSION);
        assert_eq!(SCHEMA_VERSION, 8);
    }
    assert!(cat.has_packages(&c1.checksum).unwrap());
    assert_eq!(
        cat.package_at(&c1.checksum, b"/bin/bash")
            .unwrap()
            .map(|p| p.name),
        Some("bash".into())
    );
    // The package already in the table is shared, not added twice.
    let bash_info = info("bash", "5.2", None);
    cat.record_host_files(&[host_file(7, 10, bash_info.clone())])
        .unwrap();
    assert_eq!(
        cat.host_file_package(8, 1, 7, b"/usr/lib/x86_64-linux-gnu/libssl.so.3")
            .unwrap(),
        Some(bash_info)
    );
    let conn = rusqlite::Connection::open(dir.catalog()).unwrap();
    let n: i64 = conn
        .query_row(
            "SELECT count(*) FROM packages WHERE name = 'bash'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(n, 1);
}

/// What the host's package database said, under the stamp of its files: answered from the
/// catalog only for the same stamp and only when every wanted path was asked before (an
/// unowned path is an answer too); a new stamp replaces the record whole.
#[test]
fn host_database_answers_for_its_stamp_and_the_paths_asked() {
    let dir = TempDir::new("hostdb");
    let libc = b"/usr/lib/x86_64-linux-gnu/libc.so.6".to_vec();
    let node = b"/usr/local/bin/node".to_vec();
    let table = PackageTable {
        packages: vec![
            shared("coreutils", "9.1-1", Some("amd64")),
            shared("libc6", "2.36-9", Some("amd64")),
        ],
        paths: FastMap::from_iter([(libc.clone(), 1)]),
        source: Some("/var/lib/dpkg".into()),
        warnings: vec!["a \"damaged\" entry".into()],
    };
    let wanted: FastSet<Vec<u8>> = FastSet::from_iter([libc.clone(), node.clone()]);
    {
        let mut cat = Catalog::open(&dir.catalog()).unwrap();
        assert!(cat.host_database(b"stamp-1", &wanted).unwrap().is_none());
        cat.record_host_database(b"stamp-1", &table, &wanted)
            .unwrap();
        // The same stamp again adds the paths not asked about before.
        let more: FastSet<Vec<u8>> = FastSet::from_iter([b"/usr/bin/ls".to_vec()]);
        cat.record_host_database(b"stamp-1", &table, &more).unwrap();
    }
    let cat = Catalog::open(&dir.catalog()).unwrap();
    let got = cat
        .host_database(b"stamp-1", &wanted)
        .unwrap()
        .expect("recorded");
    assert_eq!(got.packages, table.packages);
    assert_eq!(got.lookup(&libc).map(|p| p.name.as_str()), Some("libc6"));
    assert_eq!(
        got.lookup(&node),
        None,
        "no package lists node: an answer, not a miss"
    );
    assert_eq!(got.source, table.source);
    assert_eq!(got.warnings, table.warnings);
    let ls: FastSet<Vec<u8>> = FastSet::from_iter([b"/usr/bin/ls".to_vec()]);
    assert!(cat.host_database(b"stamp-1", &ls).unwrap().is_some());
    // A path never asked about, or another stamp: read the database.
    let other: FastSet<Vec<u8>> = FastSet::from_iter([b"/usr/bin/cat".to_vec()]);
    assert!(cat.host_database(b"stamp-1", &other).unwrap().is_none());
    assert!(cat.host_database(b"stamp-2", &wanted).unwrap().is_none());
    drop(cat);
    // A new stamp replaces the record: the old paths are no longer answered.
    let mut cat = Catalog::open(&dir.catalog()).unwrap();
    let newer = PackageTable {
        packages: vec![shared("libc6", "2.36-10", Some("amd64"))],
        paths: FastMap::from_iter([(libc.clone(), 0)]),
        source: Some("/var/lib/dpkg".into()),
        warnings: vec![],
    };
    let only_libc: FastSet<Vec<u8>> = FastSet::from_iter([libc.clone()]);
    cat.record_host_database(b"stamp-2", &newer, &only_libc)
        .unwrap();
    assert!(cat.host_database(b"stamp-1", &only_libc).unwrap().is_none());
    assert!(
        cat.host_database(b"stamp-2", &wanted).unwrap().is_none(),
        "node was asked under stamp-1 only"
    );
    let got = cat.host_database(b"stamp-2", &only_libc).unwrap().unwrap();
    assert_eq!(
        got.lookup(&libc).map(|p| p.version.as_str()),
        Some("2.36-10")
    );
    assert!(got.warnings.is_empty());
}

/// What an image layer stack's package database said, under its stamp: answered only for
/// that stamp and only when every wanted path was asked before (an unowned path is an
/// answer too; an empty set asks for the package list alone), with the packages in the
/// database's own order; two stacks are two records.
#[test]
fn layer_database_answers_for_its_stamp_and_the_paths_asked() {
    let dir = TempDir::new("layerdb");
    let libc = b"/usr/lib/x86_64-linux-gnu/libc.so.6".to_vec();
    let demo = b"/usr/lib/livetree-demo/libdemo.so.1".to_vec();
    // Not in the order a package's row ID would give: zlib1g is recorded first, by the
    // other stack.
    let base = PackageTable {
        packages: vec![
            shared("libc6", "2.36-9", Some("amd64")),
            shared("zlib1g", "1.2.13", Some("amd64")),
        ],
        paths: FastMap::from_iter([(libc.clone(), 0)]),
        source: Some("/var/lib/dpkg".into()),
        warnings: vec![],
    };
    let run = PackageTable {
        packages: vec![
            shared("zlib1g", "1.2.13", Some("amd64")),
            shared("livetree-demo", "1.0-1", Some("amd64")),
            shared("libc6", "2.36-9", Some("amd64")),
        ],
        paths: FastMap::from_iter([(demo.clone(), 1)]),
        source: Some("/var/lib/dpkg".into()),
        warnings: vec!["a \"damaged\" entry".into()],
    };
    let wanted: FastSet<Vec<u8>> = FastSet::from_iter([libc.clone(), demo.clone()]);
    {
        let mut cat = Catalog::open(&dir.catalog()).unwrap();
        assert!(cat.layer_database(b"run", &wanted).unwrap().is_none());
        cat.record_layer_database(b"run", &run, &wanted).unwrap();
        cat.record_layer_database(b"base", &base, &wanted).unwrap();
        // The same stamp again adds the paths not asked about before.
        let more: FastSet<Vec<u8>> = FastSet::from_iter([b"/usr/bin/ls".to_vec()]);
        cat.record_layer_database(b"base", &base, &more).unwrap();
        // The same stamp with another package list is no record of it.
        assert!(cat.record_layer_database(b"base", &run, &more).is_err());
    }
    let cat = Catalog::open(&dir.catalog()).unwrap();
    for (stamp, table, owned) in [(&b"run"[..], &run, &demo), (&b"base"[..], &base, &libc)] {
        let got = cat
            .layer_database(stamp, &wanted)
            .unwrap()
            .expect("recorded");
        assert_eq!(got.packages, table.packages);
        assert_eq!(got.lookup(owned), table.lookup(owned));
        assert_eq!(
            got.paths.len(),
            1,
            "an unowned path is an answer, not an owner"
        );
        assert_eq!(got.source, table.source);
        assert_eq!(got.warnings, table.warnings);
        let names = cat
            .layer_database(stamp, &FastSet::default())
            .unwrap()
            .expect("recorded");
        assert_eq!(
            (names.packages, names.paths.len()),
            (table.packages.clone(), 0)
        );
    }
    let ls: FastSet<Vec<u8>> = FastSet::from_iter([b"/usr/bin/ls".to_vec()]);
    assert!(cat.layer_database(b"base", &ls).unwrap().is_some());
    assert!(cat.layer_database(b"run", &ls).unwrap().is_none());
    assert!(cat
        .layer_database(b"other", &FastSet::default())
        .unwrap()
        .is_none());
}
