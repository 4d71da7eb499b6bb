//! The `/proc` wing: what the kernel says about processes, bytes in and records out.
//!
//! The parsers (`maps`, `mountinfo`, `cgroup`, `escape`) take bytes and never touch the
//! disk; `procfs` is the I/O side that reads them under a `proc_root`.
pub mod cgroup;
pub mod escape;
pub mod maps;
pub mod mountinfo;
pub mod procfs;
