//! One whole scan (`scan::run`: /proc reads, knowledge, attribution) of a fixed list of
//! PIDs, for deterministic measurements of the reading loop: `strace -f -c` syscall counts
//! and `valgrind --tool=callgrind` instruction counts (docs/proc-reading.md).
//! Usage: scan_pids PIDFILE CATALOG [SYSROOT]  (PIDFILE: one PID per line; CATALOG: an
//! sqlite file, created when missing; SYSROOT default /)
use std::path::PathBuf;

use livetree_core::scan::{run, ProcessState, ScanConfig};

fn main() {
    let mut args = std::env::args().skip(1);
    let pidfile = args
        .next()
        .expect("usage: scan_pids PIDFILE CATALOG [SYSROOT]");
    let catalog = PathBuf::from(
        args.next()
            .expect("usage: scan_pids PIDFILE CATALOG [SYSROOT]"),
    );
    let sysroot = PathBuf::from(args.next().unwrap_or_else(|| "/".into()));
    let pids: Vec<u32> = std::fs::read_to_string(&pidfile)
        .expect("read the PID file")
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect();
    let cfg = ScanConfig {
        sysroot,
        proc_root: "/proc".into(),
        run_dir: "/run".into(),
        host_root: "/".into(),
        catalog_path: Some(catalog),
        pids: Some(pids),
        progress: false,
        sys_root: "/sys".into(),
        // The kernel is no part of what this example measures (the /proc reading loop).
        kernel: false,
    };
    let report = run(&cfg).expect("scan");
    let stale = report
        .processes
        .iter()
        .filter(|p| p.state == ProcessState::Stale)
        .count();
    let files: usize = report.processes.iter().map(|p| p.files.len()).sum();
    println!(
        "processes={} stale={stale} files={files} warnings={}",
        report.processes.len(),
        report.warnings.len()
    );
}
