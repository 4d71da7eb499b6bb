//! What livetree asks systemd during a scan, in bulk over D-Bus (see `conn.rs`); the wire
//! format in `wire.rs` is the one parser of D-Bus messages, and the one that is fuzzed.
//! `properties.rs` asks many properties compactly and answers them as one array.
pub mod conn;
pub mod json;
pub mod properties;
pub mod wire;
