//! The writer: a `Value` to GVariant normal form, the bytes ostree checksums.
use super::{align_up, Type, Value, MAX_DEPTH};
use crate::error::ParseError;

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
