//! /proc/PID/mountinfo and the overlayfs super options of every mount it yields.
#![no_main]
use libfuzzer_sys::fuzz_target;
use livetree_core::proc::mountinfo;

fuzz_target!(|data: &[u8]| {
    if let Ok(mounts) = mountinfo::parse_mountinfo(data) {
        for m in &mounts {
            let _ = mountinfo::parse_overlay_options(&m.super_options);
            let _ = mountinfo::mounts_with_dev(&mounts, m.major, m.minor).count();
        }
    }
    // Super options straight from the input too: the parser must not depend on a
    // well-formed mountinfo line around them.
    let _ = mountinfo::parse_overlay_options(data);
});
