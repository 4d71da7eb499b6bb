//! The catalog on real SQLite files: round trips, lookups, idempotence, deployments,
//! restart history, schema versions, and writers in two threads.
mod catalog_support;

use std::path::PathBuf;
use std::time::Instant;

use catalog_support::{commit, sha, sorted_files, TempDir};
use livetree_core::catalog::{
    Catalog, CatalogFile, DeploymentRecord, RestartEnd, RestartStart, RestartState, SCHEMA_VERSION,
};
use livetree_core::Error;

#[test]
fn commit_round_trip_survives_reopen() {
    let dir = TempDir::new("roundtrip");
    let mut record = commit(1, 50);
    // A path that is not UTF-8 must come back byte for byte.
    record.files.push(CatalogFile {
        path: b"/usr/share/caf\xe9/\xff\x01name".to_vec(),
        object: sha("latin1"),
        is_symlink: false,
    });
    {
        let mut catalog = Catalog::open(&dir.catalog()).unwrap();
        assert!(!catalog.has_commit(&record.checksum).unwrap());
        catalog.record_commit(&record).unwrap();
        assert!(catalog.has_commit(&record.checksum).unwrap());
    }
    let catalog = Catalog::open(&dir.catalog()).unwrap();
    let info = catalog.commit_info(&record.checksum).unwrap().unwrap();
    assert_eq!(info.checksum, record.checksum);
    assert_eq!(info.version, record.version);
    assert_eq!(info.subject, record.subject);
    assert_eq!(info.timestamp, record.timestamp);
    assert_eq!(info.parent, record.parent);
    assert_eq!(info.osname, record.osname);
    assert_eq!(info.refspec, record.refspec);
    assert_eq!(info.n_files, 51);
    assert!(info.first_seen > 0 && info.first_seen <= info.last_seen);
    assert_eq!(
        catalog.commit_files(&record.checksum).unwrap().unwrap(),
        sorted_files(&record)
    );
    let hits = catalog.find_object(&sha("latin1")).unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].path, b"/usr/share/caf\xe9/\xff\x01name");
    assert_eq!(hits[0].commit, record.checksum);
    assert_eq!(hits[0].version.as_deref(), Some("40.1"));
    assert!(catalog.commit_info(&sha("nope")).unwrap().is_none());
    assert!(catalog.commit_files(&sha("nope")).unwrap().is_none());
    assert!(catalog.find_object(&sha("nope")).unwrap().is_empty());
}

#[test]
fn object_and_path_lookups_list_newest_commit_first() {
    let dir = TempDir::new("lookup");
    let mut catalog = Catalog::open(&dir.catalog()).unwrap();
    // Record the older commit last, so the order cannot come from insertion order.
    let newer = commit(7, 20);
    let older = commit(3, 20);
    catalog.record_commit(&newer).unwrap();
    catalog.record_commit(&older).unwrap();

    // file0 is shared by both commits.
    let shared = &newer.files[0];
    assert_eq!(shared.object, older.files[0].object);
    let hits = catalog.find_object(&shared.object).unwrap();
    let commits: Vec<&str> = hits.iter().map(|h| h.commit.as_str()).collect();
    assert_eq!(commits, [newer.checksum.as_str(), older.checksum.as_str()]);
    assert!(hits.iter().all(|h| h.path == shared.path));
    assert!(hits[0].timestamp > hits[1].timestamp);

    // file1 differs: each object is found only in its own commit.
    let own = catalog.find_object(&older.files[1].object).unwrap();
    assert_eq!(own.len(), 1);
    assert_eq!(own[0].commit, older.checksum);

    let by_path = catalog.find_path(&newer.files[1].path).unwrap();
    assert_eq!(by_path.len(), 2);
    assert_eq!(by_path[0].commit, newer.checksum);
    assert_eq!(by_path[0].object, newer.files[1].object);
    assert_eq!(by_path[1].object, older.files[1].object);
    assert_eq!(by_path[0].is_symlink, newer.files[1].is_symlink);

    // Symlink flag comes back as stored.
    let link = &newer.files[3];
    assert!(link.is_symlink);
    assert!(catalog.find_object(&link.object).unwrap()[0].is_symlink);

    // Shared files are stored once: 20 + 10 distinct (path, object) pairs, not 40.
    drop(catalog);
    let report = Catalog::check(&dir.catalog()).unwrap();
    assert!(report.ok, "{:?}", report.problems);
    assert_eq!(report.commits, Some(2));
    assert_eq!(report.files, Some(30));

    let listed = Catalog::open(&dir.catalog())
        .unwrap()
        .list_commits()
        .unwrap();
    assert_eq!(listed[0].checksum, newer.checksum);
    assert_eq!(listed[1].checksum, older.checksum);
}

#[test]
fn recording_the_same_commit_again_changes_nothing_but_last_seen() {
    let dir = TempDir::new("idempotent");
    let mut catalog = Catalog::open(&dir.catalog()).unwrap();
    let mut record = commit(2, 100);
    record.osname = None;
    // A file listed twice is one file.
    record.files.push(record.files[5].clone());
    catalog.record_commit(&record).unwrap();
    let first = catalog.commit_info(&record.checksum).unwrap().unwrap();
    assert_eq!(first.n_files, 100);
    assert_eq!(first.osname, None);

    // A later scan knows the osname; and a different file list under the same checksum
    // cannot change what was recorded (a checksum names exactly one tree).
    record.osname = Some("lateros".into());
    record.files.truncate(10);
    catalog.record_commit(&record).unwrap();
    let again = catalog.commit_info(&record.checksum).unwrap().unwrap();
    assert_eq!(again.n_files, 100);
    assert_eq!(again.first_seen, first.first_seen);
    assert!(again.last_seen >= first.last_seen);
    assert_eq!(again.osname.as_deref(), Some("lateros"));
    assert_eq!(catalog.list_commits().unwrap().len(), 1);
    assert_eq!(
        catalog
            .commit_files(&record.checksum)
            .unwrap()
            .unwrap()
            .len(),
        100
    );

    assert!(catalog.touch_commit(&record.checksum).unwrap());
    assert!(!catalog.touch_commit(&sha("unknown")).unwrap());
}

#[test]
fn invalid_checksums_are_refused_and_nothing_is_written() {
    let dir = TempDir::new("invalid");
    let mut catalog = Catalog::open(&dir.catalog()).unwrap();
    let mut record = commit(4, 30);
    record.files[29].object = "not-a-checksum".into();
    let err = catalog.record_commit(&record).unwrap_err();
    assert!(matches!(err, Error::Catalog { .. }), "{err}");
    assert_eq!(err.path(), dir.catalog());
    assert!(err.to_string().contains("not-a-checksum"), "{err}");
    assert!(!catalog.has_commit(&record.checksum).unwrap());

    let mut upper = commit(5, 1);
    upper.checksum = upper.checksum.to_uppercase();
    assert!(catalog.record_commit(&upper).is_err());
    assert!(catalog.find_object("abc").is_err());
    assert!(catalog.list_commits().unwrap().is_empty());
}

#[test]
fn a_100k_file_commit_is_recorded_in_one_fast_transaction() {
    let dir = TempDir::new("big");
    let mut catalog = Catalog::open(&dir.catalog()).unwrap();
    let record = commit(9, 100_000);
    let start = Instant::now();
    catalog.record_commit(&record).unwrap();
    let first = start.elapsed();
    let start = Instant::now();
    catalog.record_commit(&record).unwrap();
    let again = start.elapsed();
    eprintln!("100k files: first record {first:?}, re-record {again:?}");
    // Generous bounds for an unoptimised test build on a loaded 2-core machine; a release
    // build takes well under a second.
    assert!(first.as_secs() < 30, "recording took {first:?}");
    assert!(again.as_millis() < 200, "re-recording took {again:?}");
    let info = catalog.commit_info(&record.checksum).unwrap().unwrap();
    assert_eq!(info.n_files, 100_000);
    let last = record.files.last().unwrap();
    assert_eq!(
        catalog.find_object(&last.object).unwrap()[0].path,
        last.path
    );
}

#[test]
fn two_threads_record_at_once() {
    let dir = TempDir::new("threads");
    let path = dir.catalog();
    let workers: Vec<_> = [100u32, 200]
        .into_iter()
        .map(|base| {
            let path = path.clone();
            std::thread::spawn(move || {
                let mut catalog = Catalog::open(&path).unwrap();
                for n in base..base + 8 {
                    catalog.record_commit(&commit(n, 3000)).unwrap();
                    // Both threads also record one commit in common.
                    catalog.record_commit(&commit(1, 3000)).unwrap();
                    catalog
                        .begin_restart(&RestartStart {
                            unit: format!("unit{n}.service"),
                            old_pids: vec![n],
                            stale_files_json: "[]".into(),
                        })
                        .unwrap();
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().unwrap();
    }
    let catalog = Catalog::open(&path).unwrap();
    for n in (100..108).chain(200..208).chain([1]) {
        let record = commit(n, 3000);
        assert_eq!(
            catalog.commit_files(&record.checksum).unwrap().unwrap(),
            sorted_files(&record),
            "commit {n}"
        );
    }
    assert_eq!(catalog.list_commits().unwrap().len(), 17);
    assert_eq!(catalog.list_restarts().unwrap().len(), 16);
}

#[test]
fn many_threads_creating_a_new_catalog_at_once_all_succeed() {
    let dir = TempDir::new("create-race");
    let path = dir.catalog();
    let workers: Vec<_> = (0..6)
        .map(|i| {
            let path = path.clone();
            std::thread::spawn(move || {
                let mut catalog = Catalog::open(&path).unwrap();
                catalog.record_commit(&commit(i, 10)).unwrap();
            })
        })
        .collect();
    for worker in workers {
        worker.join().unwrap();
    }
    let report = Catalog::check(&path).unwrap();
    assert!(report.ok, "{:?}", report.problems);
    assert_eq!(report.schema_version, Some(SCHEMA_VERSION));
    assert_eq!(report.commits, Some(6));
}

#[test]
fn deployments_are_found_by_their_root_directory() {
    let dir = TempDir::new("deployments");
    let catalog = Catalog::open(&dir.catalog()).unwrap();
    let csum = sha("commit-1");
    let mut deployment = DeploymentRecord {
        id: format!("testos/{csum}.0"),
        osname: "testos".into(),
        commit: csum.clone(),
        // Values above 2^63 must survive SQLite's signed integers.
        dir_dev: u64::MAX - 5,
        dir_ino: (1 << 63) + 12345,
        path: PathBuf::from(format!("/sysroot/ostree/deploy/testos/deploy/{csum}.0")),
    };
    catalog.record_deployment(&deployment).unwrap();
    let found = catalog
        .find_deployment_by_dir(u64::MAX - 5, (1 << 63) + 12345)
        .unwrap()
        .unwrap();
    assert_eq!(found.id, deployment.id);
    assert_eq!(found.commit, csum);
    assert_eq!(found.path, deployment.path);
    assert_eq!(found.dir_dev, u64::MAX - 5);
    assert!(catalog.find_deployment_by_dir(2049, 77).unwrap().is_none());

    // After a reboot the same deployment may sit on another device number.
    deployment.dir_dev = 2049;
    deployment.dir_ino = 77;
    catalog.record_deployment(&deployment).unwrap();
    assert!(catalog
        .find_deployment_by_dir(u64::MAX - 5, (1 << 63) + 12345)
        .unwrap()
        .is_none());
    let moved = catalog.find_deployment_by_dir(2049, 77).unwrap().unwrap();
    assert_eq!(moved.first_seen, found.first_seen);
    assert_eq!(catalog.list_deployments().unwrap().len(), 1);
}

#[test]
fn restart_history_survives_reopen() {
    let dir = TempDir::new("restarts");
    let (done_id, open_id) = {
        let catalog = Catalog::open(&dir.catalog()).unwrap();
        let done_id = catalog
            .begin_restart(&RestartStart {
                unit: "sshd.service".into(),
                old_pids: vec![101, 102],
                stale_files_json: r#"[{"pid":101,"path":"/usr/lib64/libssl.so.3"}]"#.into(),
            })
            .unwrap();
        let open_id = catalog
            .begin_restart(&RestartStart {
                unit: "crond.service".into(),
                old_pids: vec![],
                stale_files_json: "[]".into(),
            })
            .unwrap();
        catalog
            .finish_restart(
                done_id,
                &RestartEnd {
                    job_result: "done".into(),
                    new_pids: vec![555],
                    verdict: "verified".into(),
                    details_json: r#"{"staleAfter":0}"#.into(),
                },
            )
            .unwrap();
        (done_id, open_id)
    };
    let catalog = Catalog::open(&dir.catalog()).unwrap();
    let history = catalog.list_restarts().unwrap();
    assert_eq!(history.len(), 2);
    // Newest first.
    assert_eq!(history[0].id, open_id);
    assert_eq!(history[0].state, RestartState::InProgress);
    assert_eq!(history[0].state.as_str(), "in-progress");
    assert_eq!(history[0].finished_at, None);
    assert_eq!(history[0].new_pids, None);
    let done = &history[1];
    assert_eq!(done.id, done_id);
    assert_eq!(done.unit, "sshd.service");
    assert_eq!(done.old_pids, [101, 102]);
    assert!(done.stale_files_json.contains("libssl.so.3"));
    assert_eq!(done.job_result.as_deref(), Some("done"));
    assert_eq!(done.new_pids.as_deref(), Some(&[555][..]));
    assert_eq!(done.verdict.as_deref(), Some("verified"));
    assert_eq!(done.details_json.as_deref(), Some(r#"{"staleAfter":0}"#));
    assert_eq!(done.state, RestartState::Done);
    assert!(done.finished_at.unwrap() >= done.started_at);

    let end = RestartEnd {
        job_result: "done".into(),
        new_pids: vec![],
        verdict: "verified".into(),
        details_json: "{}".into(),
    };
    let twice = catalog.finish_restart(done_id, &end).unwrap_err();
    assert!(twice.to_string().contains("already finished"), "{twice}");
    let unknown = catalog.finish_restart(9999, &end).unwrap_err();
    assert!(unknown.to_string().contains("no restart"), "{unknown}");
    // Not JSON: refused by the schema, and the history is unchanged.
    assert!(catalog
        .begin_restart(&RestartStart {
            unit: "x.service".into(),
            old_pids: vec![],
            stale_files_json: "{not json".into(),
        })
        .is_err());
    assert_eq!(catalog.list_restarts().unwrap().len(), 2);
}

#[test]
fn a_catalog_from_a_newer_livetree_is_refused_untouched() {
    let dir = TempDir::new("newer");
    drop(Catalog::open(&dir.catalog()).unwrap());
    {
        let conn = rusqlite::Connection::open(dir.catalog()).unwrap();
        conn.execute_batch(&format!("PRAGMA user_version = {}", SCHEMA_VERSION + 1))
            .unwrap();
    }
    let err = Catalog::open(&dir.catalog())
        .err()
        .expect("newer schema refused");
    assert!(matches!(err, Error::Catalog { .. }));
    assert!(err.to_string().contains("newer livetree"), "{err}");
    let report = Catalog::check(&dir.catalog()).unwrap();
    assert!(!report.ok);
    assert_eq!(report.schema_version, Some(SCHEMA_VERSION + 1));
}

#[test]
fn another_programs_database_is_refused_untouched() {
    let dir = TempDir::new("foreign");
    let path = dir.path().join("other.sqlite");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (42);")
            .unwrap();
    }
    let err = Catalog::open(&path)
        .err()
        .expect("foreign database refused");
    assert!(err.to_string().contains("not a livetree catalog"), "{err}");
    let conn = rusqlite::Connection::open(&path).unwrap();
    let tables: i64 = conn
        .query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))
        .unwrap();
    assert_eq!(tables, 1);
}

#[test]
fn check_of_a_missing_file_is_not_found() {
    let dir = TempDir::new("missing");
    let err = Catalog::check(&dir.catalog()).unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err}");
    assert!(!dir.catalog().exists(), "check must not create the catalog");
}

#[test]
fn the_in_memory_fallback_opens() {
    // The fallback of a scan that may not open its catalog file; it once failed to switch
    // to WAL mode, which made every scan by an ordinary user fail.
    let mut catalog = Catalog::memory().unwrap();
    assert!(!catalog.is_read_only());
    catalog.record_commit(&commit(7, 3)).unwrap();
    assert!(catalog.has_commit(&commit(7, 3).checksum).unwrap());
}

#[test]
fn a_read_only_open_finds_what_was_recorded_and_writes_nothing() {
    let dir = TempDir::new("readonly");
    let record = commit(3, 10);
    let id = {
        let mut catalog = Catalog::open(&dir.catalog()).unwrap();
        catalog.record_commit(&record).unwrap();
        catalog
            .begin_restart(&RestartStart {
                unit: "a.service".into(),
                old_pids: vec![1],
                stale_files_json: "[]".into(),
            })
            .unwrap()
    };
    let before = std::fs::read(dir.catalog()).unwrap();
    let names = || {
        let mut names: Vec<String> = std::fs::read_dir(dir.catalog().parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    // The read-write session left its stamp beside the catalog (`catalog/verified.rs`).
    let names_before = names();
    assert_eq!(names_before, ["catalog.sqlite", "catalog.sqlite.verified"]);
    let stamp_before = std::fs::read(dir.catalog().with_extension("sqlite.verified")).unwrap();
    let catalog = Catalog::open_read_only(&dir.catalog()).unwrap();
    assert!(catalog.is_read_only());
    assert!(catalog.has_commit(&record.checksum).unwrap());
    assert_eq!(catalog.list_restarts().unwrap()[0].id, id);
    // A write through it is refused by SQLite itself.
    assert!(catalog.touch_commit(&record.checksum).is_err());
    drop(catalog);
    assert_eq!(std::fs::read(dir.catalog()).unwrap(), before);
    // Nothing beside it either: no -wal or -shm left behind by the reader, the stamp as it was.
    assert_eq!(names(), names_before);
    assert_eq!(
        std::fs::read(dir.catalog().with_extension("sqlite.verified")).unwrap(),
        stamp_before
    );
}

#[test]
fn a_read_only_open_of_a_missing_file_creates_nothing() {
    let dir = TempDir::new("readonly-missing");
    let path = dir.catalog();
    match Catalog::open_read_only(&path) {
        Err(Error::NotFound(p)) => assert_eq!(p, path),
        other => panic!("expected NotFound, got {:?}", other.map(|_| ())),
    }
    assert!(!path.exists());
    assert!(!path.with_extension("sqlite-wal").exists());
}
