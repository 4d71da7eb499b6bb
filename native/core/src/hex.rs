//! Hex digits as tables, for the parsers that read many of them (maps addresses, object
//! names): one lookup per byte, no branches.

/// The value of each byte as a hex digit, or 0xff for a byte that is not one; `upper`
/// accepts A–F too.
pub const fn digit_table(upper: bool) -> [u8; 256] {
    let mut t = [0xffu8; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        if upper {
            t[b'A' as usize + i] = 10 + i as u8;
        }
        i += 1;
    }
    t
}
