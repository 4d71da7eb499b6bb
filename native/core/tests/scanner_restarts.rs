//! A kept scanner lists the restart history through the catalog it holds open: no second
//! open (and `quick_check`) per call, and restarts another connection records are seen.
mod scratch;

use livetree_core::catalog::{Catalog, RestartStart};
use livetree_core::scan::ScanConfig;
use livetree_core::scanner::Scanner;
use scratch::Scratch;

fn start(unit: &str) -> RestartStart {
    RestartStart {
        unit: unit.into(),
        old_pids: vec![1],
        stale_files_json: "[]".into(),
    }
}

#[test]
fn kept_scanner_lists_restarts_through_its_open_catalog() {
    let dir = Scratch::new("scanner-restarts");
    let path = dir.0.join("catalog.sqlite");
    std::fs::create_dir_all(dir.0.join("no-sysroot")).unwrap();
    std::fs::create_dir_all(dir.0.join("run")).unwrap();
    Catalog::open(&path)
        .unwrap()
        .begin_restart(&start("a.service"))
        .unwrap();
    let mut scanner = Scanner::new(ScanConfig {
        sysroot: dir.0.join("no-sysroot"),
        proc_root: "/proc".into(),
        sys_root: "/sys".into(),
        run_dir: dir.0.join("run"),
        host_root: "/".into(),
        catalog_path: Some(path.clone()),
        pids: Some(vec![std::process::id()]),
        progress: false,
        kernel: false,
    });
    // Before any scan the file is opened read-only.
    let units = |s: &Scanner| -> Vec<String> {
        s.list_restarts()
            .unwrap()
            .into_iter()
            .map(|r| r.unit)
            .collect()
    };
    assert_eq!(units(&scanner), ["a.service"]);
    scanner.scan(None, false).unwrap();
    assert_eq!(scanner.stats().catalog_opens, 1);
    // Another process (here another connection) records a restart: the kept catalog sees it.
    Catalog::open(&path)
        .unwrap()
        .begin_restart(&start("b.service"))
        .unwrap();
    assert_eq!(units(&scanner), ["b.service", "a.service"], "newest first");
    assert_eq!(
        scanner.stats().catalog_opens,
        1,
        "no new open for the history"
    );

    // No catalog file at all: the read-only open fails and says so.
    let missing = Scanner::new(ScanConfig {
        catalog_path: Some(dir.0.join("missing/catalog.sqlite")),
        ..scanner.config(None, false)
    });
    assert!(missing.list_restarts().is_err());
}
