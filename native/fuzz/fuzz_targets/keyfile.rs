//! GLib key files: `.origin` files and anything else ostree writes in that format.
#![no_main]
use libfuzzer_sys::fuzz_target;
use livetree_core::ostree::{keyfile, sysroot};

fuzz_target!(|data: &[u8]| {
    if let Ok(kf) = keyfile::parse(data) {
        let _ = kf.get("origin", "refspec");
    }
    let _ = sysroot::parse_origin(data);
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = sysroot::parse_deploy_name(s);
    }
});
