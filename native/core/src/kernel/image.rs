//! The version string inside an x86 kernel image (bzImage), read without running or
//! decompressing anything.
//!
//! The real-mode setup header (Documentation/arch/x86/boot.rst) starts at 0x1f1:
//! `setup_sects` at 0x1f1, the magic `HdrS` at 0x202, the boot protocol version at 0x206
//! and, since protocol 2.00, `kernel_version` at 0x20e: a pointer, minus 0x200, to a
//! NUL-terminated string inside the setup code, e.g.
//! `6.1.0-57-amd64 (debian-kernel@lists.debian.org) #1 SMP PREEMPT_DYNAMIC Debian 6.1.192-3 (2026-11-26)`
//! — the release, the builder and `uname -v`. That is what tells a kernel rebuilt under
//! the same release name apart from the one running.
use crate::error::ParseError;

/// Bytes of an image a caller must read for [`version_string`] to see the whole setup
/// area: at most 255 setup sectors plus the boot sector.
pub const HEADER_LEN: usize = 256 * 512;

/// Longest version string accepted; the kernel's own is well under 200 bytes.
const MAX_VERSION: usize = 512;

/// The image's version string: `Ok(None)` when the bytes are no bzImage (another
/// architecture's image, a placeholder) or carry no version pointer, an error when the
/// header is a bzImage's but points outside the image or at garbage.
pub fn version_string(bytes: &[u8]) -> Result<Option<String>, ParseError> {
    if bytes.len() < 0x210 || &bytes[0x202..0x206] != b"HdrS" {
        return Ok(None);
    }
    let u16_at = |o: usize| u16::from_le_bytes([bytes[o], bytes[o + 1]]);
    if u16_at(0x206) < 0x0200 {
        return Ok(None);
    }
    let pointer = u16_at(0x20e);
    if pointer == 0 {
        return Ok(None);
    }
    // setup_sects 0 means 4, for compatibility with ancient images.
    let sects = match bytes[0x1f1] {
        0 => 4,
        n => usize::from(n),
    };
    let setup_end = (sects + 1) * 512;
    let start = usize::from(pointer) + 0x200;
    if start >= setup_end {
        return Err(ParseError(format!(
            "kernel_version 0x{pointer:x} points past the setup code (0x{setup_end:x} bytes)"
        )));
    }
    if start >= bytes.len() {
        return Err(ParseError(format!(
            "kernel_version 0x{pointer:x} points past the end of the image ({} bytes)",
            bytes.len()
        )));
    }
    let end = bytes.len().min(setup_end).min(start + MAX_VERSION + 1);
    let area = &bytes[start..end];
    let len = area.iter().position(|&b| b == 0).ok_or_else(|| {
        ParseError(format!(
            "kernel version string at 0x{start:x} is not terminated"
        ))
    })?;
    let s = &area[..len];
    if s.is_empty() {
        return Err(ParseError(format!(
            "empty kernel version string at 0x{start:x}"
        )));
    }
    if !s.iter().all(|&b| (0x20..0x7f).contains(&b)) {
        return Err(ParseError(format!(
            "kernel version string at 0x{start:x} is not printable text"
        )));
    }
    Ok(Some(String::from_utf8_lossy(s).into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal header: 2 setup sectors, protocol 2.15, the string at `at`.
    fn image(at: usize, s: &[u8]) -> Vec<u8> {
        let mut b = vec![0u8; 3 * 512];
        b[0x1f1] = 2;
        b[0x1fe] = 0x55;
        b[0x1ff] = 0xaa;
        b[0x202..0x206].copy_from_slice(b"HdrS");
        b[0x206..0x208].copy_from_slice(&0x020fu16.to_le_bytes());
        b[0x20e..0x210].copy_from_slice(&((at - 0x200) as u16).to_le_bytes());
        b[at..at + s.len()].copy_from_slice(s);
        b
    }

    #[test]
    fn reads_the_string() {
        let v = b"6.1.0-57-amd64 (debian-kernel@lists.debian.org) #1 SMP PREEMPT_DYNAMIC Debian 6.1.192-3 (2026-11-26)\0";
        assert_eq!(
            version_string(&image(0x300, v)).unwrap().as_deref(),
            Some("6.1.0-57-amd64 (debian-kernel@lists.debian.org) #1 SMP PREEMPT_DYNAMIC Debian 6.1.192-3 (2026-11-26)")
        );
    }

    #[test]
    fn not_a_bzimage_is_no_answer() {
        assert_eq!(
            version_string(b"livetree fake kernel 6.0.0\n").unwrap(),
            None
        );
        assert_eq!(version_string(&[0u8; 4096]).unwrap(), None);
        let mut old = image(0x300, b"x\0");
        old[0x206..0x208].copy_from_slice(&0x0104u16.to_le_bytes());
        assert_eq!(version_string(&old).unwrap(), None);
        let mut none = image(0x300, b"x\0");
        none[0x20e..0x210].copy_from_slice(&[0, 0]);
        assert_eq!(version_string(&none).unwrap(), None);
    }

    #[test]
    fn damage_is_an_error() {
        // Points past the setup code (2 sectors + boot sector = 0x600).
        let mut far = image(0x300, b"x\0");
        far[0x20e..0x210].copy_from_slice(&0x0500u16.to_le_bytes());
        assert!(version_string(&far).is_err());
        // Truncated: the header says 2 setup sectors, the file ends before the string.
        let full = image(0x500, b"6.1.0\0");
        assert!(version_string(&full[..0x480]).is_err());
        // No NUL before the setup code ends.
        let mut open = image(0x5f0, b"");
        open[0x5f0..0x600].fill(b'a');
        assert!(version_string(&open).is_err());
        // Control bytes.
        assert!(version_string(&image(0x300, b"6.1\x01\0")).is_err());
        assert!(version_string(&image(0x300, b"\0")).is_err());
    }
}
