//! serde helpers for the status document: its paths and names are strings, while the core
//! keeps bytes (a path need not be UTF-8) and `PathBuf`s (which serde refuses to write
//! when they are not UTF-8).
use std::borrow::Cow;
use std::path::{Path, PathBuf};

use serde::Serializer;

/// Bytes as text: the contract's paths and names are strings; a byte that is not UTF-8
/// becomes U+FFFD (the exact bytes go in `pathBase64` where the contract has one).
pub fn text(bytes: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(bytes)
}

/// `serialize_with` for bytes shown as text.
pub fn lossy_text<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&text(bytes))
}

/// `serialize_with` for optional bytes shown as text (`null` when absent).
pub fn lossy_text_opt<S: Serializer>(bytes: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
    match bytes {
        Some(b) => lossy_text(b, s),
        None => s.serialize_none(),
    }
}

/// `serialize_with` for a path shown as text (serde's own refuses a path that is not UTF-8).
pub fn lossy_path<S: Serializer>(path: &Path, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&path.to_string_lossy())
}

/// `serialize_with` for an optional path shown as text (`null` when absent).
pub fn lossy_path_opt<S: Serializer>(path: &Option<PathBuf>, s: S) -> Result<S::Ok, S::Error> {
    match path {
        Some(p) => lossy_path(p, s),
        None => s.serialize_none(),
    }
}
