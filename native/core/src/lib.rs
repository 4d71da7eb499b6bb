//! livetree-core: the byte-level work of livetree, with no Node.js in sight.
//!
//! One flat module per domain. Parsers take bytes (`&[u8]`) and never touch the disk;
//! the functions that read files take a root (`proc_root`, a sysroot path) so tests can
//! run on captured inputs as well as on the live system.
#![warn(missing_docs)]
pub mod as_text;
pub mod attribute;
pub mod bootentry;
pub mod catalog;
pub mod cgroup;
pub mod checksum;
pub mod composefs;
pub mod config;
pub mod contract;
pub mod error;
pub mod escape;
pub mod gvariant;
pub mod hex;
pub mod kernel;
pub mod keyfile;
pub mod knowledge;
pub mod maps;
pub mod mountinfo;
pub mod object;
pub mod overlay;
pub mod packages;
pub mod procfs;
pub mod progress;
pub mod repo;
pub mod report;
pub mod scan;
pub mod scanner;
pub mod stamp;
pub mod sysroot;
pub mod which;

pub use error::{Error, ParseError, Result};

/// The core crate's version, which the napi glue exports (`coreVersion`) so that the
/// JavaScript side can tell which core it loaded.
pub fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}
