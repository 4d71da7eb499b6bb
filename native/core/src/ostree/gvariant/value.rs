//! GVariant values and the reader: bytes of a known type to a `Value`, every framing
//! offset checked.
use super::{read_str, split_array, split_tuple, split_variant, Type, MAX_DEPTH};
use crate::error::ParseError;

/// A deserialized value. Strings keep their bytes; `ay` is kept as one byte vector.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A `b` value.
    Bool(bool),
    /// A `y` value.
    Byte(u8),
    /// A `n` value.
    Int16(i16),
    /// A `q` value.
    Uint16(u16),
    /// An `i` value.
    Int32(i32),
    /// A `u` value, as read (little-endian); see `as_u32_be` for ostree's big-endian fields.
    Uint32(u32),
    /// An `h` value: the index of a file descriptor.
    Handle(i32),
    /// An `x` value.
    Int64(i64),
    /// A `t` value, as read (little-endian).
    Uint64(u64),
    /// A `d` value.
    Double(f64),
    /// `s`, `o` or `g`, without the trailing NUL.
    Str(Vec<u8>),
    /// `ay`.
    Bytes(Vec<u8>),
    /// A `v` value: the contained value's type and the value.
    Variant(Type, Box<Value>),
    /// An `mT` value: None when absent.
    Maybe(Option<Box<Value>>),
    /// An `aT` value, its elements in order.
    Array(Vec<Value>),
    /// A `(T...)` value, its members in order.
    Tuple(Vec<Value>),
    /// A `{KV}` value: key and value.
    DictEntry(Box<Value>, Box<Value>),
}

impl Value {
    /// The number in a `u` value, as GVariant stores it (little-endian).
    pub fn as_u32(&self) -> Option<u32> {
        match self {
            Value::Uint32(v) => Some(*v),
            _ => None,
        }
    }
    /// A `u` that ostree stored with GUINT32_TO_BE.
    pub fn as_u32_be(&self) -> Option<u32> {
        self.as_u32().map(u32::swap_bytes)
    }
    /// The number in a `t` value, as GVariant stores it (little-endian).
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Value::Uint64(v) => Some(*v),
            _ => None,
        }
    }
    /// A `t` that ostree stored with GUINT64_TO_BE.
    pub fn as_u64_be(&self) -> Option<u64> {
        self.as_u64().map(u64::swap_bytes)
    }
    /// The bytes of an `ay` value (an array of `y`), such as a checksum or an xattr value.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }
    /// The bytes of a string-like value (`s`, `o`, `g`) or of an `ay`, without the trailing NUL.
    pub fn as_str_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Str(b) => Some(b),
            _ => None,
        }
    }
    /// Children of a tuple or array.
    pub fn children(&self) -> Option<&[Value]> {
        match self {
            Value::Tuple(v) | Value::Array(v) => Some(v),
            _ => None,
        }
    }
}

/// Deserialize `data` as a value of type `ty`.
pub fn parse(ty: &Type, data: &[u8]) -> Result<Value, ParseError> {
    parse_at(ty, data, 0)
}

/// Deserialize with a type string (convenience for the constants in `types`).
pub fn parse_str(type_string: &str, data: &[u8]) -> Result<Value, ParseError> {
    parse(&Type::parse(type_string)?, data)
}

fn fixed<const N: usize>(data: &[u8]) -> Result<[u8; N], ParseError> {
    data.try_into()
        .map_err(|_| ParseError(format!("expected {N} bytes, found {}", data.len())))
}

fn parse_at(ty: &Type, data: &[u8], depth: usize) -> Result<Value, ParseError> {
    if depth > MAX_DEPTH {
        return Err(ParseError("value nested too deeply".into()));
    }
    Ok(match ty {
        Type::Bool => match fixed::<1>(data)? {
            [0] => Value::Bool(false),
            [1] => Value::Bool(true),
            [b] => return Err(ParseError(format!("boolean byte {b}"))),
        },
        Type::Byte => Value::Byte(fixed::<1>(data)?[0]),
        Type::Int16 => Value::Int16(i16::from_le_bytes(fixed(data)?)),
        Type::Uint16 => Value::Uint16(u16::from_le_bytes(fixed(data)?)),
        Type::Int32 => Value::Int32(i32::from_le_bytes(fixed(data)?)),
        Type::Uint32 => Value::Uint32(u32::from_le_bytes(fixed(data)?)),
        Type::Handle => Value::Handle(i32::from_le_bytes(fixed(data)?)),
        Type::Int64 => Value::Int64(i64::from_le_bytes(fixed(data)?)),
        Type::Uint64 => Value::Uint64(u64::from_le_bytes(fixed(data)?)),
        Type::Double => Value::Double(f64::from_le_bytes(fixed(data)?)),
        Type::String | Type::ObjectPath | Type::Signature => Value::Str(read_str(data)?.to_vec()),
        Type::Variant => {
            let (body, inner) = split_variant(data)?;
            let v = parse_at(&inner, body, depth + 1)?;
            Value::Variant(inner, Box::new(v))
        }
        Type::Maybe(t) => {
            if data.is_empty() {
                Value::Maybe(None)
            } else if t.fixed_size().is_some() {
                Value::Maybe(Some(Box::new(parse_at(t, data, depth + 1)?)))
            } else {
                match data.split_last() {
                    Some((0, body)) => Value::Maybe(Some(Box::new(parse_at(t, body, depth + 1)?))),
                    _ => return Err(ParseError("maybe value lacks its trailing NUL".into())),
                }
            }
        }
        Type::Array(t) if **t == Type::Byte => Value::Bytes(data.to_vec()),
        Type::Array(t) => {
            let parts = split_array(t, data)?;
            let mut out = Vec::with_capacity(parts.len());
            for p in parts {
                out.push(parse_at(t, p, depth + 1)?);
            }
            Value::Array(out)
        }
        Type::Tuple(members) => {
            let parts = split_tuple(ty, data)?;
            let mut out = Vec::with_capacity(parts.len());
            for (m, p) in members.iter().zip(parts) {
                out.push(parse_at(m, p, depth + 1)?);
            }
            Value::Tuple(out)
        }
        Type::DictEntry(k, v) => {
            let parts = split_tuple(ty, data)?;
            let (kp, vp) = match parts.as_slice() {
                [kp, vp] => (*kp, *vp),
                _ => return Err(ParseError("dict entry without two members".into())),
            };
            Value::DictEntry(
                Box::new(parse_at(k, kp, depth + 1)?),
                Box::new(parse_at(v, vp, depth + 1)?),
            )
        }
    })
}
