//! Boot loader entries, their `ostree=` argument, and the version ordering between entries.
#![no_main]
use libfuzzer_sys::fuzz_target;
use livetree_core::ostree::bootentry;
use std::cmp::Ordering;

fuzz_target!(|data: &[u8]| {
    if let Ok(e) = bootentry::parse(data) {
        let _ = e.boot_link();
        let _ = bootentry::compare_entries(&e, &e);
    }
    let s = String::from_utf8_lossy(data);
    let _ = bootentry::parse_bootlink(&s);
    // strverscmp is an order: antisymmetric on any split of the input.
    let mid = s
        .char_indices()
        .nth(s.chars().count() / 2)
        .map_or(0, |(i, _)| i);
    let (a, b) = s.split_at(mid);
    let ab = bootentry::strverscmp(a, b);
    assert_eq!(ab.reverse(), bootentry::strverscmp(b, a));
    assert_eq!(bootentry::strverscmp(a, a), Ordering::Equal);
});
