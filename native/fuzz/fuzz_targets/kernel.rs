//! The kernel parsers: the bzImage header's version string, /proc/version, the ostree=
//! argument of /proc/cmdline, sysfs flags, and release order/flavour on any text.
#![no_main]
use libfuzzer_sys::fuzz_target;
use livetree_core::kernel::{image, livepatch, procfile, release};

fuzz_target!(|data: &[u8]| {
    if let Ok(Some(s)) = image::version_string(data) {
        // What the parser returns is printable text, never longer than the setup area.
        assert!(s.bytes().all(|b| (0x20..0x7f).contains(&b)));
    }
    if let Ok(v) = procfile::parse_version(data) {
        assert!(!v.release.is_empty());
        let _ = v.image_string();
    }
    let _ = procfile::cmdline_ostree(data);
    let _ = livepatch::parse_flag(data);
    if let Ok(text) = std::str::from_utf8(data) {
        // Split the input into two releases: the order must be antisymmetric and total.
        let mid = text
            .char_indices()
            .map(|(i, _)| i)
            .nth(text.chars().count() / 2)
            .unwrap_or(text.len());
        let (a, b) = text.split_at(mid);
        assert_eq!(release::compare(a, b), release::compare(b, a).reverse());
        assert_eq!(release::compare(a, a), std::cmp::Ordering::Equal);
        let _ = release::flavour(a);
    }
});
