//! OSTree's uses of GVariant: commit metadata (`a{sv}`) and extended attributes.
use super::{parse, read_str, split_array, split_tuple, split_variant, Type, Value, Xattrs};
use crate::error::ParseError;

/// A commit metadata value (`a{sv}`), decoded for the common types and kept opaque otherwise.
#[derive(Debug, Clone, PartialEq)]
pub enum MetaValue {
    /// An `s` value, such as `version`.
    Str(String),
    /// An `as` value, such as `ostree.ref-binding`.
    StrList(Vec<String>),
    /// A `t`, read little-endian: metadata values are written in host order by
    /// whoever adds them (`ostree commit --add-metadata=KEY='uint64 5'`).
    U64(u64),
    /// A `b` value.
    Bool(bool),
    /// An `ay` value, such as `ostree.composefs.digest.v0`.
    Bytes(Vec<u8>),
    /// Any other type: its type string and its serialized bytes.
    Other {
        /// The value's GVariant type string.
        type_string: String,
        /// The value's serialized bytes, for a caller that knows the type.
        bytes: Vec<u8>,
    },
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Decode `a{sv}` metadata. Keys keep their order; a value whose declared type does not
/// parse is corruption, not an opaque value.
pub fn parse_metadata(data: &[u8]) -> Result<Vec<(String, MetaValue)>, ParseError> {
    let entry = Type::DictEntry(Box::new(Type::String), Box::new(Type::Variant));
    let mut out = Vec::new();
    for e in split_array(&entry, data)? {
        let parts = split_tuple(&entry, e)?;
        let (kp, vp) = match parts.as_slice() {
            [kp, vp] => (*kp, *vp),
            _ => return Err(ParseError("metadata entry without two members".into())),
        };
        let key = lossy(read_str(kp)?);
        let (body, ty) = split_variant(vp)?;
        let value = parse(&ty, body)?;
        let mv = match (&ty, value) {
            (Type::String, Value::Str(s)) => MetaValue::Str(lossy(&s)),
            (Type::Uint64, Value::Uint64(x)) => MetaValue::U64(x),
            (Type::Bool, Value::Bool(b)) => MetaValue::Bool(b),
            (Type::Array(_), Value::Bytes(b)) => MetaValue::Bytes(b),
            (Type::Array(t), Value::Array(items)) if **t == Type::String => MetaValue::StrList(
                items
                    .iter()
                    .filter_map(Value::as_str_bytes)
                    .map(lossy)
                    .collect(),
            ),
            _ => MetaValue::Other {
                type_string: ty.type_string(),
                bytes: body.to_vec(),
            },
        };
        out.push((key, mv));
    }
    Ok(out)
}

/// Decode `a(ayay)` extended attributes into (name without its trailing NUL, value).
pub fn parse_xattrs(v: &Value) -> Result<Xattrs, ParseError> {
    let items = match v {
        Value::Array(items) => items,
        _ => return Err(ParseError("xattrs are not an array".into())),
    };
    let mut out = Vec::with_capacity(items.len());
    for it in items {
        match it.children() {
            Some([Value::Bytes(n), Value::Bytes(val)]) => {
                let name = n.strip_suffix(&[0]).unwrap_or(n);
                out.push((name.to_vec(), val.clone()));
            }
            _ => return Err(ParseError("xattr entry is not (ayay)".into())),
        }
    }
    Ok(out)
}

/// Build the `a(ayay)` value for xattrs; names get their trailing NUL back, as ostree
/// stores them (GLib bytestrings).
pub fn xattrs_value(xattrs: &[(Vec<u8>, Vec<u8>)]) -> Value {
    Value::Array(
        xattrs
            .iter()
            .map(|(n, v)| {
                let mut name = n.clone();
                name.push(0);
                Value::Tuple(vec![Value::Bytes(name), Value::Bytes(v.clone())])
            })
            .collect(),
    )
}
