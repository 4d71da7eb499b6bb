//! Commit objects and their `a{sv}` metadata; the staged-deployment record is an `a{sv}` too.
#![no_main]
use libfuzzer_sys::fuzz_target;
use livetree_core::ostree::{gvariant, repo, sysroot};

fuzz_target!(|data: &[u8]| {
    let _ = repo::parse_commit(&"0".repeat(64), data);
    let _ = gvariant::parse_metadata(data);
    let _ = sysroot::parse_staged(data);
});
