//! rpm header blobs as rpmdb.sqlite stores them: counts, index entries and offsets all
//! come from the file, so every one of them is hostile here.
#![no_main]
use libfuzzer_sys::fuzz_target;
use livetree_core::packages::rpm;

fuzz_target!(|data: &[u8]| {
    if let Ok(h) = rpm::parse_header(data) {
        assert!(!h.info.name.is_empty() || h.info.version.contains('-'));
    }
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = rpm::split_sourcerpm(s);
    }
});
