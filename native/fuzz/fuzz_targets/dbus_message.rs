//! D-Bus messages as a bus or systemd sends them (livetree_core::dbus::wire): framing,
//! header fields, every complete type in a body.
#![no_main]
use libfuzzer_sys::fuzz_target;
use livetree_core::dbus::wire;

fuzz_target!(|data: &[u8]| {
    if let Ok(Some(len)) = wire::message_len(data) {
        if len <= data.len() {
            let _ = wire::decode_message(&data[..len]);
        }
    }
    let _ = wire::decode_message(data);
});
