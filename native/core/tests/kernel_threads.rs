//! Kernel threads are no processes of the report: they run the kernel's own code and map
//! no files. The core tells them by `PF_KTHREAD` in `/proc/PID/stat`, never by an empty
//! maps (a user-space process may map nothing, and a non-root reader sees every kernel
//! thread's maps as empty), leaves them out of `processes` and every count, and counts
//! them apart.
use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;

use livetree_core::scan::{self, ProcessState, ScanConfig};

mod scratch;
use scratch::Scratch;

const PF_KTHREAD: u64 = 0x0020_0000;

fn config(base: &Path, proc_root: &Path, pids: Option<Vec<u32>>) -> ScanConfig {
    ScanConfig {
        sysroot: base.join("no-sysroot"),
        proc_root: proc_root.to_path_buf(),
        sys_root: "/sys".into(),
        run_dir: base.join("run"),
        host_root: "/".into(),
        catalog_path: None,
        pids,
        progress: false,
        kernel: false,
    }
}

/// The flags field of a stat line, read here independently of the core.
fn flags(stat: &str) -> u64 {
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    after.split(' ').nth(6).unwrap().parse().unwrap()
}

/// One process directory of a built proc tree: comm, an empty maps, stat with `flags`,
/// and a root that is `/`.
fn mapless(proc: &Path, pid: u32, comm: &str, flags: u64) {
    let dir = proc.join(pid.to_string());
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("comm"), format!("{comm}\n")).unwrap();
    fs::write(dir.join("maps"), "").unwrap();
    fs::write(
        dir.join("stat"),
        format!("{pid} ({comm}) S 2 0 0 0 -1 {flags} 0 0 0 0 0 0 0 0 20 0 1 0 8 0 0\n"),
    )
    .unwrap();
    symlink("/", dir.join("root")).unwrap();
}

#[test]
fn a_kernel_thread_is_counted_apart_and_a_user_process_that_maps_nothing_is_a_process() {
    let base = Scratch::new("kthreads-built");
    let proc = base.0.join("proc");
    // kthreadd's flags as the kernel writes them (PF_KTHREAD set), a kworker whose name
    // holds ") " and a user-space process that maps nothing (PF_KTHREAD clear).
    mapless(&proc, 2, "kthreadd", 2_129_984);
    mapless(&proc, 7, "kworker/0:0H (x) y", 69_238_880);
    mapless(&proc, 50, "empty", 4_194_560);
    fs::create_dir_all(base.0.join("no-sysroot")).unwrap();
    let r = scan::run(&config(&base.0, &proc, None)).unwrap();
    let threads: Vec<(u32, &[u8])> = r
        .kernel_threads
        .iter()
        .map(|k| (k.pid, &k.comm[..]))
        .collect();
    assert_eq!(
        threads,
        vec![(2, &b"kthreadd"[..]), (7, &b"kworker/0:0H (x) y"[..])]
    );
    let pids: Vec<u32> = r.processes.iter().map(|p| p.pid).collect();
    assert_eq!(pids, vec![50]);
    assert_ne!(r.processes[0].state, ProcessState::Unknown);
    let c = r.counts();
    assert_eq!(
        (
            c.processes,
            c.kernel_threads,
            c.processes_unreadable,
            c.complete
        ),
        (1, 2, 0, true)
    );
    let json: serde_json::Value = serde_json::to_value(&r).unwrap();
    assert_eq!(
        json["kernelThreads"],
        serde_json::json!([{"pid": 2, "comm": "kthreadd"}, {"pid": 7, "comm": "kworker/0:0H (x) y"}])
    );
    assert_eq!(json["counts"]["kernelThreads"], 2);
    assert_eq!(json["counts"]["processes"], 1);
}

#[test]
fn the_live_kernels_threads_are_those_with_pf_kthread_and_nothing_else() {
    let base = Scratch::new("kthreads-live");
    fs::create_dir_all(base.0.join("no-sysroot")).unwrap();
    let r = scan::run(&config(&base.0, Path::new("/proc"), None)).unwrap();
    assert!(
        !r.kernel_threads.is_empty(),
        "a Linux host has kernel threads"
    );
    // Each one reported has PF_KTHREAD; no process reported has it. (A thread that exited
    // since has no stat to read: skipped.)
    let kthread = |pid: u32| {
        fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .map(|s| flags(&s) & PF_KTHREAD != 0)
    };
    for k in &r.kernel_threads {
        assert_ne!(
            kthread(k.pid),
            Some(false),
            "PID {} is no kernel thread",
            k.pid
        );
    }
    for p in &r.processes {
        assert_ne!(
            kthread(p.pid),
            Some(true),
            "PID {} is a kernel thread",
            p.pid
        );
    }
    assert_eq!(r.counts().processes, r.processes.len());
    assert_eq!(r.counts().kernel_threads, r.kernel_threads.len());
    // Asked for by PID, a kernel thread is named as one, and is no process.
    let one = r.kernel_threads[0].clone();
    let r = scan::run(&config(&base.0, Path::new("/proc"), Some(vec![one.pid]))).unwrap();
    assert_eq!(r.kernel_threads, vec![one]);
    assert!(r.processes.is_empty());
}
