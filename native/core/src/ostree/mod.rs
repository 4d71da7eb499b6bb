//! The OSTree wing: the repository and its objects, read-only, and the sysroot's
//! deployments and boot entries.
//!
//! `gvariant`, `checksum`, `object` and `keyfile` parse bytes; `repo` and `sysroot` read
//! files under the path they are given.
pub mod bootentry;
pub mod checksum;
pub mod gvariant;
pub mod keyfile;
pub mod object;
pub mod repo;
pub mod sysroot;
