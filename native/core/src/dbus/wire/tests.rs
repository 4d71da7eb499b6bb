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

/// `decode_message` as it was before its header was read in place: the fields decoded as the
/// value `a(yv)`, then matched. The in-place reading must give the same message, and refuse
/// what this refuses.
fn decode_as_values(bytes: &[u8]) -> Result<Message, WireError> {
    let Some(len) = message_len(bytes)? else {
        return bad("short");
    };
    if bytes.len() != len || bytes[3] != 1 {
        return bad("length or version");
    }
    let little = endian(bytes[0])?;
    let mut r = Reader {
        bytes,
        pos: 12,
        little,
        depth: 0,
    };
    let fields = r.value(b"a(yv)")?;
    let mut msg = Message {
        kind: bytes[1],
        serial: read_u32(&bytes[8..12], little),
        reply_serial: None,
        error_name: None,
        member: None,
        signature: String::new(),
        body: Vec::new(),
    };
    let Value::Array(items) = fields else {
        return bad("not an array");
    };
    for item in items {
        let Value::Struct(pair) = item else { continue };
        let (Some(Value::Byte(code)), Some(Value::Variant(v))) = (pair.first(), pair.get(1)) else {
            continue;
        };
        match (code, v.as_ref()) {
            (3, Value::Str(s)) => msg.member = Some(s.clone()),
            (4, Value::Str(s)) => msg.error_name = Some(s.clone()),
            (5, Value::U32(n)) => msg.reply_serial = Some(*n),
            (8, Value::Str(s)) => msg.signature = s.clone(),
            (3 | 4 | 5 | 8, _) => return bad("wrong type"),
            _ => {}
        }
    }
    r.align(8)?;
    let mut sig = msg.signature.as_bytes();
    while !sig.is_empty() {
        let one = complete_type(sig, 0)?;
        msg.body.push(r.value(&sig[..one])?);
        sig = &sig[one..];
    }
    if r.pos != bytes.len() {
        return bad("left over");
    }
    Ok(msg)
}

/// A little-endian message of `kind` with these header fields (code, signature, value bytes
/// as they follow the signature, unaligned) and body.
fn message(kind: u8, fields: &[(u8, &str, Vec<u8>)], body: &[u8]) -> Vec<u8> {
    let mut h = Writer {
        buf: vec![b'l', kind, 0, 1],
    };
    h.u32(body.len() as u32);
    h.u32(9);
    h.u32(0);
    for (code, sig, value) in fields {
        h.pad(8);
        h.buf.push(*code);
        h.signature(sig);
        let align = sig.bytes().next().map_or(1, alignment);
        h.pad(align);
        h.buf.extend_from_slice(value);
    }
    let n = (h.buf.len() - 16) as u32;
    h.buf[12..16].copy_from_slice(&n.to_le_bytes());
    h.pad(8);
    h.buf.extend_from_slice(body);
    h.buf
}

fn string(s: &str) -> Vec<u8> {
    let mut w = Writer { buf: Vec::new() };
    w.string(s);
    w.buf
}

#[test]
fn the_header_read_in_place_is_the_header_read_as_values() {
    let same = |bytes: &[u8]| {
        let (a, b) = (decode_message(bytes), decode_as_values(bytes));
        match (&a, &b) {
            (Ok(x), Ok(y)) => assert_eq!(x, y),
            (Err(_), Err(_)) => {}
            _ => panic!("{a:?} where the values give {b:?} for {bytes:?}"),
        }
        a.is_ok()
    };
    let mut u = 7u32.to_le_bytes().to_vec();
    let sig = |s: &str| {
        let mut w = Writer { buf: Vec::new() };
        w.signature(s);
        w.buf
    };
    let mut ok = 0;
    let mut samples = vec![
        // A reply as a bus sends it: serial, destination, sender, signature.
        message(
            METHOD_RETURN,
            &[
                (5, "u", u.clone()),
                (6, "s", string(":1.7")),
                (7, "s", string("org.freedesktop.systemd1")),
                (8, "g", sig("s")),
            ],
            &string("x"),
        ),
        // An error, its name; a signal's path, interface, member; no signature.
        message(
            ERROR,
            &[(4, "s", string("org.x.Error")), (5, "u", u.clone())],
            &[],
        ),
        message(
            4,
            &[
                (1, "o", string("/a")),
                (2, "s", string("org.x")),
                (3, "s", string("Changed")),
            ],
            &[],
        ),
        // Member and error name typed as a path or a signature: read as strings.
        message(
            METHOD_CALL,
            &[(3, "o", string("/m")), (4, "g", sig("ss"))],
            &[],
        ),
        // Wrong types: refused.
        message(METHOD_RETURN, &[(5, "s", string("7"))], &[]),
        message(METHOD_RETURN, &[(8, "u", u.clone())], &[]),
        message(METHOD_RETURN, &[(3, "u", u.clone())], &[]),
        // Fields livetree does not read, of any type: read and passed over.
        message(
            METHOD_RETURN,
            &[
                (9, "u", u.clone()),
                (200, "ay", {
                    let mut a = 3u32.to_le_bytes().to_vec();
                    a.extend_from_slice(b"abc");
                    a
                }),
                (5, "u", u.clone()),
            ],
            &[],
        ),
        // A nested variant in an unknown field.
        message(
            METHOD_RETURN,
            &[(200, "v", {
                let mut v = sig("v");
                v.extend(sig("u"));
                v.extend_from_slice(&[0, 0]);
                v.extend_from_slice(&1u32.to_le_bytes());
                v
            })],
            &[],
        ),
    ];
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/captured/dbus");
    for e in std::fs::read_dir(dir).unwrap() {
        samples.push(std::fs::read(e.unwrap().path()).unwrap());
    }
    u.clear();
    for bytes in &samples {
        if same(bytes) {
            ok += 1;
        }
        // Every byte of the header and the body's start damaged seven ways, and cut there
        // (a 93 KB reply's whole body is the values' decoding, not the header's).
        let fields = bytes
            .get(12..16)
            .map_or(0, |b| read_u32(b, bytes[0] == b'l') as usize);
        let head = (16 + fields.min(4096)).div_ceil(8) * 8 + 32;
        for i in 0..bytes.len().min(head) {
            for v in [0u8, 0xff, bytes[i].wrapping_add(1), b'o', b'g', b'u', b'v'] {
                let mut d = bytes.clone();
                d[i] = v;
                same(&d);
            }
            same(&bytes[..i]);
        }
    }
    // Every sample but the three of wrong types decodes.
    assert_eq!(ok, samples.len() - 3);
}
