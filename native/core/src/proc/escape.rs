//! The kernel's `\NNN` octal escapes, as /proc writes them into maps and mountinfo.
//!
//! The kernel (`mangle_path`, `seq_escape`) replaces each byte of a small per-file set with a
//! backslash and exactly three octal digits. Which bytes are escaped differs per file: maps
//! escapes only `\n`, mountinfo escapes space, tab, newline and the backslash itself. So a
//! decoder for maps must only decode `\012`: a file literally named `a\101` is printed as is,
//! and decoding every escape would turn it into `aA`.

/// Decode every `\NNN` octal escape (three octal digits, value at most 0o377).
/// A backslash not followed by three octal digits stays literal, as do escapes whose value
/// does not fit a byte (`\400` and above can never come from the kernel).
pub fn unescape_octal(bytes: &[u8]) -> Vec<u8> {
    unescape_octal_impl(bytes, None)
}

/// Decode only the escapes whose decoded byte is in `set`; every other `\NNN` stays literal.
/// Use it where the kernel escapes a known set and leaves backslashes alone (maps: `b"\n"`).
pub fn unescape_octal_set(bytes: &[u8], set: &[u8]) -> Vec<u8> {
    unescape_octal_impl(bytes, Some(set))
}

/// Encode each byte of `set` as `\NNN`, as the kernel does. With a backslash in `set` the
/// result decodes back exactly with [`unescape_octal`]; the round trip is what tests check.
pub fn escape_octal(bytes: &[u8], set: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    for &b in bytes {
        if set.contains(&b) {
            out.push(b'\\');
            out.push(b'0' + (b >> 6));
            out.push(b'0' + ((b >> 3) & 7));
            out.push(b'0' + (b & 7));
        } else {
            out.push(b);
        }
    }
    out
}

/// The byte a `\NNN` escape at the start of `rest` (just after the backslash) stands for.
fn octal3(rest: &[u8]) -> Option<u8> {
    if rest.len() < 3 {
        return None;
    }
    let mut value: u32 = 0;
    for &d in &rest[..3] {
        if !(b'0'..=b'7').contains(&d) {
            return None;
        }
        value = value * 8 + u32::from(d - b'0');
    }
    u8::try_from(value).ok()
}

fn unescape_octal_impl(bytes: &[u8], set: Option<&[u8]>) -> Vec<u8> {
    // Most paths hold no backslash at all: copy them in one go.
    if !bytes.contains(&b'\\') {
        return bytes.to_vec();
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'\\' {
            if let Some(v) = octal3(&bytes[i + 1..]) {
                if set.is_none_or(|s| s.contains(&v)) {
                    out.push(v);
                    i += 4;
                    continue;
                }
            }
        }
        out.push(b);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic generator, so property tests need no extra crate and are
    /// reproducible: xorshift64*.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        /// Bytes biased towards the interesting ones: backslashes, digits, escaped chars.
        fn bytes(&mut self) -> Vec<u8> {
            let len = (self.next() % 24) as usize;
            (0..len)
                .map(|_| match self.next() % 6 {
                    0 => b'\\',
                    1 => b'0' + (self.next() % 10) as u8,
                    2 => [b' ', b'\t', b'\n', b':', b','][(self.next() % 5) as usize],
                    _ => self.next() as u8,
                })
                .collect()
        }
    }

    #[test]
    fn decodes_kernel_escapes() {
        assert_eq!(unescape_octal(br"a\040b\011c\012d\134e"), b"a b\tc\nd\\e");
        assert_eq!(unescape_octal(br"\377\000"), vec![0xff, 0]);
    }

    #[test]
    fn malformed_escapes_stay_literal() {
        assert_eq!(unescape_octal(br"a\04"), br"a\04");
        assert_eq!(unescape_octal(br"a\0x9"), br"a\0x9");
        assert_eq!(unescape_octal(br"\400"), br"\400");
        assert_eq!(unescape_octal(br"\\"), br"\\");
        assert_eq!(unescape_octal(br"x\"), br"x\");
        assert_eq!(unescape_octal(br"\\040"), br"\ ");
    }

    #[test]
    fn set_limits_what_is_decoded() {
        // maps only escapes \n: a literal "\101" in a file name must survive.
        assert_eq!(unescape_octal_set(br"a\101\012b", b"\n"), b"a\\101\nb");
    }

    #[test]
    fn round_trip_with_backslash_in_set() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let set = b" \t\n\\";
        for _ in 0..20_000 {
            let raw = rng.bytes();
            let esc = escape_octal(&raw, set);
            assert!(!esc.iter().any(|b| *b == b' ' || *b == b'\n' || *b == b'\t'));
            assert_eq!(unescape_octal(&esc), raw, "escaped {:?}", esc);
        }
    }

    #[test]
    fn round_trip_of_the_maps_set() {
        // With only \n escaped, decoding only \012 restores every input that does not
        // itself contain the literal text "\012" (which the kernel output cannot
        // distinguish; that is why exact paths come from map_files).
        let mut rng = Rng(42);
        for _ in 0..20_000 {
            let raw = rng.bytes();
            if raw.windows(4).any(|w| w == br"\012") {
                continue;
            }
            let esc = escape_octal(&raw, b"\n");
            assert!(!esc.contains(&b'\n'));
            assert_eq!(unescape_octal_set(&esc, b"\n"), raw, "escaped {:?}", esc);
        }
    }

    #[test]
    fn decoding_never_grows() {
        let mut rng = Rng(7);
        for _ in 0..20_000 {
            let raw = rng.bytes();
            assert!(unescape_octal(&raw).len() <= raw.len());
        }
    }
}
