//! D-Bus values and the replies of `Connection::calls` as JSON text, for TypeScript:
//! written as they are serialized, without a `serde_json::Value` tree of them first.
use std::collections::BTreeMap;

use serde::ser::{Serialize, SerializeStruct, Serializer};

use super::conn::Reply;
use super::wire::Value;

/// A value as JSON: variants stand for their content, dicts with string keys are objects (keys
/// in byte order, the last of equal keys kept), and 64-bit integers are decimal strings
/// (exact in JavaScript, where numbers are doubles). Written as it is serialized, without a
/// `serde_json::Value` tree of it first (a status's `ListUnits` reply holds thousands of
/// strings).
pub struct Json<'a>(pub &'a Value);

impl Serialize for Json<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::Byte(n) => s.serialize_u8(*n),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::I16(n) => s.serialize_i16(*n),
            Value::U16(n) => s.serialize_u16(*n),
            Value::I32(n) => s.serialize_i32(*n),
            Value::U32(n) | Value::UnixFd(n) => s.serialize_u32(*n),
            Value::I64(n) => s.collect_str(n),
            Value::U64(n) => s.collect_str(n),
            Value::Double(d) if d.is_finite() => s.serialize_f64(*d),
            Value::Double(_) => s.serialize_unit(),
            Value::Str(text) => s.serialize_str(text),
            Value::Array(items) | Value::Struct(items) => s.collect_seq(items.iter().map(Json)),
            Value::Dict(pairs) => {
                if pairs.iter().all(|(k, _)| matches!(k, Value::Str(_))) {
                    let mut object = BTreeMap::new();
                    for (k, v) in pairs {
                        if let Value::Str(key) = k {
                            object.insert(key.as_str(), v);
                        }
                    }
                    s.collect_map(object.into_iter().map(|(k, v)| (k, Json(v))))
                } else {
                    s.collect_seq(pairs.iter().map(|(k, v)| [Json(k), Json(v)]))
                }
            }
            Value::Variant(inner) => Json(inner).serialize(s),
        }
    }
}

/// A reply as the `calls` answer writes it: `{"body":[…],"ok":true}` or
/// `{"message":…,"name":…,"ok":false}`.
struct ReplyJson<'a>(&'a Reply);

impl Serialize for ReplyJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Reply::Ok(body) => {
                let mut m = s.serialize_struct("Reply", 2)?;
                m.serialize_field("body", &body.iter().map(Json).collect::<Vec<_>>())?;
                m.serialize_field("ok", &true)?;
                m.end()
            }
            Reply::Err { name, message } => {
                let mut m = s.serialize_struct("Reply", 3)?;
                m.serialize_field("message", message)?;
                m.serialize_field("name", name)?;
                m.serialize_field("ok", &false)?;
                m.end()
            }
        }
    }
}

/// The replies of `Connection::calls` as the answer's text: `{"ok":true,"replies":[…]}`, each
/// reply as `ReplyJson` writes it, in the calls' order.
pub fn replies_json(replies: &[Reply]) -> String {
    #[derive(serde::Serialize)]
    struct Answer<'a> {
        ok: bool,
        replies: Vec<ReplyJson<'a>>,
    }
    serde_json::to_string(&Answer {
        ok: true,
        replies: replies.iter().map(ReplyJson).collect(),
    })
    .expect("JSON of D-Bus values")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dbus::wire::decode_message;

    /// The value as `Json` wrote it before it was serialized directly (a `serde_json::Value`
    /// first): the oracle of `json_is_the_value_tree_serialized`.
    fn to_json(v: &Value) -> serde_json::Value {
        use serde_json::Value as J;
        match v {
            Value::Byte(n) => J::from(*n),
            Value::Bool(b) => J::Bool(*b),
            Value::I16(n) => J::from(*n),
            Value::U16(n) => J::from(*n),
            Value::I32(n) => J::from(*n),
            Value::U32(n) | Value::UnixFd(n) => J::from(*n),
            Value::I64(n) => J::String(n.to_string()),
            Value::U64(n) => J::String(n.to_string()),
            Value::Double(d) => serde_json::Number::from_f64(*d)
                .map(J::Number)
                .unwrap_or(J::Null),
            Value::Str(s) => J::String(s.clone()),
            Value::Array(items) | Value::Struct(items) => {
                J::Array(items.iter().map(to_json).collect())
            }
            Value::Dict(pairs) => {
                if pairs.iter().all(|(k, _)| matches!(k, Value::Str(_))) {
                    J::Object(
                        pairs
                            .iter()
                            .map(|(k, v)| {
                                (
                                    if let Value::Str(s) = k {
                                        s.clone()
                                    } else {
                                        String::new()
                                    },
                                    to_json(v),
                                )
                            })
                            .collect(),
                    )
                } else {
                    J::Array(
                        pairs
                            .iter()
                            .map(|(k, v)| J::Array(vec![to_json(k), to_json(v)]))
                            .collect(),
                    )
                }
            }
            Value::Variant(inner) => to_json(inner),
        }
    }

    fn text(v: &Value) -> String {
        serde_json::to_string(&Json(v)).unwrap()
    }

    #[test]
    fn sixty_four_bit_numbers_cross_as_exact_decimal_text() {
        assert_eq!(
            text(&Value::Variant(Box::new(Value::U64(u64::MAX)))),
            r#""18446744073709551615""#
        );
        let dict = Value::Dict(vec![(
            Value::Str("MainPID".into()),
            Value::Variant(Box::new(Value::U32(7))),
        )]);
        assert_eq!(text(&dict), r#"{"MainPID":7}"#);
    }

    /// Values of every type, nested, and the edges of each: what `Json` writes is the text of
    /// the `serde_json::Value` the old `to_json` built, byte for byte.
    fn samples() -> Vec<Value> {
        let s = |t: &str| Value::Str(t.into());
        let var = |v: Value| Value::Variant(Box::new(v));
        let mut out = vec![
            Value::Byte(0),
            Value::Byte(255),
            Value::Bool(true),
            Value::Bool(false),
            Value::I16(i16::MIN),
            Value::U16(u16::MAX),
            Value::I32(i32::MIN),
            Value::I32(-1),
            Value::U32(u32::MAX),
            Value::UnixFd(3),
            Value::I64(i64::MIN),
            Value::I64(0),
            Value::U64(u64::MAX),
            s(""),
            s("a\"b\\c\n\u{1}\u{7f}é𝄞\u{2028}</script>"),
            Value::Array(vec![]),
            Value::Struct(vec![s("x"), Value::U32(1), var(Value::Bool(true))]),
            // Keys out of order and one twice: sorted, the last kept.
            Value::Dict(vec![
                (s("b"), var(Value::U32(2))),
                (s("a"), var(s("first"))),
                (s("B"), Value::Array(vec![Value::I64(-5)])),
                (s("a"), var(s("last"))),
                (s("é"), Value::Dict(vec![])),
            ]),
            // A key that is no string: pairs.
            Value::Dict(vec![(Value::U32(2), s("two")), (Value::U32(1), s("one"))]),
            Value::Dict(vec![(s("a"), s("x")), (Value::U32(1), s("one"))]),
            Value::Dict(vec![]),
            var(var(Value::Array(vec![Value::Double(0.5)]))),
        ];
        for d in [
            0.0,
            -0.0,
            1.0,
            -1.5,
            0.1,
            1e300,
            -1e-300,
            f64::MAX,
            f64::MIN_POSITIVE,
            5e-324,
            9_007_199_254_740_993.0,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ] {
            out.push(Value::Double(d));
            out.push(var(Value::Double(d)));
        }
        let all = out.clone();
        out.push(Value::Array(all.clone()));
        out.push(Value::Struct(all.iter().cloned().map(var).collect()));
        out.push(Value::Dict(
            all.iter()
                .enumerate()
                .map(|(i, v)| (s(&format!("k{}", all.len() - i)), v.clone()))
                .collect(),
        ));
        out
    }

    #[test]
    fn json_is_the_value_tree_serialized() {
        for v in samples() {
            assert_eq!(text(&v), to_json(&v).to_string(), "{v:?}");
        }
        // The captured replies of a real systemd (a ListUnits among them).
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/captured/dbus");
        let mut n = 0;
        for e in std::fs::read_dir(dir).unwrap() {
            let msg = decode_message(&std::fs::read(e.unwrap().path()).unwrap()).unwrap();
            for v in &msg.body {
                assert_eq!(text(v), to_json(v).to_string());
                n += 1;
            }
        }
        assert!(n >= 6, "{n} values in the captured replies");
    }

    #[test]
    fn replies_text_is_the_old_objects_text() {
        let replies = vec![
            Reply::Ok(samples()),
            Reply::Ok(vec![]),
            Reply::Err {
                name: "org.freedesktop.DBus.Error.UnknownProperty".into(),
                message: "no \"X\"\n".into(),
            },
            Reply::Ok(vec![Value::Str("one".into())]),
        ];
        let old: Vec<_> = replies
            .iter()
            .map(|r| match r {
                Reply::Ok(body) => serde_json::json!({"ok": true, "body": body.iter().map(to_json).collect::<Vec<_>>()}),
                Reply::Err { name, message } => serde_json::json!({"ok": false, "name": name, "message": message}),
            })
            .collect();
        assert_eq!(
            replies_json(&replies),
            serde_json::json!({"ok": true, "replies": old}).to_string()
        );
        assert_eq!(replies_json(&[]), r#"{"ok":true,"replies":[]}"#);
    }
}
