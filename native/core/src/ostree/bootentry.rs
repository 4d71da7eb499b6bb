//! Boot Loader Specification entries (`/boot/loader/entries/ostree-*.conf`) as ostree writes
//! and reads them, and the `ostree=` kernel argument that ties an entry to a deployment.
//! Parsers take bytes; reading the directory is `sysroot`'s business.
use std::cmp::Ordering;

use crate::error::ParseError;

/// One BLS entry. Keys ostree does not use are kept in `other`, in file order.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct BootEntry {
    /// The entry's title, as the boot menu shows it.
    pub title: Option<String>,
    /// The entry's sort key: ostree writes "1" for the oldest entry up to N for the newest.
    pub version: Option<String>,
    /// The kernel command line, including `ostree=/ostree/boot.N/OSNAME/BOOTCSUM/SERIAL`.
    pub options: Option<String>,
    /// The kernel image, relative to `/boot` (`/ostree/OSNAME-BOOTCSUM/vmlinuz-RELEASE`).
    pub linux: Option<String>,
    /// The first `initrd` line. ostree treats any further `initrd` lines as overlay initrds.
    pub initrd: Option<String>,
    /// `initrd` lines after the first, in file order.
    pub overlay_initrds: Vec<String>,
    /// Every other key and value, in file order, kept so nothing is lost.
    pub other: Vec<(String, String)>,
}

/// The parts of `ostree=/ostree/boot.BOOTVERSION/OSNAME/BOOTCSUM/TREESERIAL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootLink {
    /// N of `boot.N`: which of the two boot versions the entry belongs to.
    pub bootversion: u32,
    /// The stateroot of the deployment.
    pub osname: String,
    /// The checksum of the kernel and initramfs the entry boots.
    pub bootcsum: String,
    /// The deployment's boot serial among deployments sharing that bootcsum.
    pub treebootserial: u32,
    /// The argument as written, e.g. `/ostree/boot.1/demo/ab12…/0`.
    pub path: String,
}

impl BootEntry {
    /// The value of the first `ostree=` kernel argument, if any.
    pub fn ostree_arg(&self) -> Option<&str> {
        self.options
            .as_deref()?
            .split(' ')
            .find_map(|opt| opt.strip_prefix("ostree="))
    }

    /// The parsed `ostree=` argument; an entry without one is not an ostree entry.
    pub fn boot_link(&self) -> Result<BootLink, ParseError> {
        let arg = self
            .ostree_arg()
            .ok_or_else(|| ParseError("no ostree= kernel argument".into()))?;
        parse_bootlink(arg)
    }
}

/// Parse an entry the way ostree's bootconfig parser does: a line that starts with an ASCII
/// letter is split at its first space or tab into key and value; anything else (comments,
/// blank or indented lines) is skipped. Bytes that are not UTF-8, or a NUL, are an error —
/// ostree refuses those files too.
pub fn parse(bytes: &[u8]) -> Result<BootEntry, ParseError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|e| ParseError(format!("not UTF-8 at byte {}", e.valid_up_to())))?;
    if let Some(pos) = text.find('\0') {
        return Err(ParseError(format!("NUL byte at {pos}")));
    }
    let mut entry = BootEntry::default();
    for line in text.split('\n') {
        if !line.starts_with(|c: char| c.is_ascii_alphabetic()) {
            continue;
        }
        let Some((key, value)) = line.split_once([' ', '\t']) else {
            continue;
        };
        let value = value.to_string();
        match key {
            "title" => entry.title = Some(value),
            "version" => entry.version = Some(value),
            "options" => entry.options = Some(value),
            "linux" => entry.linux = Some(value),
            "initrd" if entry.initrd.is_some() => entry.overlay_initrds.push(value),
            "initrd" => entry.initrd = Some(value),
            _ => entry.other.push((key.to_string(), value)),
        }
    }
    Ok(entry)
}

/// Parse `/ostree/boot.[01]/OSNAME/BOOTCSUM/SERIAL`, the same shape ostree's regex accepts.
pub fn parse_bootlink(arg: &str) -> Result<BootLink, ParseError> {
    let bad = || {
        ParseError(format!(
            "invalid ostree= argument '{arg}', expected /ostree/boot.BOOTVERSION/OSNAME/BOOTCSUM/TREESERIAL"
        ))
    };
    let rest = arg.strip_prefix("/ostree/boot.").ok_or_else(bad)?;
    let parts: Vec<&str> = rest.split('/').collect();
    let [bootversion, osname, bootcsum, serial] = parts.as_slice() else {
        return Err(bad());
    };
    let bootversion = match *bootversion {
        "0" => 0,
        "1" => 1,
        _ => return Err(bad()),
    };
    if osname.is_empty() || bootcsum.is_empty() || osname.starts_with('.') {
        return Err(bad());
    }
    if serial.is_empty() || !serial.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let treebootserial = serial.parse::<u32>().map_err(|_| bad())?;
    Ok(BootLink {
        bootversion,
        osname: osname.to_string(),
        bootcsum: bootcsum.to_string(),
        treebootserial,
        path: arg.to_string(),
    })
}

/// How ostree orders entries: by `version`, highest first (glibc `strverscmp`, reversed);
/// entries without a version go last.
pub fn compare_entries(a: &BootEntry, b: &BootEntry) -> Ordering {
    match (&a.version, &b.version) {
        (Some(x), Some(y)) => strverscmp(x, y).reverse(),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

/// A version comparison in the spirit of glibc's `strverscmp`: runs of digits compare by
/// numeric value, everything else byte by byte. Runs with leading zeros compare as
/// fractional parts (byte order) and sort before integral runs, as glibc does; the finer
/// corner cases of glibc's state machine for leading zeros are not reproduced.
pub fn strverscmp(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        if a[i].is_ascii_digit() && b[j].is_ascii_digit() {
            let si = i;
            while i < a.len() && a[i].is_ascii_digit() {
                i += 1;
            }
            let sj = j;
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            let (ra, rb) = (&a[si..i], &b[sj..j]);
            let fa = ra.len() > 1 && ra[0] == b'0';
            let fb = rb.len() > 1 && rb[0] == b'0';
            let ord = match (fa, fb) {
                (true, true) => ra.cmp(rb),
                (true, false) => Ordering::Less,
                (false, true) => Ordering::Greater,
                (false, false) => ra.len().cmp(&rb.len()).then_with(|| ra.cmp(rb)),
            };
            if ord != Ordering::Equal {
                return ord;
            }
        } else {
            if a[i] != b[j] {
                return a[i].cmp(&b[j]);
            }
            i += 1;
            j += 1;
        }
    }
    (a.len() - i).cmp(&(b.len() - j))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ENTRY: &[u8] = b"title livetree test OS 2 2.0 (ostree:1)\nversion 1\n\
options root=/dev/vda ostree=/ostree/boot.1/demo/bbd43f/1 quiet\n\
linux /ostree/demo-bbd43f/vmlinuz-6.0.0\ninitrd /ostree/demo-bbd43f/initramfs-6.0.0.img\n";

    #[test]
    fn parses_an_ostree_entry() {
        let e = parse(ENTRY).unwrap();
        assert_eq!(
            e.title.as_deref(),
            Some("livetree test OS 2 2.0 (ostree:1)")
        );
        assert_eq!(e.version.as_deref(), Some("1"));
        assert_eq!(
            e.linux.as_deref(),
            Some("/ostree/demo-bbd43f/vmlinuz-6.0.0")
        );
        assert_eq!(
            e.initrd.as_deref(),
            Some("/ostree/demo-bbd43f/initramfs-6.0.0.img")
        );
        let link = e.boot_link().unwrap();
        assert_eq!(link.bootversion, 1);
        assert_eq!(link.osname, "demo");
        assert_eq!(link.bootcsum, "bbd43f");
        assert_eq!(link.treebootserial, 1);
    }

    #[test]
    fn second_initrd_is_an_overlay() {
        let e = parse(b"initrd /a.img\ninitrd /b.img\n#initrd /c.img\n").unwrap();
        assert_eq!(e.initrd.as_deref(), Some("/a.img"));
        assert_eq!(e.overlay_initrds, vec!["/b.img".to_string()]);
    }

    #[test]
    fn hostile_input_is_an_error_or_has_no_link() {
        assert!(parse(&[b't', b'i', 0xff, 0xfe]).is_err());
        assert!(parse(b"title a\0b\n").is_err());
        // No options at all, or options without ostree=: not a deployment entry.
        assert!(parse(b"title x\n").unwrap().boot_link().is_err());
        assert!(parse(b"options quiet\n").unwrap().boot_link().is_err());
        // Lines without a value or not starting with a letter are ignored, as ostree does.
        let e = parse(b"title\n  options ostree=/ostree/boot.0/a/b/0\n").unwrap();
        assert_eq!(e, BootEntry::default());
    }

    #[test]
    fn bootlink_shapes() {
        assert!(parse_bootlink("/ostree/boot.0/os/csum/0").is_ok());
        for bad in [
            "/ostree/boot.2/os/csum/0",
            "/ostree/boot.0/os/csum",
            "/ostree/boot.0/os/csum/x",
            "/ostree/boot.0/os/csum/-1",
            "/ostree/boot.0//csum/0",
            "/ostree/boot.0/os/csum/0/extra",
            "ostree/boot.0/os/csum/0",
            "/ostree/boot.0/os/csum/99999999999",
        ] {
            assert!(parse_bootlink(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn version_order() {
        assert_eq!(strverscmp("2", "10"), Ordering::Less);
        assert_eq!(strverscmp("10", "10"), Ordering::Equal);
        assert_eq!(strverscmp("1.10", "1.9"), Ordering::Greater);
        assert_eq!(strverscmp("a", "b"), Ordering::Less);
        assert_eq!(strverscmp("1", "1a"), Ordering::Less);
        assert_eq!(strverscmp("01", "1"), Ordering::Less);
        let e = |v: Option<&str>| BootEntry {
            version: v.map(str::to_string),
            ..Default::default()
        };
        let mut v = [e(Some("2")), e(None), e(Some("10")), e(Some("1"))];
        v.sort_by(compare_entries);
        let got: Vec<_> = v.iter().map(|x| x.version.clone()).collect();
        assert_eq!(
            got,
            vec![Some("10".into()), Some("2".into()), Some("1".into()), None]
        );
    }
}
