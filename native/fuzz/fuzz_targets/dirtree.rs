//! Dirtree objects: names accepted here become paths, so they must never hold `/` or `..`.
#![no_main]
use libfuzzer_sys::fuzz_target;
use livetree_core::ostree::repo;

fuzz_target!(|data: &[u8]| {
    if let Ok(tree) = repo::parse_dirtree(data) {
        for name in tree
            .files
            .iter()
            .map(|f| &f.0)
            .chain(tree.dirs.iter().map(|d| &d.0))
        {
            assert!(!name.is_empty() && !name.contains(&b'/'));
            assert!(name.as_slice() != b"." && name.as_slice() != b"..");
        }
    }
});
