//! Replies captured from a real systemd --user and its dbus-daemon
//! (fixtures/captured/dbus): each decodes whole, with the values systemd sent.
use livetree_core::dbus::wire::{decode_message, message_len, Value, ERROR, METHOD_RETURN};

fn captured(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../../fixtures/captured/dbus/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn list_units_reply_decodes_to_ten_field_rows() {
    let bytes = captured("reply-2-type2.bin");
    assert_eq!(message_len(&bytes).unwrap(), Some(bytes.len()));
    let m = decode_message(&bytes).unwrap();
    assert_eq!(
        (m.kind, m.reply_serial, m.signature.as_str()),
        (METHOD_RETURN, Some(2), "a(ssssssouso)")
    );
    let Value::Array(rows) = &m.body[0] else {
        panic!("not an array: {:?}", m.body[0])
    };
    assert!(rows.len() > 300, "{} rows", rows.len());
    for row in rows {
        let Value::Struct(fields) = row else {
            panic!("{row:?}")
        };
        assert_eq!(fields.len(), 10);
        assert!(
            matches!(&fields[6], Value::Str(p) if p.starts_with("/org/freedesktop/systemd1/unit/"))
        );
    }
}

#[test]
fn get_all_get_and_error_replies_decode() {
    let all = decode_message(&captured("reply-3-type2.bin")).unwrap();
    assert_eq!(all.signature, "a{sv}");
    let Value::Dict(props) = &all.body[0] else {
        panic!("{:?}", all.body)
    };
    assert!(props.iter().any(|(k, v)| *k == Value::Str("Id".into())
        && *v == Value::Variant(Box::new(Value::Str("init.scope".into())))));
    let err = decode_message(&captured("reply-4-type3.bin")).unwrap();
    assert_eq!(
        (err.kind, err.error_name.as_deref()),
        (ERROR, Some("org.freedesktop.systemd1.NoSuchUnit"))
    );
    let get = decode_message(&captured("reply-5-type2.bin")).unwrap();
    assert!(
        matches!(&get.body[0], Value::Variant(v) if matches!(**v, Value::U64(t) if t > 1_000_000_000_000_000))
    );
}

#[test]
fn every_cut_of_a_captured_reply_is_an_error_not_a_panic() {
    let bytes = captured("reply-3-type2.bin");
    for cut in (0..bytes.len()).step_by(7) {
        assert!(decode_message(&bytes[..cut]).is_err());
    }
    let mut flipped = bytes.clone();
    for i in (0..flipped.len()).step_by(13) {
        flipped[i] ^= 0x5a;
        let _ = decode_message(&flipped);
        flipped[i] ^= 0x5a;
    }
}
