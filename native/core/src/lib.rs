//! livetree-core: the byte-level work of livetree, with no Node.js in sight.
//!
//! One module, or one wing (a folder: `proc`, `ostree`, `scan`, ...), per domain. Parsers
//! take bytes (`&[u8]`) and never touch the disk; the functions that read files take a root
//! (`proc_root`, a sysroot path) so tests can run on captured inputs as well as on the live
//! system.
#![warn(missing_docs)]
pub mod as_text;
pub mod attribute;
pub mod catalog;
pub mod civil;
pub mod composefs;
pub mod config;
pub mod containers;
pub mod contract;
pub mod dbus;
pub mod error;
pub mod fast_hash;
pub mod hex;
pub mod kernel;
pub mod ostree;
pub mod overlay;
pub mod packages;
pub mod parallel;
pub mod proc;
pub mod progress;
pub mod report;
pub mod scan;
pub mod scanner;
pub mod stamp;
pub mod timeline_observe;
pub mod which;

pub use error::{Error, ParseError, Result};

/// The environment variable naming a point where the core panics on purpose (tests only).
pub const TEST_PANIC_VAR: &str = "LIVETREE_TEST_PANIC";

/// Panic here when `LIVETREE_TEST_PANIC` names `point`. A test-only hook: it is how the
/// tests prove that a panic anywhere in the core reaches JavaScript as an error with the
/// code `EPANIC` (`native/src/guard.rs`) and never aborts Node. Points inside a scan:
/// `reader` (a /proc reader thread), `attribute` (attribution, on the scan's own thread);
/// each napi entry point is one too, by its JavaScript name (`whichSync`, …). Nothing
/// but a test sets the variable; unset, this is one `getenv`.
pub fn test_panic(point: &str) {
    if std::env::var_os(TEST_PANIC_VAR).is_some_and(|v| v == point) {
        panic!("{TEST_PANIC_VAR}={point}: a panic a test asked for");
    }
}

/// The core crate's version, which the napi glue exports (`coreVersion`) so that the
/// JavaScript side can tell which core it loaded.
pub fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}
