//! Whole-/proc scan for timing against `cat /proc/*/maps` (see fixtures/captured/procfs/
//! bench.sh): every process read with one reused buffer, maps grouped by dev+ino.
//! Usage: scan_bench [PROC_ROOT]
use std::path::PathBuf;

use livetree_core::proc::maps::group_file_mappings;
use livetree_core::proc::procfs::{list_pids, ProcReader};
use livetree_core::Error;

fn main() {
    let root = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "/proc".into()));
    let mut reader = ProcReader::new();
    let (mut ok, mut gone, mut denied, mut files) = (0usize, 0usize, 0usize, 0usize);
    for pid in list_pids(&root).expect("list pids") {
        match reader.read_process(&root, pid) {
            Ok(p) => {
                ok += 1;
                files += group_file_mappings(&p.maps).len();
            }
            Err(Error::NotFound(p)) => {
                gone += 1;
                if std::env::var_os("BENCH_VERBOSE").is_some() {
                    let alive = root.join(pid.to_string()).exists();
                    eprintln!("gone: {} (still listed: {alive})", p.display());
                }
            }
            Err(Error::PermissionDenied(p)) => {
                denied += 1;
                if std::env::var_os("BENCH_VERBOSE").is_some() {
                    eprintln!("denied: {}", p.display());
                }
            }
            Err(e) => eprintln!("{e}"),
        }
    }
    println!("processes={ok} gone={gone} denied={denied} distinct_files={files}");
}
