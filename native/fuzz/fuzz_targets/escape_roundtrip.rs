//! The kernel's octal escapes: escaping a set that includes the backslash decodes back
//! exactly, and decoding never grows the input.
#![no_main]
use libfuzzer_sys::fuzz_target;
use livetree_core::proc::escape;

fuzz_target!(|data: &[u8]| {
    const MOUNTINFO: &[u8] = b" \t\n\\";
    let e = escape::escape_octal(data, MOUNTINFO);
    assert_eq!(escape::unescape_octal(&e), data);
    // maps escapes only the newline: a decoder for that set must round-trip names
    // that do not themselves look like an escape of a newline.
    let e = escape::escape_octal(data, b"\n");
    if !data.windows(4).any(|w| w == b"\\012") {
        assert_eq!(escape::unescape_octal_set(&e, b"\n"), data);
    }
    assert!(escape::unescape_octal(data).len() <= data.len());
});
