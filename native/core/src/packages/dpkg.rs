//! dpkg's database, read over bytes: `status` (which packages are installed, with their
//! version, architecture and source package), `info/*.list` (which paths each package
//! installed) and `diversions` (paths a package's file was moved to by another one).
//!
//! Parsers here never touch the disk; `packages::tree` hands them the files of a host
//! root or of an OSTree commit. Damage (a truncated stanza, a `.list` with names that are
//! not UTF-8, a diversions file cut short) is reported as warnings next to what could be
//! read: a package database is a witness, never a reason to stop a scan.
use std::collections::HashSet;
use std::sync::Arc;

use super::{canonical_path, Manager, PackageInfo, PackageTable};
use crate::fast_hash::{FastMap, FastSet};

/// One stanza of `status` that dpkg considers installed enough to own files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusEntry {
    /// The package's name, version, architecture and source.
    pub info: PackageInfo,
    /// `Multi-Arch: same` packages keep their list as `name:arch.list`.
    pub multi_arch_same: bool,
    /// The package's configuration files (`Conffiles:`), as dpkg lists them, less those
    /// marked `obsolete` or `remove-on-upgrade` (the package no longer ships them).
    pub conffiles: Vec<Vec<u8>>,
    /// Every `Conffiles:` line as dpkg recorded it (with its md5sum and flags), for
    /// checking contents against it (`livetree config-diff` on a plain host).
    pub recorded: Vec<RecordedConffile>,
    /// The state word of `Status:` (`installed`, `half-configured`, `unpacked`...).
    pub state: String,
}

/// One `Conffiles:` line: ` PATH MD5SUM [obsolete] [remove-on-upgrade]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedConffile {
    /// The path, absolute.
    pub path: Vec<u8>,
    /// The md5sum dpkg recorded, as written: 32 hex digits, or `newconffile` for one
    /// unpacked and not configured yet.
    pub md5: Vec<u8>,
    /// The package no longer ships the file.
    pub obsolete: bool,
    /// dpkg removes the file on the next upgrade.
    pub remove_on_upgrade: bool,
}

/// What `parse_status` found: the entries and what it had to skip.
#[derive(Debug, Default)]
pub struct StatusFile {
    /// The packages dpkg considers installed.
    pub entries: Vec<StatusEntry>,
    /// Stanzas that were skipped, and why.
    pub warnings: Vec<String>,
}

/// The states whose file lists dpkg keeps (see dpkg-query(1), "Package states"): files of
/// a package that is only `config-files` or `not-installed` are gone.
fn owns_files(status: &[u8]) -> bool {
    let state = status.split(|b| *b == b' ').nth(2).unwrap_or(b"");
    matches!(
        state,
        b"installed"
            | b"unpacked"
            | b"half-configured"
            | b"half-installed"
            | b"triggers-awaited"
            | b"triggers-pending"
    )
}

/// Parse dpkg's `status` file (deb822 stanzas separated by blank lines). A stanza
/// without Package or Version is skipped with a warning; continuation lines (a leading
/// space) belong to the field before them and are not needed here.
pub fn parse_status(bytes: &[u8]) -> StatusFile {
    let mut out = StatusFile::default();
    let mut fields: FastMap<&[u8], &[u8]> = FastMap::default();
    let mut stanza = 0usize;
    let mut conffiles: Vec<Vec<u8>> = Vec::new();
    let mut recorded: Vec<RecordedConffile> = Vec::new();
    // The field the last line named: continuation lines belong to it.
    let mut field: &[u8] = b"";
    let finish = |fields: &mut FastMap<&[u8], &[u8]>,
                  conffiles: &mut Vec<Vec<u8>>,
                  recorded: &mut Vec<RecordedConffile>,
                  out: &mut StatusFile,
                  stanza: usize| {
        let conffiles = std::mem::take(conffiles);
        let recorded = std::mem::take(recorded);
        if fields.is_empty() {
            return;
        }
        let get = |k: &[u8]| {
            fields
                .get(k)
                .map(|v| String::from_utf8_lossy(v).into_owned())
        };
        match (get(b"Package"), get(b"Version")) {
            (Some(name), Some(version)) if !name.is_empty() && !version.is_empty() => {
                if fields.get(&b"Status"[..]).is_some_and(|s| owns_files(s)) {
                    let (source, source_version) = match get(b"Source") {
                        Some(s) => split_source(&s),
                        None => (None, None),
                    };
                    out.entries.push(StatusEntry {
                        multi_arch_same: fields.get(&b"Multi-Arch"[..]) == Some(&&b"same"[..]),
                        conffiles,
                        recorded,
                        state: fields
                            .get(&b"Status"[..])
                            .and_then(|s| s.split(|b| *b == b' ').nth(2))
                            .map(|w| String::from_utf8_lossy(w).into_owned())
                            .unwrap_or_default(),
                        info: PackageInfo {
                            manager: Manager::Dpkg,
                            // dpkg's binary-to-source rule: no Source field means the
                            // source package has the binary's name and version.
                            source: Some(source.unwrap_or_else(|| name.clone())),
                            source_version: Some(source_version.unwrap_or_else(|| version.clone())),
                            arch: get(b"Architecture"),
                            name,
                            version,
                        },
                    });
                }
            }
            (name, _) => out.warnings.push(format!(
                "status stanza {stanza} ({}) has no Package or Version; skipped",
                name.unwrap_or_else(|| "no name".into())
            )),
        }
        fields.clear();
    };
    for line in bytes.split(|b| *b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            finish(&mut fields, &mut conffiles, &mut recorded, &mut out, stanza);
            stanza += 1;
            field = b"";
            continue;
        }
        if line[0] == b' ' || line[0] == b'\t' {
            if field == b"Conffiles" {
                if let Some(path) = conffile_line(line) {
                    conffiles.push(path.to_vec());
                }
                if let Some(r) = recorded_line(line) {
                    recorded.push(r);
                }
            }
            continue;
        }
        let Some(colon) = line.iter().position(|b| *b == b':') else {
            out.warnings.push(format!(
                "status stanza {stanza}: a line without a field name: {:?}",
                String::from_utf8_lossy(&line[..line.len().min(60)])
            ));
            continue;
        };
        let value = trim(&line[colon + 1..]);
        field = &line[..colon];
        fields.insert(field, value);
    }
    if bytes.last().is_some_and(|b| *b != b'\n') && !fields.is_empty() {
        out.warnings
            .push("status does not end with a newline: the file may be truncated".into());
    }
    finish(&mut fields, &mut conffiles, &mut recorded, &mut out, stanza);
    out
}

/// One line of `Conffiles:` (` PATH MD5SUM [obsolete] [remove-on-upgrade]`): the path,
/// unless the package no longer ships the file. Paths hold no spaces (dpkg refuses them
/// in conffiles), so the fields split on spaces.
fn conffile_line(line: &[u8]) -> Option<&[u8]> {
    let mut words = line
        .split(|b| *b == b' ' || *b == b'\t')
        .filter(|w| !w.is_empty());
    let path = words.next().filter(|p| p.starts_with(b"/"))?;
    let _md5 = words.next()?;
    if words.any(|w| w == b"obsolete" || w == b"remove-on-upgrade") {
        return None;
    }
    Some(path)
}

/// One line of `Conffiles:` with its md5sum and flags; None for a line that names no
/// absolute path and sum.
fn recorded_line(line: &[u8]) -> Option<RecordedConffile> {
    let mut words = line
        .split(|b| *b == b' ' || *b == b'\t')
        .filter(|w| !w.is_empty());
    let path = words.next().filter(|p| p.starts_with(b"/"))?;
    let md5 = words.next()?;
    let (mut obsolete, mut remove_on_upgrade) = (false, false);
    for w in words {
        obsolete |= w == b"obsolete";
        remove_on_upgrade |= w == b"remove-on-upgrade";
    }
    Some(RecordedConffile {
        path: path.to_vec(),
        md5: md5.to_vec(),
        obsolete,
        remove_on_upgrade,
    })
}

fn trim(v: &[u8]) -> &[u8] {
    let start = v
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(v.len());
    let end = v
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &v[start..end.max(start)]
}

/// `Source: name` or `Source: name (version)`: a binary built from a differently
/// versioned source (binNMUs, packages built from one source at several versions).
pub fn split_source(s: &str) -> (Option<String>, Option<String>) {
    let s = s.trim();
    match s.split_once('(') {
        Some((name, rest)) => {
            let version = rest.trim_end().trim_end_matches(')').trim();
            let name = name.trim();
            (
                (!name.is_empty()).then(|| name.to_string()),
                (!version.is_empty()).then(|| version.to_string()),
            )
        }
        None => ((!s.is_empty()).then(|| s.to_string()), None),
    }
}

/// One `diversions` record: `from` of packages other than `by` is installed at `to`.
/// `by` is None for a local diversion (dpkg writes `:`), which diverts every package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diversion {
    /// The diverted path, as packages ship it.
    pub from: Vec<u8>,
    /// Where the diverted file is installed instead.
    pub to: Vec<u8>,
    /// The package that made the diversion; None for a local one.
    pub by: Option<String>,
}

/// The `diversions` file: three lines per record (from, to, diverting package). A record
/// cut short is left out and reported.
pub fn parse_diversions(bytes: &[u8]) -> (Vec<Diversion>, Option<String>) {
    let lines: Vec<&[u8]> = bytes.split(|b| *b == b'\n').collect();
    // A file ending in a newline has an empty last element.
    let lines = match lines.last() {
        Some(&b"") => &lines[..lines.len() - 1],
        _ => &lines[..],
    };
    let mut out = Vec::new();
    if bytes.last().is_some_and(|b| *b != b'\n') {
        // dpkg ends every line with a newline: the last record's package name may be cut.
        let whole = lines.len() / 3 * 3;
        let keep = if lines.len() % 3 == 0 {
            whole - 3
        } else {
            whole
        };
        for rec in lines[..keep].chunks(3) {
            out.push(Diversion {
                from: rec[0].to_vec(),
                to: rec[1].to_vec(),
                by: (rec[2] != b":").then(|| String::from_utf8_lossy(rec[2]).into_owned()),
            });
        }
        return (
            out,
            Some("diversions: the file does not end with a newline: it may be truncated".into()),
        );
    }
    for rec in lines.chunks(3) {
        if rec.len() < 3 {
            return (
                out,
                Some(format!(
                    "diversions: the last record has {} of 3 lines: the file may be truncated",
                    rec.len()
                )),
            );
        }
        out.push(Diversion {
            from: rec[0].to_vec(),
            to: rec[1].to_vec(),
            by: (rec[2] != b":").then(|| String::from_utf8_lossy(rec[2]).into_owned()),
        });
    }
    (out, None)
}

/// The package name a `.list` file is for: `name.list` or `name:arch.list`.
pub fn list_name(file: &[u8]) -> Option<(&[u8], Option<&[u8]>)> {
    let stem = file.strip_suffix(b".list")?;
    if stem.is_empty() {
        return None;
    }
    Some(match stem.iter().position(|b| *b == b':') {
        Some(i) => (&stem[..i], Some(&stem[i + 1..])),
        None => (stem, None),
    })
}

/// Gives the bytes of `info/NAME`: None when it vanished, Err with a message naming the file
/// when it could not be read.
pub type ReadList<'a> = dyn FnMut(&[u8]) -> Result<Option<Vec<u8>>, String> + 'a;

/// The table of one dpkg database: the one implementation the scans run and the fuzz
/// target (`native/fuzz/fuzz_targets/dpkg_db.rs`) exercises. It takes the database's bytes:
/// `status`, `diversions` (None when there is none), the names in `info/`, and
/// `read_list`, which gives the bytes of one `info/NAME` (None when it vanished; Err with
/// a message naming the file when it could not be read). `location` names the database
/// directory in warnings (`/sysroot/…/usr/share/dpkg/database`). With `wanted`, only the
/// owners of those paths (canonical spellings) are kept.
///
/// Each `NAME.list` (or `NAME:ARCH.list`) of an installed package gives that package's
/// paths, diverted (a path another package diverted is installed at the diversion's
/// target) and in their merged-/usr spelling. Directories stay in: no package's file is
/// ever a directory mapped by a process, and telling them apart costs a sort. When two
/// lists name one path, the first in name order owns it, so the owner never depends on
/// the order `readdir` gave.
pub fn table(
    location: &str,
    status: &[u8],
    diversions: Option<&[u8]>,
    mut names: Vec<Vec<u8>>,
    read_list: &mut ReadList<'_>,
    wanted: Option<&FastSet<Vec<u8>>>,
) -> PackageTable {
    let mut table = PackageTable {
        source: Some(location.to_string()),
        ..PackageTable::default()
    };
    let parsed = parse_status(status);
    table.warnings.extend(
        parsed
            .warnings
            .iter()
            .map(|w| format!("{location}/status: {w}")),
    );
    let diversions = match diversions {
        Some(bytes) => {
            let (d, w) = parse_diversions(bytes);
            table.warnings.extend(w.map(|w| format!("{location}/{w}")));
            d
        }
        None => Vec::new(),
    };
    names.sort();
    let mut by_name: FastMap<&[u8], Vec<&StatusEntry>> = FastMap::default();
    for e in &parsed.entries {
        by_name.entry(e.info.name.as_bytes()).or_default().push(e);
    }
    let diverted: FastMap<&[u8], &Diversion> =
        diversions.iter().map(|d| (&d.from[..], d)).collect();
    let mut bad_names = 0usize;
    for file in &names {
        let Some((name, arch)) = list_name(file) else {
            continue;
        };
        let Some(entry) = by_name.get(name).and_then(|v| {
            v.iter()
                .find(|e| arch.is_none() || e.info.arch.as_deref().map(str::as_bytes) == arch)
        }) else {
            continue;
        };
        let bytes = match read_list(file) {
            Ok(Some(b)) => b,
            Ok(None) => continue,
            Err(e) => {
                table.warnings.push(e);
                continue;
            }
        };
        if std::str::from_utf8(&bytes).is_err() {
            bad_names += 1;
        }
        // One pass over the list's lines without a copy per line: a host lists ~100k paths
        // and this runs once per scan.
        let index = table.packages.len() as u32;
        table.packages.push(Arc::new(entry.info.clone()));
        // No path wanted (a table asked for its package list only): no line to look at.
        if wanted.is_some_and(HashSet::is_empty) {
            continue;
        }
        let own = entry.info.name.as_str();
        for line in bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            let line = match diverted.get(line) {
                Some(d) if d.by.as_deref() != Some(own) => &d.to[..],
                _ => line,
            };
            let canon = canonical_path(line);
            if wanted.is_some_and(|w| !w.contains(canon.as_ref())) {
                continue;
            }
            if !table.paths.contains_key(canon.as_ref()) {
                table.paths.insert(canon.into_owned(), index);
            }
        }
    }
    if bad_names > 0 {
        // Not damage in itself (dpkg stores names as bytes), but worth saying: such a path
        // is matched byte for byte, and shown with U+FFFD.
        table.warnings.push(format!(
            "{location}/info: {bad_names} file list(s) hold names that are not UTF-8; they are matched as bytes"
        ));
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const STATUS: &[u8] = b"Package: libc6
Status: install ok installed
Priority: optional
Architecture: amd64
Multi-Arch: same
Source: glibc
Version: 2.36-9+deb12u10
Description: GNU C Library
 continuation: not a field

Package: bash
Status: install ok installed
Architecture: amd64
Source: bash (5.2.15-2)
Version: 5.2.15-2+b7
Conffiles:
 /etc/bash.bashrc 89269e1298235f1b12b4c16e4065ad0d
 /etc/skel/.bashrc 7fd0b4b4a5d5d8e2e7b7b7b7b7b7b7b7 obsolete
 /etc/old 0123 remove-on-upgrade
 /etc/skel/.profile 7fd0b4b4a5d5d8e2e7b7b7b7b7b7b7b8
Description: the shell
 Conffiles-looking: continuation of another field

Package: gone
Status: deinstall ok config-files
Architecture: amd64
Version: 1.0

Package: zlib1g
Status: install ok installed
Architecture: amd64
Version: 1:1.2.13.dfsg-1
";

    #[test]
    fn status_fields_and_source_forms() {
        let s = parse_status(STATUS);
        assert!(s.warnings.is_empty(), "{:?}", s.warnings);
        let names: Vec<&str> = s.entries.iter().map(|e| e.info.name.as_str()).collect();
        assert_eq!(names, ["libc6", "bash", "zlib1g"]);
        let libc = &s.entries[0];
        assert!(libc.multi_arch_same);
        assert_eq!(libc.info.source.as_deref(), Some("glibc"));
        assert_eq!(libc.info.source_version.as_deref(), Some("2.36-9+deb12u10"));
        let bash = &s.entries[1].info;
        assert_eq!(bash.version, "5.2.15-2+b7");
        assert_eq!(bash.source.as_deref(), Some("bash"));
        assert_eq!(bash.source_version.as_deref(), Some("5.2.15-2"));
        assert_eq!(
            s.entries[1].conffiles,
            [&b"/etc/bash.bashrc"[..], b"/etc/skel/.profile"]
        );
        assert!(s.entries[0].conffiles.is_empty());
        let z = &s.entries[2].info;
        assert_eq!(
            (z.source.as_deref(), z.version.as_str()),
            (Some("zlib1g"), "1:1.2.13.dfsg-1")
        );
    }

    #[test]
    fn truncated_status_warns_and_keeps_what_it_read() {
        let cut = &STATUS[..STATUS.len() - 30];
        let s = parse_status(cut);
        assert_eq!(s.entries.len(), 2);
        assert!(
            s.warnings.iter().any(|w| w.contains("truncated")),
            "{:?}",
            s.warnings
        );
        let s = parse_status(b"Package: x\nStatus: install ok installed\n\nnonsense\n\x00\xff");
        assert!(s.entries.is_empty());
        assert!(!s.warnings.is_empty());
    }

    /// The table over a database's bytes, as a scan builds it: lists of installed
    /// packages only (the right architecture's for `name:arch.list`), diversions applied
    /// except to the diverting package's own file, paths in their merged-/usr spelling,
    /// the first list in name order owning a path two lists name.
    #[test]
    fn the_table_from_status_diversions_and_lists() {
        let lists: HashMap<&[u8], &[u8]> = HashMap::from([
            (
                &b"libc6:amd64.list"[..],
                &b"/.\n/lib\n/lib/x86_64-linux-gnu/libc.so.6\n/usr/bin/ldd\n/usr/share/caf\xe9\n"[..],
            ),
            (
                &b"libc6:i386.list"[..],
                &b"/lib/i386-linux-gnu/libc.so.6\n"[..],
            ),
            (
                &b"bash.list"[..],
                &b"/bin/bash\n/usr/bin/ldd\n/usr/bin/x\n"[..],
            ),
            (&b"gone.list"[..], &b"/usr/bin/gone\n"[..]),
            (&b"zlib1g:amd64.list"[..], &b"/usr/bin/x\n"[..]),
            (&b"bash.md5sums"[..], &b"not a list\n"[..]),
        ]);
        // bash diverts libc6's ldd; a local diversion moves every package's /usr/bin/x.
        let div = b"/usr/bin/ldd\n/usr/bin/ldd.real\nbash\n/usr/bin/x\n/usr/bin/x.local\n:\n";
        let names: Vec<Vec<u8>> = lists.keys().map(|k| k.to_vec()).collect();
        let mut read = |n: &[u8]| Ok(lists.get(n).map(|b| b.to_vec()));
        let t = table("/db", STATUS, Some(div), names.clone(), &mut read, None);
        let owner = |p: &[u8]| t.lookup(p).map(|i| i.name.as_str());
        assert_eq!(owner(b"/usr/lib/x86_64-linux-gnu/libc.so.6"), Some("libc6"));
        assert_eq!(owner(b"/lib/x86_64-linux-gnu/libc.so.6"), Some("libc6"));
        // libc6 is installed for amd64 only: the i386 list is no installed package's.
        assert_eq!(owner(b"/usr/lib/i386-linux-gnu/libc.so.6"), None);
        assert_eq!(owner(b"/usr/bin/ldd.real"), Some("libc6"));
        // The diverting package's own file stays where its list says.
        assert_eq!(owner(b"/usr/bin/ldd"), Some("bash"));
        assert_eq!(owner(b"/usr/bin/bash"), Some("bash"));
        // Local diversion: nobody's x is at /usr/bin/x; bash's list comes first.
        assert_eq!(owner(b"/usr/bin/x"), None);
        assert_eq!(owner(b"/usr/bin/x.local"), Some("bash"));
        assert_eq!(owner(b"/usr/share/caf\xe9"), Some("libc6"));
        // config-files only: its list is left alone.
        assert_eq!(owner(b"/usr/bin/gone"), None);
        assert_eq!(t.source.as_deref(), Some("/db"));
        assert_eq!(
            t.warnings,
            vec![
                "/db/info: 1 file list(s) hold names that are not UTF-8; they are matched as bytes"
            ]
        );
        // Only the wanted paths are kept, the packages all the same.
        let wanted: FastSet<Vec<u8>> = [b"/usr/bin/bash".to_vec()].into_iter().collect();
        let few = table(
            "/db",
            STATUS,
            Some(div),
            names.clone(),
            &mut read,
            Some(&wanted),
        );
        assert_eq!(few.paths.len(), 1);
        assert_eq!(
            few.lookup(b"/bin/bash").map(|p| p.name.as_str()),
            Some("bash")
        );
        // A list that cannot be read and a diversions file cut short are warnings.
        let mut failing = |n: &[u8]| {
            if n == b"bash.list" {
                Err("/db/info/bash.list: permission denied".to_string())
            } else {
                Ok(lists.get(n).map(|b| b.to_vec()))
            }
        };
        let damaged = table("/db", STATUS, Some(b"/a\n/b\n"), names, &mut failing, None);
        assert_eq!(damaged.lookup(b"/usr/bin/bash"), None);
        assert!(damaged
            .warnings
            .contains(&"/db/info/bash.list: permission denied".to_string()));
        assert!(damaged
            .warnings
            .iter()
            .any(|w| w.starts_with("/db/diversions: the last record has 2 of 3 lines")));
    }

    #[test]
    fn diversions_cut_short() {
        let (d, w) = parse_diversions(
            b"/usr/bin/ldd\n/usr/bin/ldd.real\nbash\n/usr/bin/x\n/usr/bin/x.local\n:\n",
        );
        assert!(w.is_none());
        assert_eq!(d[0].by.as_deref(), Some("bash"));
        assert_eq!(d[1].by, None);
        let (d, w) = parse_diversions(b"/a\n/b\npkg\n/c\n");
        assert_eq!(d.len(), 1);
        assert!(w.unwrap().contains("truncated"));
    }

    #[test]
    fn list_names() {
        assert_eq!(
            list_name(b"libc6:amd64.list"),
            Some((&b"libc6"[..], Some(&b"amd64"[..])))
        );
        assert_eq!(list_name(b"bash.list"), Some((&b"bash"[..], None)));
        assert_eq!(list_name(b"bash.md5sums"), None);
        assert_eq!(list_name(b".list"), None);
    }
}
