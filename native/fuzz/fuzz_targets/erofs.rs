//! EROFS images (composefs `.ostree.cfs`): the reader walks untrusted offsets.
#![no_main]
use libfuzzer_sys::fuzz_target;
use livetree_core::composefs::image::{object_of_redirect, ImageIndex};

fuzz_target!(|data: &[u8]| {
    if let Ok(index) = ImageIndex::from_bytes(data) {
        for f in index.files.values() {
            if let Some(o) = &f.object {
                assert_eq!(o.len(), 64);
            }
        }
    }
    let _ = object_of_redirect(data);
});
