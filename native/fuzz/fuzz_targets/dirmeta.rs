//! Dirmeta objects (also the bare-user `user.ostreemeta` xattr) and `.filez` headers.
#![no_main]
use libfuzzer_sys::fuzz_target;
use livetree_core::ostree::repo;

fuzz_target!(|data: &[u8]| {
    let _ = repo::parse_dirmeta(data);
    if let Ok((_, _, start)) = repo::parse_filez_header(data) {
        assert!(start <= data.len(), "compressed data starts past the end");
    }
});
