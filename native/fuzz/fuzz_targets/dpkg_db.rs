//! dpkg's status, .list and diversions files, byte for byte as a tree may hold them.
#![no_main]
use libfuzzer_sys::fuzz_target;
use livetree_core::packages::{canonical_path, dpkg};

fuzz_target!(|data: &[u8]| {
    let status = dpkg::parse_status(data);
    for e in &status.entries {
        assert!(!e.info.name.is_empty() && !e.info.version.is_empty());
    }
    let (diversions, _) = dpkg::parse_diversions(data);
    for p in dpkg::owned_paths(data, "pkg", &diversions) {
        let _ = canonical_path(&p);
    }
    let _ = dpkg::list_name(data);
});
