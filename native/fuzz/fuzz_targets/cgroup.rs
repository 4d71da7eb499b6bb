//! /proc/PID/cgroup and the unit name derived from a cgroup path.
#![no_main]
use libfuzzer_sys::fuzz_target;
use livetree_core::proc::cgroup;

fuzz_target!(|data: &[u8]| {
    if let Ok(entries) = cgroup::parse_cgroup(data) {
        if let Some(path) = cgroup::systemd_cgroup_path(&entries) {
            let _ = cgroup::unit_from_cgroup_path(path);
        }
        for e in &entries {
            let _ = e.is_unified();
            let _ = cgroup::unit_from_cgroup_path(&e.path);
        }
    }
    let _ = cgroup::unit_from_cgroup_path(&String::from_utf8_lossy(data));
});
