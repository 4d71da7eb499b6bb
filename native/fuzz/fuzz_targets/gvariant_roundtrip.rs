//! Any value the reader accepts, the writer writes in normal form, and reading that back
//! gives the same value. Compared through a second serialization, so NaN doubles compare
//! by their bits.
#![no_main]
use libfuzzer_sys::fuzz_target;
use livetree_core::ostree::gvariant::{self, types, Type};

const TYPES: &[&str] = &[
    types::COMMIT,
    types::DIRTREE,
    types::DIRMETA,
    types::FILE_HEADER,
    types::ZLIB_FILE_HEADER,
    types::METADATA,
    types::XATTRS,
    "v",
    "as",
    "a{sv}",
    "(yqut)",
    "mas",
    "(msmy)",
    "a(ays)",
    "aay",
    "(bnixd)",
];

fuzz_target!(|data: &[u8]| {
    let Some((&sel, body)) = data.split_first() else {
        return;
    };
    let ty = Type::parse(TYPES[usize::from(sel) % TYPES.len()]).expect("known type");
    let Ok(v) = gvariant::parse(&ty, body) else {
        return;
    };
    let once = gvariant::serialize(&ty, &v).expect("a parsed value serializes");
    let back = gvariant::parse(&ty, &once).expect("normal form parses");
    let twice = gvariant::serialize(&ty, &back).expect("reparsed value serializes");
    assert_eq!(once, twice, "serialize(parse(serialize(v))) differs");
});
