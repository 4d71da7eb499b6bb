//! `/proc/PID/mountinfo`, parsed from bytes, and overlayfs super options.
//!
//! A line is `ID PARENT MAJ:MIN ROOT MOUNT_POINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER`.
//! The kernel escapes space, tab, newline and backslash as `\NNN` in ROOT, MOUNT_POINT,
//! FSTYPE and SOURCE, so those fields never hold a raw space and decode unambiguously.
//! Super options are escaped per option value (a comma in a value is `\054`), so they are
//! kept raw here and decoded by the per-filesystem parser after splitting on commas.
use crate::error::ParseError;
use crate::proc::escape::unescape_octal;

/// One line of `/proc/PID/mountinfo`: a mount as one mount namespace sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// The mount's unique id.
    pub mount_id: u32,
    /// The id of the mount it sits on.
    pub parent_id: u32,
    /// st_dev of files on this mount, as decimal `MAJ:MIN` in the file.
    pub major: u32,
    /// The device minor number of files on this mount.
    pub minor: u32,
    /// The directory of the filesystem that is mounted here (not `/` for bind mounts).
    pub root: Vec<u8>,
    /// Where it is mounted, relative to the reading process's root.
    pub mount_point: Vec<u8>,
    /// Per-mount options (`rw,relatime`).
    pub mount_options: String,
    /// `shared:N`, `master:N`, `propagate_from:N`, `unbindable`.
    pub optional_fields: Vec<String>,
    /// The filesystem type (`overlay`, `erofs`, `ext4`).
    pub fstype: String,
    /// The mount source (a device, or the filesystem's name).
    pub source: Vec<u8>,
    /// Raw, still escaped: split on `,` first, then decode each value.
    pub super_options: Vec<u8>,
}

/// Parse a whole mountinfo file; a bad line fails it, naming the line.
pub fn parse_mountinfo(bytes: &[u8]) -> Result<Vec<Mount>, ParseError> {
    let mut out = Vec::new();
    for (n, line) in bytes.split(|b| *b == b'\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        let m = parse_line(line)
            .map_err(|e| ParseError(format!("mountinfo line {}: {}", n + 1, e.0)))?;
        out.push(m);
    }
    Ok(out)
}

/// Parse one mountinfo line, decoding the octal escapes of its path fields.
pub fn parse_line(line: &[u8]) -> Result<Mount, ParseError> {
    let mut fields = line.split(|b| *b == b' ');
    let mut next = |what: &str| {
        fields
            .next()
            .ok_or_else(|| ParseError(format!("{what}: line ends early")))
    };
    let mount_id = dec_u32(next("mount id")?, "mount id")?;
    let parent_id = dec_u32(next("parent id")?, "parent id")?;
    let dev = next("device")?;
    let colon = dev
        .iter()
        .position(|b| *b == b':')
        .ok_or_else(|| ParseError(format!("device {:?} has no ':'", lossy(dev))))?;
    let major = dec_u32(&dev[..colon], "device major")?;
    let minor = dec_u32(&dev[colon + 1..], "device minor")?;
    let root = unescape_octal(next("root")?);
    let mount_point = unescape_octal(next("mount point")?);
    let mount_options = lossy(next("mount options")?);
    let mut optional_fields = Vec::new();
    loop {
        let f = next("separator")?;
        if f == b"-" {
            break;
        }
        optional_fields.push(lossy(f));
    }
    let fstype = lossy(&unescape_octal(next("fstype")?));
    let source = unescape_octal(next("source")?);
    // Whatever remains is the super options, spaces included, should a filesystem print
    // one unescaped.
    let rest: Vec<&[u8]> = fields.collect();
    let super_options = rest.join(&b' ');
    Ok(Mount {
        mount_id,
        parent_id,
        major,
        minor,
        root,
        mount_point,
        mount_options,
        optional_fields,
        fstype,
        source,
        super_options,
    })
}

/// The mounts whose files carry device `major:minor` (bind mounts share one device).
pub fn mounts_with_dev(mounts: &[Mount], major: u32, minor: u32) -> impl Iterator<Item = &Mount> {
    mounts
        .iter()
        .filter(move |m| m.major == major && m.minor == minor)
}

/// The layers of an overlayfs mount, decoded to exact directory bytes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OverlayOptions {
    /// Top-most first, as the kernel searches them.
    pub lowerdirs: Vec<Vec<u8>>,
    /// Data-only lower layers (`lowerdir=a::b` or `datadir+=`), reached only through
    /// metacopy redirects.
    pub datadirs: Vec<Vec<u8>>,
    /// The upper (writable) directory, if any.
    pub upperdir: Option<Vec<u8>>,
    /// The work directory, if any.
    pub workdir: Option<Vec<u8>>,
}

/// Parse overlayfs super options (the raw `Mount::super_options`).
///
/// Seen on a real 6.18 kernel (fixtures/captured/procfs/mountinfo-overlay.txt):
/// - the legacy `lowerdir=a:b:c` value is shown as the user passed it, so a layer named
///   `lo:b` appears as `lo\:b` (octal: `lo\134:b`) and `lo,c` as `lo\,c`; a backslash
///   escapes the next byte and `::` starts the data-only layers;
/// - `lowerdir+=` / `datadir+=` (new mount API) carry one literal path each, no `\:`;
/// - `upperdir=` and `workdir=` are shown as passed and the kernel drops backslash
///   escapes from them before use, so they get the same backslash decoding.
pub fn parse_overlay_options(super_options: &[u8]) -> OverlayOptions {
    let mut o = OverlayOptions::default();
    for opt in super_options.split(|b| *b == b',') {
        let Some(eq) = opt.iter().position(|b| *b == b'=') else {
            continue;
        };
        let (name, value) = (&opt[..eq], unescape_octal(&opt[eq + 1..]));
        match name {
            b"lowerdir" => {
                let (lower, data) = split_lowerdir(&value);
                o.lowerdirs = lower;
                o.datadirs = data;
            }
            b"lowerdir+" => o.lowerdirs.push(value),
            b"datadir+" => o.datadirs.push(value),
            b"upperdir" => o.upperdir = Some(drop_backslashes(&value)),
            b"workdir" => o.workdir = Some(drop_backslashes(&value)),
            _ => {}
        }
    }
    o
}

/// Split a legacy lowerdir value on unescaped `:`; the layers after `::` are data-only.
fn split_lowerdir(value: &[u8]) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let mut lower = Vec::new();
    let mut data = Vec::new();
    let mut in_data = false;
    let mut cur = Vec::new();
    let mut i = 0;
    let mut push = |cur: &mut Vec<u8>, in_data: &mut bool| {
        if cur.is_empty() {
            // An empty layer is the `::` marker: what follows is data-only.
            *in_data = true;
        } else if *in_data {
            data.push(std::mem::take(cur));
        } else {
            lower.push(std::mem::take(cur));
        }
    };
    while i < value.len() {
        match value[i] {
            b'\\' if i + 1 < value.len() => {
                cur.push(value[i + 1]);
                i += 2;
            }
            b':' => {
                push(&mut cur, &mut in_data);
                i += 1;
            }
            b => {
                cur.push(b);
                i += 1;
            }
        }
    }
    if !cur.is_empty() {
        push(&mut cur, &mut in_data);
    }
    (lower, data)
}

/// Overlayfs's own unescape: a backslash stands for the byte after it.
fn drop_backslashes(value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len());
    let mut i = 0;
    while i < value.len() {
        if value[i] == b'\\' && i + 1 < value.len() {
            i += 1;
        }
        out.push(value[i]);
        i += 1;
    }
    out
}

fn dec_u32(s: &[u8], what: &str) -> Result<u32, ParseError> {
    crate::proc::maps::parse_dec(s)
        .and_then(|v| u32::try_from(v).ok())
        .ok_or_else(|| ParseError(format!("{what} {:?} is not a number", lossy(s))))
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn captured_overlays() -> Vec<Mount> {
        parse_mountinfo(include_bytes!(
            "../../../../fixtures/captured/procfs/mountinfo-overlay.txt"
        ))
        .unwrap()
    }

    fn layers(v: &[Vec<u8>]) -> Vec<&[u8]> {
        v.iter().map(|l| l.as_slice()).collect()
    }

    #[test]
    fn host_mountinfo() {
        let bytes = include_bytes!("../../../../fixtures/captured/procfs/mountinfo-host.txt");
        let mounts = parse_mountinfo(bytes).unwrap();
        assert_eq!(mounts.len(), bytes.iter().filter(|b| **b == b'\n').count());
        let proc = mounts.iter().find(|m| m.mount_point == b"/proc").unwrap();
        assert_eq!(proc.fstype, "proc");
        assert_eq!(proc.root, b"/");
        assert!(mounts.iter().all(|m| m.mount_id != 0));
    }

    #[test]
    fn legacy_lowerdir_with_escaped_colon_and_comma() {
        let m = &captured_overlays()[0];
        assert_eq!(m.fstype, "overlay");
        assert_eq!((m.major, m.minor), (0, 39));
        let o = parse_overlay_options(&m.super_options);
        assert_eq!(
            layers(&o.lowerdirs),
            vec![&b"/T/lo a"[..], b"/T/lo:b", b"/T/lo,c"]
        );
        assert_eq!(o.upperdir.as_deref(), Some(&b"/T/up"[..]));
        assert_eq!(o.workdir.as_deref(), Some(&b"/T/work"[..]));
        assert!(o.datadirs.is_empty());
    }

    #[test]
    fn legacy_lowerdir_with_tab_backslash_equals() {
        let o = parse_overlay_options(&captured_overlays()[1].super_options);
        assert_eq!(
            layers(&o.lowerdirs),
            vec![&b"/T/lo\td"[..], b"/T/lo\\e", b"/T/lo=f"]
        );
    }

    #[test]
    fn new_api_lowerdir_plus_is_literal() {
        let o = parse_overlay_options(&captured_overlays()[2].super_options);
        assert_eq!(
            layers(&o.lowerdirs),
            vec![&b"/T/lo a"[..], b"/T/lo:b", b"/T/lo,c", b"/T/lo\\e"]
        );
    }

    #[test]
    fn data_only_layers() {
        let o = parse_overlay_options(&captured_overlays()[3].super_options);
        assert_eq!(layers(&o.lowerdirs), vec![&b"/T/lo a"[..]]);
        assert_eq!(layers(&o.datadirs), vec![&b"/T/data d"[..]]);
        assert_eq!(o.upperdir, None);
        let o = parse_overlay_options(b"lowerdir+=/a,datadir+=/d\\054x,datadir+=/e");
        assert_eq!(layers(&o.datadirs), vec![&b"/d,x"[..], b"/e"]);
    }

    #[test]
    fn escaped_upper_and_work() {
        let o = parse_overlay_options(&captured_overlays()[4].super_options);
        assert_eq!(o.upperdir.as_deref(), Some(&b"/T/up\\x"[..]));
        assert_eq!(o.workdir.as_deref(), Some(&b"/T/wk:y"[..]));
    }

    #[test]
    fn escaped_mount_point_and_source() {
        let m = &captured_overlays()[5];
        assert_eq!(m.mount_point, b"/T/m 2\nx\\y");
        assert_eq!(m.source, b"my src\\x");
        assert_eq!(m.mount_options, "rw,relatime");
        assert!(m.optional_fields.is_empty());
    }

    #[test]
    fn optional_fields_and_bind_root() {
        let line = b"36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 shared:7 - ext3 /dev/root rw,errors=continue";
        let m = parse_line(line).unwrap();
        assert_eq!(m.optional_fields, vec!["master:1", "shared:7"]);
        assert_eq!(m.root, b"/mnt1");
        assert_eq!((m.major, m.minor), (98, 0));
        assert_eq!(m.super_options, b"rw,errors=continue");
        assert_eq!(mounts_with_dev(std::slice::from_ref(&m), 98, 0).count(), 1);
        assert_eq!(mounts_with_dev(std::slice::from_ref(&m), 98, 1).count(), 0);
    }

    #[test]
    fn garbage_is_an_error() {
        for bad in [
            &b"36 35 98:0 /mnt1 /mnt2 rw master:1"[..],
            b"x 35 98:0 / / rw - ext4 /dev/a rw",
            b"36 35 980 / / rw - ext4 /dev/a rw",
            b"36",
        ] {
            assert!(parse_mountinfo(bad).is_err());
        }
    }
}
