//! A panic in the core goes on as a panic, wherever it happens, so that the napi glue can
//! turn it into an error (`native/src/guard.rs`): a /proc reader thread that panicked used
//! to be joined with `unwrap_or_default`, which left its processes out of a scan that then
//! looked complete. One test in its own binary: the hook is the process's environment.
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use livetree_core::scan::{self, ScanConfig};
use livetree_core::scanner::Scanner;

mod scratch;
use scratch::Scratch;

fn message(p: Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

#[test]
fn a_panic_in_a_reader_thread_or_in_attribution_reaches_the_caller() {
    let base = Scratch::new("panics");
    let cfg = ScanConfig {
        sysroot: base.0.clone(),
        proc_root: Path::new("/proc").to_path_buf(),
        sys_root: "/sys".into(),
        run_dir: base.0.clone(),
        host_root: "/".into(),
        catalog_path: None,
        pids: None,
        progress: false,
        kernel: false,
    };
    let mut scanner = Scanner::new(cfg.clone());
    for point in ["reader", "attribute"] {
        std::env::set_var(livetree_core::TEST_PANIC_VAR, point);
        let once = catch_unwind(AssertUnwindSafe(|| scan::run(&cfg)));
        let kept = catch_unwind(AssertUnwindSafe(|| scanner.scan(None, false)));
        std::env::remove_var(livetree_core::TEST_PANIC_VAR);
        let want = format!("LIVETREE_TEST_PANIC={point}: a panic a test asked for");
        assert_eq!(once.map(|_| ()).map_err(message), Err(want.clone()));
        assert_eq!(kept.map(|_| ()).map_err(message), Err(want));
    }
    // Unset, the same scanner scans again (what it held was taken out before the panic).
    let report = scanner.scan(None, false).unwrap();
    assert!(!report.processes.is_empty());
    assert!(scan::run(&cfg).is_ok());
}
