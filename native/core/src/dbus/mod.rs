//! What livetree asks systemd during a scan, in bulk over D-Bus (see `conn.rs`); the wire
//! format in `wire.rs` is the one parser of D-Bus messages, and the one that is fuzzed.
pub mod conn;
pub mod wire;
