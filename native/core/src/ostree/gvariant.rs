//! A small GVariant reader and writer, enough for OSTree objects.
//!
//! The reader is bounds-checked everywhere and returns `ParseError` instead of panicking,
//! because repo objects are read from disk and may be truncated or hostile. It accepts only
//! data whose framing is consistent (GLib would silently substitute default values for
//! non-normal data; for us that is corruption). The writer emits GVariant normal form, which
//! is what ostree checksums.
//!
//! Integers are read little-endian: ostree writes GVariants in host order and every
//! ostree host in practice is little-endian. Ostree itself stores some fields big-endian
//! (commit timestamp, uid/gid/mode in dirmeta and file headers); callers swap those with
//! the `*_be` helpers on `Value`, so the swap stays visible at the field that needs it.
use crate::error::ParseError;

/// Every GVariant type string that ostree uses, kept in one place.
pub mod types {
    /// Commit: metadata, parent checksum, related objects, subject, body,
    /// timestamp (big-endian), root dirtree checksum, root dirmeta checksum.
    pub const COMMIT: &str = "(a{sv}aya(say)sstayay)";
    /// Dirtree: files (name, content checksum), dirs (name, dirtree checksum, dirmeta checksum).
    pub const DIRTREE: &str = "(a(say)a(sayay))";
    /// Dirmeta: uid, gid, mode (all big-endian), xattrs.
    pub const DIRMETA: &str = "(uuua(ayay))";
    /// The header hashed in front of a content object's data: uid, gid, mode, rdev
    /// (all big-endian; rdev is always 0), symlink target, xattrs.
    pub const FILE_HEADER: &str = "(uuuusa(ayay))";
    /// The header of an archive-mode `.filez` object: as FILE_HEADER, led by the
    /// uncompressed size (big-endian).
    pub const ZLIB_FILE_HEADER: &str = "(tuuuusa(ayay))";
    /// The `user.ostreemeta` xattr of a bare-user object: uid, gid, mode (big-endian), xattrs.
    pub const BARE_USER_META: &str = "(uuua(ayay))";
    /// Commit metadata and detached metadata.
    pub const METADATA: &str = "a{sv}";
    /// Extended attributes: (name with its trailing NUL, value).
    pub const XATTRS: &str = "a(ayay)";
    /// One dirtree file entry.
    pub const DIRTREE_FILE: &str = "(say)";
    /// One dirtree directory entry.
    pub const DIRTREE_DIR: &str = "(sayay)";
}

/// Extended attributes as (name without trailing NUL, value) pairs.
pub type Xattrs = Vec<(Vec<u8>, Vec<u8>)>;

/// Nested containers deeper than this are refused: it bounds recursion on hostile input.
const MAX_DEPTH: usize = 64;

/// A parsed GVariant type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Type {
    /// `b`: a boolean, one byte.
    Bool,
    /// `y`: an unsigned byte.
    Byte,
    /// `n`: a signed 16-bit integer.
    Int16,
    /// `q`: an unsigned 16-bit integer.
    Uint16,
    /// `i`: a signed 32-bit integer.
    Int32,
    /// `u`: an unsigned 32-bit integer (ostree stores uid, gid and mode big-endian in these).
    Uint32,
    /// `h`: an index into a list of file descriptors sent beside the message.
    Handle,
    /// `x`: a signed 64-bit integer.
    Int64,
    /// `t`: an unsigned 64-bit integer (a commit's timestamp, big-endian).
    Uint64,
    /// `d`: an IEEE 754 double.
    Double,
    /// `s`: a NUL-terminated UTF-8 string.
    String,
    /// `o`: a D-Bus object path, serialized as a string.
    ObjectPath,
    /// `g`: a D-Bus type signature, serialized as a string.
    Signature,
    /// `v`: a value carrying its own type string.
    Variant,
    /// `mT`: an optional value of type T.
    Maybe(Box<Type>),
    /// `aT`: an array of T.
    Array(Box<Type>),
    /// `(T...)`: a tuple of the listed types.
    Tuple(Vec<Type>),
    /// `{KV}`: a dictionary entry, found inside arrays.
    DictEntry(Box<Type>, Box<Type>),
}

impl Type {
    /// Parse exactly one complete type from the whole string.
    pub fn parse(s: &str) -> Result<Type, ParseError> {
        let b = s.as_bytes();
        let mut pos = 0;
        let t = Self::parse_at(b, &mut pos, 0)?;
        if pos != b.len() {
            return Err(ParseError(format!(
                "trailing characters in type string {s:?}"
            )));
        }
        Ok(t)
    }

    fn parse_at(b: &[u8], pos: &mut usize, depth: usize) -> Result<Type, ParseError> {
        if depth > MAX_DEPTH {
            return Err(ParseError("type string nested too deeply".into()));
        }
        let c = *b
            .get(*pos)
            .ok_or_else(|| ParseError("type string ends early".into()))?;
        *pos += 1;
        Ok(match c {
            b'b' => Type::Bool,
            b'y' => Type::Byte,
            b'n' => Type::Int16,
            b'q' => Type::Uint16,
            b'i' => Type::Int32,
            b'u' => Type::Uint32,
            b'h' => Type::Handle,
            b'x' => Type::Int64,
            b't' => Type::Uint64,
            b'd' => Type::Double,
            b's' => Type::String,
            b'o' => Type::ObjectPath,
            b'g' => Type::Signature,
            b'v' => Type::Variant,
            b'm' => Type::Maybe(Box::new(Self::parse_at(b, pos, depth + 1)?)),
            b'a' => Type::Array(Box::new(Self::parse_at(b, pos, depth + 1)?)),
            b'(' => {
                let mut members = Vec::new();
                loop {
                    match b.get(*pos) {
                        Some(b')') => {
                            *pos += 1;
                            break;
                        }
                        Some(_) => members.push(Self::parse_at(b, pos, depth + 1)?),
                        None => return Err(ParseError("unterminated tuple type".into())),
                    }
                }
                Type::Tuple(members)
            }
            b'{' => {
                let k = Self::parse_at(b, pos, depth + 1)?;
                if !k.is_basic() {
                    return Err(ParseError("dict entry key must be a basic type".into()));
                }
                let v = Self::parse_at(b, pos, depth + 1)?;
                if b.get(*pos) != Some(&b'}') {
                    return Err(ParseError("unterminated dict entry type".into()));
                }
                *pos += 1;
                Type::DictEntry(Box::new(k), Box::new(v))
            }
            other => {
                return Err(ParseError(format!(
                    "unknown type character {:?}",
                    other as char
                )))
            }
        })
    }

    fn is_basic(&self) -> bool {
        !matches!(
            self,
            Type::Variant | Type::Maybe(_) | Type::Array(_) | Type::Tuple(_) | Type::DictEntry(..)
        )
    }

    /// Alignment in bytes, as the GVariant specification defines it.
    pub fn alignment(&self) -> usize {
        match self {
            Type::Bool | Type::Byte | Type::String | Type::ObjectPath | Type::Signature => 1,
            Type::Int16 | Type::Uint16 => 2,
            Type::Int32 | Type::Uint32 | Type::Handle => 4,
            Type::Int64 | Type::Uint64 | Type::Double | Type::Variant => 8,
            Type::Maybe(t) | Type::Array(t) => t.alignment(),
            Type::Tuple(m) => m.iter().map(Type::alignment).max().unwrap_or(1),
            Type::DictEntry(k, v) => k.alignment().max(v.alignment()),
        }
    }

    /// Size in bytes when every value of the type has the same size.
    pub fn fixed_size(&self) -> Option<usize> {
        match self {
            Type::Bool | Type::Byte => Some(1),
            Type::Int16 | Type::Uint16 => Some(2),
            Type::Int32 | Type::Uint32 | Type::Handle => Some(4),
            Type::Int64 | Type::Uint64 | Type::Double => Some(8),
            Type::String
            | Type::ObjectPath
            | Type::Signature
            | Type::Variant
            | Type::Maybe(_)
            | Type::Array(_) => None,
            Type::Tuple(m) => tuple_fixed_size(m.iter()),
            Type::DictEntry(k, v) => tuple_fixed_size([k.as_ref(), v.as_ref()].into_iter()),
        }
    }

    /// The type string, as it appears inside a serialized variant.
    pub fn type_string(&self) -> String {
        let mut s = String::new();
        self.write_string(&mut s);
        s
    }

    fn write_string(&self, s: &mut String) {
        match self {
            Type::Bool => s.push('b'),
            Type::Byte => s.push('y'),
            Type::Int16 => s.push('n'),
            Type::Uint16 => s.push('q'),
            Type::Int32 => s.push('i'),
            Type::Uint32 => s.push('u'),
            Type::Handle => s.push('h'),
            Type::Int64 => s.push('x'),
            Type::Uint64 => s.push('t'),
            Type::Double => s.push('d'),
            Type::String => s.push('s'),
            Type::ObjectPath => s.push('o'),
            Type::Signature => s.push('g'),
            Type::Variant => s.push('v'),
            Type::Maybe(t) => {
                s.push('m');
                t.write_string(s)
            }
            Type::Array(t) => {
                s.push('a');
                t.write_string(s)
            }
            Type::Tuple(m) => {
                s.push('(');
                m.iter().for_each(|t| t.write_string(s));
                s.push(')');
            }
            Type::DictEntry(k, v) => {
                s.push('{');
                k.write_string(s);
                v.write_string(s);
                s.push('}');
            }
        }
    }

    /// Members of a tuple or dict entry, in order.
    fn members(&self) -> Option<Vec<&Type>> {
        match self {
            Type::Tuple(m) => Some(m.iter().collect()),
            Type::DictEntry(k, v) => Some(vec![k.as_ref(), v.as_ref()]),
            _ => None,
        }
    }
}

fn tuple_fixed_size<'a>(members: impl Iterator<Item = &'a Type> + Clone) -> Option<usize> {
    let mut size = 0usize;
    let mut align = 1usize;
    for m in members {
        let a = m.alignment();
        size = align_up(size, a) + m.fixed_size()?;
        align = align.max(a);
    }
    // The unit type `()` takes one byte, so that arrays of it have a length.
    Some(if size == 0 { 1 } else { align_up(size, align) })
}

fn align_up(n: usize, a: usize) -> usize {
    // Alignments are 1, 2, 4 or 8; saturate rather than overflow on absurd sizes.
    n.checked_add(a - 1)
        .map_or(usize::MAX & !(a - 1), |v| v & !(a - 1))
}

/// Width of framing offsets in a container of `size` bytes (reading side).
fn offset_size(size: usize) -> usize {
    match size as u64 {
        0 => 0,
        1..=0xff => 1,
        0x100..=0xffff => 2,
        0x1_0000..=0xffff_ffff => 4,
        _ => 8,
    }
}

fn read_offset(data: &[u8], at: usize, width: usize) -> Result<usize, ParseError> {
    let bytes = data
        .get(at..at.saturating_add(width))
        .filter(|b| b.len() == width)
        .ok_or_else(|| ParseError("framing offset out of bounds".into()))?;
    let mut v: u64 = 0;
    for (i, b) in bytes.iter().enumerate() {
        v |= u64::from(*b) << (8 * i);
    }
    usize::try_from(v).map_err(|_| ParseError("framing offset too large".into()))
}

fn slice(data: &[u8], start: usize, end: usize) -> Result<&[u8], ParseError> {
    if start > end {
        return Err(ParseError(format!(
            "child starts at {start} after it ends at {end}"
        )));
    }
    data.get(start..end)
        .ok_or_else(|| ParseError(format!("child {start}..{end} beyond {} bytes", data.len())))
}

/// Split a serialized array into the byte slices of its elements.
pub fn split_array<'a>(elem: &Type, data: &'a [u8]) -> Result<Vec<&'a [u8]>, ParseError> {
    if let Some(size) = elem.fixed_size() {
        if !data.len().is_multiple_of(size) {
            return Err(ParseError(format!(
                "array of {}-byte elements has {} bytes",
                size,
                data.len()
            )));
        }
        return Ok(data.chunks_exact(size).collect());
    }
    if data.is_empty() {
        return Ok(Vec::new());
    }
    let width = offset_size(data.len());
    let last = read_offset(data, data.len() - width, width)?;
    if last > data.len() {
        return Err(ParseError("array offsets start beyond its end".into()));
    }
    let table = data.len() - last;
    if !table.is_multiple_of(width) {
        return Err(ParseError("array offset table has a partial entry".into()));
    }
    let n = table / width;
    let align = elem.alignment();
    let mut out = Vec::with_capacity(n);
    let mut pos = 0usize;
    for i in 0..n {
        let end = read_offset(data, last + i * width, width)?;
        let start = align_up(pos, align);
        if end > last {
            return Err(ParseError(
                "array element runs into the offset table".into(),
            ));
        }
        out.push(slice(data, start, end)?);
        pos = end;
    }
    Ok(out)
}

/// Split a serialized tuple (or dict entry) into the byte slices of its members.
pub fn split_tuple<'a>(ty: &Type, data: &'a [u8]) -> Result<Vec<&'a [u8]>, ParseError> {
    let members = ty
        .members()
        .ok_or_else(|| ParseError(format!("{} is not a tuple type", ty.type_string())))?;
    if let Some(size) = ty.fixed_size() {
        if data.len() != size {
            return Err(ParseError(format!(
                "fixed-size tuple {} needs {} bytes, has {}",
                ty.type_string(),
                size,
                data.len()
            )));
        }
    }
    let width = offset_size(data.len());
    // Every variable-size member except the last has its end recorded at the tail.
    let n_offsets = members
        .iter()
        .enumerate()
        .filter(|(i, m)| m.fixed_size().is_none() && i + 1 < members.len())
        .count();
    let body_end = n_offsets
        .checked_mul(width)
        .and_then(|t| data.len().checked_sub(t))
        .ok_or_else(|| ParseError("tuple too short for its offsets".into()))?;
    let mut out = Vec::with_capacity(members.len());
    let mut pos = 0usize;
    let mut offset_idx = 0usize;
    for (i, m) in members.iter().enumerate() {
        let start = align_up(pos, m.alignment());
        let end = match m.fixed_size() {
            Some(sz) => start.saturating_add(sz),
            None if i + 1 == members.len() => body_end,
            None => {
                offset_idx += 1;
                read_offset(data, data.len() - offset_idx * width, width)?
            }
        };
        if end > body_end {
            return Err(ParseError(format!(
                "tuple member {i} ends at {end}, beyond the body ({body_end} bytes)"
            )));
        }
        out.push(slice(data, start, end)?);
        pos = end;
    }
    Ok(out)
}

/// Split a serialized variant into its value bytes and its type.
pub fn split_variant(data: &[u8]) -> Result<(&[u8], Type), ParseError> {
    let nul = data
        .iter()
        .rposition(|b| *b == 0)
        .ok_or_else(|| ParseError("variant has no type separator".into()))?;
    let ts = std::str::from_utf8(&data[nul + 1..])
        .map_err(|_| ParseError("variant type string is not ASCII".into()))?;
    let ty = Type::parse(ts)?;
    Ok((&data[..nul], ty))
}

/// Read a string (`s`, `o`, `g`): its bytes without the trailing NUL. GVariant requires
/// UTF-8, but callers decide what to do with bytes that are not.
pub fn read_str(data: &[u8]) -> Result<&[u8], ParseError> {
    match data.split_last() {
        Some((0, body)) if !body.contains(&0) => Ok(body),
        Some((0, _)) => Err(ParseError("string contains a NUL byte".into())),
        _ => Err(ParseError("string is not NUL-terminated".into())),
    }
}

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

/// Serialize `v` as type `ty` in normal form. A value that does not match the type is an error.
pub fn serialize(ty: &Type, v: &Value) -> Result<Vec<u8>, ParseError> {
    let mut out = Vec::new();
    write_value(ty, v, &mut out, 0)?;
    Ok(out)
}

fn mismatch(ty: &Type) -> ParseError {
    ParseError(format!("value does not match type {}", ty.type_string()))
}

fn pad_to(out: &mut Vec<u8>, align: usize) {
    let target = align_up(out.len(), align);
    out.resize(target, 0);
}

/// Width of framing offsets when writing `body` bytes plus `n` offsets (GLib's rule).
fn write_offset_size(body: usize, n: usize) -> usize {
    let fits = |w: usize, max: u64| (body as u64).saturating_add((n as u64) * (w as u64)) <= max;
    if fits(1, 0xff) {
        1
    } else if fits(2, 0xffff) {
        2
    } else if fits(4, 0xffff_ffff) {
        4
    } else {
        8
    }
}

fn push_offsets(out: &mut Vec<u8>, offsets: &[usize]) {
    let w = write_offset_size(out.len(), offsets.len());
    for o in offsets {
        out.extend_from_slice(&(*o as u64).to_le_bytes()[..w]);
    }
}

fn write_value(ty: &Type, v: &Value, out: &mut Vec<u8>, depth: usize) -> Result<(), ParseError> {
    if depth > MAX_DEPTH {
        return Err(ParseError("value nested too deeply".into()));
    }
    // Children are serialized into `out` directly: every container starts at an offset
    // aligned to its own alignment, which is at least that of any of its children.
    match (ty, v) {
        (Type::Bool, Value::Bool(b)) => out.push(u8::from(*b)),
        (Type::Byte, Value::Byte(b)) => out.push(*b),
        (Type::Int16, Value::Int16(x)) => out.extend_from_slice(&x.to_le_bytes()),
        (Type::Uint16, Value::Uint16(x)) => out.extend_from_slice(&x.to_le_bytes()),
        (Type::Int32, Value::Int32(x)) | (Type::Handle, Value::Handle(x)) => {
            out.extend_from_slice(&x.to_le_bytes())
        }
        (Type::Uint32, Value::Uint32(x)) => out.extend_from_slice(&x.to_le_bytes()),
        (Type::Int64, Value::Int64(x)) => out.extend_from_slice(&x.to_le_bytes()),
        (Type::Uint64, Value::Uint64(x)) => out.extend_from_slice(&x.to_le_bytes()),
        (Type::Double, Value::Double(x)) => out.extend_from_slice(&x.to_le_bytes()),
        (Type::String | Type::ObjectPath | Type::Signature, Value::Str(s)) => {
            if s.contains(&0) {
                return Err(ParseError("string contains a NUL byte".into()));
            }
            out.extend_from_slice(s);
            out.push(0);
        }
        (Type::Array(t), Value::Bytes(b)) if **t == Type::Byte => out.extend_from_slice(b),
        (Type::Variant, Value::Variant(inner_ty, inner)) => {
            let mut body = Vec::new();
            write_value(inner_ty, inner, &mut body, depth + 1)?;
            out.extend_from_slice(&body);
            out.push(0);
            out.extend_from_slice(inner_ty.type_string().as_bytes());
        }
        (Type::Maybe(t), Value::Maybe(m)) => {
            if let Some(inner) = m {
                let mut body = Vec::new();
                write_value(t, inner, &mut body, depth + 1)?;
                out.extend_from_slice(&body);
                if t.fixed_size().is_none() {
                    out.push(0);
                }
            }
        }
        (Type::Array(t), Value::Array(items)) => {
            let mut body = Vec::new();
            let mut offsets = Vec::new();
            for item in items {
                pad_to(&mut body, t.alignment());
                write_value(t, item, &mut body, depth + 1)?;
                offsets.push(body.len());
            }
            if t.fixed_size().is_none() {
                push_offsets(&mut body, &offsets);
            }
            out.extend_from_slice(&body);
        }
        (Type::Tuple(_) | Type::DictEntry(..), Value::Tuple(_) | Value::DictEntry(..)) => {
            let members = ty.members().ok_or_else(|| mismatch(ty))?;
            let values: Vec<&Value> = match v {
                Value::Tuple(vs) => vs.iter().collect(),
                Value::DictEntry(k, x) => vec![k.as_ref(), x.as_ref()],
                _ => return Err(mismatch(ty)),
            };
            if values.len() != members.len() {
                return Err(mismatch(ty));
            }
            let mut body = Vec::new();
            let mut offsets = Vec::new();
            for (i, (m, val)) in members.iter().zip(values).enumerate() {
                pad_to(&mut body, m.alignment());
                write_value(m, val, &mut body, depth + 1)?;
                if m.fixed_size().is_none() && i + 1 < members.len() {
                    offsets.push(body.len());
                }
            }
            if let Some(size) = ty.fixed_size() {
                body.resize(size, 0);
            } else {
                offsets.reverse();
                push_offsets(&mut body, &offsets);
            }
            out.extend_from_slice(&body);
        }
        _ => return Err(mismatch(ty)),
    }
    Ok(())
}

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

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Type {
        Type::parse(s).unwrap()
    }

    #[test]
    fn type_strings_roundtrip_and_sizes() {
        for s in [
            types::COMMIT,
            types::DIRTREE,
            types::DIRMETA,
            types::FILE_HEADER,
            types::ZLIB_FILE_HEADER,
            types::METADATA,
            "(a(s(taya{sv}))a{sv})",
            "mmas",
            "()",
        ] {
            assert_eq!(t(s).type_string(), s);
        }
        assert_eq!(t("(uy)").fixed_size(), Some(8));
        assert_eq!(t("(yu)").fixed_size(), Some(8));
        assert_eq!(t("()").fixed_size(), Some(1));
        assert_eq!(t("(ty)").alignment(), 8);
        assert!(Type::parse("(uu").is_err());
        assert!(Type::parse("{vs}").is_err());
        assert!(Type::parse("uu").is_err());
        assert!(Type::parse("z").is_err());
        assert!(Type::parse(&"a".repeat(1000)).is_err());
    }

    #[test]
    fn known_encodings() {
        // Byte sequences from the GVariant specification's examples.
        let v = parse(&t("(si)"), b"foo\0\xff\xff\xff\xff\x04").unwrap();
        assert_eq!(
            v,
            Value::Tuple(vec![Value::Str(b"foo".to_vec()), Value::Int32(-1)])
        );
        let v = parse(&t("as"), b"i\0can\0has\0strings?\0\x02\x06\x0a\x13").unwrap();
        assert_eq!(v.children().unwrap().len(), 4);
        let v = parse(&t("a{sv}"), b"").unwrap();
        assert_eq!(v, Value::Array(vec![]));
        let v = parse(&t("v"), b"\x04\0\0\0\0u").unwrap();
        assert_eq!(v, Value::Variant(Type::Uint32, Box::new(Value::Uint32(4))));
        let v = parse(&t("ms"), b"hello\0\0").unwrap();
        assert_eq!(
            v,
            Value::Maybe(Some(Box::new(Value::Str(b"hello".to_vec()))))
        );
    }

    #[test]
    fn serialize_roundtrips() {
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("(si)", b"foo\0\xff\xff\xff\xff\x04".to_vec()),
            ("as", b"i\0can\0has\0strings?\0\x02\x06\x0a\x13".to_vec()),
            ("v", b"\x04\0\0\0\0u".to_vec()),
            ("ms", b"hello\0\0".to_vec()),
        ];
        for (ts, bytes) in cases {
            let v = parse(&t(ts), &bytes).unwrap();
            assert_eq!(serialize(&t(ts), &v).unwrap(), bytes, "{ts}");
        }
        // A large array needs 2-byte offsets; check both directions agree.
        let ty = t("as");
        let v = Value::Array(
            (0..100)
                .map(|i| Value::Str(format!("s{i}").into()))
                .collect(),
        );
        let bytes = serialize(&ty, &v).unwrap();
        assert!(bytes.len() > 255);
        assert_eq!(parse(&ty, &bytes).unwrap(), v);
        assert!(serialize(&t("u"), &Value::Str(vec![])).is_err());
    }

    #[test]
    fn metadata_decodes_common_types() {
        let ty = t(types::METADATA);
        let entry = |k: &str, vt: &str, v: Value| {
            Value::DictEntry(
                Box::new(Value::Str(k.into())),
                Box::new(Value::Variant(t(vt), Box::new(v))),
            )
        };
        let v = Value::Array(vec![
            entry("version", "s", Value::Str(b"1.2".to_vec())),
            entry("n", "t", Value::Uint64(7)),
            entry("b", "b", Value::Bool(true)),
            entry("l", "as", Value::Array(vec![Value::Str(b"x".to_vec())])),
            entry("raw", "ay", Value::Bytes(vec![1, 2])),
            entry("i", "i", Value::Int32(-2)),
        ]);
        let bytes = serialize(&ty, &v).unwrap();
        let m = parse_metadata(&bytes).unwrap();
        assert_eq!(m[0], ("version".into(), MetaValue::Str("1.2".into())));
        assert_eq!(m[1].1, MetaValue::U64(7));
        assert_eq!(m[2].1, MetaValue::Bool(true));
        assert_eq!(m[3].1, MetaValue::StrList(vec!["x".into()]));
        assert_eq!(m[4].1, MetaValue::Bytes(vec![1, 2]));
        assert_eq!(
            m[5].1,
            MetaValue::Other {
                type_string: "i".into(),
                bytes: (-2i32).to_le_bytes().to_vec()
            }
        );
    }

    #[test]
    fn hostile_bytes_never_panic() {
        // A deterministic pseudo-random generator: no dependency, reproducible failures.
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let tys: Vec<Type> = [
            types::COMMIT,
            types::DIRTREE,
            types::DIRMETA,
            types::FILE_HEADER,
            types::METADATA,
            "av",
            "mv",
            "a{sv}",
        ]
        .iter()
        .map(|s| t(s))
        .collect();
        for _ in 0..20_000 {
            let len = (next() % 80) as usize;
            let bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            for ty in &tys {
                let _ = parse(ty, &bytes);
            }
            let _ = parse_metadata(&bytes);
        }
        // Deeply nested variants must be refused, not overflow the stack.
        let mut v = b"\x01\0\0\0\0u".to_vec();
        for _ in 0..200 {
            v.extend_from_slice(b"\0v");
        }
        assert!(parse(&t("v"), &v).is_err());
    }
}
