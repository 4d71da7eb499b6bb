//! Property tests for the round trips the core relies on: GVariant serialize → parse, type
//! string → type → type string, and the kernel's octal escapes. Values come from a small
//! seeded generator (no dependency), so every run checks the same few thousand cases and a
//! failure names the seed that reproduces it.
use livetree_core::ostree::gvariant::{self, Type, Value};
use livetree_core::proc::escape::{escape_octal, unescape_octal, unescape_octal_set};

/// xorshift64*: deterministic, good enough to spread the cases.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn bytes(&mut self, max: u64, alphabet: &[u8]) -> Vec<u8> {
        let n = self.below(max + 1);
        (0..n)
            .map(|_| alphabet[self.below(alphabet.len() as u64) as usize])
            .collect()
    }
}

const BASIC: &[Type] = &[
    Type::Bool,
    Type::Byte,
    Type::Int16,
    Type::Uint16,
    Type::Int32,
    Type::Uint32,
    Type::Handle,
    Type::Int64,
    Type::Uint64,
    Type::Double,
    Type::String,
    Type::ObjectPath,
    Type::Signature,
];

fn gen_type(r: &mut Rng, depth: u32) -> Type {
    let pick = if depth >= 4 { 0 } else { r.below(6) };
    match pick {
        0 | 1 => BASIC[r.below(BASIC.len() as u64) as usize].clone(),
        2 => Type::Array(Box::new(gen_type(r, depth + 1))),
        3 => Type::Maybe(Box::new(gen_type(r, depth + 1))),
        4 => {
            let n = r.below(5);
            Type::Tuple((0..n).map(|_| gen_type(r, depth + 1)).collect())
        }
        _ => Type::Array(Box::new(Type::DictEntry(
            Box::new(BASIC[r.below(BASIC.len() as u64) as usize].clone()),
            Box::new(if r.below(2) == 0 {
                Type::Variant
            } else {
                gen_type(r, depth + 1)
            }),
        ))),
    }
}

/// Strings are any bytes but NUL, including invalid UTF-8: the reader keeps bytes.
fn gen_str(r: &mut Rng) -> Vec<u8> {
    let all: Vec<u8> = (1..=255).collect();
    r.bytes(12, &all)
}

fn gen_value(r: &mut Rng, ty: &Type, depth: u32) -> Value {
    match ty {
        Type::Bool => Value::Bool(r.below(2) == 1),
        Type::Byte => Value::Byte(r.next() as u8),
        Type::Int16 => Value::Int16(r.next() as i16),
        Type::Uint16 => Value::Uint16(r.next() as u16),
        Type::Int32 => Value::Int32(r.next() as i32),
        Type::Uint32 => Value::Uint32(r.next() as u32),
        Type::Handle => Value::Handle(r.next() as i32),
        Type::Int64 => Value::Int64(r.next() as i64),
        Type::Uint64 => Value::Uint64(r.next()),
        // Finite doubles only, so `==` on the parsed value is meaningful.
        Type::Double => Value::Double(f64::from(r.next() as i32) / 7.0),
        Type::String | Type::ObjectPath | Type::Signature => Value::Str(gen_str(r)),
        Type::Variant => {
            let inner = gen_type(r, depth + 1);
            let v = gen_value(r, &inner, depth + 1);
            Value::Variant(inner, Box::new(v))
        }
        Type::Maybe(t) => {
            if r.below(3) == 0 {
                Value::Maybe(None)
            } else {
                Value::Maybe(Some(Box::new(gen_value(r, t, depth + 1))))
            }
        }
        Type::Array(t) if **t == Type::Byte => Value::Bytes(r.bytes(40, &[0, 1, 2, 0xff, b'a'])),
        Type::Array(t) => {
            let n = r.below(6);
            Value::Array((0..n).map(|_| gen_value(r, t, depth + 1)).collect())
        }
        Type::Tuple(m) => Value::Tuple(m.iter().map(|t| gen_value(r, t, depth + 1)).collect()),
        Type::DictEntry(k, v) => Value::DictEntry(
            Box::new(gen_value(r, k, depth + 1)),
            Box::new(gen_value(r, v, depth + 1)),
        ),
    }
}

#[test]
fn gvariant_serialize_then_parse_gives_the_value_back() {
    for seed in 1..4000u64 {
        let mut r = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let ty = gen_type(&mut r, 0);
        assert_eq!(
            Type::parse(&ty.type_string()).as_ref(),
            Ok(&ty),
            "seed {seed}: type string {}",
            ty.type_string()
        );
        let v = gen_value(&mut r, &ty, 0);
        let bytes = gvariant::serialize(&ty, &v).unwrap_or_else(|e| {
            panic!(
                "seed {seed}: {} does not serialize: {e:?}",
                ty.type_string()
            )
        });
        let back = gvariant::parse(&ty, &bytes).unwrap_or_else(|e| {
            panic!(
                "seed {seed}: {} {bytes:?} does not parse: {e:?}",
                ty.type_string()
            )
        });
        assert_eq!(back, v, "seed {seed}: type {}", ty.type_string());
    }
}

#[test]
fn gvariant_ostree_types_round_trip() {
    // The exact types ostree objects use, with values of the shapes ostree writes.
    use gvariant::types;
    for seed in 1..500u64 {
        let mut r = Rng(seed.wrapping_mul(0xd1b5_4a32_d192_ed03));
        for ts in [
            types::COMMIT,
            types::DIRTREE,
            types::DIRMETA,
            types::FILE_HEADER,
            types::ZLIB_FILE_HEADER,
            types::METADATA,
        ] {
            let ty = Type::parse(ts).expect("ostree type parses");
            let v = gen_value(&mut r, &ty, 0);
            let bytes = gvariant::serialize(&ty, &v).expect("serializes");
            assert_eq!(
                gvariant::parse(&ty, &bytes).ok(),
                Some(v),
                "seed {seed}: {ts}"
            );
        }
    }
}

#[test]
fn octal_escapes_round_trip_when_the_backslash_is_escaped() {
    let all: Vec<u8> = (0..=255).collect();
    let mut r = Rng(0x5eed);
    for _ in 0..5000 {
        // Mostly escape-looking input, to hit the ambiguous cases.
        let data = if r.below(2) == 0 {
            r.bytes(24, b"\\0127 \t\nx")
        } else {
            r.bytes(24, &all)
        };
        let mountinfo = escape_octal(&data, b" \t\n\\");
        assert_eq!(unescape_octal(&mountinfo), data, "{data:?}");
        // maps escapes only the newline; a name that holds a literal `\012` is the one
        // ambiguity the kernel leaves, and the maps decoder reads it as a newline.
        let maps = escape_octal(&data, b"\n");
        if !data.windows(4).any(|w| w == b"\\012") {
            assert_eq!(unescape_octal_set(&maps, b"\n"), data, "{data:?}");
        }
        assert!(!maps.contains(&b'\n'));
    }
}
