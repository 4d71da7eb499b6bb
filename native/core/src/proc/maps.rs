//! `/proc/PID/maps`, parsed from bytes.
//!
//! A line is `START-END PERMS OFFSET MAJ:MIN INODE` then, for named mappings, padding
//! spaces and the name. The name is everything after the padding: it may hold spaces, and
//! bytes that are not UTF-8 pass through untouched. The kernel escapes only `\n` (as
//! `\012`) in it and leaves backslashes alone, so the text is ambiguous: a file literally
//! named `a\012b` prints like one whose name holds a newline. The exact name of a mapped
//! file comes from readlink of `/proc/PID/map_files/START-END`; the text here is the best
//! reading of what maps says.

use crate::error::ParseError;
use crate::fast_hash::FastMap;
use crate::proc::escape::unescape_octal_set;

/// What the kernel appends to the path of a file that was unlinked.
const DELETED_SUFFIX: &[u8] = b" (deleted)";

/// One line of `/proc/PID/maps`: an address range and what it maps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapEntry {
    /// The first address of the range.
    pub start: u64,
    /// The address just past the range.
    pub end: u64,
    /// `rwxp` / `r--s` as the kernel prints them.
    pub perms: [u8; 4],
    /// The offset in the file where the range starts.
    pub offset: u64,
    /// The device major number of the mapped file (0 for anonymous memory).
    pub major: u32,
    /// The device minor number of the mapped file.
    pub minor: u32,
    /// The mapped inode number (0 for anonymous memory).
    pub inode: u64,
    /// What the kernel names the mapping.
    pub pathname: Pathname,
}

/// The name column of a maps line, which tells files from anonymous and special mappings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pathname {
    /// No name at all: anonymous memory.
    Anonymous,
    /// A name the kernel made up rather than a path: `[heap]`, `[vdso]`, `[anon:NAME]`,
    /// `anon_inode:[perf_event]`. Kept verbatim.
    Special(Vec<u8>),
    /// A path (it starts with `/`), with `\012` decoded to a newline. `deleted_suffix` says
    /// the text ended in ` (deleted)`, which was removed; a file may really be named
    /// `x (deleted)`, so only the link count from map_files proves a deletion.
    File {
        /// The path, with the kernel's octal escapes decoded.
        path: Vec<u8>,
        /// The kernel's ` (deleted)` marker was there (and was removed from `path`).
        deleted_suffix: bool,
    },
}

impl MapEntry {
    /// The name of this mapping's entry in `/proc/PID/map_files`: unpadded lowercase hex,
    /// unlike maps itself, which pads addresses to eight digits.
    pub fn map_files_name(&self) -> String {
        format!("{:x}-{:x}", self.start, self.end)
    }
}

/// Parse a whole maps file. An empty file (a kernel thread, a zombie) gives no entries.
pub fn parse_maps(bytes: &[u8]) -> Result<Vec<MapEntry>, ParseError> {
    // A typical line is ~100 bytes; reserving avoids regrowing the vector for big processes.
    let mut out = Vec::with_capacity(bytes.len() / 96 + 1);
    for (n, line) in Lines::new(bytes).enumerate() {
        if line.is_empty() {
            continue;
        }
        let entry =
            parse_line(line).map_err(|e| ParseError(format!("maps line {}: {}", n + 1, e.0)))?;
        out.push(entry);
    }
    Ok(out)
}

/// Parse one maps line (without its newline).
pub fn parse_line(line: &[u8]) -> Result<MapEntry, ParseError> {
    let l = parse_line_ref(line)?;
    Ok(MapEntry {
        start: l.start,
        end: l.end,
        perms: l.perms,
        offset: l.offset,
        major: l.major,
        minor: l.minor,
        inode: l.inode,
        pathname: classify(l.name),
    })
}

/// One maps line with its name still borrowed from the buffer: parsing it allocates
/// nothing, so lines the caller does not keep cost no allocation.
struct LineRef<'a> {
    start: u64,
    end: u64,
    perms: [u8; 4],
    offset: u64,
    major: u32,
    minor: u32,
    inode: u64,
    /// The name after the padding, still escaped, ` (deleted)` still on.
    name: &'a [u8],
}

fn parse_line_ref(line: &[u8]) -> Result<LineRef<'_>, ParseError> {
    let mut cur = Cursor { rest: line };
    let start = cur.hex_until(b'-', "start address")?;
    let end = cur.hex_until(b' ', "end address")?;
    let perms_field = cur.field(b' ', "permissions")?;
    let perms: [u8; 4] = perms_field.try_into().map_err(|_| {
        ParseError(format!(
            "permissions {:?} are not 4 bytes",
            lossy(perms_field)
        ))
    })?;
    let offset = cur.hex_until(b' ', "offset")?;
    let major = cur.hex_until(b':', "device major")?;
    let minor = cur.hex_until(b' ', "device minor")?;
    let major = u32::try_from(major).map_err(|_| ParseError("device major too big".into()))?;
    let minor = u32::try_from(minor).map_err(|_| ParseError("device minor too big".into()))?;
    // The inode is the last fixed column; an anonymous mapping may end right after it.
    let (inode_text, name) = match cur.rest.iter().position(|b| *b == b' ') {
        Some(i) => (&cur.rest[..i], &cur.rest[i + 1..]),
        None => (cur.rest, &b""[..]),
    };
    let inode = parse_dec(inode_text).ok_or_else(|| {
        ParseError(format!(
            "inode {:?} is not a decimal number",
            lossy(inode_text)
        ))
    })?;
    // The kernel pads to a fixed column with spaces; no name it prints starts with a space
    // (paths start with '/', made-up names with a letter or '['), so all leading spaces
    // are padding.
    let name_start = skip_spaces(name);
    Ok(LineRef {
        start,
        end,
        perms,
        offset,
        major,
        minor,
        inode,
        name: &name[name_start..],
    })
}

fn classify(name: &[u8]) -> Pathname {
    if name.is_empty() {
        return Pathname::Anonymous;
    }
    if name[0] != b'/' {
        return Pathname::Special(name.to_vec());
    }
    let (text, deleted_suffix) = match name.strip_suffix(DELETED_SUFFIX) {
        Some(t) => (t, true),
        None => (name, false),
    };
    Pathname::File {
        path: unescape_octal_set(text, b"\n"),
        deleted_suffix,
    }
}

/// One distinct mapped file of a process: the first address range that maps it (to reach
/// it through map_files) and the path maps gives for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileMapping {
    /// The device major number of the mapped file.
    pub major: u32,
    /// The device minor number of the mapped file.
    pub minor: u32,
    /// The mapped inode number.
    pub inode: u64,
    /// The first mapping's address range: its entry in `/proc/PID/map_files`.
    pub range: MapRange,
    /// The path maps gives (escapes decoded, ` (deleted)` removed).
    pub path: Vec<u8>,
    /// The path ended in ` (deleted)`: the kernel says the name was unlinked (map_files
    /// confirms it).
    pub deleted_suffix: bool,
    /// Every mapping of the file in this process is shared (`s`, MAP_SHARED) and not
    /// executable: shared memory, or a file mapped for its data (sssd's `/var/lib/sss/mc/*`,
    /// a database). The dynamic linker maps code private; a shared mapping that may be
    /// executed (`x`) is code all the same, so such a file is never `shared`.
    pub shared: bool,
}

/// A mapping's address range. Its `map_files` name is made only when that entry is read
/// (a deleted or ambiguously named file): formatting it for every mapped file of every
/// process cost more than the rest of the grouping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MapRange {
    /// The first address.
    pub start: u64,
    /// The address after the last.
    pub end: u64,
}

impl MapRange {
    /// The entry's name in `/proc/PID/map_files`: `start-end` in unpadded lowercase hex
    /// (as [`MapEntry::map_files_name`]).
    pub fn name(&self) -> String {
        format!("{:x}-{:x}", self.start, self.end)
    }
}

/// A mapping of data shared with others: MAP_SHARED (`s`) and not executable (`x`).
fn shared_data(perms: &[u8; 4]) -> bool {
    perms[3] == b's' && perms[2] != b'x'
}

/// Distinct file-backed mappings keyed by (major, minor, inode), in order of first
/// appearance, each keeping its first range and path. A library is usually mapped four or
/// five times (text, rodata, data...); the caller needs it once.
pub fn group_file_mappings(entries: &[MapEntry]) -> Vec<FileMapping> {
    let mut out: Vec<FileMapping> = Vec::new();
    let mut seen: FastMap<(u32, u32, u64), usize> = FastMap::default();
    for e in entries {
        let Pathname::File {
            path,
            deleted_suffix,
        } = &e.pathname
        else {
            continue;
        };
        let key = (e.major, e.minor, e.inode);
        let shared = shared_data(&e.perms);
        // Ranges of one file are nearly always adjacent: check the last one before hashing.
        if let Some(last) = out.last_mut() {
            if (last.major, last.minor, last.inode) == key {
                last.shared &= shared;
                continue;
            }
        }
        if let Some(&i) = seen.get(&key) {
            out[i].shared &= shared;
            continue;
        }
        seen.insert(key, out.len());
        out.push(FileMapping {
            major: e.major,
            minor: e.minor,
            inode: e.inode,
            range: MapRange {
                start: e.start,
                end: e.end,
            },
            path: path.clone(),
            deleted_suffix: *deleted_suffix,
            shared,
        });
    }
    out
}

/// What [`group_file_mappings`]`(&`[`parse_maps`]`(bytes)?)` gives, without building an
/// entry per mapping: each line is checked as strictly, but only the first line of each
/// distinct file allocates (its path and range). Also returns how many mappings there
/// were: none at all means a kernel thread, a zombie or a process that just exited.
///
/// The scan reads thousands of maps files; most of their lines are further mappings of a
/// library already seen or anonymous memory, which here cost no allocation.
pub fn parse_file_mappings(bytes: &[u8]) -> Result<(Vec<FileMapping>, usize), ParseError> {
    let mut out: Vec<FileMapping> = Vec::new();
    // Few processes map more than a few dozen files: a linear look-up beats hashing until
    // then, and the set is only built for the big ones.
    const LINEAR: usize = 32;
    let mut seen: FastMap<(u32, u32, u64), usize> = FastMap::default();
    let mut count = 0;
    for (n, line) in Lines::new(bytes).enumerate() {
        if line.is_empty() {
            continue;
        }
        let l = parse_line_ref(line)
            .map_err(|e| ParseError(format!("maps line {}: {}", n + 1, e.0)))?;
        count += 1;
        if l.name.first() != Some(&b'/') {
            continue;
        }
        let key = (l.major, l.minor, l.inode);
        let shared = shared_data(&l.perms);
        if let Some(last) = out.last_mut() {
            if (last.major, last.minor, last.inode) == key {
                last.shared &= shared;
                continue;
            }
        }
        let known = if out.len() < LINEAR {
            out.iter().position(|f| (f.major, f.minor, f.inode) == key)
        } else {
            if seen.is_empty() {
                seen.extend(
                    out.iter()
                        .enumerate()
                        .map(|(i, f)| ((f.major, f.minor, f.inode), i)),
                );
            }
            seen.get(&key).copied()
        };
        if let Some(i) = known {
            out[i].shared &= shared;
            continue;
        }
        let Pathname::File {
            path,
            deleted_suffix,
        } = classify(l.name)
        else {
            continue;
        };
        if !seen.is_empty() {
            seen.insert(key, out.len());
        }
        out.push(FileMapping {
            major: l.major,
            minor: l.minor,
            inode: l.inode,
            range: MapRange {
                start: l.start,
                end: l.end,
            },
            path,
            deleted_suffix,
            shared,
        });
    }
    Ok((out, count))
}

/// The lines of a buffer, as `split(|b| *b == b'\n')` gives them, with the newline
/// found eight bytes at a time: most of a maps line is its name and padding, which a
/// byte-by-byte split would step through one compare at a time.
struct Lines<'a> {
    rest: Option<&'a [u8]>,
}

impl<'a> Lines<'a> {
    fn new(bytes: &'a [u8]) -> Lines<'a> {
        Lines { rest: Some(bytes) }
    }
}

impl<'a> Iterator for Lines<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let rest = self.rest?;
        match find_newline(rest) {
            Some(i) => {
                self.rest = Some(&rest[i + 1..]);
                Some(&rest[..i])
            }
            None => {
                self.rest = None;
                Some(rest)
            }
        }
    }
}

/// Index of the first byte that is not a space (the padding before a name is up to
/// ~25 spaces): a word at a time, then byte by byte; `s.len()` if all are spaces.
fn skip_spaces(s: &[u8]) -> usize {
    const SPACES: u64 = 0x0101_0101_0101_0101 * b' ' as u64;
    let mut i = 0;
    while i + 8 <= s.len() {
        let mut word = [0u8; 8];
        word.copy_from_slice(&s[i..i + 8]);
        let other = u64::from_le_bytes(word) ^ SPACES;
        if other != 0 {
            return i + (other.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    i + s[i..]
        .iter()
        .position(|b| *b != b' ')
        .unwrap_or(s.len() - i)
}

/// Index of the first `\n`: a word at a time (the classic "has a zero byte" test on the
/// word XOR a word of newlines), then byte by byte for the tail.
fn find_newline(s: &[u8]) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    const NL: u64 = LO * b'\n' as u64;
    let mut i = 0;
    while i + 8 <= s.len() {
        let mut word = [0u8; 8];
        word.copy_from_slice(&s[i..i + 8]);
        let w = u64::from_le_bytes(word) ^ NL;
        // The lowest flagged byte is the first zero byte exactly; a borrow can only flag
        // bytes above it.
        let z = w.wrapping_sub(LO) & !w & HI;
        if z != 0 {
            return Some(i + (z.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    s[i..].iter().position(|b| *b == b'\n').map(|p| i + p)
}

struct Cursor<'a> {
    rest: &'a [u8],
}

impl<'a> Cursor<'a> {
    fn field(&mut self, sep: u8, what: &str) -> Result<&'a [u8], ParseError> {
        match self.rest.iter().position(|b| *b == sep) {
            Some(i) => {
                let f = &self.rest[..i];
                self.rest = &self.rest[i + 1..];
                Ok(f)
            }
            None => Err(ParseError(format!("{what}: line ends early"))),
        }
    }

    /// The hex number up to `sep`, in one pass over the bytes with a digit table (every
    /// maps line has five such fields); anything odd is handed to the two-pass reading,
    /// which words the error.
    fn hex_until(&mut self, sep: u8, what: &str) -> Result<u64, ParseError> {
        let rest = self.rest;
        let mut v: u64 = 0;
        let mut i = 0;
        while i < rest.len() && i <= 16 {
            let d = HEX_DIGIT[usize::from(rest[i])];
            if d == NOT_HEX {
                break;
            }
            v = (v << 4) | u64::from(d);
            i += 1;
        }
        if (1..=16).contains(&i) && rest.get(i) == Some(&sep) {
            self.rest = &rest[i + 1..];
            return Ok(v);
        }
        self.hex_until_checked(sep, what)
    }

    fn hex_until_checked(&mut self, sep: u8, what: &str) -> Result<u64, ParseError> {
        let f = self.field(sep, what)?;
        parse_hex(f).ok_or_else(|| ParseError(format!("{what} {:?} is not a hex number", lossy(f))))
    }
}

/// What `HEX_DIGIT` holds for a byte that is not a hex digit.
const NOT_HEX: u8 = 0xff;

/// The value of each byte as a hex digit (either case, as [`parse_hex`] reads them), or
/// [`NOT_HEX`].
static HEX_DIGIT: [u8; 256] = crate::hex::digit_table(true);

pub(crate) fn parse_hex(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 16 {
        return None;
    }
    let mut v: u64 = 0;
    for &c in s {
        let d = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            b'A'..=b'F' => c - b'A' + 10,
            _ => return None,
        };
        v = (v << 4) | u64::from(d);
    }
    Some(v)
}

pub(crate) fn parse_dec(s: &[u8]) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    let mut v: u64 = 0;
    for &c in s {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    Some(v)
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[cfg(test)]
mod tests;
