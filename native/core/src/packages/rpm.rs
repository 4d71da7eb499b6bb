//! rpm's database: the header blobs of `rpmdb.sqlite` (the sqlite backend, rpm's default
//! since 4.16 and what `usr/lib/sysimage/rpm` holds in rpm-ostree commits). Berkeley DB
//! (`Packages`) and ndb (`Packages.db`) databases are not read; a tree holding only one of
//! those has no table, with a warning.
//!
//! A header blob as stored in the database (rpm's `headerExport` without the 8-byte magic):
//! `il` (index entries) and `dl` (data bytes) as big-endian u32, then `il` entries of 16
//! bytes (tag, type, offset, count, big-endian), then `dl` bytes of data. Every offset and
//! count is checked against the blob: a hostile header gives an error, never a panic.
use std::collections::HashMap;

use super::{canonical_path, Manager, PackageInfo, PackageTable, RootTree, TreeReader};
use crate::ParseError;

const TAG_NAME: u32 = 1000;
const TAG_VERSION: u32 = 1001;
const TAG_RELEASE: u32 = 1002;
const TAG_EPOCH: u32 = 1003;
const TAG_OLDFILENAMES: u32 = 1027;
const TAG_FILESTATES: u32 = 1029;
const TAG_FILEMODES: u32 = 1030;
const TAG_FILEDIGESTS: u32 = 1035;
const TAG_FILEFLAGS: u32 = 1037;
const TAG_FILEVERIFYFLAGS: u32 = 1045;
const TAG_FILEDIGESTALGO: u32 = 5011;
/// `RPMFILE_CONFIG`: the file is `%config` (rpm's lib/rpmfiles.h).
pub const RPMFILE_CONFIG: u32 = 1;
/// `RPMFILE_MISSINGOK`: rpm -V does not report the file missing.
pub const RPMFILE_MISSINGOK: u32 = 1 << 3;
/// `RPMFILE_GHOST`: not in the payload; rpm -V neither checks its contents nor reports it
/// missing.
pub const RPMFILE_GHOST: u32 = 1 << 6;
/// `RPMVERIFY_FILEDIGEST` of FILEVERIFYFLAGS (rpm's lib/rpmvf.h): clear for `%verify(not md5)`.
pub const RPMVERIFY_FILEDIGEST: u32 = 1;
/// `PGPHASHALGO_MD5`: the digest algorithm of a header without FILEDIGESTALGO.
pub const PGPHASHALGO_MD5: u32 = 1;
const TAG_ARCH: u32 = 1022;
const TAG_SOURCERPM: u32 = 1044;
const TAG_DIRINDEXES: u32 = 1116;
const TAG_BASENAMES: u32 = 1117;
const TAG_DIRNAMES: u32 = 1118;

const TYPE_CHAR: u32 = 1;
const TYPE_INT8: u32 = 2;
const TYPE_INT16: u32 = 3;
const TYPE_INT32: u32 = 4;
const TYPE_STRING: u32 = 6;
const TYPE_STRING_ARRAY: u32 = 8;
const TYPE_I18NSTRING: u32 = 9;

/// rpm refuses headers above 256 MiB of data and 64k index entries (`hdrchk`).
const MAX_DATA: usize = 256 << 20;
const MAX_ENTRIES: usize = 0x10000;

/// What a header says about a package and its files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpmHeader {
    /// The package's name, version, architecture and source.
    pub info: PackageInfo,
    /// Absolute paths (dirname + basename), as rpm lists them.
    pub files: Vec<Vec<u8>>,
    /// Those of `files` flagged `%config` (`RPMFILE_CONFIG` in FILEFLAGS), in the
    /// header's order, with what rpm recorded of each.
    pub config_files: Vec<RpmFile>,
    /// FILEDIGESTALGO: the `PGPHASHALGO_*` of every FILEDIGESTS entry (MD5 when absent).
    pub digest_algo: u32,
}

/// What a header records of one file (the entries of its parallel file arrays).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpmFile {
    /// The absolute path (dirname + basename).
    pub path: Vec<u8>,
    /// FILEFLAGS (`RPMFILE_*`).
    pub flags: u32,
    /// FILEMODES: type and permissions (`st_mode`'s low 16 bits); None when not recorded.
    pub mode: Option<u16>,
    /// FILESTATES (`RPMFILE_STATE_*`: 0 normal, 1 replaced, 2 not installed, 3 netshared,
    /// 4 wrong color, 5 missing); None when not recorded.
    pub state: Option<u8>,
    /// FILEVERIFYFLAGS (`RPMVERIFY_*`); None when not recorded (everything verified).
    pub verify: Option<u32>,
    /// FILEDIGESTS: the digest in hex as rpm wrote it (empty for non-regular files);
    /// None when the header records no digests for its files.
    pub digest: Option<Vec<u8>>,
}

impl RpmFile {
    /// Whether rpm recorded the file as a regular file (`S_IFREG`); None when unknown.
    pub fn regular(&self) -> Option<bool> {
        self.mode.map(|m| m & 0o170000 == 0o100000)
    }
}

struct Entry {
    kind: u32,
    offset: usize,
    count: usize,
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn err(what: impl Into<String>) -> ParseError {
    ParseError(what.into())
}

/// Parse one header blob.
pub fn parse_header(blob: &[u8]) -> Result<RpmHeader, ParseError> {
    let il = be32(blob, 0).ok_or_else(|| err("header shorter than its counts"))? as usize;
    let dl = be32(blob, 4).ok_or_else(|| err("header shorter than its counts"))? as usize;
    if il == 0 || il > MAX_ENTRIES || dl > MAX_DATA {
        return Err(err(format!(
            "implausible header: {il} entries, {dl} data bytes"
        )));
    }
    let data_start = 8 + il * 16;
    let data = blob
        .get(data_start..data_start + dl)
        .ok_or_else(|| err("header data runs past the blob"))?;
    let mut entries: HashMap<u32, Entry> = HashMap::new();
    for i in 0..il {
        let at = 8 + i * 16;
        let (tag, kind, offset, count) = (
            be32(blob, at).unwrap_or(0),
            be32(blob, at + 4).unwrap_or(0),
            be32(blob, at + 8).unwrap_or(0) as usize,
            be32(blob, at + 12).unwrap_or(0) as usize,
        );
        if offset > dl {
            return Err(err(format!(
                "tag {tag}: offset {offset} past the data ({dl} bytes)"
            )));
        }
        entries.entry(tag).or_insert(Entry {
            kind,
            offset,
            count,
        });
    }
    let strings = |tag: u32| -> Result<Option<Vec<&[u8]>>, ParseError> {
        let Some(e) = entries.get(&tag) else {
            return Ok(None);
        };
        if !matches!(e.kind, TYPE_STRING | TYPE_STRING_ARRAY | TYPE_I18NSTRING) {
            return Err(err(format!("tag {tag}: type {} is not a string", e.kind)));
        }
        let n = if e.kind == TYPE_STRING { 1 } else { e.count };
        if n > dl {
            return Err(err(format!(
                "tag {tag}: {n} strings cannot fit in {dl} bytes"
            )));
        }
        let mut out = Vec::with_capacity(n);
        let mut at = e.offset;
        for _ in 0..n {
            let rest = data
                .get(at..)
                .ok_or_else(|| err(format!("tag {tag}: runs past the data")))?;
            let len = rest
                .iter()
                .position(|b| *b == 0)
                .ok_or_else(|| err(format!("tag {tag}: unterminated string")))?;
            out.push(&rest[..len]);
            at += len + 1;
        }
        Ok(Some(out))
    };
    let string = |tag: u32| -> Result<Option<String>, ParseError> {
        Ok(strings(tag)?
            .and_then(|v| v.into_iter().next())
            .map(|s| String::from_utf8_lossy(s).into_owned()))
    };
    let ints = |tag: u32| -> Result<Option<Vec<u32>>, ParseError> {
        let Some(e) = entries.get(&tag) else {
            return Ok(None);
        };
        if e.kind != TYPE_INT32 {
            return Err(err(format!("tag {tag}: type {} is not int32", e.kind)));
        }
        let bytes = e
            .count
            .checked_mul(4)
            .and_then(|n| data.get(e.offset..e.offset.checked_add(n)?))
            .ok_or_else(|| err(format!("tag {tag}: {} int32 run past the data", e.count)))?;
        Ok(Some(
            bytes.chunks(4).map(|c| be32(c, 0).unwrap_or(0)).collect(),
        ))
    };

    let int16s = |tag: u32| -> Result<Option<Vec<u16>>, ParseError> {
        let Some(e) = entries.get(&tag) else {
            return Ok(None);
        };
        if e.kind != TYPE_INT16 {
            return Err(err(format!("tag {tag}: type {} is not int16", e.kind)));
        }
        let bytes = e
            .count
            .checked_mul(2)
            .and_then(|n| data.get(e.offset..e.offset.checked_add(n)?))
            .ok_or_else(|| err(format!("tag {tag}: {} int16 run past the data", e.count)))?;
        Ok(Some(
            bytes
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect(),
        ))
    };
    let bytes8 = |tag: u32| -> Result<Option<Vec<u8>>, ParseError> {
        let Some(e) = entries.get(&tag) else {
            return Ok(None);
        };
        if !matches!(e.kind, TYPE_CHAR | TYPE_INT8) {
            return Err(err(format!("tag {tag}: type {} is not char/int8", e.kind)));
        }
        let bytes = e
            .offset
            .checked_add(e.count)
            .and_then(|end| data.get(e.offset..end))
            .ok_or_else(|| err(format!("tag {tag}: {} bytes run past the data", e.count)))?;
        Ok(Some(bytes.to_vec()))
    };

    let name = string(TAG_NAME)?.ok_or_else(|| err("no NAME"))?;
    let version = string(TAG_VERSION)?.ok_or_else(|| err(format!("{name}: no VERSION")))?;
    let release = string(TAG_RELEASE)?.ok_or_else(|| err(format!("{name}: no RELEASE")))?;
    let epoch = ints(TAG_EPOCH)?.and_then(|v| v.first().copied());
    let full = match epoch {
        Some(e) => format!("{e}:{version}-{release}"),
        None => format!("{version}-{release}"),
    };
    let (source, source_version) = match string(TAG_SOURCERPM)? {
        Some(s) => split_sourcerpm(&s),
        None => (None, None),
    };
    let mut files = Vec::new();
    if let Some(base) = strings(TAG_BASENAMES)? {
        let dirs = strings(TAG_DIRNAMES)?
            .ok_or_else(|| err(format!("{name}: BASENAMES without DIRNAMES")))?;
        let idx = ints(TAG_DIRINDEXES)?
            .ok_or_else(|| err(format!("{name}: BASENAMES without DIRINDEXES")))?;
        if idx.len() != base.len() {
            return Err(err(format!(
                "{name}: {} basenames but {} dir indexes",
                base.len(),
                idx.len()
            )));
        }
        for (b, i) in base.iter().zip(idx) {
            let d = dirs.get(i as usize).ok_or_else(|| {
                err(format!(
                    "{name}: dir index {i} out of {} dirnames",
                    dirs.len()
                ))
            })?;
            let mut p = d.to_vec();
            p.extend_from_slice(b);
            files.push(p);
        }
    } else if let Some(old) = strings(TAG_OLDFILENAMES)? {
        files = old.into_iter().map(<[u8]>::to_vec).collect();
    }
    // The file arrays run parallel to the file list; one whose count differs says nothing
    // reliable: for FILEFLAGS no file is known to be %config, for the others the value is
    // unknown (None).
    let n = files.len();
    let modes = parallel(n, int16s(TAG_FILEMODES)?);
    let states = parallel(n, bytes8(TAG_FILESTATES)?);
    let verify = parallel(n, ints(TAG_FILEVERIFYFLAGS)?);
    let digests = strings(TAG_FILEDIGESTS)?.filter(|v| v.len() == n);
    let digest_algo = match ints(TAG_FILEDIGESTALGO)? {
        Some(v) => *v
            .first()
            .ok_or_else(|| err(format!("{name}: an empty FILEDIGESTALGO")))?,
        None => PGPHASHALGO_MD5,
    };
    let mut config_files = Vec::new();
    if let Some(flags) = parallel(n, ints(TAG_FILEFLAGS)?) {
        for (i, f) in flags.into_iter().enumerate() {
            if f & RPMFILE_CONFIG == 0 {
                continue;
            }
            config_files.push(RpmFile {
                path: files[i].clone(),
                flags: f,
                mode: modes.as_ref().map(|m| m[i]),
                state: states.as_ref().map(|s| s[i]),
                verify: verify.as_ref().map(|v| v[i]),
                digest: digests.as_ref().map(|d| d[i].to_vec()),
            });
        }
    }
    Ok(RpmHeader {
        config_files,
        digest_algo,
        info: PackageInfo {
            manager: Manager::Rpm,
            arch: string(TAG_ARCH)?,
            name,
            version: full,
            source,
            source_version,
        },
        files,
    })
}

/// A file array when it has one entry per file.
fn parallel<T>(n: usize, v: Option<Vec<T>>) -> Option<Vec<T>> {
    v.filter(|v| v.len() == n)
}

/// `openssl-3.0.7-2.fc38.src.rpm` → (`openssl`, `3.0.7-2.fc38`). The source package's
/// epoch is not in the file name; rpm does not record it.
pub fn split_sourcerpm(s: &str) -> (Option<String>, Option<String>) {
    let stem = s
        .strip_suffix(".src.rpm")
        .or_else(|| s.strip_suffix(".nosrc.rpm"))
        .unwrap_or(s);
    let Some((rest, release)) = stem.rsplit_once('-') else {
        return (Some(stem.to_string()), None);
    };
    let Some((name, version)) = rest.rsplit_once('-') else {
        return (Some(stem.to_string()), None);
    };
    (Some(name.to_string()), Some(format!("{version}-{release}")))
}

/// A package and its `%config` files.
pub type ConfigFiles = (PackageInfo, Vec<Vec<u8>>);

/// Every package of the rpm database `db` of `tree` with its `%config` files (those it
/// has); errors name the database.
pub fn config_files(tree: &dyn TreeReader, db: &str) -> Result<Vec<ConfigFiles>, String> {
    let name = format!("{}/{db}", tree.describe());
    let path = tree
        .local_path(db)
        .ok_or_else(|| format!("{name}: not a plain file"))?;
    let wal = tree
        .local_path(&format!("{db}-wal"))
        .and_then(|p| std::fs::metadata(p).ok())
        .is_some_and(|m| m.len() > 0);
    let blobs =
        read_blobs(&path, !(wal && tree.is_directory())).map_err(|e| format!("{name}: {e}"))?;
    Ok(blobs
        .into_iter()
        .filter_map(|(_, blob)| parse_header(&blob).ok())
        .filter(|h| !h.config_files.is_empty())
        .map(|h| (h.info, h.config_files.into_iter().map(|f| f.path).collect()))
        .collect())
}

/// Every header of the rpm database `db` of a directory tree (a root), in the database's
/// order (`hnum`, as `rpm -qa` and `rpm -Va` go through it), each parsed or the reason it
/// could not be (`header N: ...`). Err when the database itself cannot be read.
pub fn headers(tree: &RootTree, db: &str) -> Result<Vec<Result<RpmHeader, String>>, String> {
    let path = tree
        .local_path(db)
        .ok_or_else(|| format!("{}/{db}: not a plain file", tree.describe()))?;
    let wal = tree
        .local_path(&format!("{db}-wal"))
        .and_then(|p| std::fs::metadata(p).ok())
        .is_some_and(|m| m.len() > 0);
    let blobs = read_blobs(&path, !wal)?;
    Ok(blobs
        .into_iter()
        .map(|(hnum, blob)| parse_header(&blob).map_err(|e| format!("header {hnum}: {}", e.0)))
        .collect())
}

/// Read `rpmdb.sqlite` of a tree into a table. Opened read-only and immutable, so nothing
/// (not even a `-shm` file) is written next to it.
pub fn rpm_table(
    tree: &dyn TreeReader,
    db: &str,
    wanted: Option<&crate::fast_hash::FastSet<Vec<u8>>>,
) -> PackageTable {
    let mut table = PackageTable {
        source: Some(format!("{}/{db}", tree.describe())),
        ..PackageTable::default()
    };
    let name = format!("{}/{db}", tree.describe());
    let Some(path) = tree.local_path(db) else {
        table
            .warnings
            .push(format!("{name}: stored compressed (archive repo); rpm databases are read from bare repos and host roots only"));
        return table;
    };
    // rpm keeps the sqlite database in WAL mode. A WAL that was not checkpointed holds the
    // latest transactions (an rpm -i still running, or killed): then open it as SQLite
    // readers do, read-only but through the WAL (that reader may update the -shm index, as
    // `rpm -q` does). Otherwise open it immutable: nothing at all is written next to it.
    let wal = tree
        .local_path(&format!("{db}-wal"))
        .and_then(|p| std::fs::metadata(p).ok())
        .is_some_and(|m| m.len() > 0);
    if wal && !tree.is_directory() {
        // In a commit the WAL is another object, which SQLite cannot find; the builder
        // should have checkpointed it. Read what the main file holds, immutable, and say so.
        table.warnings.push(format!(
            "{name}: the commit holds a WAL that was not checkpointed; packages installed last may be missing"
        ));
    }
    let blobs = match read_blobs(&path, !(wal && tree.is_directory())) {
        Ok(b) => b,
        Err(e) => {
            table.warnings.push(format!("{name}: {e}"));
            return table;
        }
    };
    let mut bad = Vec::new();
    for (hnum, blob) in blobs {
        match parse_header(&blob) {
            Ok(h) => {
                let paths = h
                    .files
                    .iter()
                    .map(|p| canonical_path(p).into_owned())
                    .filter(|p| wanted.is_none_or(|w| w.contains(p)))
                    .collect();
                table.add(h.info, paths);
            }
            Err(e) => bad.push(format!("header {hnum}: {}", e.0)),
        }
    }
    if !bad.is_empty() {
        table.warnings.push(format!(
            "{name}: {} unreadable package header(s) skipped: {}",
            bad.len(),
            bad.iter().take(3).cloned().collect::<Vec<_>>().join("; ")
        ));
    }
    table
}

fn read_blobs(path: &std::path::Path, immutable: bool) -> Result<Vec<(i64, Vec<u8>)>, String> {
    use rusqlite::{Connection, OpenFlags};
    let uri = format!(
        "file:{}{}",
        path.display()
            .to_string()
            .replace('%', "%25")
            .replace('?', "%3f")
            .replace('#', "%23"),
        if immutable { "?immutable=1" } else { "" }
    );
    let conn = Connection::open_with_flags(
        uri,
        OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| e.to_string())?;
    let mut stmt = conn
        .prepare("SELECT hnum, blob FROM Packages ORDER BY hnum")
        .map_err(|e| format!("not an rpm sqlite database ({e})"))?;
    let rows = stmt
        .query_map([], |row| {
            // A damaged row (a blob stored as text, or NULL) is that header's problem, not
            // the database's: its bytes (none for other types) fail the header parser.
            let blob = match row.get_ref(1)? {
                rusqlite::types::ValueRef::Blob(b) | rusqlite::types::ValueRef::Text(b) => {
                    b.to_vec()
                }
                _ => Vec::new(),
            };
            Ok((row.get::<_, i64>(0)?, blob))
        })
        .and_then(|r| r.collect::<Result<Vec<_>, _>>())
        .map_err(|e| e.to_string());
    rows
}

#[cfg(test)]
mod tests;
