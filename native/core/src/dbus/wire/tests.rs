use super::*;

fn call(sig: &str, args: Vec<Arg>) -> Call {
    Call {
        destination: Some("org.freedesktop.systemd1".into()),
        path: "/org/freedesktop/systemd1".into(),
        interface: Some("org.freedesktop.DBus.Properties".into()),
        member: "Get".into(),
        signature: sig.into(),
        args,
    }
}

#[test]
fn an_encoded_call_decodes_to_its_own_fields_and_arguments() {
    let bytes = encode_call(
        &call(
            "ssu",
            vec![Arg::Str("a.b".into()), Arg::Str("Id".into()), Arg::U32(7)],
        ),
        42,
    )
    .unwrap();
    assert_eq!(message_len(&bytes).unwrap(), Some(bytes.len()));
    let m = decode_message(&bytes).unwrap();
    assert_eq!(
        (m.kind, m.serial, m.member.as_deref(), m.signature.as_str()),
        (METHOD_CALL, 42, Some("Get"), "ssu")
    );
    assert_eq!(
        m.body,
        vec![
            Value::Str("a.b".into()),
            Value::Str("Id".into()),
            Value::U32(7)
        ]
    );
}

#[test]
fn arguments_that_do_not_match_the_signature_are_refused() {
    assert!(encode_call(&call("s", vec![Arg::U32(1)]), 1).is_err());
    assert!(encode_call(&call("ss", vec![Arg::Str("x".into())]), 1).is_err());
    assert!(encode_call(&call("s", vec![Arg::Str("a\0b".into())]), 1).is_err());
}

#[test]
fn truncated_and_damaged_messages_are_errors() {
    let bytes = encode_call(&call("s", vec![Arg::Str("hello".into())]), 3).unwrap();
    for cut in 0..bytes.len() {
        assert!(decode_message(&bytes[..cut]).is_err(), "cut at {cut}");
    }
    let mut bad_bom = bytes.clone();
    bad_bom[0] = b'x';
    assert!(decode_message(&bad_bom).is_err());
}

#[test]
fn signatures_nested_too_deep_are_refused() {
    let deep = "a".repeat(100) + "y";
    assert!(complete_type(deep.as_bytes(), 0).is_err());
    assert_eq!(complete_type(b"a{sv}", 0), Ok(5));
    assert_eq!(complete_type(b"(ssssssouso)", 0), Ok(12));
    assert!(complete_type(b"(", 0).is_err());
    assert!(complete_type(b"{s}", 0).is_err());
}
