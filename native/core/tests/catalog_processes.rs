//! The catalog with real concurrent processes: a second process writing at the same time,
//! and processes killed with SIGKILL in the middle of a write.
mod catalog_support;

use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::process::Child;
use std::time::{Duration, Instant};

use catalog_support::{child_mode, commit, sorted_files, spawn_child, TempDir};
use livetree_core::catalog::{Catalog, RestartEnd, RestartStart, RestartState};

const ENTRY: &str = "child_process_entry";
const HUGE_FILES: usize = 600_000;

/// Runs only as a child spawned by the tests below (it is a no-op in a normal test run).
#[test]
fn child_process_entry() {
    let Some((mode, path)) = child_mode() else {
        return;
    };
    let mut catalog = Catalog::open(&path).unwrap();
    match mode.as_str() {
        "record-range" => {
            let base: u32 = std::env::var("LIVETREE_CATALOG_BASE")
                .unwrap()
                .parse()
                .unwrap();
            println!("STARTED");
            for n in base..base + 10 {
                catalog.record_commit(&commit(n, 5000)).unwrap();
                catalog.record_commit(&commit(1, 5000)).unwrap();
            }
            println!("FINISHED");
        }
        "record-huge" => {
            let record = commit(77, HUGE_FILES);
            println!("RECORDING");
            catalog.record_commit(&record).unwrap();
            println!("RECORDED");
        }
        "begin-restart" => {
            let id = catalog
                .begin_restart(&RestartStart {
                    unit: "httpd.service".into(),
                    old_pids: vec![4242],
                    stale_files_json: r#"[{"path":"/usr/lib64/libcrypto.so.3"}]"#.into(),
                })
                .unwrap();
            println!("BEGUN {id}");
            // Stand for the systemd job that is running when livetree is killed.
            std::thread::sleep(Duration::from_secs(120));
        }
        other => panic!("unknown child mode {other}"),
    }
}

/// Read the child's stdout until a line holding `marker`; returns the line from there on.
fn wait_for_line(child: &mut Child, marker: &str) -> String {
    let stdout = child.stdout.as_mut().expect("piped stdout");
    let mut reader = BufReader::new(stdout);
    let mut line = String::new();
    loop {
        line.clear();
        let n = reader.read_line(&mut line).expect("read child stdout");
        assert!(n > 0, "child exited before printing {marker}");
        // libtest prints "test NAME ... " just before the child's first line.
        if let Some(at) = line.find(marker) {
            return line[at..].trim().to_string();
        }
    }
}

/// Kill the child by its own PID with SIGKILL and reap it; returns its exit status.
fn kill_9(child: &mut Child) -> std::process::ExitStatus {
    child.kill().expect("SIGKILL the child");
    child.wait().expect("reap the child")
}

#[test]
fn a_second_process_writes_while_we_write() {
    let dir = TempDir::new("two-processes");
    let path = dir.catalog();
    // Create it first so both sides start writing at once rather than racing to create it.
    drop(Catalog::open(&path).unwrap());
    let mut child = spawn_child(
        ENTRY,
        "record-range",
        &path,
        &[("LIVETREE_CATALOG_BASE", "300".into())],
    );
    wait_for_line(&mut child, "STARTED");
    let mut catalog = Catalog::open(&path).unwrap();
    for n in 400..410 {
        catalog.record_commit(&commit(n, 5000)).unwrap();
        catalog.record_commit(&commit(1, 5000)).unwrap();
    }
    wait_for_line(&mut child, "FINISHED");
    let status = child.wait().unwrap();
    assert!(status.success(), "child failed: {status}");

    for n in (300..310).chain(400..410).chain([1]) {
        let record = commit(n, 5000);
        assert_eq!(
            catalog.commit_files(&record.checksum).unwrap().unwrap(),
            sorted_files(&record),
            "commit {n}"
        );
    }
    assert_eq!(catalog.list_commits().unwrap().len(), 21);
    drop(catalog);
    let report = Catalog::check(&path).unwrap();
    assert!(report.ok, "{:?}", report.problems);
}

#[test]
fn kill_9_in_the_middle_of_recording_leaves_the_commit_absent_or_complete() {
    let dir = TempDir::new("kill9");
    let path = dir.catalog();
    let mut catalog = Catalog::open(&path).unwrap();
    catalog.record_commit(&commit(1, 200)).unwrap();
    let huge = commit(77, HUGE_FILES);

    let mut child = spawn_child(ENTRY, "record-huge", &path, &[]);
    wait_for_line(&mut child, "RECORDING");
    // Mid-transaction means: the child is alive, it has already written megabytes of pages
    // to the WAL (SQLite spills a big transaction there before it commits), and the commit
    // is still invisible to another connection.
    let wal = {
        let mut name = path.clone().into_os_string();
        name.push("-wal");
        std::path::PathBuf::from(name)
    };
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the child finished before it could be killed mid-transaction; make HUGE_FILES larger"
        );
        let wal_size = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
        if wal_size > 8 << 20 {
            assert!(!catalog.has_commit(&huge.checksum).unwrap());
            break;
        }
        assert!(Instant::now() < deadline, "the WAL never grew");
        std::thread::sleep(Duration::from_millis(5));
    }
    let status = kill_9(&mut child);
    assert_eq!(status.signal(), Some(9), "child was not killed: {status}");
    drop(catalog);

    let report = Catalog::check(&path).unwrap();
    assert!(report.ok, "{:?}", report.problems);
    let mut catalog = Catalog::open(&path).unwrap();
    match catalog.commit_info(&huge.checksum).unwrap() {
        None => {}
        Some(info) => {
            // Only possible if the kill landed after COMMIT; then it must be whole.
            assert_eq!(info.n_files, HUGE_FILES as u64);
            assert_eq!(
                catalog.commit_files(&huge.checksum).unwrap().unwrap().len(),
                HUGE_FILES
            );
        }
    }
    // The files of the half-written commit are not there either.
    let own_file = &huge.files[1];
    assert!(catalog.find_object(&own_file.object).unwrap().is_empty());
    // What was there before is intact, and the catalog takes new writes.
    let before = commit(1, 200);
    assert_eq!(
        catalog.commit_files(&before.checksum).unwrap().unwrap(),
        sorted_files(&before)
    );
    catalog.record_commit(&commit(2, 200)).unwrap();
    assert_eq!(catalog.list_commits().unwrap().len(), 2);
}

#[test]
fn a_restart_interrupted_by_a_crash_stays_visible_as_in_progress() {
    let dir = TempDir::new("restart-crash");
    let path = dir.catalog();
    drop(Catalog::open(&path).unwrap());
    let mut child = spawn_child(ENTRY, "begin-restart", &path, &[]);
    let line = wait_for_line(&mut child, "BEGUN ");
    let id: i64 = line["BEGUN ".len()..].parse().unwrap();
    let status = kill_9(&mut child);
    assert_eq!(status.signal(), Some(9));

    let catalog = Catalog::open(&path).unwrap();
    let history = catalog.list_restarts().unwrap();
    assert_eq!(history.len(), 1);
    let entry = &history[0];
    assert_eq!(entry.id, id);
    assert_eq!(entry.unit, "httpd.service");
    assert_eq!(entry.old_pids, [4242]);
    assert_eq!(entry.state, RestartState::InProgress);
    assert_eq!(entry.finished_at, None);
    let report = Catalog::check(&path).unwrap();
    assert_eq!(report.restarts_in_progress, Some(1));

    // A later livetree can still close it.
    catalog
        .finish_restart(
            id,
            &RestartEnd {
                job_result: "unknown".into(),
                new_pids: vec![],
                verdict: "interrupted".into(),
                details_json: r#"{"reason":"livetree was killed"}"#.into(),
            },
        )
        .unwrap();
    assert_eq!(
        catalog.restart(id).unwrap().unwrap().state,
        RestartState::Done
    );
}
