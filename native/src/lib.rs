//! napi glue: every function here converts types and calls into `livetree_core`.
use napi_derive::napi;

#[napi]
pub fn core_version() -> String {
    livetree_core::version().to_string()
}
