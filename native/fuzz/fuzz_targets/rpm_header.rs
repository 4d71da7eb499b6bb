//! rpm header blobs as rpmdb.sqlite stores them: counts, index entries and offsets all
//! come from the file, so every one of them is hostile here: the file list and the
//! parallel arrays config-diff reads (FILEFLAGS, FILEMODES, FILESTATES, FILEVERIFYFLAGS,
//! FILEDIGESTS, FILEDIGESTALGO).
#![no_main]
use libfuzzer_sys::fuzz_target;
use livetree_core::packages::rpm;

fuzz_target!(|data: &[u8]| {
    if let Ok(h) = rpm::parse_header(data) {
        assert!(!h.info.name.is_empty() || h.info.version.contains('-'));
        // Every %config file is one of the header's files, flagged %config.
        for f in &h.config_files {
            assert!(f.flags & rpm::RPMFILE_CONFIG != 0);
            assert!(h.files.contains(&f.path));
            let _ = f.regular();
        }
    }
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = rpm::split_sourcerpm(s);
    }
});
